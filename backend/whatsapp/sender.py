"""Sending to Meta: one attempt at an outbox row (`deliver`), and a message sent from a bot to a
phone (`send`, what the send API and the commerce notifications call).

Rules:
- Exactly once. A row is claimed (queued -> sending) before Meta is called, by a statement
  committed on its own; no transaction is open while Meta answers. Our row id travels as
  `biz_opaque_callback_data`, so Meta's status webhooks name it. A row found `sending` is never
  sent again: its status webhook settles it, and without one it is failed after
  `GRACE_SECONDS` ("outcome unknown"), since sending again could deliver it twice.
- Pacing. Each claim reserves the number's next slot (`whatsapp_numbers.next_send_at`, one
  send's share of `messages_per_second` apart), shared by every worker and request; the send
  waits for its slot. Meta's throughput error (130429) sends nothing and pushes the number's
  next slot back; the refused send takes the next free slot and goes again, a few times, before
  its row goes back to the queue.
- Retries. What may pass later (throughput, pair rate limit, Meta's 5xx, a request that
  certainly did not go out) puts the row back in the queue: the job raises `SendLater` and is
  retried with backoff, never sooner than Meta's limit allows. What will not (an invalid
  number, the window closed, a refused token) fails the row and its message with Meta's code
  and message; 131047 also closes the contact's window, a refused token marks the number's
  connection invalid.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID, uuid4

import structlog
from psycopg.types.json import Jsonb

from backend.chatbots import repository as chatbots
from backend.connections import service as connections
from backend.connections.schemas import Provider
from backend.contacts import service as contacts
from backend.context import AppContext
from backend.conversations import repository as conversations
from backend.db import Connection
from backend.errors import Conflict, NotFound, ValidationFailed
from backend.integrations.whatsapp.client import GraphError, Sent, WhatsAppUnavailable
from backend.whatsapp import numbers, outbox, repository, templates, window

log = structlog.get_logger(__name__)

# How long a send whose outcome is unknown (a crash, or a lost answer, while Meta was called)
# waits for its status webhook before it is given up as failed.
GRACE_SECONDS = 120.0
# The soonest a retryable send goes again; Meta's pair rate limit (131056) allows about one
# message to a recipient every 6 seconds.
MIN_RETRY_SECONDS = 1.0
PAIR_LIMIT_SECONDS = 6.0
# Meta's throughput error (130429) pauses the number for this many of its slots (a tenth of a
# second at 80/s): sends that bunched up after a late one let Meta's window drain. A whole
# second per error cost a 2,000-message run at 80/s a third of its rate (bench/whatsapp.py).
THROTTLE_PAUSE_SLOTS = 8
# A throttled send goes again at the number's next free slot this many times before its row
# goes back to the queue (and its job's retry, seconds later).
THROTTLE_RETRIES = 3
# ... unless that slot is further off than this.
THROTTLE_MAX_WAIT_SECONDS = 5.0
_THROUGHPUT = 130429
_PAIR_LIMIT = 131056
UNKNOWN_OUTCOME = "outcome unknown: not sent again to avoid a duplicate"
SENDER = "whatsapp-sender"

DeliveryStatus = Literal["sent", "queued", "sending", "failed"]


@dataclass(frozen=True)
class Delivery:
    """Where one outbox row stands after an attempt: `sent` (with Meta's wamid), `queued`
    (will be retried, not before `retry_after` seconds), `sending` (outcome unknown: Meta's
    status webhook settles it) or `failed` (Meta's error)."""

    outbox_id: UUID
    status: DeliveryStatus
    wamid: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    retry_after: float | None = None


class SendLater(Exception):
    """The send did not go yet: the job tries again, not sooner than `retry_after` seconds."""

    retryable = True

    def __init__(self, delivery: Delivery) -> None:
        self.delivery = delivery
        self.retry_after = delivery.retry_after or MIN_RETRY_SECONDS
        super().__init__(
            f"send {delivery.outbox_id} {delivery.status}: {delivery.error_message or 'later'}"
        )


def _error_code(exc: GraphError) -> str:
    return str(exc.code) if exc.code is not None else f"http_{exc.http_status}"


def _as_delivery(row: dict[str, Any], retry_after: float | None = None) -> Delivery:
    return Delivery(
        outbox_id=row["id"],
        status=row["status"],
        wamid=row["wamid"],
        error_code=row["error_code"],
        error_message=row["error_message"],
        retry_after=retry_after,
    )


async def deliver(context: AppContext, outbox_id: UUID) -> Delivery:
    """One attempt at one send (see the module's rules); never raises for Meta's answer."""
    # One statement, committed at once: the claim, the number's next slot (its row is locked
    # only that long) and its token.
    async with context.db.autocommit() as conn:  # the job knows only the row's id
        row = await repository.claim_outbox(conn, outbox_id)
        # Not queued: settled already, or claimed by another attempt.
        unclaimed = await repository.outbox_row(conn, outbox_id) if row is None else None
    if row is None:
        return await _unclaimed(context, outbox_id, unclaimed)
    if row["access_token"] is None:
        return await _failed(
            context, row, None, "the WhatsApp number is no longer connected to its bot"
        )
    try:
        sent = await _send_in_slot(context, row)
    except GraphError as exc:
        if exc.retryable:
            return await _requeue(context, row, exc)
        return await _failed(context, row, exc, exc.describe())
    except WhatsAppUnavailable as exc:
        if exc.sent:
            # Meta may have it: the row stays `sending` for its status webhook to settle.
            log.warning("whatsapp_send_outcome_unknown", outbox_id=str(outbox_id), error=str(exc))
            return Delivery(
                outbox_id, "sending", error_message=exc.message, retry_after=GRACE_SECONDS
            )
        return await _requeue(context, row, None, exc.message)
    # As the login role, naming the workspace in each statement (no claims to set): a send's
    # outcome is two statements.
    async with context.db.system() as conn:
        recorded = await repository.outbox_sent(conn, outbox_id, sent.wamid)
        await conversations.advance_status(
            conn, workspace_id=row["workspace_id"], status="sent", message_id=row["message_id"]
        )
    return Delivery(outbox_id, "sent", wamid=recorded["wamid"] if recorded else sent.wamid)


async def _send_in_slot(context: AppContext, row: dict[str, Any]) -> Sent:
    """Send a claimed row at its slot. Meta's throughput error sends nothing: the row takes the
    number's next free slot, a pause later, and goes again in this attempt (up to
    `THROTTLE_RETRIES` times) rather than waiting for its job's retry behind the queue."""
    graph = context.whatsapp.client(numbers.access_token(context.secrets, row["access_token"]))
    body = {**row["payload"], "biz_opaque_callback_data": str(row["id"])}
    wait: float | None = row["wait_seconds"]
    throttled = 0
    while True:
        if wait:
            await asyncio.sleep(wait)
        try:
            return await graph.send(row["phone_number_id"], body)
        except GraphError as exc:
            if exc.code != _THROUGHPUT or throttled >= THROTTLE_RETRIES:
                raise
            throttled += 1
            async with context.db.autocommit() as conn:
                wait = await repository.next_slot(
                    conn, row["id"], row["phone_number_id"], pause_slots=THROTTLE_PAUSE_SLOTS
                )
            # Given up meanwhile, or a slot too far off to hold a worker (or a request) for:
            # back to the queue, where its job takes it up.
            if wait is None or wait > THROTTLE_MAX_WAIT_SECONDS:
                raise


async def _unclaimed(context: AppContext, outbox_id: UUID, row: dict[str, Any] | None) -> Delivery:
    """A row that was not queued: settled already, or claimed by an attempt whose outcome is
    not known yet (another worker, the request's own attempt, or one that crashed)."""
    if row is None:
        return Delivery(outbox_id, "failed", error_message="no such send")
    if row["status"] != "sending":
        return _as_delivery(row, MIN_RETRY_SECONDS if row["status"] == "queued" else None)
    waited = row["claimed_ago"] or 0.0
    if waited < GRACE_SECONDS:
        return _as_delivery(row, GRACE_SECONDS - waited + 1)
    async with context.db.for_workspace(row["workspace_id"], SENDER) as conn:
        failed = await repository.outbox_failed(
            conn, outbox_id, None, UNKNOWN_OUTCOME, only_claimed_before_seconds=GRACE_SECONDS
        )
        if failed is None:  # settled meanwhile (its status webhook came)
            settled = await repository.outbox_row(conn, outbox_id)
            return _as_delivery(settled or row)
        await conversations.advance_status(
            conn,
            workspace_id=row["workspace_id"],
            status="failed",
            message_id=row["message_id"],
            error_code="unknown",
            error_message=UNKNOWN_OUTCOME,
        )
    log.error("whatsapp_send_given_up", outbox_id=str(outbox_id), reason=UNKNOWN_OUTCOME)
    return _as_delivery(failed)


async def _requeue(
    context: AppContext, row: dict[str, Any], exc: GraphError | None, message: str | None = None
) -> Delivery:
    code = _error_code(exc) if exc else None
    text = exc.describe() if exc else (message or "not sent")
    wait = MIN_RETRY_SECONDS
    async with context.db.for_workspace(row["workspace_id"], SENDER) as conn:
        if exc is not None and exc.code == _THROUGHPUT:
            await repository.push_number_back(conn, row["phone_number_id"], THROTTLE_PAUSE_SLOTS)
        if exc is not None and exc.code == _PAIR_LIMIT:
            wait = PAIR_LIMIT_SECONDS
        await repository.outbox_requeued(conn, row["id"], code, text)
    log.info("whatsapp_send_retry", outbox_id=str(row["id"]), error=text)
    return Delivery(row["id"], "queued", error_code=code, error_message=text, retry_after=wait)


async def _failed(
    context: AppContext, row: dict[str, Any], exc: GraphError | None, message: str
) -> Delivery:
    workspace_id = row["workspace_id"]
    code = _error_code(exc) if exc else None
    async with context.db.for_workspace(workspace_id, SENDER) as conn:
        await repository.outbox_failed(conn, row["id"], code, message)
        await conversations.advance_status(
            conn,
            workspace_id=workspace_id,
            status="failed",
            message_id=row["message_id"],
            error_code=code,
            error_message=message[:2000],
        )
        if exc is not None and exc.window_closed:
            contact_id = await repository.message_contact(conn, row["message_id"])
            if contact_id is not None:
                await window.close(conn, workspace_id=workspace_id, contact_id=contact_id)
        if exc is not None and exc.token_refused:
            await connections.mark_invalid(
                conn, workspace_id, Provider.WHATSAPP, message, account=row["phone_number_id"]
            )
    log.warning("whatsapp_send_failed", outbox_id=str(row["id"]), error=message)
    return Delivery(row["id"], "failed", error_code=code, error_message=message)


async def give_up(context: AppContext, outbox_id: UUID, reason: str) -> None:
    """The job ran out of retries: a send still queued fails (one still `sending` waits for
    its webhook or its grace period, as ever)."""
    async with context.db.system() as conn:
        row = await repository.outbox_row(conn, outbox_id)
    if row is not None and row["status"] == "queued":
        await _failed(context, row, None, f"gave up after {row['attempts']} attempts: {reason}")


# -- a message from a bot to a phone --------------------------------------------------------------


class BotNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Bot not found")


class WhatsAppNotConnected(Conflict):
    code = "WHATSAPP_NOT_CONFIGURED"

    def __init__(self) -> None:
        super().__init__(
            "This bot has no enabled WhatsApp number: connect one and enable WhatsApp"
            " (PUT /bots/{bot_id})"
        )


@dataclass(frozen=True)
class SendOutcome:
    message_id: UUID
    wamid: str | None
    status: Literal["sent", "queued", "failed"]
    error_code: str | None
    error_message: str | None
    phone_number_id: str
    recipient: str = ""  # the WhatsApp id (digits) it went to


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _template_parameters(template: dict[str, Any]) -> list[str]:
    values: list[str] = []
    for component in template.get("components") or []:
        for parameter in component.get("parameters") or []:
            kind = parameter.get("type")
            value = parameter.get(kind) if isinstance(kind, str) else None
            if isinstance(value, dict):
                value = value.get("link") or value.get("id") or value.get("fallback_value")
            if value is not None:
                values.append(_text(value))
    return values


def summary(message: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """A message we send as our messages keep it: its kind (Meta's type), a readable line, and
    what was sent (the type's object; a template's parameters listed too)."""
    kind = message["type"]
    part: dict[str, Any] = message.get(kind) or {}
    details: dict[str, Any] = {**part}
    if kind == "text":
        content = part.get("body", "")
    elif kind == "template":
        parameters = _template_parameters(part)
        details["parameters"] = parameters
        content = f"[template] {part.get('name', '')}"
        if parameters:
            content += ": " + ", ".join(parameters)
    elif kind == "interactive":
        content = f"[interactive] {(part.get('body') or {}).get('text', '')}".rstrip()
    else:  # media
        content = f"[{kind}] {part.get('caption') or part.get('filename') or ''}".rstrip()
    return kind, content, details


def international(phone: str) -> str:
    """A phone as people and shops write WhatsApp numbers: the international number's digits
    without `+` (`919876543210`, Meta's own form) are read as international; anything else
    as written (a national number is read in the workspace's country)."""
    digits = re.sub(r"[\s\-().]", "", phone)
    if digits.isdigit() and not digits.startswith("0") and len(digits) >= 11:
        return f"+{digits}"
    return phone


# A check run in `send`'s transaction with the contact and the recipient's WhatsApp id.
Guard = Callable[[Connection, dict[str, Any], str], Awaitable[None]]


async def _check_template(
    conn: Connection, workspace_id: UUID, chatbot_id: UUID, template: dict[str, Any]
) -> None:
    """A template send must fit the template's synced definition (when one is synced)."""
    bot = await repository.bot_settings(conn, chatbot_id)
    await templates.check_send(
        conn,
        workspace_id=workspace_id,
        business_account_id=bot["business_account_id"] if bot else None,
        name=template["name"],
        language=template["language"]["code"],
        components=template.get("components") or [],
    )


def _invalid_phone(reason: str) -> ValidationFailed:
    return ValidationFailed("Invalid phone number", errors=[{"field": "to", "message": reason}])


async def send(
    context: AppContext,
    *,
    workspace_id: UUID,
    chatbot_id: UUID,
    to: str,
    message: dict[str, Any],
    kind: str,
    marketing: bool = False,
    principal: str,
    author: Literal["system", "agent"] = "system",
    agent_id: UUID | None = None,
    guard: Guard | None = None,
) -> SendOutcome:
    """Send `message` (Meta's message object without `to`: `{"type": "text", "text": {…}}`)
    from the bot's number (its marketing number for `marketing`, when it has one) to `to` (a
    phone; a national number is read in the workspace's country). The message is stored and
    queued in one transaction, then tried once here; its job retries what may pass later.
    `kind` says what the send is for (api, otp, cart_reminder, …). `guard` may refuse the send
    (by raising) in the transaction that would queue it, once the contact is known: a check
    that a concurrent send or a consent change must not slip past."""
    message_kind, content, details = summary(message)
    async with context.db.for_workspace(workspace_id, principal) as conn:
        if not await chatbots.chatbot_ids(conn, workspace_id, only=chatbot_id):
            raise BotNotFound()
        number = await numbers.for_bot(conn, context.secrets, chatbot_id, marketing=marketing)
        if number is None or not number.enabled:
            raise WhatsAppNotConnected()
        if message_kind == "template":
            await _check_template(conn, workspace_id, chatbot_id, message["template"])
        try:
            phone = await contacts.normalise_phone(
                conn=conn, workspace_id=workspace_id, phone=international(to)
            )
        except contacts.InvalidPhone as exc:
            raise _invalid_phone(exc.errors[0]["message"]) from None
        recipient = phone.removeprefix("+")
        contact, _ = await contacts.find_or_create_by_phone(
            conn=conn, workspace_id=workspace_id, phone=phone, source="api"
        )
        if guard is not None:
            await guard(conn, contact, recipient)
        await window.require_open(
            conn, workspace_id=workspace_id, contact_id=contact["id"], kind=message_kind
        )
        conversation, _ = await conversations.open_contact_conversation(
            conn,
            workspace_id=workspace_id,
            chatbot_id=chatbot_id,
            contact_id=contact["id"],
            channel=window.CHANNEL,
            channel_account=number.phone_number_id,
            visitor_id=recipient,  # as receiving names it: the WhatsApp id
            phone=recipient,
            customer_id=contact["customer_id"],
        )
        message_id = uuid4()
        await conversations.add_message(
            conn,
            {
                "id": message_id,
                "workspace_id": workspace_id,
                "conversation_id": conversation["id"],
                "role": author,
                "agent_id": agent_id,
                "content": content,
                "channel": window.CHANNEL,
                "status": "queued",
                "kind": message_kind,
                "details": Jsonb(details),
            },
        )
        await conversations.touch_conversation(conn, conversation["id"], added=1, escalate=False)
        (outbox_id,) = await outbox.queue(
            conn,
            workspace_id=workspace_id,
            message_id=message_id,
            phone_number_id=number.phone_number_id,
            recipient=recipient,
            payloads=[{"to": recipient, **message}],
            kind=kind,
            # The request tries at once; the job is the safety net that finds the row settled.
            job_delay_seconds=30,
        )
    delivery = await deliver(context, outbox_id)
    return SendOutcome(
        message_id=message_id,
        wamid=delivery.wamid,
        status="sent"
        if delivery.status == "sent"
        else "failed"
        if delivery.status == "failed"
        else "queued",
        error_code=delivery.error_code,
        error_message=delivery.error_message,
        phone_number_id=number.phone_number_id,
        recipient=recipient,
    )
