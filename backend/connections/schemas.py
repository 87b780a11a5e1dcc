from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field, HttpUrl

from backend.kit.schemas import ProviderKey


class Provider(StrEnum):
    OPENAI = "openai"
    COMMERCE = "commerce"
    VAPI = "vapi"
    ELEVENLABS = "elevenlabs"
    BOLNA = "bolna"
    WHATSAPP = "whatsapp"  # one connection per phone number (account = phone number id)


class ConnectionStatus(BaseModel):
    """What anyone may know of a stored connection, whatever the provider: each documented
    route answers its own shape from this one."""

    provider: Provider
    account: str = ""
    status: Literal["valid", "invalid"]
    last4: str  # of the main key: all that is ever shown of it
    validated_at: datetime | None = None
    last_error: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    # The names of the secrets stored (never their values), e.g. whether a webhook secret is set.
    secrets_set: frozenset[str] = frozenset()
    updated_at: datetime


class OpenAIConnect(BaseModel):
    api_key: ProviderKey = Field(min_length=8, max_length=500)


class OpenAIStatus(BaseModel):
    connected: bool
    status: Literal["valid", "invalid"] | None = None
    key_last4: str | None = None
    models: list[str] = Field(default_factory=list)
    validated_at: datetime | None = None
    last_error: str | None = None


class OpenAIValidation(BaseModel):
    valid: bool
    key_last4: str
    models: list[str] = Field(default_factory=list)
    error: str | None = None
    validated_at: datetime


class CommerceConnect(BaseModel):
    base_url: HttpUrl
    api_key: ProviderKey = Field(min_length=1, max_length=500)


class CommerceStatus(BaseModel):
    connected: bool
    base_url: str | None = None
    key_last4: str | None = None
    updated_at: datetime | None = None
