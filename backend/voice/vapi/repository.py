from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from backend.connections import repository as connections
from backend.connections.schemas import Provider
from backend.db import Connection


async def connection_by_secret_hash(conn: Connection, secret_hash: str) -> dict[str, Any] | None:
    """Runs before the workspace is known (system transaction)."""
    row = await connections.by_webhook_hash(conn, Provider.VAPI, secret_hash)
    if row is None:
        return None
    return {
        "workspace_id": row["workspace_id"],
        "encrypted_webhook_secret": row["secrets"]["webhook_secret"],
    }


async def list_assistants(conn: Connection, workspace_id: UUID) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "select * from public.voice_assistants where workspace_id = %s order by name, vapi_id",
        (workspace_id,),
    )
    return await cur.fetchall()


async def get_assistant(
    conn: Connection, workspace_id: UUID, vapi_id: str
) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select * from public.voice_assistants where workspace_id = %s and vapi_id = %s",
        (workspace_id, vapi_id),
    )
    return await cur.fetchone()


async def upsert_assistant(
    conn: Connection, workspace_id: UUID, values: dict[str, Any]
) -> dict[str, Any]:
    """`values`: vapi_id, name, first_message, voice, model, phone_number, raw."""
    cur = await conn.execute(
        """
        insert into public.voice_assistants
          (workspace_id, vapi_id, name, first_message, voice, model, phone_number, raw, synced_at)
        values (%s, %s, %s, %s, %s, %s, %s, %s, now())
        on conflict (workspace_id, vapi_id) do update set
          name = excluded.name, first_message = excluded.first_message, voice = excluded.voice,
          model = excluded.model, phone_number = excluded.phone_number, raw = excluded.raw,
          synced_at = now()
        returning *
        """,
        (
            workspace_id,
            values["vapi_id"],
            values["name"],
            values["first_message"],
            Jsonb(values["voice"]),
            Jsonb(values["model"]),
            values["phone_number"],
            Jsonb(values["raw"]),
        ),
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def delete_assistants_except(
    conn: Connection, workspace_id: UUID, keep_vapi_ids: list[str]
) -> int:
    cur = await conn.execute(
        "delete from public.voice_assistants where workspace_id = %s and vapi_id <> all(%s)",
        (workspace_id, keep_vapi_ids),
    )
    return cur.rowcount
