"""What a conversation is made of, as the rest of the backend sees it, and the bodies of the
omnichannel document's Conversation API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


@dataclass(frozen=True)
class VerifiedUser:
    """A person the channel vouches for (a visitor signed in on the host page, a portal
    customer): the conversation is theirs."""

    id: str
    name: str | None = None
    email: str | None = None


# -- the omnichannel document's Conversation API (camelCase, upper-case values) ----------------

# The API's channel names for the stored ones: the web widget and `/api/chat/message` are CHAT,
# the OpenAI-compatible API is API (as the usage records and the cache name them).
CHANNELS: dict[str, str] = {
    "widget": "CHAT",
    "api": "API",
    "whatsapp": "WHATSAPP",
    "voice": "VOICE",
    "portal": "PORTAL",
}
# An escalated conversation was handed to a person: TRANSFERRED, in the document's words.
STATUSES: dict[str, str] = {"active": "ACTIVE", "closed": "CLOSED", "escalated": "TRANSFERRED"}
# What a reader sees of delivery: the document has no QUEUED, and a queued message is on its way.
DELIVERY: dict[str, str] = {
    "queued": "SENT",
    "sent": "SENT",
    "delivered": "DELIVERED",
    "read": "READ",
    "failed": "FAILED",
}

ApiChannel = Literal["CHAT", "WHATSAPP", "VOICE", "PORTAL", "API"]
ApiStatus = Literal["ACTIVE", "CLOSED", "TRANSFERRED"]
CloseReason = Literal["RESOLVED", "SPAM", "DUPLICATE", "NO_RESPONSE", "OTHER"]


class ConversationItem(BaseModel):
    id: UUID
    channel: str
    status: str
    messageCount: int
    startedAt: datetime
    lastMessageAt: datetime
    summary: str | None
    chatbotId: UUID
    customerId: UUID | None
    closedAt: datetime | None
    closeReason: str | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> ConversationItem:
        return cls(
            id=row["id"],
            channel=CHANNELS[row["channel"]],
            status=STATUSES[row["status"]],
            messageCount=row["message_count"],
            startedAt=row["started_at"],
            lastMessageAt=row["last_message_at"],
            summary=row["summary"],
            chatbotId=row["chatbot_id"],
            customerId=row["customer_id"],
            closedAt=row["closed_at"],
            closeReason=row["close_reason"].upper() if row["close_reason"] else None,
        )


class MessageItem(BaseModel):
    id: UUID
    role: str = Field(description="USER, ASSISTANT, AGENT (a member of the workspace) or SYSTEM")
    content: str
    channel: str
    status: str = Field(description="SENT, DELIVERED, READ or FAILED; web messages DELIVERED")
    createdAt: datetime
    aiCost: float
    cachedResponse: bool

    @classmethod
    def of(cls, row: dict[str, Any]) -> MessageItem:
        return cls(
            id=row["id"],
            role=row["role"].upper(),
            content=row["content"],
            channel=CHANNELS[row["channel"]],
            status=DELIVERY[row["status"]],
            createdAt=row["created_at"],
            aiCost=float(row["cost"]),
            cachedResponse=row["cached_response"],
        )


class ConversationClose(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: CloseReason
    summary: str | None = Field(default=None, max_length=4000)
