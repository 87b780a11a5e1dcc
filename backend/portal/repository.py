"""What the portal offers a customer to talk to. Read as the login role (a system connection):
a customer is no member and cannot read the workspace's bots and agents under their claims."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from backend.db import Connection


async def chatbots(conn: Connection, customer: dict[str, Any]) -> list[dict[str, Any]]:
    """The customer's own bot, or every active bot of the workspace."""
    cur = await conn.execute(
        "select id, name, theme ->> 'avatar' as avatar_url, first_message, is_active"
        " from public.chatbots where workspace_id = %s and is_active"
        " and (%s::uuid is null or id = %s) order by created_at, id",
        (customer["workspace_id"], customer["chatbot_id"], customer["chatbot_id"]),
    )
    return await cur.fetchall()


async def voice_assistants(conn: Connection, workspace_id: UUID) -> list[dict[str, Any]]:
    """The workspace's voice assistants a customer can call (those with a phone number)."""
    cur = await conn.execute(
        "select vapi_id as id, name, phone_number from public.voice_assistants"
        " where workspace_id = %s and phone_number is not null order by name, vapi_id",
        (workspace_id,),
    )
    return await cur.fetchall()


async def whatsapp_agents(conn: Connection, workspace_id: UUID) -> list[dict[str, Any]]:
    """The workspace's WhatsApp agents that are not archived."""
    cur = await conn.execute(
        "select agent_id as id, name, status from public.whatsapp_agents"
        " where workspace_id = %s and status = 'active' order by name, agent_id",
        (workspace_id,),
    )
    return await cur.fetchall()
