"""The shop's notifications on WhatsApp (the CHICX integration guide §2.1-2.4, §4, §5.1): an OTP,
a cart reminder, an order update, a new product to many, each a template message sent by the
workspace's notification bot.

Rules:
- The sender is the workspace's WhatsApp-enabled bot; with several, the one its WhatsApp
  settings name (`notification_chatbot_id`): until they do, and without any, 409.
- Routing (§5.1): OTPs and order updates go from the bot's primary number; cart reminders and
  new products are marketing, from its marketing number when it has one, else the primary.
- Marketing never goes to a contact who opted out (STOP, or consent withdrawn through the API);
  a contact never asked is not opted out. Checked in the transaction that queues the send, so
  a withdrawal committed before it is always seen.
- At most `OTP_LIMIT` OTPs per phone per hour per workspace (the guide's recommendation, which
  it leaves to the shop, enforced here so a shop's bug cannot flood a customer): counted from
  the outbox under a transaction lock on (workspace, phone), in the transaction that queues
  the send, so concurrent requests cannot both take the last one. Meta's refusals don't count.
- Templates (§4) by the names and language of the workspace's settings. Values the guide marks
  optional leave out the component they fill (a header image, a URL button); a body variable
  has no component of its own, so an absent name reads "there" and the cart's total is needed.
- A phone without a country code is read in the workspace's country (`business.default_region`).
- Meta's answer is the notification's outcome: "sent" with the wamid; a send Meta may accept
  later (throughput, its own trouble) is queued and retried by its job, and answered as sent
  without a wamid yet; a refusal is answered as the guide's error body.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from backend.auth.subjects import ApiKey, AuthSubject
from backend.business import service as business
from backend.context import AppContext
from backend.db import Connection
from backend.errors import Conflict, RateLimited, ValidationFailed, VoxtroError
from backend.kit.phones import valid_e164
from backend.whatsapp import numbers, repository, sender
from backend.whatsapp import settings as whatsapp_settings
from backend.whatsapp.schemas import (
    BroadcastFailure,
    CartReminderSend,
    CartReminderSent,
    NewProductSend,
    NewProductSent,
    NotificationRefused,
    OrderUpdateSend,
    OrderUpdateSent,
    OtpSend,
    OtpSent,
)

OTP_LIMIT = 5
OTP_WINDOW_SECONDS = 3600
# Sends of one broadcast under way at once: each holds a database connection while it queues,
# and the number's pace (the sender's) decides the rate anyway.
BROADCAST_CONCURRENCY = 8
# The body variable {{1}} of the cart reminder ("Hi {{1}}!") when the shop gives no name.
NO_NAME = "there"


class NoNotificationBot(Conflict):
    code = "WHATSAPP_NOT_CONFIGURED"


class OtpLimitReached(RateLimited):
    def __init__(self, retry_after: float) -> None:
        super().__init__(
            f"At most {OTP_LIMIT} OTPs per phone per hour: try again later",
            headers={"Retry-After": str(max(1, math.ceil(retry_after)))},
        )


class OptedOut(Exception):
    """The contact withdrew marketing consent: nothing is sent."""

    def __init__(self, phone: str) -> None:
        super().__init__(f"{phone} opted out of marketing messages: nothing was sent")


@dataclass(frozen=True)
class Plan:
    """How a notification goes: the notification bot, its template and language, the fixed
    start of the template's URL button when synced, the workspace's country."""

    chatbot_id: UUID
    template: str
    language: str
    url_base: str | None
    region: str | None


def _principal(subject: AuthSubject[ApiKey]) -> str:
    return f"api_key:{subject.principal.id}"


async def _plan(
    context: AppContext, subject: AuthSubject[ApiKey], kind: str, *, marketing: bool
) -> Plan:
    workspace_id = subject.workspace_id
    async with context.db.for_workspace(workspace_id, _principal(subject)) as conn:
        settings = await whatsapp_settings.load(conn, workspace_id)
        bots = await repository.notification_bots(conn, workspace_id)
        named = settings.notification_chatbot_id
        if len(bots) == 1:
            chatbot_id = bots[0]
        elif named in bots:
            chatbot_id = named
        elif not bots:
            raise NoNotificationBot(
                "No bot of this workspace has WhatsApp enabled with a number: connect one"
                " (PUT /bots/{bot_id}) to send notifications"
            )
        else:
            raise NoNotificationBot(
                f"This workspace has {len(bots)} WhatsApp bots: name the one that sends"
                " notifications (notification_chatbot_id in PUT /api/whatsapp/settings)"
            )
        if await numbers.for_bot(conn, context.secrets, chatbot_id, marketing=marketing) is None:
            raise NoNotificationBot("The notification bot's WhatsApp number is not connected")
        template: str = getattr(settings, f"{kind}_template")
        language = settings.template_language
        bot = await repository.bot_settings(conn, chatbot_id)
        account = bot["business_account_id"] if bot else None
        definition = (
            await repository.template(conn, workspace_id, account, template, language)
            if account
            else None
        )
        region = await business.default_region(conn, workspace_id)
    return Plan(chatbot_id, template, language, _url_base(definition), region)


def _e164(phone: str, region: str | None, field: str) -> str:
    """The number in E.164; a national one is read in the workspace's country."""
    number = valid_e164(sender.international(phone), region)
    if number is not None:
        return number
    if region is None and not phone.lstrip().startswith("+"):
        problem = (
            "not a phone number with its country code (+…); set the workspace's country in its"
            " business profile to send national numbers"
        )
    else:
        problem = "not a valid phone number" + (
            f" (national numbers are read as {region})" if region else ""
        )
    raise ValidationFailed("Invalid phone number", errors=[{"field": field, "message": problem}])


