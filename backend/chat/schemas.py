from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

MAX_MESSAGE_CHARS = 4000


class ChatMessageIn(BaseModel):
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
