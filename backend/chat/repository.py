"""SQL of the chat engine: everything a message needs in as few round trips as possible."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from uuid import UUID

from backend.db import Connection, insert_sql

if TYPE_CHECKING:
    from backend.chat.engine import VerifiedUser


async def load_bot(conn: Connection, chatbot_id: UUID) -> dict[str, Any] | None:
    """The bot with its workspace's AI configuration and provider connections, in one query.
    Runs before the workspace is known (the bot id is public), as the login role."""
    cur = await conn.execute(
        """
        select b.*, w.name as workspace_name,
               a.custom_prompt, a.tone, a.prohibited_topics, a.fallback_message,
               -- A workspace that never saved its AI configuration speaks its default.
               coalesce(a.language, 'en') as language,
               o.encrypted_api_key as openai_key, o.status as openai_status,
               c.base_url as commerce_base_url, c.encrypted_api_key as commerce_key
        from public.chatbots b
        join public.workspaces w on w.id = b.workspace_id
        left join public.ai_configs a on a.workspace_id = b.workspace_id
        left join public.openai_connections o on o.workspace_id = b.workspace_id
        left join public.commerce_connections c on c.workspace_id = b.workspace_id
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


async def conversation(
    conn: Connection, conversation_id: UUID, chatbot_id: UUID
) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select * from public.conversations where id = %s and chatbot_id = %s",
        (conversation_id, chatbot_id),
    )
    return await cur.fetchone()


async def history(conn: Connection, conversation_id: UUID, *, limit: int) -> list[dict[str, Any]]:
    """The last `limit` messages, oldest first."""
    cur = await conn.execute(
        "select role, content from (select role, content, created_at from public.messages"
        " where conversation_id = %s order by created_at desc limit %s) m order by created_at",
        (conversation_id, limit),
    )
    return await cur.fetchall()


async def create_conversation(
    conn: Connection,
    *,
    conversation_id: UUID,
    workspace_id: UUID,
    chatbot_id: UUID,
    visitor_id: str,
    channel: str,
    is_preview: bool,
    user: VerifiedUser | None = None,
    customer_id: UUID | None = None,
) -> None:
    await conn.execute(
        "insert into public.conversations (id, workspace_id, chatbot_id, visitor_id, channel,"
        " is_preview, user_id, user_name, user_email, customer_id)"
        " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            conversation_id,
            workspace_id,
            chatbot_id,
            visitor_id,
            channel,
            is_preview,
            user.id if user else None,
            user.name if user else None,
            user.email if user else None,
            customer_id,
        ),
    )


async def identify_conversation(
    conn: Connection, conversation_id: UUID, user: VerifiedUser | None, customer_id: UUID | None
) -> None:
    """A visitor who signed in on the host page mid-conversation: the conversation is theirs
    from now on (a conversation never changes hands once identified)."""
    await conn.execute(
        "update public.conversations set user_id = coalesce(user_id, %s),"
        " user_name = coalesce(%s, user_name), user_email = coalesce(%s, user_email),"
        " customer_id = coalesce(customer_id, %s)"
        " where id = %s and (user_id is null or user_id = %s)"
        " and (customer_id is null or customer_id = %s)",
        (
            user.id if user else None,
            user.name if user else None,
            user.email if user else None,
            customer_id,
            conversation_id,
            user.id if user else None,
            customer_id,
        ),
    )


async def customer_phone(conn: Connection, customer_id: UUID) -> str | None:
    cur = await conn.execute("select phone from public.customers where id = %s", (customer_id,))
    row = await cur.fetchone()
    return row["phone"] if row else None


async def touch_customer(conn: Connection, customer_id: UUID) -> None:
    await conn.execute(
        "update public.customers set last_interaction_at = now() where id = %s", (customer_id,)
    )


async def add_message(conn: Connection, message: dict[str, Any]) -> None:
    values = {
        **message,
        "actions": json.dumps(message.get("actions", [])),
        "citations": json.dumps(message.get("citations", [])),
    }
    await conn.execute(insert_sql("messages", values), values)


async def touch_conversation(
    conn: Connection,
    conversation_id: UUID,
    *,
    added: int,
    escalate: bool,
    order_lookups: int = 0,
) -> None:
    await conn.execute(
        "update public.conversations set message_count = message_count + %s,"
        " last_message_at = now(), order_lookups = order_lookups + %s,"
        " status = case when %s then 'escalated' else status end"
        " where id = %s",
        (added, order_lookups, escalate, conversation_id),
    )


async def add_usage(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    async with conn.cursor() as cur:
        await cur.executemany(insert_sql("token_usage", rows[0]), rows)


async def mark_openai_key_invalid(conn: Connection, workspace_id: UUID, error: str) -> None:
    await conn.execute(
        "update public.openai_connections set status = 'invalid', last_error = %s,"
        " validated_at = now() where workspace_id = %s",
        (error, workspace_id),
    )