# -- templates (§4) ----------------------------------------------------------------------------


def _param(value: str) -> dict[str, str]:
    # Meta refuses a text parameter with a line break, a tab or more than 4 spaces in a row.
    return {"type": "text", "text": re.sub(r"\s+", " ", value).strip()}


def amount(value: float) -> str:
    """2499.0 -> "2499", 2499.5 -> "2499.50" (the guide's "Rs.2499")."""
    return f"{value:.2f}".removesuffix(".00")


def _url_base(definition: dict[str, Any] | None) -> str | None:
    """The fixed start of a synced template's URL button (`https://shop/checkout/{{1}}`)."""
    for component in (definition or {}).get("components") or []:
        for button in component.get("buttons") or []:
            url = button.get("url") or ""
            if str(button.get("type", "")).upper() == "URL" and "{{" in url:
                return url.split("{{", 1)[0]
    return None


def url_suffix(url: str, base: str | None) -> str | None:
    """The button parameter for `url`. Meta's URL buttons are a fixed URL with one variable
    appended at its end (`https://shop.example/{{1}}`), the part a send supplies; the whole
    URL cannot be the variable. So the parameter is what follows the synced definition's fixed
    start when it is known and `url` begins with it, else what follows the URL's host: a
    template whose button reads `https://<the link's host>/{{1}}` opens exactly `url`. None
    when nothing would follow (the button is then left out)."""
    if base and url.startswith(base) and len(url) > len(base):
        return url[len(base) :]
    parts = urlsplit(url)
    suffix = url[len(f"{parts.scheme}://{parts.netloc}") :].lstrip("/")
    return suffix or None


def _button(url: str | None, plan: Plan) -> list[dict[str, Any]]:
    suffix = url_suffix(url, plan.url_base) if url else None
    if suffix is None:
        return []
    return [{"type": "button", "sub_type": "url", "index": "0", "parameters": [_param(suffix)]}]


def _image(link: str | None) -> list[dict[str, Any]]:
    if not link:
        return []
    return [{"type": "header", "parameters": [{"type": "image", "image": {"link": link}}]}]


def _body(*values: str) -> dict[str, Any]:
    return {"type": "body", "parameters": [_param(v) for v in values]}


def _template(plan: Plan, components: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "template",
        "template": {
            "name": plan.template,
            "language": {"code": plan.language},
            "components": components,
        },
    }


def otp_message(plan: Plan, data: OtpSend) -> dict[str, Any]:
    """An authentication template: Meta fixes its text ("<code> is your verification code"),
    and its copy-code (or one-tap) button takes the code again as its URL parameter."""
    button = {"type": "button", "sub_type": "url", "index": "0", "parameters": [_param(data.otp)]}
    return _template(plan, [_body(data.otp), button])


