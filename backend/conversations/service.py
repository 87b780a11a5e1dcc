"""The rules of the Conversation API: what its filters mean in stored values, and when a
conversation may be closed."""

from __future__ import annotations

from uuid import UUID

from backend.conversations import repository
from backend.conversations.schemas import (
    CHANNELS,
    STATUSES,
    ApiChannel,
    ApiStatus,
    ConversationClose,
    ConversationItem,
    MessageItem,
)
from backend.db import Connection
from backend.errors import Conflict, NotFound
from backend.kit.pagination import offset


class ConversationNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Conversation not found")


class ConversationClosed(Conflict):
    def __init__(self) -> None:
        super().__init__("This conversation is closed already")


_STORED_CHANNEL = {api: stored for stored, api in CHANNELS.items()}
_STORED_STATUS = {api: stored for stored, api in STATUSES.items()}


async def list_conversations(
    conn: Connection,
    workspace_id: UUID,
    *,
    status: ApiStatus | None,
    channel: ApiChannel | None,
    customer_id: UUID | None,
    page: int,
    limit: int,
) -> tuple[list[ConversationItem], int]:
    rows, total = await repository.workspace_page(
        conn,
        workspace_id,
        status=_STORED_STATUS[status] if status else None,
        channel=_STORED_CHANNEL[channel] if channel else None,
        customer_id=customer_id,
        limit=limit,
        offset=offset(page, limit),
    )
    return [ConversationItem.of(r) for r in rows], total


async def messages(
    conn: Connection, workspace_id: UUID, conversation_id: UUID, *, page: int, limit: int
) -> tuple[list[MessageItem], int]:
    if await repository.workspace_conversation(conn, workspace_id, conversation_id) is None:
        raise ConversationNotFound()
    rows, total = await repository.messages_page(
        conn, conversation_id, limit=limit, offset=offset(page, limit)
    )
    return [MessageItem.of(r) for r in rows], total


async def close(
    conn: Connection, workspace_id: UUID, conversation_id: UUID, data: ConversationClose
) -> ConversationItem:
    """Close a conversation that is open (active or transferred); a closed one stays as it was
    closed (409)."""
    closed = await repository.close_conversation(
        conn,
        workspace_id=workspace_id,
        conversation_id=conversation_id,
        reason=data.reason.lower(),
        summary=data.summary,
    )
    if closed is not None:
        return ConversationItem.of(closed)
    if await repository.workspace_conversation(conn, workspace_id, conversation_id) is None:
        raise ConversationNotFound()
    raise ConversationClosed()
