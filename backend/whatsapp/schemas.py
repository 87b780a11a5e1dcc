"""Requests and answers of the WhatsApp routes: bots and numbers, the send API, message history,
templates, settings and the commerce notifications (each part under its heading)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from backend.chatbots.schemas import Chatbot, ChatbotCreate, ChatbotUpdate
from backend.kit.schemas import ProviderKey

# -- bots and numbers (part B) ------------------------------------------------------------------

# Meta's ids are digits (a phone number id, a WhatsApp Business Account id).
GraphId = Annotated[str, Field(pattern=r"^[0-9]{1,30}$")]
AccessToken = Annotated[ProviderKey, Field(min_length=8, max_length=1000)]
AppSecret = Annotated[ProviderKey, Field(min_length=8, max_length=200)]
# Any string the admin also types into Meta's console; it travels in a query string.
VerifyToken = Annotated[ProviderKey, Field(min_length=8, max_length=200)]


class _WhatsAppFields(BaseModel):
    """The WhatsApp fields of seed 001's "Bot Configuration", the webhook's secrets, and the
    marketing number of the CHICX guide's two-number setup (000 §5.1). Secrets left out keep
    the stored ones; `whatsapp_marketing_phone_number_id: null` removes the marketing number."""

    is_whatsapp_enabled: bool | None = None
    whatsapp_phone_number_id: GraphId | None = None
    whatsapp_access_token: AccessToken | None = None
    whatsapp_app_secret: AppSecret | None = None
    whatsapp_verify_token: VerifyToken | None = None
    whatsapp_business_account_id: GraphId | None = None
    whatsapp_marketing_phone_number_id: GraphId | None = None
    whatsapp_marketing_access_token: AccessToken | None = None
    whatsapp_marketing_app_secret: AppSecret | None = None


WHATSAPP_FIELDS = frozenset(_WhatsAppFields.model_fields)


class BotCreate(ChatbotCreate, _WhatsAppFields):
    model_config = ConfigDict(extra="forbid")


class BotUpdate(ChatbotUpdate, _WhatsAppFields):
    model_config = ConfigDict(extra="forbid")


class Bot(Chatbot):
    """A chatbot as the bot builder shows it: its fields, and its WhatsApp settings with the
    numbers as Meta described them. Of a secret, only its last four characters or whether it
    is set."""

    is_whatsapp_enabled: bool
    whatsapp_phone_number_id: str | None
    whatsapp_display_phone_number: str | None
    whatsapp_verified_name: str | None
    whatsapp_quality_rating: str | None
    whatsapp_access_token_last4: str | None
    whatsapp_app_secret_set: bool
    whatsapp_verify_token_set: bool
    whatsapp_connection_status: Literal["valid", "invalid"] | None
    whatsapp_business_account_id: str | None
    whatsapp_marketing_phone_number_id: str | None
    whatsapp_marketing_display_phone_number: str | None
    whatsapp_marketing_verified_name: str | None
    whatsapp_marketing_access_token_last4: str | None
    whatsapp_marketing_app_secret_set: bool
    whatsapp_marketing_connection_status: Literal["valid", "invalid"] | None
    # Where Meta's console must send the webhooks (one URL for every bot).
    whatsapp_webhook_url: str


# -- workspace settings (part B) -----------------------------------------------------------------

TemplateName = Annotated[str, Field(pattern=r"^[a-z0-9_]{1,512}$")]
TemplateLanguage = Annotated[str, Field(pattern=r"^[a-z]{2,3}(_[A-Za-z]{2,4})?$")]
_MAX_WORDS = 50
_MAX_WORD = 40


def _words(words: list[str] | None, field: str) -> list[str] | None:
    """Trimmed, without blanks, each once whatever its case (they are matched ignoring case)."""
    if words is None:
        return None
    kept: dict[str, str] = {}
    for word in words:
        word = re.sub(r"\s+", " ", word.strip())
        if len(word) > _MAX_WORD:
            raise ValueError(f"'{word[:_MAX_WORD]}…' is longer than {_MAX_WORD} characters")
        if word:
            kept.setdefault(word.casefold(), word)
    if len(kept) > _MAX_WORDS:
        raise ValueError(f"at most {_MAX_WORDS} {field}")
    return list(kept.values())


class WhatsAppSettingsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notification_chatbot_id: UUID | None = None
    otp_template: TemplateName | None = None
    cart_reminder_template: TemplateName | None = None
    order_update_template: TemplateName | None = None
    new_product_template: TemplateName | None = None
    template_language: TemplateLanguage | None = None
    opt_out_words: list[Annotated[str, Field(max_length=200)]] | None = Field(
        default=None, max_length=500
    )
    opt_in_words: list[Annotated[str, Field(max_length=200)]] | None = Field(
        default=None, max_length=500
    )

    @field_validator("opt_out_words", "opt_in_words")
    @classmethod
    def _keywords(cls, value: list[str] | None) -> list[str] | None:
        return _words(value, "words")


class WhatsAppSettings(BaseModel):
    """A workspace's WhatsApp notification settings (the defaults until it changes them)."""

    notification_chatbot_id: UUID | None = None
    otp_template: str = "otp"
    cart_reminder_template: str = "cart_reminder"
    order_update_template: str = "order_update"
    new_product_template: str = "new_product"
    template_language: str = "en"
    opt_out_words: list[str] = Field(default_factory=list)
    opt_in_words: list[str] = Field(default_factory=list)
    updated_at: datetime | None = None


# -- templates (part B) --------------------------------------------------------------------------


class Template(BaseModel):
    name: str
    language: str
    category: str | None
    status: str | None
    parameter_format: str | None
    components: list[dict[str, Any]]
    business_account_id: str
    template_id: str | None
    synced_at: datetime


class TemplateSync(BaseModel):
    synced: int
    removed: int
    templates: list[Template]


# -- receiving (part C) ---------------------------------------------------------------------------


class WebhookAck(BaseModel):
    received: bool = True