def cart_reminder_message(plan: Plan, data: CartReminderSend) -> dict[str, Any]:
    assert data.cart_total is not None
    name = data.customer_name or NO_NAME
    return _template(
        plan,
        [
            *_image(data.product_image),
            _body(name, data.product_name, f"Rs.{amount(data.cart_total)}"),
            *_button(data.checkout_url, plan),
        ],
    )


def order_update_message(plan: Plan, data: OrderUpdateSend) -> dict[str, Any]:
    return _template(
        plan, [_body(data.order_id, data.order_status), *_button(data.tracking_url, plan)]
    )


def new_product_message(plan: Plan, data: NewProductSend) -> dict[str, Any]:
    return _template(
        plan,
        [
            *_image(data.product_image),
            _body(data.product_name, amount(data.product_price)),
            *_button(data.product_url, plan),
        ],
    )


# -- guards: run in the transaction that queues the send ----------------------------------------


def _opted_out(contact: dict[str, Any]) -> bool:
    # Never asked is not opted out: only a withdrawal leaves a time of change behind.
    return not contact["marketing_opt_in"] and contact["opt_in_changed_at"] is not None


def _consent_guard(phone: str) -> sender.Guard:
    async def guard(conn: Connection, contact: dict[str, Any], recipient: str) -> None:
        if _opted_out(contact):
            raise OptedOut(phone)

    return guard


async def _otp_guard(conn: Connection, contact: dict[str, Any], recipient: str) -> None:
    workspace_id = contact["workspace_id"]
    await repository.lock_recipient(conn, workspace_id, recipient, "otp")
    count, frees_in = await repository.recent_sends(
        conn, workspace_id, recipient, "otp", OTP_WINDOW_SECONDS
    )
    if count >= OTP_LIMIT:
        raise OtpLimitReached(frees_in or OTP_WINDOW_SECONDS)


# -- the notifications -------------------------------------------------------------------------


async def _send(
    context: AppContext,
    subject: AuthSubject[ApiKey],
    plan: Plan,
    *,
    to: str,
    message: dict[str, Any],
    kind: str,
    marketing: bool,
    guard: sender.Guard | None = None,
) -> sender.SendOutcome:
    return await sender.send(
        context,
        workspace_id=subject.workspace_id,
        chatbot_id=plan.chatbot_id,
        to=to,
        message=message,
        kind=kind,
        marketing=marketing,
        principal=_principal(subject),
        guard=guard,
    )


def _refusal(outcome: sender.SendOutcome) -> str:
    return f"WhatsApp API error: {outcome.error_message or outcome.error_code or 'refused'}"


def _done(outcome: sender.SendOutcome, what: str, phone: str) -> str:
    if outcome.status == "queued":
        return f"{what} queued for {phone} (WhatsApp was busy: it is retried)"
    return f"{what} sent to {phone}"


async def _notify(
    context: AppContext,
    subject: AuthSubject[ApiKey],
    kind: str,
    phone: str,
    message: Callable[[Plan], dict[str, Any]],
    *,
    marketing: bool,
    guard: sender.Guard | None = None,
) -> sender.SendOutcome:
    """One notification to `phone`: planned, its template built, sent."""
    plan = await _plan(context, subject, kind, marketing=marketing)
    to = _e164(phone, plan.region, "phone")
    return await _send(
        context,
        subject,
        plan,
        to=to,
        message=message(plan),
        kind=kind,
        marketing=marketing,
        guard=guard,
    )


def _refused(outcome: sender.SendOutcome, phone: str, **fields: Any) -> NotificationRefused:
    return NotificationRefused(
        message=_refusal(outcome),
        code="WHATSAPP_API_ERROR",
        phone=phone,
        message_id=outcome.message_id,
        **fields,
    )


async def send_otp(
    context: AppContext, subject: AuthSubject[ApiKey], data: OtpSend
) -> OtpSent | NotificationRefused:
    """§2.1. Meta fixes an authentication template's text, so the OTP's `type`, name and
    order change nothing in the message; the `type` is answered back."""
    outcome = await _notify(
        context,
        subject,
        "otp",
        data.phone,
        lambda plan: otp_message(plan, data),
        marketing=False,
        guard=_otp_guard,
    )
    phone = data.phone.strip()
    if outcome.status == "failed":
        return _refused(outcome, phone, type=data.type)
    return OtpSent(
        message=_done(outcome, "OTP", phone),
        phone=phone,
        type=data.type,
        wa_message_id=outcome.wamid,
        message_id=outcome.message_id,
    )


