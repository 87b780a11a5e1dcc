"""Shapes of the billing API (`/api/billing`) and of Stripe's webhook answer."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

_URL = Field(default=None, min_length=1, max_length=2000)


class CheckoutCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # US dollars of credits to buy, in cents at most.
    amount: Decimal = Field(ge=5, le=10_000, decimal_places=2)
    # Where Stripe sends the browser back (this site or an allowed console URL); the success
    # URL gets `session_id={CHECKOUT_SESSION_ID}` unless it has the template already.
    success_url: str | None = _URL
    cancel_url: str | None = _URL


class SubscribeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: str = Field(min_length=1, max_length=50)
    success_url: str | None = _URL
    cancel_url: str | None = _URL


class CheckoutCreated(BaseModel):
    url: str
    session_id: str


class PortalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    return_url: str | None = _URL


class PortalLink(BaseModel):
    url: str


class CreditGrant(BaseModel):
    amount: float
    source: Literal["free", "checkout", "cli", "adjustment"]
    reference: str
    note: str | None
    created_at: datetime


class BillingPlan(BaseModel):
    code: str
    name: str
    included_usage: float  # US dollars of usage a month the plan's price includes


class BillingOverview(BaseModel):
    mode: Literal["unmetered", "prepaid", "subscription"]
    plan: str | None
    subscription_status: str | None
    has_stripe_customer: bool
    payment_failed_at: datetime | None  # an unpaid invoice; past the grace period: paused
    is_paused: bool
    paused_reason: str | None
    available_credits: float
    grants: list[CreditGrant]  # the latest first
    plans: list[BillingPlan]  # what the workspace may subscribe to


class StripeWebhookAck(BaseModel):
    received: bool = True
