"""Every read and write of the WhatsApp tables (migration 30): bots' settings, numbers, the
outbox, templates and the workspace's notification settings. Each part of the package keeps its
SQL here, under its own heading."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from backend.db import Connection

# -- numbers: the routing of Meta's webhooks ------------------------------------------------------


async def numbers_by_ids(conn: Connection, phone_number_ids: list[str]) -> list[dict[str, Any]]:
    """The numbers with these ids, whoever's they are, with their connection's secrets (still
    encrypted): a webhook is routed, and its signature checked, before any workspace is known
    (call it as the login role)."""
    cur = await conn.execute(
        "select n.*, b.enabled, c.secrets, c.status as connection_status"
        " from public.whatsapp_numbers n"
        " join public.whatsapp_bots b on b.chatbot_id = n.chatbot_id"
        " left join public.connections c on c.workspace_id = n.workspace_id"
        "   and c.provider = 'whatsapp' and c.account = n.phone_number_id"
        " where n.phone_number_id = any(%s)",
        (phone_number_ids,),
    )
    return list(await cur.fetchall())


async def bot_numbers(conn: Connection, chatbot_id: UUID) -> list[dict[str, Any]]:
    """A bot's numbers (primary first), under the caller's claims."""
    cur = await conn.execute(
        "select * from public.whatsapp_numbers where chatbot_id = %s order by role desc",
        (chatbot_id,),
    )
    return list(await cur.fetchall())


# -- outbox ---------------------------------------------------------------------------------------


async def insert_outbox(conn: Connection, rows: list[dict[str, Any]]) -> list[UUID]:
    """A message's parts, queued, in one statement; their ids in part order."""
    cur = await conn.execute(
        "insert into public.whatsapp_outbox"
        " (workspace_id, message_id, part, phone_number_id, recipient, payload, kind)"
        " select workspace_id, message_id, part, phone_number_id, recipient, payload, kind"
        " from jsonb_to_recordset(%s::jsonb) as r(workspace_id uuid, message_id uuid,"
        " part smallint, phone_number_id text, recipient text, payload jsonb, kind text)"
        " order by part returning id",
        (json.dumps(rows, default=str),),
    )
    return [row["id"] for row in await cur.fetchall()]


async def bot_settings(conn: Connection, chatbot_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select * from public.whatsapp_bots where chatbot_id = %s", (chatbot_id,)
    )
    return await cur.fetchone()
