"""The omnichannel document's Conversation API: a workspace's conversations on every channel,
their messages, and closing one. Admins, or API keys with `conversations:read` (the lists) or
`conversations:write` (closing)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from backend.auth.dependencies import api_subject
from backend.auth.subjects import ApiKey, AuthSubject, User
from backend.context import Context
from backend.conversations import service
from backend.conversations.schemas import (
    ApiChannel,
    ApiStatus,
    ConversationClose,
    ConversationItem,
    MessageItem,
)
from backend.kit.pagination import Limit, Page
from backend.kit.schemas import Envelope, PageEnvelope

router = APIRouter(prefix="/api/conversations", tags=["conversations"])

Reader = Annotated[AuthSubject[User | ApiKey], Depends(api_subject("conversations:read"))]
Writer = Annotated[AuthSubject[User | ApiKey], Depends(api_subject("conversations:write"))]


def _principal(subject: AuthSubject[User | ApiKey]) -> str:
    kind = "api_key" if isinstance(subject.principal, ApiKey) else "user"
    return f"conversations:{kind}:{subject.principal.id}"


@router.get("", summary="List conversations")
async def list_conversations(
    subject: Reader,
    context: Context,
    status: ApiStatus | None = None,
    channel: ApiChannel | None = None,
    customer_id: Annotated[UUID | None, Query(alias="customerId")] = None,
    page: Page = 1,
    limit: Limit = 20,
) -> PageEnvelope[ConversationItem]:
    """Latest activity first; builder previews are left out."""
    async with context.db.for_workspace(subject.workspace_id, _principal(subject)) as conn:
        items, total = await service.list_conversations(
            conn,
            subject.workspace_id,
            status=status,
            channel=channel,
            customer_id=customer_id,
            page=page,
            limit=limit,
        )
    return PageEnvelope.of(items, page=page, limit=limit, total=total)


@router.get("/{conversation_id}/messages", summary="List a conversation's messages")
async def conversation_messages(
    conversation_id: UUID, subject: Reader, context: Context, page: Page = 1, limit: Limit = 50
) -> PageEnvelope[MessageItem]:
    """Oldest first."""
    async with context.db.for_workspace(subject.workspace_id, _principal(subject)) as conn:
        items, total = await service.messages(
            conn, subject.workspace_id, conversation_id, page=page, limit=limit
        )
    return PageEnvelope.of(items, page=page, limit=limit, total=total)


@router.post("/{conversation_id}/close", summary="Close a conversation")
async def close_conversation(
    conversation_id: UUID, data: ConversationClose, subject: Writer, context: Context
) -> Envelope[ConversationItem]:
    """Closing a closed conversation is a 409 and changes nothing."""
    async with context.db.for_workspace(subject.workspace_id, _principal(subject)) as conn:
        closed = await service.close(conn, subject.workspace_id, conversation_id, data)
    return Envelope(data=closed)
