from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

# The README's "API keys for integrations" lists the routes each scope opens (a test pins it).
Scope = Literal[
    "api",
    "stats:read",
    "notifications:send",
    "conversations:read",
    "conversations:write",
    "whatsapp:send",
    "whatsapp:read",
]


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[Scope] = Field(
        default=["api"],
        min_length=1,
        description="`api`: the workspace's profile, AI configuration, credits, analytics, cache"
        " figures, lead extraction and the OpenAI-compatible API; `stats:read`: the dashboard"
        " stats API; `notifications:send`: e-mails and the shop's notification webhooks;"
        " `conversations:read`: the conversation API's lists; `conversations:write`: closing"
        " conversations; `whatsapp:send`: the WhatsApp send API; `whatsapp:read`: a bot's"
        " WhatsApp message history",
    )


class ApiKeyOut(BaseModel):
    id: UUID
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself. It is shown this once and never again.")
