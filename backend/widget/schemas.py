"""Request and response bodies of the public widget API."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from backend.chat.schemas import MAX_MESSAGE_CHARS, VisitorIdentity
from backend.chatbots.schemas import Theme


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
