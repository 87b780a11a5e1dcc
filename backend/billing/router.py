"""Billing with Stripe (`/api/billing`: credits, plans, the billing portal) and Stripe's
webhook (`/api/webhooks/stripe`).

Without STRIPE_SECRET_KEY every route answers 503 `BILLING_NOT_CONFIGURED`. Routes that call
Stripe take no `Session`: they hold no database connection while Stripe answers.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request

from backend.auth.dependencies import AdminSubject
from backend.billing import stripe_billing, webhooks
from backend.billing.schemas import (
    BillingOverview,
    CheckoutCreate,
    CheckoutCreated,
    PortalCreate,
    PortalLink,
    StripeWebhookAck,
    SubscribeCreate,
)
from backend.context import Context
from backend.kit.schemas import Envelope

router = APIRouter(tags=["billing"])

_MANAGE = "manage billing"


@router.get("/api/billing", summary="Get the workspace's billing overview")
async def get_billing(subject: AdminSubject, context: Context) -> Envelope[BillingOverview]:
    subject.require_admin(_MANAGE)
    overview = await stripe_billing.overview(context, subject)
    return Envelope(data=BillingOverview.model_validate(overview))


@router.post("/api/billing/checkout", summary="Buy credits (Stripe Checkout link)")
async def checkout(
    data: CheckoutCreate, subject: AdminSubject, context: Context
) -> Envelope[CheckoutCreated]:
    """A Stripe Checkout page selling `amount` dollars of credits; they are added once Stripe
    confirms the payment."""
    subject.require_admin(_MANAGE)
    session = await stripe_billing.buy_credits(
        context, subject, data.amount, success_url=data.success_url, cancel_url=data.cancel_url
    )
    return Envelope(data=CheckoutCreated(url=session.url, session_id=session.id))


@router.post("/api/billing/subscribe", summary="Subscribe to a plan (Stripe Checkout link)")
async def subscribe(
    data: SubscribeCreate, subject: AdminSubject, context: Context
) -> Envelope[CheckoutCreated]:
    """A Stripe Checkout page subscribing the workspace to a plan (409 if it has one)."""
    subject.require_admin(_MANAGE)
    session = await stripe_billing.subscribe(
        context, subject, data.plan, success_url=data.success_url, cancel_url=data.cancel_url
    )
    return Envelope(data=CheckoutCreated(url=session.url, session_id=session.id))


@router.post("/api/billing/portal", summary="Open Stripe's billing portal")
async def portal(
    subject: AdminSubject, context: Context, data: PortalCreate | None = None
) -> Envelope[PortalLink]:
    """A link to Stripe's billing portal: payment methods, invoices, the plan."""
    subject.require_admin(_MANAGE)
    return_url = data.return_url if data else None
    url = await stripe_billing.portal(context, subject, return_to=return_url)
    return Envelope(data=PortalLink(url=url))


async def stripe_event(
    request: Request,
    context: Context,
    stripe_signature: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """The webhook's event, once its signature over the raw body holds."""
    return webhooks.verified_event(context.settings, await request.body(), stripe_signature)


@router.post("/api/webhooks/stripe", tags=["webhooks"], summary="Receive a Stripe event")
async def stripe_webhook(
    event: Annotated[dict[str, Any], Depends(stripe_event)], context: Context
) -> StripeWebhookAck:
    """Stripe's events: each stored once by its id and processed by a job; a redelivery is
    acknowledged and changes nothing, except that an event still unprocessed (its job may have
    run out of retries) has its job queued again — once, however often it is delivered."""
    await webhooks.receive(context.db, event)
    return StripeWebhookAck()
