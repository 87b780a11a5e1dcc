"""What a workspace admin does with Stripe: buy credits, subscribe to a plan, open the billing
portal, see where the workspace stands.

Each workspace has one Stripe customer, created the first time it is needed. Stripe is called
outside any database transaction (a slow Stripe holds no connection); the short transactions
around it run as the login role, since tenants may not write their billing account.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from backend.auth.subjects import AuthSubject, User
from backend.billing import credits_repository as credits
from backend.billing import stripe_repository as repository
from backend.config import Settings
from backend.context import AppContext
from backend.errors import Conflict, ProviderUnavailable, ValidationFailed, VoxtroError
from backend.integrations.stripe.client import CheckoutSession, StripeApi, StripeFailure

CREDITS_PRODUCT_NAME = "Voxtro credits"
# Stripe puts the session's id in place of this in the success URL.
SESSION_ID_TEMPLATE = "{CHECKOUT_SESSION_ID}"
# Statuses in which a subscription still bills, or may again (a paused one resumes): a second
# one would charge twice.
LIVE_SUBSCRIPTION_STATUSES = {"active", "trialing", "past_due", "unpaid", "incomplete", "paused"}


class BillingNotConfigured(VoxtroError):
    status_code = 503
    code = "BILLING_NOT_CONFIGURED"

    def __init__(self, missing: str = "STRIPE_SECRET_KEY") -> None:
        super().__init__(
            f"Billing is not configured on this server ({missing} is not set): credits are"
            " granted by the operator with `voxtro credits grant`"
        )


class StripeUnavailable(ProviderUnavailable):
    def __init__(self, failure: StripeFailure) -> None:
        super().__init__(f"Stripe did not complete the request: {failure}")


class UnknownPlan(ValidationFailed):
    def __init__(self, code: str) -> None:
        super().__init__(
            f"There is no plan '{code}'",
            errors=[{"field": "plan", "message": "unknown plan"}],
        )


class AlreadySubscribed(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "This workspace already has a subscription: change or cancel it in the billing"
            " portal (POST /api/billing/portal)"
        )


def require_billing(settings: Settings) -> None:
    if not settings.billing_enabled:
        raise BillingNotConfigured()


def stripe_api(settings: Settings) -> StripeApi:
    return StripeApi(settings.stripe_secret_key, api_base=settings.stripe_api_base)


def return_url(settings: Settings, url: str | None, *, field: str, default: str) -> str:
    """Where Stripe sends the browser back: our own site or an allowed console URL (the
    origins of PORTAL_URL and AUTH_REDIRECT_URLS), never anywhere a caller names."""
    if url is None:
        return f"{settings.base_url}{default}"
    allowed = [settings.base_url, settings.portal_url, *settings.auth_redirect_urls.split(",")]
    target = urlsplit(url)
    for origin in filter(None, (a.strip() for a in allowed)):
        parts = urlsplit(origin)
        if (target.scheme, target.netloc) == (parts.scheme, parts.netloc):
            return url
    raise ValidationFailed(
        f"{field} must be on this site or an allowed console URL",
        errors=[{"field": field, "message": "not an allowed URL"}],
    )


def _with_session_id(url: str) -> str:
    """A success URL that tells the page which Checkout session came back."""
    if SESSION_ID_TEMPLATE in url:
        return url
    return f"{url}{'&' if '?' in url else '?'}session_id={SESSION_ID_TEMPLATE}"


async def _customer(context: AppContext, api: StripeApi, workspace_id: UUID) -> str:
    """The workspace's Stripe customer, created on first use. The idempotency key (one per
    workspace) makes concurrent first uses create one customer; the first id stored wins."""
    async with context.db.system() as conn:
        account = await repository.account(conn, workspace_id)
        if account is not None and account["stripe_customer_id"]:
            return str(account["stripe_customer_id"])
        workspace = await repository.workspace(conn, workspace_id)
    assert workspace is not None  # the subject's workspace exists
    try:
        customer_id = await api.create_customer(
            workspace_id=str(workspace_id),
            name=workspace["name"],
            email=workspace["email"],
            idempotency_key=f"voxtro-customer-{workspace_id}",
        )
    except StripeFailure as exc:
        raise StripeUnavailable(exc) from exc
    async with context.db.system() as conn:
        return await repository.set_customer(conn, workspace_id, customer_id)


async def buy_credits(
    context: AppContext,
    subject: AuthSubject[User],
    amount: Decimal,
    *,
    success_url: str | None,
    cancel_url: str | None,
) -> CheckoutSession:
    """A Checkout session that sells `amount` dollars of credits; they are added when Stripe
    reports the payment (`checkout.session.completed`)."""
    settings = context.settings
    require_billing(settings)
    success = return_url(settings, success_url, field="success_url", default="/?checkout=success")
    cancel = return_url(settings, cancel_url, field="cancel_url", default="/?checkout=cancelled")
    async with stripe_api(settings) as api:
        customer = await _customer(context, api, subject.workspace_id)
        try:
            return await api.create_credit_checkout(
                customer=customer,
                workspace_id=str(subject.workspace_id),
                amount_cents=int(amount * 100),
                product_name=CREDITS_PRODUCT_NAME,
                success_url=_with_session_id(success),
                cancel_url=cancel,
            )
        except StripeFailure as exc:
            raise StripeUnavailable(exc) from exc


async def subscribe(
    context: AppContext,
    subject: AuthSubject[User],
    plan_code: str,
    *,
    success_url: str | None,
    cancel_url: str | None,
) -> CheckoutSession:
    """A Checkout session for a plan's subscription (monthly fee and metered usage)."""
    settings = context.settings
    require_billing(settings)
    success = return_url(settings, success_url, field="success_url", default="/?checkout=success")
    cancel = return_url(settings, cancel_url, field="cancel_url", default="/?checkout=cancelled")
    async with context.db.system() as conn:
        plan = await repository.plan(conn, plan_code)
        account = await repository.account(conn, subject.workspace_id)
    if plan is None:
        raise UnknownPlan(plan_code)
    if (
        account is not None
        and account["stripe_subscription_id"] is not None  # cleared when it ends
        and account["subscription_status"] in LIVE_SUBSCRIPTION_STATUSES
    ):
        raise AlreadySubscribed()
    async with stripe_api(settings) as api:
        customer = await _customer(context, api, subject.workspace_id)
        try:
            return await api.create_subscription_checkout(
                customer=customer,
                workspace_id=str(subject.workspace_id),
                plan=plan["code"],
                fee_price_id=plan["fee_price_id"],
                usage_price_id=plan["usage_price_id"],
                success_url=_with_session_id(success),
                cancel_url=cancel,
            )
        except StripeFailure as exc:
            raise StripeUnavailable(exc) from exc


