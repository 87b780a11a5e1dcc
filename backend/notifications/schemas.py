"""E-mail notifications: request and response bodies.

What becomes a header (the subject, the sender's name) carries no line breaks or other control
characters, so no caller can add headers of their own; the HTML of an admin's e-mail is sent as
given, and a visitor's words never reach HTML unescaped (see the service)."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, field_validator

from backend.kit.phones import to_e164

EmailKind = Literal["notification", "contact", "sign_in_link"]
EmailStatus = Literal["queued", "sent", "failed", "outbox"]

MAX_HTML_BYTES = 200 * 1024
MAX_SUBJECT_CHARS = 200
MAX_FROM_NAME_CHARS = 100
MAX_MESSAGE_CHARS = 5000
# The longest address SMTP carries (RFC 5321's path limit, less the angle brackets).
MAX_ADDRESS_CHARS = 254


def _single_line(value: str) -> str:
    """Trimmed, and refused when it holds a line break or another control character (a CR or
    LF in a header would start a header of the caller's choosing)."""
    if any(unicodedata.category(c) in {"Cc", "Zl", "Zp"} for c in value):
        raise ValueError("must be a single line without control characters")
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    return value


def _display_name(value: str) -> str:
    value = _single_line(value)
    if any(c in value for c in '<>"\\'):
        raise ValueError('must not contain <, >, " or \\')
    return value


SingleLine = Annotated[str, AfterValidator(_single_line)]
Address = Annotated[EmailStr, Field(max_length=MAX_ADDRESS_CHARS)]


class EmailSend(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_email: Address
    subject: Annotated[SingleLine, Field(max_length=MAX_SUBJECT_CHARS)]
    html_content: str = Field(min_length=1, description="Sent as given, at most 200 KB (UTF-8)")
    from_name: Annotated[str, AfterValidator(_display_name)] | None = Field(
        default=None, max_length=MAX_FROM_NAME_CHARS
    )

    @field_validator("html_content")
    @classmethod
    def _html_size(cls, value: str) -> str:
        if len(value.encode()) > MAX_HTML_BYTES:
            raise ValueError(f"must be at most {MAX_HTML_BYTES // 1024} KB")
        if not value.strip():
            raise ValueError("must not be empty")
        return value


class ContactIn(BaseModel):
    """A message from a website's contact form, for the workspace the chatbot belongs to."""

    model_config = ConfigDict(extra="forbid")

    chatbot_id: UUID
    name: Annotated[SingleLine, Field(max_length=100)]
    email: Address
    phone: str | None = Field(default=None, max_length=40)
    subject: Annotated[SingleLine, Field(max_length=150)] | None = None
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    # The widget's visitor id, when the form is on a page with the widget: limits per visitor.
    visitor_id: str | None = Field(default=None, min_length=1, max_length=200)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return to_e164(value) if value and value.strip() else None

    @field_validator("message")
    @classmethod
    def _message(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
        return value


class EmailAccepted(BaseModel):
    success: bool = True
    id: UUID
    status: EmailStatus


class EmailSummary(BaseModel):
    id: UUID
    kind: EmailKind
    to_email: str
    from_name: str | None
    subject: str
    status: EmailStatus
    provider_id: str | None
    error: str | None
    attempts: int
    chatbot_id: UUID | None
    created_at: datetime
    sent_at: datetime | None


class EmailDetail(EmailSummary):
    html: str
    text: str
