"""Customers and their tickets: request and response bodies.

Admin-created customers answer with the bot-builder document's shapes (snake case); lists follow
the omnichannel document's Customer API (camel case, `{success, data, pagination}`)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from backend.kit.phones import to_e164

Priority = Literal["low", "medium", "high", "urgent"]
TicketStatus = Literal["open", "pending", "resolved", "closed"]


class CustomerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    password: str | None = Field(default=None, min_length=8, max_length=72)
    full_name: str | None = Field(default=None, max_length=200)
    company_name: str | None = Field(default=None, max_length=200)
    chatbot_id: UUID | None = None
    phone: str | None = Field(default=None, max_length=40)
    tags: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        # A national number is read in the workspace's country by the endpoint.
        if not value or not value.strip():
            return None
        if value.strip().startswith("+"):
            return to_e164(value)
        if not 6 <= sum(c.isdigit() for c in value) <= 15 or re.search(r"[^\d\s().\-]", value):
            raise ValueError("must be a phone number")
        return value.strip()

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        cleaned = [t.strip().lower() for t in tags if t.strip()]
        if any(len(t) > 50 for t in cleaned):
            raise ValueError("tags are at most 50 characters")
        return sorted(set(cleaned))


class CustomerCreated(BaseModel):
    customer_id: UUID
    user_id: UUID
    email: str


class CustomerListItem(BaseModel):
    id: UUID
    name: str | None
    email: str | None
    phone: str | None
    company: str | None
    trustScore: int
    isVerified: bool
    tags: list[str]
    lastInteraction: datetime | None
    userId: UUID | None
    chatbotId: UUID | None
    createdAt: datetime

    @classmethod
    def of(cls, row: dict[str, Any]) -> CustomerListItem:
        return cls(
            id=row["id"],
            name=row["name"],
            email=row["email"],
            phone=row["phone"],
            company=row["company"],
            trustScore=row["trust_score"],
            isVerified=row["is_verified"],
            tags=row["tags"],
            lastInteraction=row["last_interaction_at"],
            userId=row["user_id"],
            chatbotId=row["chatbot_id"],
            createdAt=row["created_at"],
        )


class CustomerConversation(BaseModel):
    id: UUID
    channel: str
    status: str
    messageCount: int
    startedAt: datetime
    lastMessageAt: datetime
    summary: str | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> CustomerConversation:
        return cls(
            id=row["id"],
            channel=row["channel"].upper(),
            status=row["status"].upper(),
            messageCount=row["message_count"],
            startedAt=row["started_at"],
            lastMessageAt=row["last_message_at"],
            summary=row["summary"],
        )


class TicketCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: UUID
    subject: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=10000)
    priority: Priority = "medium"


class TicketUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: TicketStatus | None = None
    priority: Priority | None = None


class Ticket(BaseModel):
    id: UUID
    customer_id: UUID
    conversation_id: UUID | None
    subject: str
    description: str
    priority: str
    status: str
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
