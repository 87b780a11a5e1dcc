from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ElevenLabsKey(BaseModel):
    # Not refused here: validating a key that could never work answers `valid: false`.
    api_key: str = Field(min_length=1, max_length=200)


class ElevenLabsUser(BaseModel):
    """What we pass on of `GET /v1/user` (never its `xi_api_key`)."""

    user_id: str | None = None
    first_name: str | None = None
    # None when the key is valid but may not read the account (no `user_read` permission).
    subscription: dict[str, Any] | None = None


class ElevenLabsConnection(BaseModel):
    connected: bool
    status: Literal["valid", "invalid"] | None = None
    api_key_last4: str | None = None
    subscription_tier: str | None = None
    validated_at: datetime | None = None
    last_error: str | None = None
    # Paste into ElevenLabs' post-call webhook settings; the secret ElevenLabs then shows goes
    # to `PUT /api/whatsapp/webhook-secret`.
    webhook_url: str | None = None
    webhook_secret_set: bool = False


class ElevenLabsValidation(BaseModel):
    valid: bool
    message: str | None = None
    user: ElevenLabsUser | None = None
    connection: ElevenLabsConnection | None = None  # the saved connection, when valid


class WebhookSecret(BaseModel):
    secret: str = Field(min_length=8, max_length=500)


class WhatsAppAgent(BaseModel):
    agent_id: str  # ElevenLabs' id
    name: str
    status: Literal["active", "archived"]
    first_message: str | None = None
    system_prompt: str | None = None
    language: str | None = None
    llm: str | None = None
    phone_numbers: list[dict[str, Any]] = Field(default_factory=list)
    synced_at: datetime


class WhatsAppSync(BaseModel):
    count: int
    agents: list[WhatsAppAgent]


class WhatsAppAgentUpdate(BaseModel):
    """Friendly names for ElevenLabs' `name` and `conversation_config.agent.{first_message,
    language, prompt.prompt, prompt.llm}`, which ElevenLabs validates. `status` is ours only:
    archived agents are not offered in the customer portal."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    first_message: str | None = None
    system_prompt: str | None = None
    language: str | None = None
    llm: str | None = None
    status: Literal["active", "archived"] | None = None


class WebhookAck(BaseModel):
    received: bool = True
