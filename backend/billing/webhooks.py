"""Stripe's webhooks: verified here, then kept once per event id by the inbox
(backend/inbound), whose `inbound.process` job applies each through `handle_event`.

The endpoint does the least it can (check the signature, keep the event with its job in the
same transaction) so Stripe gets its answer at once; redeliveries, retries, the sweeper and
applying an event once are the inbox's. Unknown event types are stored, acknowledged and marked
processed without effect.

Invoices: a failed one starts the grace period of a workspace on a plan (then a 'payment'
pause); a paid one ends it. A voided invoice, or one marked uncollectible, is no longer being
collected — voided, nothing is owed; uncollectible, the business wrote the debt off (and may
still take a payment for it later) — so it ends the grace period or the pause it caused, but
only if it is the invoice whose failure started them: another invoice still failing keeps them.
(To cut a customer off for good, Stripe's dunning cancels the subscription: the workspace is
then prepaid and limited by its credits.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import structlog

from backend.billing import credits_repository as credits
from backend.billing import stripe_repository as repository
from backend.billing.stripe_billing import BillingNotConfigured
from backend.config import Settings
from backend.db import Connection, Database
from backend.errors import BadRequest
from backend.inbound import service as inbound
from backend.inbound.registry import Provider
from backend.inbound.schemas import InboundEvent
from backend.integrations.stripe import webhooks as stripe_webhooks

log = structlog.get_logger(__name__)

# How long a workspace keeps working after an invoice fails (Stripe retries the card meanwhile;
# Smart Retries' default schedule also spans about a week).
PAYMENT_GRACE_DAYS = 7
# Stripe's subscription statuses that mean it is over. (`paused` is not over — it may resume —
# but it bills nothing, so its usage is not metered: see repository.update_subscription.)
ENDED_STATUSES = {"canceled", "incomplete_expired"}


class StripeSignatureInvalid(BadRequest):
    code = "INVALID_SIGNATURE"


def verified_event(settings: Settings, body: bytes, signature: str | None) -> dict[str, Any]:
    """The event in a webhook body whose `Stripe-Signature` holds (else 400, nothing stored)."""
    if not settings.billing_enabled:
        raise BillingNotConfigured()
    if not settings.stripe_webhook_secret:
        raise BillingNotConfigured("STRIPE_WEBHOOK_SECRET")
    try:
        stripe_webhooks.verify_signature(body, signature, settings.stripe_webhook_secret)
    except stripe_webhooks.InvalidSignature as exc:
        raise StripeSignatureInvalid(str(exc)) from exc
    event = inbound.parse_json(body, "The event is not valid JSON")
    if not stripe_webhooks.is_event(event):
        raise BadRequest("Not a Stripe event (id, type and data.object are required)")
    return event


async def receive(db: Database, event: dict[str, Any]) -> bool:
    """Keep a verified event in the inbox, where a job applies it; True when it is new."""
    return await inbound.receive(
        db, provider=Provider.STRIPE, event_id=event["id"], type=event["type"], payload=event
    )


async def handle_event(conn: Connection, event: InboundEvent) -> str | None:
    """Apply a stored event (the `inbound.process` job)."""
    return await apply(conn, event.payload)


Handler = Callable[[Connection, dict[str, Any], datetime], Awaitable[str | None]]


async def apply(conn: Connection, event: dict[str, Any]) -> str | None:
    """An event's effect; a note when it had none (an unknown type, another workspace's
    object, an event older than one already applied)."""
    handler = _HANDLERS.get(event["type"])
    if handler is None:
        return f"ignored: {event['type']} is not an event we act on"
    created = datetime.fromtimestamp(int(event.get("created") or 0), UTC)
    return await handler(conn, event["data"]["object"], created)


def _workspace_in(session: dict[str, Any]) -> UUID | None:
    """The workspace a Checkout session was made for (we put it in both places)."""
    value = (session.get("metadata") or {}).get("workspace_id") or session.get(
        "client_reference_id"
    )
    try:
        return UUID(str(value))
    except ValueError:
        return None


async def _checkout_completed(
    conn: Connection, session: dict[str, Any], created: datetime
) -> str | None:
    workspace_id = _workspace_in(session)
    if workspace_id is None or await repository.workspace(conn, workspace_id) is None:
        return "ignored: the session names no workspace of ours"
    if session.get("mode") == "subscription":
        subscription = session.get("subscription")
        if not isinstance(subscription, str):
            return "ignored: a subscription session without its subscription"
        # Under the account's lock, so that the subscription's end, processed at the same time
        # by another job, is either seen here or sees this start.
        await repository.lock_account(conn, workspace_id)
        if await repository.subscription_ended(conn, subscription):
            return "ignored: the subscription has already ended"
        await repository.start_subscription(
            conn,
            workspace_id,
            subscription_id=subscription,
            plan=(session.get("metadata") or {}).get("plan"),
        )
        return None
    if session.get("mode") == "payment" and session.get("payment_status") == "paid":
        return await _credit(conn, workspace_id, session)
    return "waiting: the payment is not complete yet"


async def _async_payment_succeeded(
    conn: Connection, session: dict[str, Any], created: datetime
) -> str | None:
    workspace_id = _workspace_in(session)
    if workspace_id is None or await repository.workspace(conn, workspace_id) is None:
        return "ignored: the session names no workspace of ours"
    if session.get("mode") != "payment":
        return "ignored: not a credits purchase"
    return await _credit(conn, workspace_id, session)


async def _credit(conn: Connection, workspace_id: UUID, session: dict[str, Any]) -> str | None:
    """Add the credits a paid session bought, once per session id. The credits are the price
    of what was bought (`amount_subtotal`): tax Stripe adds on top is not credit."""
    if str(session.get("currency", "")).lower() != "usd":
        return f"ignored: credits are sold in USD, not {session.get('currency')}"
    cents = session.get("amount_subtotal")
    if cents is None:
        cents = session.get("amount_total")
    amount = Decimal(int(cents or 0)) / 100
    if amount <= 0:
        return "ignored: nothing was paid"
    # (Credits bought make an unmetered workspace prepaid: see credits.grant.)
    await credits.grant(conn, workspace_id, amount, "checkout", session["id"], "Stripe Checkout")
    return None


async def _customer_workspace(conn: Connection, obj: dict[str, Any]) -> UUID | None:
    customer = obj.get("customer")
    return await repository.workspace_of_customer(conn, customer) if customer else None


async def _invoice_paid(conn: Connection, invoice: dict[str, Any], created: datetime) -> str | None:
    workspace_id = await _customer_workspace(conn, invoice)
    if workspace_id is None:
        return "ignored: not a customer of ours"
    if not await repository.payment_cleared(conn, workspace_id, created):
        return "ignored: a newer invoice event was applied"
    return None


async def _invoice_failed(
    conn: Connection, invoice: dict[str, Any], created: datetime
) -> str | None:
    workspace_id = await _customer_workspace(conn, invoice)
    if workspace_id is None:
        return "ignored: not a customer of ours"
    if not await repository.payment_failed(conn, workspace_id, str(invoice.get("id")), created):
        return (
            "ignored: the workspace has no plan (its credits limit it),"
            " or a newer invoice event was applied"
        )
    return None


async def _invoice_written_off(
    conn: Connection, invoice: dict[str, Any], created: datetime
) -> str | None:
    """`invoice.voided`, `invoice.marked_uncollectible`: Stripe no longer collects it, so the
    grace period (or pause) its failure started ends; another invoice's failure keeps its own."""
    workspace_id = await _customer_workspace(conn, invoice)
    if workspace_id is None:
        return "ignored: not a customer of ours"
    invoice_id = str(invoice.get("id"))
    if not await repository.payment_cleared(conn, workspace_id, created, invoice_id=invoice_id):
        return "ignored: no payment failure of this invoice, or a newer invoice event was applied"
    return None