async def portal(context: AppContext, subject: AuthSubject[User], *, return_to: str | None) -> str:
    """A link to Stripe's billing portal (cards, invoices, the plan) for the workspace's
    customer — created now if the workspace never paid, so the link always works."""
    settings = context.settings
    require_billing(settings)
    back = return_url(settings, return_to, field="return_url", default="/")
    async with stripe_api(settings) as api:
        customer = await _customer(context, api, subject.workspace_id)
        try:
            return await api.create_portal_session(customer=customer, return_url=back)
        except StripeFailure as exc:
            raise StripeUnavailable(exc) from exc


async def overview(context: AppContext, subject: AuthSubject[User]) -> dict[str, Any]:
    """How the workspace pays: mode, plan and its status, credits and their recent grants, and
    the plans it may subscribe to."""
    require_billing(context.settings)
    async with context.db.system() as conn:
        account = await repository.account(conn, subject.workspace_id) or {}
        grants = await credits.recent_grants(conn, subject.workspace_id)
        plans = await repository.active_plans(conn)
    total, used = account.get("total_credits", Decimal(0)), account.get("used_credits", Decimal(0))
    return {
        "mode": account.get("billing_mode", "unmetered"),
        "plan": account.get("plan"),
        "subscription_status": account.get("subscription_status"),
        "has_stripe_customer": bool(account.get("stripe_customer_id")),
        "payment_failed_at": account.get("payment_failed_at"),
        "is_paused": account.get("is_paused", False),
        "paused_reason": account.get("paused_reason"),
        "available_credits": total - used,
        "grants": grants,
        "plans": plans,
    }
