from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from backend.kit.schemas import ProviderKey


class VoiceConnect(BaseModel):
    private_key: ProviderKey = Field(min_length=8, max_length=200)
    public_key: ProviderKey = Field(min_length=8, max_length=200)
    # A new webhook secret, shown in the answer (the old one stops working at once).
    rotate_webhook_secret: bool = False


class VoiceConnection(BaseModel):
    connected: bool
    status: Literal["valid", "invalid"] | None = None
    private_key_last4: str | None = None
    public_key_last4: str | None = None
    validated_at: datetime | None = None
    webhook_url: str | None = None
    # Only in the answer to the connect that created or rotated it: VAPI's server URL secret
    # (`X-Vapi-Secret`, or a Bearer credential). It is never shown again.
    webhook_secret: str | None = None


class PublicKeyValidate(BaseModel):
    public_key: ProviderKey = Field(min_length=1, max_length=200)


class PublicKeyValidation(BaseModel):
    valid: bool
    message: str | None = None


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class VoiceAssistant(_Camel):
    id: str  # VAPI's assistant id
    name: str
    first_message: str | None = None
    voice: dict[str, Any] = Field(default_factory=dict)
    model: dict[str, Any] = Field(default_factory=dict)
    phone_number: str | None = None
    synced_at: datetime | None = None


class VoiceSync(BaseModel):
    count: int
    assistants: list[VoiceAssistant]


class VoiceAssistantUpdate(_Camel):
    """What to change; other fields of VAPI's UpdateAssistantDto pass through to VAPI, which
    validates them. Send whole `voice` / `model` objects."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    name: str | None = None
    first_message: str | None = None
    voice: dict[str, Any] | None = None
    model: dict[str, Any] | None = None


class VoiceToken(BaseModel):
    token: str  # the workspace's VAPI public key, for `new Vapi(token)` in the browser


class CallImport(BaseModel):
    days: int = Field(default=2, ge=1, le=30)


class CallImportResult(BaseModel):
    found: int  # ended calls VAPI has in the window
    imported: int  # of which we did not have yet


class WebhookAck(BaseModel):
    received: bool = True
