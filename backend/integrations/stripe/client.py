"""A thin client for the platform's own Stripe account (providers.md §7), on stripe-python.

One secret key (the platform's, never a tenant's), `STRIPE_API_BASE` for where it points (a fake
in tests), async calls through stripe-python's httpx client. stripe-python form-encodes the
bodies, adds an `Idempotency-Key` to every POST (ours where a retry must not act twice; never
for meter events, whose `identifier` de-duplicates) and retries network errors, 409 and 5xx
itself (unless told not to); what still fails comes out as `StripeFailure`, which says whether
trying again later may help.
"""

from __future__ import annotations

from dataclasses import dataclass

import stripe

from backend.kit.network_errors import bad_status, unreachable


class StripeFailure(Exception):
    """Stripe refused a request or could not be reached."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        param: str | None = None,
        retryable: bool,
    ) -> None:
        self.status = status
        self.code = code
        self.param = param
        self.retryable = retryable
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class CheckoutSession:
    id: str
    url: str


def _failure(exc: stripe.StripeError) -> StripeFailure:
    status = exc.http_status
    # Not reached, rate-limited, a conflict or Stripe's own fault: later may work. A refused
    # key or an invalid request will not.
    retryable = isinstance(exc, stripe.APIConnectionError) or (
        status is not None and (status in {409, 429} or status >= 500)
    )
    if isinstance(exc, stripe.APIConnectionError):
        message = unreachable("Stripe", exc, setting="STRIPE_API_BASE")
    elif exc.user_message:
        message = exc.user_message
    elif status is not None:
        message = bad_status("Stripe", status)
    else:
        message = str(exc) or "Stripe refused the request."
    return StripeFailure(
        message,
        status=status,
        code=exc.code,
        param=getattr(exc, "param", None),
        retryable=retryable,
    )


class StripeApi:
    def __init__(
        self,
        secret_key: str,
        *,
        api_base: str = "https://api.stripe.com",
        max_network_retries: int = 2,
        timeout: float = 30,
    ) -> None:
        self._http = stripe.HTTPXClient(timeout=timeout)
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base},
            max_network_retries=max_network_retries,
            http_client=self._http,
        )

    async def __aenter__(self) -> StripeApi:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._http.close_async()

    async def create_customer(
        self, *, workspace_id: str, name: str, email: str | None, idempotency_key: str
    ) -> str:
        """A customer for a workspace. The caller's idempotency key (one per workspace) makes
        two concurrent first checkouts create one customer, not two."""
        try:
            customer = await self._client.v1.customers.create_async(
                {
                    "name": name,
                    **({"email": email} if email else {}),
                    "metadata": {"workspace_id": workspace_id},
                },
                {"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise _failure(exc) from exc
        return customer.id

    async def create_credit_checkout(
        self,
        *,
        customer: str,
        workspace_id: str,
        amount_cents: int,
        product_name: str,
        success_url: str,
        cancel_url: str,
    ) -> CheckoutSession:
        """A one-off payment of `amount_cents` (USD) that buys as many dollars of credits."""
        try:
            session = await self._client.v1.checkout.sessions.create_async(
                {
                    "mode": "payment",
                    "customer": customer,
                    "client_reference_id": workspace_id,
                    "metadata": {"workspace_id": workspace_id, "purpose": "credits"},
                    "payment_intent_data": {"metadata": {"workspace_id": workspace_id}},
                    "line_items": [
                        {
                            "quantity": 1,
                            "price_data": {
                                "currency": "usd",
                                "unit_amount": amount_cents,
                                "product_data": {"name": product_name},
                            },
                        }
                    ],
                    "success_url": success_url,
                    "cancel_url": cancel_url,
                }
            )
        except stripe.StripeError as exc:
            raise _failure(exc) from exc
        return CheckoutSession(id=session.id, url=session.url or "")

    async def create_subscription_checkout(
        self,
        *,
        customer: str,
        workspace_id: str,
        plan: str,
        fee_price_id: str,
        usage_price_id: str,
        success_url: str,
        cancel_url: str,
    ) -> CheckoutSession:
        """A subscription to a plan: its monthly fee, and its metered price (no quantity: the
        meter's events say how much)."""
        metadata = {"workspace_id": workspace_id, "plan": plan}
        try:
            session = await self._client.v1.checkout.sessions.create_async(
                {
                    "mode": "subscription",
                    "customer": customer,
                    "client_reference_id": workspace_id,
                    "metadata": {**metadata, "purpose": "subscription"},
                    "subscription_data": {"metadata": metadata},
                    "line_items": [
                        {"price": fee_price_id, "quantity": 1},
                        {"price": usage_price_id},
                    ],
                    "success_url": success_url,
                    "cancel_url": cancel_url,
                }
            )
        except stripe.StripeError as exc:
            raise _failure(exc) from exc
        return CheckoutSession(id=session.id, url=session.url or "")

    async def create_portal_session(self, *, customer: str, return_url: str) -> str:
        """Stripe's billing portal for a customer (cards, invoices, plan); its URL."""
        try:
            session = await self._client.v1.billing_portal.sessions.create_async(
                {"customer": customer, "return_url": return_url}
            )
        except stripe.StripeError as exc:
            raise _failure(exc) from exc
        return session.url

    async def create_meter_event(
        self, *, event_name: str, customer: str, value: int, identifier: str, timestamp: int
    ) -> None:
        """Report `value` to the meter. Sent again with the same `identifier`, Stripe keeps one
        event (identifiers are unique for at least 24 hours). No idempotency key of ours: Stripe
        replays a key's first answer for 24 hours, a 500 included, so a key derived from the
        identifier would make one failure last a day; each attempt gets stripe-python's random
        key instead."""
        try:
            await self._client.v1.billing.meter_events.create_async(
                {
                    "event_name": event_name,
                    "payload": {"stripe_customer_id": customer, "value": str(value)},
                    "identifier": identifier,
                    "timestamp": timestamp,
                }
            )
        except stripe.StripeError as exc:
            raise _failure(exc) from exc
