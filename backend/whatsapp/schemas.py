"""Requests and answers of the WhatsApp routes: bots and numbers, the send API, message history,
templates, settings and the commerce notifications (each part under its heading)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_serializer,
)

from backend.chatbots.schemas import Chatbot, ChatbotCreate, ChatbotUpdate
from backend.kit.schemas import ProviderKey

# -- bots and numbers (part B) ------------------------------------------------------------------

# Meta's ids are digits (a phone number id, a WhatsApp Business Account id).
GraphId = Annotated[str, Field(pattern=r"^[0-9]{1,30}$")]
AccessToken = Annotated[ProviderKey, Field(min_length=8, max_length=1000)]
AppSecret = Annotated[ProviderKey, Field(min_length=8, max_length=200)]
# Any string the admin also types into Meta's console; it travels in a query string.
VerifyToken = Annotated[ProviderKey, Field(min_length=8, max_length=200)]
# A number's throughput (Meta: 80 messages a second, more once Meta raised it, 20 for a number
# shared with the WhatsApp Business app): the sender's pace for it.
Pace = Annotated[int, Field(ge=1, le=1000)]


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
    whatsapp_messages_per_second: Pace | None = None
    whatsapp_marketing_messages_per_second: Pace | None = None


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
    whatsapp_messages_per_second: int | None
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
    whatsapp_marketing_messages_per_second: int | None
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


# -- sending (part D): the send API and the message history ---------------------------------------
# Meta's limits (Cloud API reference): a request past one is refused here, naming the field,
# before anything is stored or sent.

Phone = Field(
    min_length=1,
    max_length=40,
    description="The recipient's phone: international (+919876543210 or 919876543210 with its"
    " country code when it has 11+ digits) or national (read in the workspace's country)",
)
ParameterValue = str | int | float


class SendText(BaseModel):
    to: str = Phone
    text: str = Field(min_length=1, max_length=4096)
    preview_url: bool = False


class TemplateButton(BaseModel):
    """A template button's parameter: a URL button's suffix (`text`) or a quick reply's
    `payload`; `index` is the button's position in the template (default: its position here)."""

    type: Literal["url", "quick_reply", "copy_code"] = "url"
    index: int | None = Field(default=None, ge=0, le=9)
    text: str | None = Field(default=None, min_length=1, max_length=2000)
    payload: str | None = Field(default=None, min_length=1, max_length=1000)


class SendTemplate(BaseModel):
    to: str = Phone
    template_name: str = Field(min_length=1, max_length=512)
    language_code: str = Field(default="en_US", pattern=r"^[a-z]{2,3}(_[A-Za-z]{2,4})?$")
    components: list[dict[str, Any]] | None = Field(
        default=None, max_length=20, description="Meta's template components, passed through"
    )
    parameters: list[ParameterValue] | dict[str, ParameterValue] | None = Field(
        default=None,
        description="The body's parameters: a list (positional, {{1}} …) or an object (named)",
    )
    buttons: list[TemplateButton] | None = Field(default=None, max_length=10)

    @field_validator("parameters")
    @classmethod
    def _parameters(
        cls, value: list[ParameterValue] | dict[str, ParameterValue] | None
    ) -> list[ParameterValue] | dict[str, ParameterValue] | None:
        values = list(value.values()) if isinstance(value, dict) else value or []
        if len(values) > 100:
            raise ValueError("at most 100 parameters")
        if any(len(str(v)) > 1024 or not str(v).strip() for v in values):
            raise ValueError("each parameter must be 1 to 1024 characters")
        if isinstance(value, dict) and any(
            not (k and len(k) <= 100 and k.replace("_", "").isalnum() and k.islower())
            for k in value
        ):
            raise ValueError("names are lowercase letters, digits and underscores")
        return value


MediaType = Literal["image", "document", "audio", "video", "sticker"]


