"""SQL for workspaces and their members. Runs under RLS: rows of other workspaces are invisible."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import sql

from backend.db import Connection, set_sql

_WORKSPACE = "w.id, w.name, w.slug, w.created_at, w.updated_at"


async def memberships(conn: Connection, user_id: UUID) -> list[dict[str, Any]]:
    """The caller's workspaces with their role, oldest first (the personal one comes first)."""
    cur = await conn.execute(
        f"select {_WORKSPACE}, m.role from public.workspace_members m"
        " join public.workspaces w on w.id = m.workspace_id"
        " where m.user_id = %s order by m.created_at, w.created_at",
        (user_id,),
    )
    return await cur.fetchall()


async def membership(conn: Connection, workspace_id: UUID, user_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(
        f"select {_WORKSPACE}, m.role from public.workspace_members m"
        " join public.workspaces w on w.id = m.workspace_id"
        " where m.workspace_id = %s and m.user_id = %s",
        (workspace_id, user_id),
    )
    return await cur.fetchone()


async def get(conn: Connection, workspace_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(
        f"select {_WORKSPACE} from public.workspaces w where w.id = %s", (workspace_id,)
    )
    return await cur.fetchone()


async def slug_taken(conn: Connection, slug: str) -> bool:
    # Slugs are global, and RLS hides other tenants' rows: ask through a definer function.
    cur = await conn.execute("select public.workspace_slug_taken(%s) as taken", (slug,))
    row = await cur.fetchone()
    return bool(row and row["taken"])


async def create(conn: Connection, *, name: str, slug: str) -> UUID:
    cur = await conn.execute("select public.create_workspace(%s, %s) as id", (name, slug))
    row = await cur.fetchone()
    assert row is not None
    return UUID(str(row["id"]))


async def update(conn: Connection, workspace_id: UUID, **changes: Any) -> None:
    """Change a workspace's name, slug or business profile (e-mail, phone, industry, country)."""
    assert set(changes) <= {
        "name",
        "slug",
        "email",
        "phone",
        "industry",
        "time_zone",
        "country",
    }, changes
    await conn.execute(
        sql.SQL("update public.workspaces set {} where id = %(_id)s").format(set_sql(changes)),
        {**changes, "_id": workspace_id},
    )


async def delete(conn: Connection, workspace_id: UUID) -> bool:
    cur = await conn.execute("delete from public.workspaces where id = %s", (workspace_id,))
    return cur.rowcount > 0


async def members(conn: Connection, workspace_id: UUID) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "select user_id, email, role, created_at from public.workspace_member_list(%s)",
        (workspace_id,),
    )
    return await cur.fetchall()


async def add_member(conn: Connection, workspace_id: UUID, email: str, role: str) -> UUID | None:
    """Add the user with this e-mail; None when there is no such user."""
    cur = await conn.execute(
        "select public.add_workspace_member(%s, %s, %s) as user_id", (workspace_id, email, role)
    )
    row = await cur.fetchone()
    return UUID(str(row["user_id"])) if row and row["user_id"] else None


async def set_member_role(conn: Connection, workspace_id: UUID, user_id: UUID, role: str) -> bool:
    cur = await conn.execute(
        "update public.workspace_members set role = %s where workspace_id = %s and user_id = %s",
        (role, workspace_id, user_id),
    )
    return cur.rowcount > 0


async def remove_member(conn: Connection, workspace_id: UUID, user_id: UUID) -> bool:
    cur = await conn.execute(
        "delete from public.workspace_members where workspace_id = %s and user_id = %s",
        (workspace_id, user_id),
    )
    return cur.rowcount > 0


async def member_role(conn: Connection, workspace_id: UUID, user_id: UUID) -> str | None:
    cur = await conn.execute(
        "select role from public.workspace_members where workspace_id = %s and user_id = %s",
        (workspace_id, user_id),
    )
    row = await cur.fetchone()
    return row["role"] if row else None


async def owner_count(conn: Connection, workspace_id: UUID) -> int:
    cur = await conn.execute(
        "select count(*) as n from public.workspace_members where workspace_id = %s and role = 'owner'",
        (workspace_id,),
    )
    row = await cur.fetchone()
    return int(row["n"]) if row else 0
