"""Every read and write of conversations and their messages."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from backend.conversations.schemas import VerifiedUser
from backend.db import Connection, insert_sql


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


# -- a customer's conversations (the customers API and the portal) ------------------------------


async def customer_conversations(
    conn: Connection, customer_id: UUID, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """A customer's conversations, latest first, previews left out; and how many there are."""
    cur = await conn.execute(
        "select *, count(*) over () as total from public.conversations"
        " where customer_id = %s and not is_preview"
        " order by last_message_at desc, id limit %s offset %s",
        (customer_id, limit, offset),
    )
    rows = await cur.fetchall()
    if rows or offset == 0:
        return rows, int(rows[0]["total"]) if rows else 0
    cur = await conn.execute(
        "select count(*) as n from public.conversations where customer_id = %s and not is_preview",
        (customer_id,),
    )
    counted = await cur.fetchone()
    return [], int(counted["n"]) if counted else 0


async def conversation_visible(conn: Connection, conversation_id: UUID) -> bool:
    """Whether the caller's policies show them this conversation (a portal customer sees only
    their own)."""
    cur = await conn.execute("select 1 from public.conversations where id = %s", (conversation_id,))
    return await cur.fetchone() is not None


async def transcript(conn: Connection, conversation_id: UUID) -> list[dict[str, Any]]:
    """Every message of a conversation, oldest first."""
    cur = await conn.execute(
        "select id, role, content, created_at from public.messages"
        " where conversation_id = %s order by created_at, id",
        (conversation_id,),
    )
    return await cur.fetchall()
