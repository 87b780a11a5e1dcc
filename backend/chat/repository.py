"""SQL of the chat engine: everything a message needs in as few round trips as possible."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from backend.connections import repository as connections
from backend.db import Connection


async def load_bot(conn: Connection, chatbot_id: UUID) -> dict[str, Any] | None:
    """The bot with its workspace's AI configuration and provider connections, in one query.
    Runs before the workspace is known (the bot id is public), as the login role."""
    cur = await conn.execute(
        """
        select b.*, w.name as workspace_name,
               a.custom_prompt, a.tone, a.prohibited_topics, a.fallback_message,
               -- A workspace that never saved its AI configuration speaks its default.
               coalesce(a.language, 'en') as language,
               o.secrets ->> 'api_key' as openai_key, o.status as openai_status,
               c.settings ->> 'base_url' as commerce_base_url,
               c.secrets ->> 'api_key' as commerce_key
        from public.chatbots b
        join public.workspaces w on w.id = b.workspace_id
        left join public.ai_configs a on a.workspace_id = b.workspace_id
        left join public.connections o
          on o.workspace_id = b.workspace_id and o.provider = 'openai' and o.account = ''
        left join public.connections c
          on c.workspace_id = b.workspace_id and c.provider = 'commerce' and c.account = ''
        where b.id = %s
        """,
        (chatbot_id,),
    )
    return await cur.fetchone()


async def faqs(conn: Connection, chatbot_id: UUID) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "select id, question, answer, question_variants, is_active from public.chatbot_faqs"
        " where chatbot_id = %s and is_active order by created_at, id",
        (chatbot_id,),
    )
    return await cur.fetchall()


async def actions(conn: Connection, chatbot_id: UUID) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "select * from public.chatbot_actions where chatbot_id = %s and is_active order by name",
        (chatbot_id,),
    )
    return await cur.fetchall()


async def mark_openai_key_invalid(conn: Connection, workspace_id: UUID, error: str) -> None:
    await connections.mark_invalid(conn, workspace_id, "openai", error)
