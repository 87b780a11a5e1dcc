"""SQL of customers and tickets. Admin queries run under the member's claims; portal queries
under the customer's own, where the customer policies show them their rows only."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import sql

from backend.db import Connection, insert_sql


async def insert_customer(conn: Connection, values: dict[str, Any]) -> dict[str, Any]:
    cur = await conn.execute(insert_sql("customers", values, returning="*"), values)
    row = await cur.fetchone()
    assert row is not None
    return row


async def email_taken(conn: Connection, workspace_id: UUID, email: str) -> bool:
    cur = await conn.execute(
        "select 1 from public.customers where workspace_id = %s and email = %s",
        (workspace_id, email.lower()),
    )
    return await cur.fetchone() is not None


async def by_email(conn: Connection, workspace_id: UUID, email: str) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select * from public.customers where workspace_id = %s and email = %s",
        (workspace_id, email.lower()),
    )
    return await cur.fetchone()


async def get(conn: Connection, workspace_id: UUID, customer_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select * from public.customers where id = %s and workspace_id = %s",
        (customer_id, workspace_id),
    )
    return await cur.fetchone()


async def phone(conn: Connection, customer_id: UUID) -> str | None:
    cur = await conn.execute("select phone from public.customers where id = %s", (customer_id,))
    row = await cur.fetchone()
    return row["phone"] if row else None


async def touch(conn: Connection, customer_id: UUID) -> None:
    """The customer was in touch just now (their last interaction)."""
    await conn.execute(
        "update public.customers set last_interaction_at = now() where id = %s", (customer_id,)
    )


async def search(
    conn: Connection,
    workspace_id: UUID,
    *,
    text: str | None,
    verified: bool | None,
    tags: list[str],
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    conditions = [sql.SQL("workspace_id = %(ws)s")]
    params: dict[str, Any] = {"ws": workspace_id, "limit": limit, "offset": offset}
    if text:
        # Name, e-mail or phone; the phone also by its digits, however it was typed.
        conditions.append(
            sql.SQL(
                "(name ilike %(like)s or email ilike %(like)s or phone ilike %(like)s"
                " or (%(digits)s <> '' and phone like %(digits_like)s))"
            )
        )
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        digits = "".join(c for c in text if c.isdigit())
        params |= {"like": f"%{escaped}%", "digits": digits, "digits_like": f"%{digits}%"}
    if verified is not None:
        conditions.append(sql.SQL("is_verified = %(verified)s"))
        params["verified"] = verified
    if tags:
        conditions.append(sql.SQL("tags @> %(tags)s"))
        params["tags"] = tags
    where = sql.SQL(" and ").join(conditions)
    cur = await conn.execute(
        sql.SQL(
            "select *, count(*) over () as total from public.customers where {}"
            " order by last_interaction_at desc nulls last, created_at desc, id"
            " limit %(limit)s offset %(offset)s"
        ).format(where),
        params,
    )
    rows = await cur.fetchall()
    if rows:
        return rows, int(rows[0]["total"])
    cur = await conn.execute(
        sql.SQL("select count(*) as n from public.customers where {}").format(where), params
    )
    counted = await cur.fetchone()
    return [], int(counted["n"]) if counted else 0


# -- tickets ----------------------------------------------------------------------------------


async def insert_ticket(conn: Connection, values: dict[str, Any]) -> dict[str, Any]:
    cur = await conn.execute(insert_sql("tickets", values, returning="*"), values)
    row = await cur.fetchone()
    assert row is not None
    return row


async def tickets(
    conn: Connection,
    *,
    workspace_id: UUID | None = None,
    customer_id: UUID | None = None,
    status: str | None = None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    conditions: list[sql.Composable] = []
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    for column, value in (
        ("workspace_id", workspace_id),
        ("customer_id", customer_id),
        ("status", status),
    ):
        if value is not None:
            conditions.append(
                sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder(column))
            )
            params[column] = value
    where = sql.SQL(" and ").join(conditions) if conditions else sql.SQL("true")
    cur = await conn.execute(
        sql.SQL(
            "select *, count(*) over () as total from public.tickets where {}"
            " order by created_at desc, id limit %(limit)s offset %(offset)s"
        ).format(where),
        params,
    )
    rows = await cur.fetchall()
    return rows, int(rows[0]["total"]) if rows else 0


async def update_ticket(
    conn: Connection, workspace_id: UUID, ticket_id: UUID, changes: dict[str, Any]
) -> dict[str, Any] | None:
    if changes.get("status") == "resolved":
        changes["resolved_at"] = sql.SQL("coalesce(resolved_at, now())")
    if changes.get("status") == "closed":
        changes["closed_at"] = sql.SQL("coalesce(closed_at, now())")
    assignments = sql.SQL(", ").join(
        sql.SQL("{} = {}").format(
            sql.Identifier(name),
            value if isinstance(value, sql.Composable) else sql.Placeholder(name),
        )
        for name, value in changes.items()
    )
    params = {k: v for k, v in changes.items() if not isinstance(v, sql.Composable)}
    cur = await conn.execute(
        sql.SQL(
            "update public.tickets set {} where id = %(_id)s and workspace_id = %(_ws)s returning *"
        ).format(assignments),
        {**params, "_id": ticket_id, "_ws": workspace_id},
    )
    return await cur.fetchone()


async def me(conn: Connection, user_id: UUID) -> dict[str, Any] | None:
    """The customer a portal login belongs to (read under the customer's own claims)."""
    cur = await conn.execute("select * from public.customers where user_id = %s", (user_id,))
    return await cur.fetchone()


# -- visitors who became customers --------------------------------------------------------------


async def upsert_identified(
    conn: Connection, workspace_id: UUID, external_id: str, name: str | None, email: str | None
) -> UUID:
    """The customer a verified widget user is: found by their id in the workspace's system,
    else new (with the e-mail they gave when no customer has it yet)."""
    email = email.lower() if email else None
    cur = await conn.execute(
        "update public.customers set name = coalesce(name, %s)"
        " where workspace_id = %s and external_id = %s returning id",
        (name, workspace_id, external_id),
    )
    row = await cur.fetchone()
    # Never found by e-mail: the host page signs the user id only, so an e-mail that comes with
    # it proves nothing and must not claim a customer someone else already is.
    if row is None:
        taken = email and await email_taken(conn, workspace_id, email)
        cur = await conn.execute(
            "insert into public.customers (workspace_id, external_id, name, email, is_verified)"
            " values (%s, %s, %s, %s, true)"
            " on conflict (workspace_id, external_id) where external_id is not null"
            " do update set name = coalesce(public.customers.name, excluded.name) returning id",
            (workspace_id, external_id, name, None if taken else email),
        )
        row = await cur.fetchone()
    assert row is not None
    return UUID(str(row["id"]))


async def upsert_contact(
    conn: Connection,
    workspace_id: UUID,
    *,
    name: str | None,
    email: str | None,
    phone: str | None,
    company: str | None,
) -> UUID:
    """The customer a lead is (by e-mail, else phone), created unverified when new; blank
    fields filled, known ones kept."""
    cur = await conn.execute(
        "select id from public.customers where workspace_id = %s"
        " and ((%s::text is not null and email = %s) or (%s::text is not null and phone = %s))"
        " order by (email = %s) desc nulls last, created_at limit 1",
        (workspace_id, email, email, phone, phone, email),
    )
    row = await cur.fetchone()
    if row is not None:
        await conn.execute(
            "update public.customers set name = coalesce(name, %s), company = coalesce(company, %s),"
            " email = coalesce(email, %s), phone = coalesce(phone, %s),"
            " last_interaction_at = greatest(last_interaction_at, now()) where id = %s",
            (
                name,
                company,
                None if email and await email_taken(conn, workspace_id, email) else email,
                None if phone and await _phone_taken(conn, workspace_id, phone) else phone,
                row["id"],
            ),
        )
        return UUID(str(row["id"]))
    inserted = await insert_customer(
        conn,
        {
            "workspace_id": workspace_id,
            "name": name,
            "email": email,
            "phone": phone,
            "company": company,
            "last_interaction_at": None,
        },
    )
    return UUID(str(inserted["id"]))


async def _phone_taken(conn: Connection, workspace_id: UUID, phone: str) -> bool:
    cur = await conn.execute(
        "select 1 from public.customers where workspace_id = %s and phone = %s",
        (workspace_id, phone),
    )
    return await cur.fetchone() is not None
