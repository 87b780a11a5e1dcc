"""Request and response bodies of the web channel: the widget API and `/api/chat/message`."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from backend.chatbots.schemas import Theme

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


class WidgetConfig(BaseModel):
    chatbot_id: UUID
    name: str
    theme: Theme  # defaults fill a theme written partly (by a console writing the row itself)
    first_message: str
    placeholder_text: str
    forms: list[dict[str, Any]]
    faqs: list[dict[str, Any]]


class WidgetMessageIn(VisitorIdentity):
    model_config = ConfigDict(extra="ignore")  # widgets of other versions may send more

    visitor_id: str = Field(min_length=1, max_length=200)
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    conversation_id: UUID | None = None
    stream: bool = False


class HistoryMessage(BaseModel):
    id: UUID
    role: str
    content: str
    citations: list[dict[str, Any]]
    created_at: datetime


class VisitorHistory(BaseModel):
    conversation_id: UUID
    messages: list[HistoryMessage]


class FormSubmitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    form_id: UUID
    conversation_id: UUID | None = None
    visitor_id: str = Field(min_length=1, max_length=200)
    submitted_data: dict[str, Any] = Field(max_length=50)


class FormSubmitOut(BaseModel):
    success: bool = True
    submission_id: UUID
    lead_id: UUID | None
    message: str


class IdentitySecret(BaseModel):
    secret: str
    algorithm: str = "HMAC-SHA256"