async def _subscription_updated(
    conn: Connection, subscription: dict[str, Any], created: datetime
) -> str | None:
    status = str(subscription.get("status", ""))
    if status in ENDED_STATUSES:
        return await _subscription_deleted(conn, subscription, created)
    workspace_id = await _customer_workspace(conn, subscription)
    if workspace_id is None:
        return "ignored: not a customer of ours"
    changed = await repository.update_subscription(
        conn,
        workspace_id,
        subscription_id=str(subscription.get("id")),
        status=status,
        plan=await repository.plan_of_prices(conn, stripe_webhooks.price_ids(subscription)),
        event_at=created,
    )
    return None if changed else "ignored: not the workspace's subscription, or an older event"


async def _subscription_deleted(
    conn: Connection, subscription: dict[str, Any], created: datetime
) -> str | None:
    workspace_id = await _customer_workspace(conn, subscription)
    if workspace_id is None:
        return "ignored: not a customer of ours"
    subscription_id = subscription.get("id")
    if not isinstance(subscription_id, str) or not subscription_id:
        return "ignored: a subscription without its id"
    status = str(subscription.get("status") or "canceled")
    await repository.lock_account(conn, workspace_id)  # see _checkout_completed
    # Remembered even when the workspace does not have it yet: its Checkout completion may be
    # processed after this, and must not start it then.
    await repository.record_ended_subscription(
        conn, workspace_id, subscription_id=subscription_id, status=status, event_at=created
    )
    ended = await repository.end_subscription(
        conn, workspace_id, subscription_id=subscription_id, status=status, event_at=created
    )
    if not ended:
        return "recorded as ended; not the workspace's subscription, or an older event"
    return None


_HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": _checkout_completed,
    "checkout.session.async_payment_succeeded": _async_payment_succeeded,
    "invoice.paid": _invoice_paid,
    "invoice.payment_failed": _invoice_failed,
    "invoice.voided": _invoice_written_off,
    "invoice.marked_uncollectible": _invoice_written_off,
    "customer.subscription.updated": _subscription_updated,
    "customer.subscription.paused": _subscription_updated,
    "customer.subscription.resumed": _subscription_updated,
    "customer.subscription.deleted": _subscription_deleted,
}


async def pause_unpaid(db: Database, grace_days: int = PAYMENT_GRACE_DAYS) -> list[UUID]:
    """Pause the workspaces on a plan whose invoice failed longer than the grace period ago;
    paying (`invoice.paid`), that invoice's voiding or write-off, or the plan's end resumes
    them."""
    async with db.system() as conn:
        paused = await repository.pause_unpaid(conn, grace_days)
    for workspace_id in paused:
        log.warning("workspace_paused_for_payment", workspace_id=str(workspace_id))
    return paused
