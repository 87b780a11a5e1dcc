from __future__ import annotations

from typing import Any
from uuid import UUID

from backend.db import Connection

_COLUMNS = "id, workspace_id, name, prefix, scopes, created_at, last_used_at, revoked_at"


async def create(
    conn: Connection,
    *,
    workspace_id: UUID,
    name: str,
    prefix: str,
    key_hash: str,
    scopes: list[str],
    created_by: UUID,
) -> dict[str, Any]:
    cur = await conn.execute(
        f"insert into public.api_keys (workspace_id, name, prefix, key_hash, scopes, created_by)"
        f" values (%s, %s, %s, %s, %s, %s) returning {_COLUMNS}",
        (workspace_id, name, prefix, key_hash, scopes, created_by),
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def list_for_workspace(conn: Connection, workspace_id: UUID) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f"select {_COLUMNS} from public.api_keys where workspace_id = %s"
        " order by created_at desc, id",
        (workspace_id,),
    )
    return await cur.fetchall()


async def revoke(conn: Connection, workspace_id: UUID, key_id: UUID) -> bool:
    cur = await conn.execute(
        "update public.api_keys set revoked_at = now()"
        " where id = %s and workspace_id = %s and revoked_at is null",
        (key_id, workspace_id),
    )
    return cur.rowcount > 0


async def find_live_by_hash(conn: Connection, key_hash: str) -> dict[str, Any] | None:
    """Runs before the caller is known, as the login role."""
    cur = await conn.execute(
        "select id, workspace_id, scopes, last_used_at < now() - interval '1 minute'"
        " or last_used_at is null as stale from public.api_keys"
        " where key_hash = %s and revoked_at is null",
        (key_hash,),
    )
    return await cur.fetchone()


async def mark_used(conn: Connection, key_id: UUID) -> None:
    await conn.execute("update public.api_keys set last_used_at = now() where id = %s", (key_id,))