async def send_cart_reminder(
    context: AppContext, subject: AuthSubject[ApiKey], data: CartReminderSend
) -> CartReminderSent | NotificationRefused:
    """§2.2, marketing. The guide makes `cart_total` optional, but its template's body needs
    it ({{3}}): without it the request is a 400 naming it rather than a message Meta refuses
    or one that reads wrong."""
    if data.cart_total is None:
        raise ValidationFailed(
            "The cart reminder needs the cart's total",
            errors=[
                {
                    "field": "cart_total",
                    "message": "required: the cart_reminder template's {{3}} is the cart total",
                }
            ],
        )
    phone = data.phone.strip()
    try:
        outcome = await _notify(
            context,
            subject,
            "cart_reminder",
            data.phone,
            lambda plan: cart_reminder_message(plan, data),
            marketing=True,
            guard=_consent_guard(phone),
        )
    except OptedOut as exc:
        return NotificationRefused(message=str(exc), code="OPTED_OUT", phone=phone)
    if outcome.status == "failed":
        return _refused(outcome, phone)
    return CartReminderSent(
        message=_done(outcome, "Cart reminder", phone),
        phone=phone,
        wa_message_id=outcome.wamid,
        message_id=outcome.message_id,
    )


async def send_order_update(
    context: AppContext, subject: AuthSubject[ApiKey], data: OrderUpdateSend
) -> OrderUpdateSent | NotificationRefused:
    """§2.3, transactional (utility): from the primary number, whatever marketing consent.
    `delivery_date` has no place in the guide's template and is not sent."""
    outcome = await _notify(
        context,
        subject,
        "order_update",
        data.phone,
        lambda plan: order_update_message(plan, data),
        marketing=False,
    )
    phone = data.phone.strip()
    if outcome.status == "failed":
        return _refused(outcome, phone, order_id=data.order_id, order_status=data.order_status)
    return OrderUpdateSent(
        message=_done(outcome, "Order update notification", phone),
        order_id=data.order_id,
        order_status=data.order_status,
        wa_message_id=outcome.wamid,
        message_id=outcome.message_id,
    )


async def send_new_product(
    context: AppContext, subject: AuthSubject[ApiKey], data: NewProductSend
) -> NewProductSent:
    """§2.4, marketing, to every phone once (a number given twice, in any spelling, is named
    by its first). Every phone is checked before anything is sent: one that is not a phone
    number is a 400 naming it (`phones[i]`). The answer comes once each recipient has an
    outcome. A send queued for a retry (Meta busy) counts as sent: its job delivers it, and a
    shop that re-sent "failed" ones would message those customers twice. An opted-out contact
    and Meta's refusals count as failed, each listed with its reason."""
    plan = await _plan(context, subject, "new_product", marketing=True)
    recipients: dict[str, str] = {}
    for i, phone in enumerate(data.phones):
        recipients.setdefault(_e164(phone, plan.region, f"phones[{i}]"), phone.strip())
    message = new_product_message(plan, data)
    gate = asyncio.Semaphore(BROADCAST_CONCURRENCY)

    async def one(to: str, phone: str) -> BroadcastFailure | None:
        async with gate:
            try:
                outcome = await _send(
                    context,
                    subject,
                    plan,
                    to=to,
                    message=message,
                    kind="new_product",
                    marketing=True,
                    guard=_consent_guard(phone),
                )
            except OptedOut as exc:
                return BroadcastFailure(phone=phone, message=str(exc))
            except VoxtroError as exc:
                return BroadcastFailure(phone=phone, message=exc.message)
        if outcome.status == "failed":
            return BroadcastFailure(phone=phone, message=_refusal(outcome))
        return None

    outcomes = await asyncio.gather(*(one(to, phone) for to, phone in recipients.items()))
    failed = [f for f in outcomes if f is not None]
    return NewProductSent(
        sent_count=len(recipients) - len(failed),
        failed_count=len(failed),
        total=len(recipients),
        failed=failed,
    )