class SendMedia(BaseModel):
    to: str = Phone
    media_type: MediaType
    link: str | None = Field(default=None, min_length=1, max_length=2000, pattern=r"^https?://")
    media_id: str | None = Field(default=None, min_length=1, max_length=200)
    caption: str | None = Field(default=None, min_length=1, max_length=1024)
    filename: str | None = Field(default=None, min_length=1, max_length=240)


class InteractiveText(BaseModel):
    text: str = Field(min_length=1, max_length=1024)


class InteractiveFooter(BaseModel):
    text: str = Field(min_length=1, max_length=60)


class InteractiveMedia(BaseModel):
    link: str | None = Field(default=None, min_length=1, max_length=2000, pattern=r"^https?://")
    id: str | None = Field(default=None, min_length=1, max_length=200)


class InteractiveHeader(BaseModel):
    type: Literal["text", "image", "video", "document"] = "text"
    text: str | None = Field(default=None, min_length=1, max_length=60)
    image: InteractiveMedia | None = None
    video: InteractiveMedia | None = None
    document: InteractiveMedia | None = None


class Reply(BaseModel):
    id: str = Field(min_length=1, max_length=256)
    title: str = Field(min_length=1, max_length=20)


class ReplyButton(BaseModel):
    type: Literal["reply"] = "reply"
    reply: Reply


class ButtonAction(BaseModel):
    buttons: list[ReplyButton] = Field(min_length=1, max_length=3)

    @field_validator("buttons")
    @classmethod
    def _unique(cls, buttons: list[ReplyButton]) -> list[ReplyButton]:
        if len({b.reply.id for b in buttons}) < len(buttons):
            raise ValueError("button ids must be unique")
        if len({b.reply.title for b in buttons}) < len(buttons):
            raise ValueError("button titles must be unique")
        return buttons


class ListRow(BaseModel):
    id: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=24)
    description: str | None = Field(default=None, max_length=72)


class ListSection(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=24)
    rows: list[ListRow] = Field(min_length=1, max_length=10)


class ListAction(BaseModel):
    button: str = Field(min_length=1, max_length=20)
    sections: list[ListSection] = Field(min_length=1, max_length=10)

    @field_validator("sections")
    @classmethod
    def _rows(cls, sections: list[ListSection]) -> list[ListSection]:
        rows = [row for section in sections for row in section.rows]
        if len(rows) > 10:
            raise ValueError("a list has at most 10 rows in all its sections")
        if len({row.id for row in rows}) < len(rows):
            raise ValueError("row ids must be unique")
        if len(sections) > 1 and any(s.title is None for s in sections):
            raise ValueError("every section needs a title when there are several")
        return sections


class SendInteractive(BaseModel):
    """Meta's interactive object beside `to`: reply buttons (`type` button) or a list."""

    to: str = Phone
    type: Literal["button", "list"]
    header: InteractiveHeader | None = None
    body: InteractiveText
    footer: InteractiveFooter | None = None
    action: dict[str, Any] = Field(
        description='`{"buttons": [{"type": "reply", "reply": {"id", "title"}}]}` for'
        ' buttons; `{"button": label, "sections": [{"title", "rows": [{"id", "title",'
        ' "description"}]}]}` for a list'
    )


class SendError(BaseModel):
    code: str | None
    message: str | None


class SendAnswer(BaseModel):
    id: UUID = Field(description="Our message id (GET /whatsapp/messages/{bot_id} lists it)")
    wamid: str | None = Field(description="Meta's message id, once Meta accepted the message")
    status: Literal["sent", "queued", "failed"]
    to: str = Field(description="The recipient's WhatsApp id (the phone's digits)")
    error: SendError | None = None


class HistoryContact(BaseModel):
    id: UUID | None
    phone: str | None
    name: str | None


class HistoryMessage(BaseModel):
    id: UUID
    direction: Literal["inbound", "outbound"]
    role: str
    kind: str
    content: str
    details: dict[str, Any]
    status: str
    error_code: str | None
    error_message: str | None
    wamid: str | None
    phone_number_id: str | None
    contact: HistoryContact
    created_at: datetime
    status_changed_at: datetime | None


