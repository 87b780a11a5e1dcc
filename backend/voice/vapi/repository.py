from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from backend.db import Connection


async def get_connection(conn: Connection, workspace_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select * from public.voice_connections where workspace_id = %s", (workspace_id,)
    )
    return await cur.fetchone()


async def save_connection(
    conn: Connection,
    workspace_id: UUID,
    *,
    encrypted_private_key: str,
    encrypted_public_key: str,
    private_key_last4: str,
    public_key_last4: str,
    encrypted_webhook_secret: str,
    webhook_secret_hash: str,
    rotate_webhook_secret: bool = False,
) -> dict[str, Any]:
    """Insert or replace the keys; a reconnect keeps the webhook secret VAPI already has
    unless told to rotate it."""
    cur = await conn.execute(
        """
        insert into public.voice_connections
          (workspace_id, encrypted_private_key, encrypted_public_key, private_key_last4,
           public_key_last4, encrypted_webhook_secret, webhook_secret_hash, status,
           validated_at, last_error)
        values (%s, %s, %s, %s, %s, %s, %s, 'valid', now(), null)
        on conflict (workspace_id) do update set
          encrypted_private_key = excluded.encrypted_private_key,
          encrypted_public_key = excluded.encrypted_public_key,
          private_key_last4 = excluded.private_key_last4,
          public_key_last4 = excluded.public_key_last4,
          encrypted_webhook_secret = case when %s then excluded.encrypted_webhook_secret
            else voice_connections.encrypted_webhook_secret end,
          webhook_secret_hash = case when %s then excluded.webhook_secret_hash
            else voice_connections.webhook_secret_hash end,
          status = 'valid', validated_at = now(), last_error = null
        returning *
        """,
        (
            workspace_id,
            encrypted_private_key,
            encrypted_public_key,
            private_key_last4,
            public_key_last4,
            encrypted_webhook_secret,
            webhook_secret_hash,
            rotate_webhook_secret,
            rotate_webhook_secret,
        ),
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def mark_invalid(conn: Connection, workspace_id: UUID, error: str) -> None:
    await conn.execute(
        "update public.voice_connections set status = 'invalid', last_error = %s"
        " where workspace_id = %s",
        (error[:1000], workspace_id),
    )


async def connection_by_secret_hash(conn: Connection, secret_hash: str) -> dict[str, Any] | None:
    """Runs before the workspace is known (system transaction)."""
    cur = await conn.execute(
        "select workspace_id, encrypted_webhook_secret from public.voice_connections"
        " where webhook_secret_hash = %s",
        (secret_hash,),
    )
    return await cur.fetchone()


async def valid_connection_workspaces(conn: Connection) -> list[UUID]:
    """Every workspace with a working VAPI connection (system transaction)."""
    cur = await conn.execute(
        "select workspace_id from public.voice_connections where status = 'valid'"
        " order by workspace_id"
    )
    return [row["workspace_id"] for row in await cur.fetchall()]


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
