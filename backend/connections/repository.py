from __future__ import annotations

from typing import Any
from uuid import UUID

from backend.db import Connection


async def get_openai(conn: Connection, workspace_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select * from public.openai_connections where workspace_id = %s", (workspace_id,)
    )
    return await cur.fetchone()


async def save_openai(
    conn: Connection,
    workspace_id: UUID,
    *,
    encrypted_api_key: str,
    key_last4: str,
    models: list[str],
) -> dict[str, Any]:
    cur = await conn.execute(
        """
        insert into public.openai_connections
          (workspace_id, encrypted_api_key, key_last4, models, status, validated_at, last_error)
        values (%s, %s, %s, %s, 'valid', now(), null)
        on conflict (workspace_id) do update set
          encrypted_api_key = excluded.encrypted_api_key, key_last4 = excluded.key_last4,
          models = excluded.models, status = 'valid', validated_at = now(), last_error = null
        returning *
        """,
        (workspace_id, encrypted_api_key, key_last4, models),
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def record_openai_check(
    conn: Connection,
    workspace_id: UUID,
    *,
    valid: bool,
    models: list[str] | None,
    error: str | None,
) -> dict[str, Any] | None:
    cur = await conn.execute(
        """
        update public.openai_connections set
          status = case when %s then 'valid' else 'invalid' end,
          models = coalesce(%s, models), last_error = %s, validated_at = now()
        where workspace_id = %s
        returning *
        """,
        (valid, models, error, workspace_id),
    )
    return await cur.fetchone()


async def delete_openai(conn: Connection, workspace_id: UUID) -> bool:
    cur = await conn.execute(
        "delete from public.openai_connections where workspace_id = %s", (workspace_id,)
    )
    return cur.rowcount > 0


async def get_commerce(conn: Connection, workspace_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select * from public.commerce_connections where workspace_id = %s", (workspace_id,)
    )
    return await cur.fetchone()


async def save_commerce(
    conn: Connection, workspace_id: UUID, *, base_url: str, encrypted_api_key: str, key_last4: str
) -> dict[str, Any]:
    cur = await conn.execute(
        """
        insert into public.commerce_connections (workspace_id, base_url, encrypted_api_key, key_last4)
        values (%s, %s, %s, %s)
        on conflict (workspace_id) do update set base_url = excluded.base_url,
          encrypted_api_key = excluded.encrypted_api_key, key_last4 = excluded.key_last4
        returning *
        """,
        (workspace_id, base_url, encrypted_api_key, key_last4),
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def delete_commerce(conn: Connection, workspace_id: UUID) -> bool:
    cur = await conn.execute(
        "delete from public.commerce_connections where workspace_id = %s", (workspace_id,)
    )
    return cur.rowcount > 0
