"""SQL over Supabase Auth's own tables (`auth.*`), for the local auth server."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from psycopg import sql

from backend.db import Connection, set_sql

_USER_COLUMNS = """
  id, aud, role, email, encrypted_password, email_confirmed_at, invited_at,
  confirmation_sent_at, recovery_sent_at, last_sign_in_at, raw_app_meta_data,
  raw_user_meta_data, created_at, updated_at, phone, phone_confirmed_at, banned_until,
  deleted_at, is_anonymous
"""


async def get_user(conn: Connection, user_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(
        f"select {_USER_COLUMNS} from auth.users where id = %s and deleted_at is null", (user_id,)
    )
    return await cur.fetchone()


async def get_user_by_email(conn: Connection, email: str) -> dict[str, Any] | None:
    cur = await conn.execute(
        f"select {_USER_COLUMNS} from auth.users where lower(email) = lower(%s)"
        " and deleted_at is null",
        (email,),
    )
    return await cur.fetchone()


async def create_user(
    conn: Connection,
    *,
    email: str,
    password_hash: str | None,
    confirmed: bool,
    user_metadata: dict[str, Any],
    app_metadata: dict[str, Any],
    phone: str | None = None,
) -> dict[str, Any] | None:
    """Insert a user; None when the email is already taken."""
    cur = await conn.execute(
        f"""
        insert into auth.users (email, encrypted_password, email_confirmed_at,
                                raw_user_meta_data, raw_app_meta_data, phone)
        values (lower(%s), %s, case when %s then now() end, %s, %s, %s)
        on conflict do nothing
        returning {_USER_COLUMNS}
        """,
        (
            email,
            password_hash,
            confirmed,
            json.dumps(user_metadata),
            json.dumps(app_metadata),
            phone,
        ),
    )
    return await cur.fetchone()


async def update_user(conn: Connection, user_id: UUID, **changes: Any) -> dict[str, Any] | None:
    """Update the given columns (names from a fixed set chosen by the service)."""
    allowed = {
        "email",
        "encrypted_password",
        "raw_user_meta_data",
        "raw_app_meta_data",
        "email_confirmed_at",
        "last_sign_in_at",
        "banned_until",
        "phone",
    }
    assert set(changes) <= allowed, changes
    jsonb = {"raw_user_meta_data", "raw_app_meta_data"}
    values = {k: json.dumps(v) if k in jsonb else v for k, v in changes.items()}
    query = sql.SQL(
        "update auth.users set {}, updated_at = now() where id = %(_id)s and deleted_at is null"
        f" returning {_USER_COLUMNS}"
    ).format(set_sql(changes))
    cur = await conn.execute(query, {**values, "_id": user_id})
    return await cur.fetchone()


async def touch_sign_in(conn: Connection, user_id: UUID) -> None:
    await conn.execute(
        "update auth.users set last_sign_in_at = now(),"
        " email_confirmed_at = coalesce(email_confirmed_at, now()) where id = %s",
        (user_id,),
    )


async def delete_user(conn: Connection, user_id: UUID) -> bool:
    cur = await conn.execute("delete from auth.users where id = %s", (user_id,))
    return cur.rowcount > 0


async def list_users(
    conn: Connection, *, page: int, per_page: int
) -> tuple[list[dict[str, Any]], int]:
    cur = await conn.execute(
        f"select {_USER_COLUMNS}, count(*) over () as total from auth.users"
        " where deleted_at is null order by created_at, id limit %s offset %s",
        (per_page, (page - 1) * per_page),
    )
    rows = await cur.fetchall()
    if rows:
        return rows, int(rows[0]["total"])
    count = await (
        await conn.execute("select count(*) as n from auth.users where deleted_at is null")
    ).fetchone()
    return [], int(count["n"]) if count else 0


# -- sessions and refresh tokens --------------------------------------------------------------


async def create_session(conn: Connection, session_id: UUID, user_id: UUID) -> None:
    await conn.execute(
        "insert into auth.sessions (id, user_id) values (%s, %s)", (session_id, user_id)
    )


async def add_refresh_token(
    conn: Connection, *, token: str, user_id: UUID, session_id: UUID, parent: str | None
) -> None:
    await conn.execute(
        "insert into auth.refresh_tokens (token, user_id, session_id, parent)"
        " values (%s, %s, %s, %s)",
        (token, user_id, session_id, parent),
    )


async def revoke_refresh_token(conn: Connection, token: str) -> dict[str, Any] | None:
    """Revoke `token` if it is live; return its row (with `was_revoked`) when it exists."""
    cur = await conn.execute(
        """
        update auth.refresh_tokens t set revoked = true, updated_at = now()
        from (select id, revoked as was_revoked from auth.refresh_tokens
              where token = %s for update) old
        where t.id = old.id
        returning t.user_id, t.session_id, old.was_revoked
        """,
        (token,),
    )
    return await cur.fetchone()


async def delete_sessions(
    conn: Connection, *, user_id: UUID, only: UUID | None = None, keep: UUID | None = None
) -> None:
    await conn.execute(
        "delete from auth.sessions where user_id = %s"
        " and (%s::uuid is null or id = %s) and (%s::uuid is null or id <> %s)",
        (user_id, only, only, keep, keep),
    )


async def session_exists(conn: Connection, session_id: UUID) -> bool:
    cur = await conn.execute("select 1 from auth.sessions where id = %s", (session_id,))
    return await cur.fetchone() is not None


# -- one-time tokens (magic links, sign-up confirmations, recovery) ---------------------------


async def add_one_time_tokens(
    conn: Connection, *, user_id: UUID, token_type: str, hashes: list[str], relates_to: str
) -> None:
    # A user has one live token of each type: a new link replaces the previous one.
    await conn.execute(
        "delete from auth.one_time_tokens where user_id = %s and token_type = %s",
        (user_id, token_type),
    )
    for token_hash in hashes:
        await conn.execute(
            "insert into auth.one_time_tokens (user_id, token_type, token_hash, relates_to)"
            " values (%s, %s, %s, %s)",
            (user_id, token_type, token_hash, relates_to),
        )


async def consume_one_time_token(
    conn: Connection, *, token_hash: str, max_age_seconds: int
) -> dict[str, Any] | None:
    """Use up a token (and its sibling of the same link); return its user and type if it was
    live."""
    cur = await conn.execute(
        """
        delete from auth.one_time_tokens t
        using auth.one_time_tokens hit
        where hit.token_hash = %s and t.user_id = hit.user_id and t.token_type = hit.token_type
        returning t.user_id, t.token_type, t.token_hash,
                  t.created_at > now() - make_interval(secs => %s) as live
        """,
        (token_hash, max_age_seconds),
    )
    rows = await cur.fetchall()
    hit = next((r for r in rows if r["token_hash"] == token_hash), None)
    return hit if hit and hit["live"] else None
