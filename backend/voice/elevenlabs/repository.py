from __future__ import annotations

import hashlib
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from backend.connections import repository as connections
from backend.connections.schemas import Provider
from backend.db import Connection


async def connection_by_token(conn: Connection, token: str) -> dict[str, Any] | None:
    """Runs before the workspace is known (system transaction)."""
    row = await connections.by_webhook_hash(
        conn, Provider.ELEVENLABS, hashlib.sha256(token.encode()).hexdigest()
    )
    if row is None:
        return None
    return {
        "workspace_id": row["workspace_id"],
        "encrypted_webhook_secret": row["secrets"].get("webhook_secret"),
    }


async def list_agents(conn: Connection, workspace_id: UUID) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "select * from public.whatsapp_agents where workspace_id = %s order by name, agent_id",
        (workspace_id,),
    )
    return await cur.fetchall()


async def get_agent(conn: Connection, workspace_id: UUID, agent_id: str) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select * from public.whatsapp_agents where workspace_id = %s and agent_id = %s",
        (workspace_id, agent_id),
    )
    return await cur.fetchone()


async def upsert_agent(
    conn: Connection, workspace_id: UUID, values: dict[str, Any], *, archived: bool
) -> dict[str, Any]:
    """`values`: agent_id, name, first_message, system_prompt, language, llm, phone_numbers
    (None: keep the stored ones), raw. The status is ours: an agent archived on ElevenLabs
    (`archived`) becomes archived here, but un-archiving it there does not put it back in
    the portal; the admin does."""
    phone_numbers = values["phone_numbers"]
    cur = await conn.execute(
        """
        insert into public.whatsapp_agents
          (workspace_id, agent_id, name, status, first_message, system_prompt, language, llm,
           phone_numbers, raw, synced_at)
        values (%(ws)s, %(agent_id)s, %(name)s,
                case when %(archived)s then 'archived' else 'active' end,
                %(first_message)s, %(system_prompt)s, %(language)s, %(llm)s,
                coalesce(%(phone_numbers)s, '[]'::jsonb), %(raw)s, now())
        on conflict (workspace_id, agent_id) do update set
          name = excluded.name,
          status = case when %(archived)s then 'archived' else whatsapp_agents.status end,
          first_message = excluded.first_message, system_prompt = excluded.system_prompt,
          language = excluded.language, llm = excluded.llm,
          phone_numbers = coalesce(%(phone_numbers)s, whatsapp_agents.phone_numbers),
          raw = excluded.raw, synced_at = now()
        returning *
        """,
        {
            **values,
            "ws": workspace_id,
            "archived": archived,
            "phone_numbers": Jsonb(phone_numbers) if phone_numbers is not None else None,
            "raw": Jsonb(values["raw"]),
        },
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def set_status(
    conn: Connection, workspace_id: UUID, agent_id: str, status: str
) -> dict[str, Any] | None:
    cur = await conn.execute(
        "update public.whatsapp_agents set status = %s"
        " where workspace_id = %s and agent_id = %s returning *",
        (status, workspace_id, agent_id),
    )
    return await cur.fetchone()


async def delete_agents_except(
    conn: Connection, workspace_id: UUID, keep_agent_ids: list[str]
) -> int:
    cur = await conn.execute(
        "delete from public.whatsapp_agents where workspace_id = %s and agent_id <> all(%s)",
        (workspace_id, keep_agent_ids),
    )
    return cur.rowcount
