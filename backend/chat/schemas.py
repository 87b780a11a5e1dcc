from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

MAX_MESSAGE_CHARS = 4000
# An HMAC-SHA256 in hex (the identity verification recipe); anything else cannot match.
USER_HASH_PATTERN = "^[0-9A-Fa-f]+$"


class VisitorIdentity(BaseModel):
    """Who the host page says the visitor is; believed only with a valid `user_hash`."""

    user_id: str | None = Field(default=None, min_length=1, max_length=200)
    user_hash: str | None = Field(default=None, max_length=128, pattern=USER_HASH_PATTERN)
    user_name: str | None = Field(default=None, max_length=200)
    user_email: str | None = Field(default=None, max_length=320)


class ChatMessageIn(VisitorIdentity):
    chatbot_id: UUID
    conversation_id: UUID | None = None
    visitor_id: str = Field(min_length=1, max_length=200)
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    preview_mode: bool = False
    stream: bool = False


class ChatMessageOut(BaseModel):
    conversation_id: UUID
    message: str
    actions: list[dict[str, Any]]
    message_id: UUID
    source: str
    citations: list[dict[str, Any]]