class MessageHistory(BaseModel):
    messages: list[HistoryMessage] = Field(description="Newest first")
    next_before: UUID | None = Field(
        description="Pass as `before` for the next (older) page; null on the last page"
    )


# -- commerce notifications (part E): the CHICX integration guide §2.1-2.4 -----------------------


def _web_url(value: str) -> str:
    """An absolute http(s) URL: Meta fetches header images and opens buttons' links itself."""
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http(s) URL")
    return value


WebUrl = Annotated[str, Field(max_length=2000), AfterValidator(_web_url)]
ShopPhone = Annotated[
    str, Field(min_length=1, max_length=32, description="national or +international")
]
Amount = Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False)]
OtpType = Literal["login", "forgot_password", "purchase_verification"]


class OtpSend(BaseModel):
    """§2.1. The guide says a 6-digit OTP; any 4 to 8 digits are accepted, since shops' codes
    differ in length (4-digit SMS-style codes, 8-digit ones) and Meta's authentication
    templates take any such code, while a code outside that range is a shop's bug."""

    phone: ShopPhone
    otp: str = Field(pattern=r"^[0-9]{4,8}$", description="the code, 4 to 8 digits")
    type: OtpType = "login"
    customer_name: str | None = Field(default=None, max_length=200)
    order_id: str | None = Field(default=None, max_length=100)


class CartReminderSend(BaseModel):
    """§2.2."""

    phone: ShopPhone
    customer_name: str | None = Field(default=None, max_length=200)
    product_name: str = Field(min_length=1, max_length=200)
    product_image: WebUrl | None = None
    cart_total: Amount | None = None
    checkout_url: WebUrl | None = None


class OrderUpdateSend(BaseModel):
    """§2.3."""

    phone: ShopPhone
    order_id: str = Field(min_length=1, max_length=100)
    order_status: str = Field(min_length=1, max_length=100)
    tracking_url: WebUrl | None = None
    delivery_date: str | None = Field(default=None, max_length=100)


class NewProductSend(BaseModel):
    """§2.4: up to 1,000 phones a request (a larger list goes in several requests)."""

    phones: list[ShopPhone] = Field(min_length=1, max_length=1000)
    product_name: str = Field(min_length=1, max_length=200)
    product_price: Amount
    product_image: WebUrl | None = None
    product_url: WebUrl | None = None


class OtpSent(BaseModel):
    status: Literal["ok"] = "ok"
    message: str
    phone: str
    type: OtpType
    wa_message_id: str | None = Field(description="Meta's wamid; null while a retry is pending")
    message_id: UUID = Field(description="our message, in the conversation's history")


class CartReminderSent(BaseModel):
    status: Literal["ok"] = "ok"
    message: str
    phone: str
    wa_message_id: str | None
    message_id: UUID


class OrderUpdateSent(BaseModel):
    status: Literal["ok"] = "ok"
    message: str
    order_id: str
    order_status: str
    wa_message_id: str | None
    message_id: UUID


class BroadcastFailure(BaseModel):
    phone: str
    message: str


class NewProductSent(BaseModel):
    status: Literal["ok"] = "ok"
    message: str = "New product broadcast completed"
    sent_count: int
    failed_count: int
    total: int = Field(description="distinct recipients (a phone given twice is sent once)")
    failed: list[BroadcastFailure] = Field(default_factory=list)


class NotificationRefused(BaseModel):
    """A notification that was not delivered, as §2.1 shows it: Meta refused it (`message`:
    "WhatsApp API error: …"), or the contact opted out of marketing. Fields the request did
    not concern are left out."""

    status: Literal["error"] = "error"
    message: str
    code: Literal["WHATSAPP_API_ERROR", "OPTED_OUT"]
    phone: str | None = None
    type: OtpType | None = None
    order_id: str | None = None
    order_status: str | None = None
    message_id: UUID | None = None

    @model_serializer(mode="wrap")
    def _without_nulls(self, handler: Any) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if v is not None}
