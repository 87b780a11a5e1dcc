"""A small fake of Stripe's API, in its wire format (providers.md §7), for stripe-python.

Requests are `application/x-www-form-urlencoded` with bracket notation (`metadata[k]=v`,
`line_items[0][price_data][currency]=usd`), parsed here into nested objects and lists, with
`Authorization: Bearer <secret key>`. Errors are `{"error": {"type", "code", "message",
"param"}}` with Stripe's statuses. An `Idempotency-Key` seen before replays the first answer
(status and body) when the parameters are the same — an injected 5xx included, as Stripe
replays its own 500s for 24 hours — and is a 400 `idempotency_error` when they differ; requests
refused before running (bad key, injected 4xx such as 429) are not remembered. The key each
request carried is kept in `idempotency_keys`.

Endpoints: `POST /v1/customers`, `POST /v1/checkout/sessions` (payment and subscription mode),
`POST /v1/billing_portal/sessions`, `POST /v1/billing/meter_events` (the event name must be a
meter's; `payload[stripe_customer_id]` a customer; `payload[value]` a number; `timestamp`
within the past 35 days or 5 minutes ahead; an `identifier` seen before is refused — Stripe's
exact answer to a duplicate identifier is UNVERIFIED: a 400 naming `param: identifier` here).

Test controls: `fail_next(n, status, after=k)` (the n requests after the next k fail),
`stall_after(k)` (the request after the next k hangs until `release()`, as Stripe might while
a worker is killed), `complete_checkout(id)` (a session as its `checkout.session.completed`
carries it), and, for webhooks, `event(...)` and `signature_header(...)` below, which sign a
body exactly as Stripe does. The fake runs on a real port in a server thread (state under a
lock).
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.base import ProviderFake

SECRET_KEY = "sk_test_51VoxtroFakeStripeKey0123456789"
WEBHOOK_SECRET = "whsec_test_0123456789abcdefFakeStripe"
METER_EVENT_NAME = "voxtro_usage"
API_VERSION = "2026-06-24.dahlia"
MAX_EVENT_AGE_SECONDS = 35 * 24 * 3600
MAX_EVENT_AHEAD_SECONDS = 5 * 60

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    402: "card_error",
    404: "invalid_request_error",
    409: "api_error",
    429: "rate_limit_error",
}


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def event(
    kind: str, obj: dict[str, Any], *, created: int | None = None, event_id: str | None = None
) -> dict[str, Any]:
    """A Stripe event envelope (a snapshot event) around `obj`."""
    return {
        "id": event_id or _id("evt"),
        "object": "event",
        "api_version": API_VERSION,
        "created": created if created is not None else int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "type": kind,
        "data": {"object": obj},
        "request": {"id": None, "idempotency_key": None},
    }


def signature_header(
    payload: str, secret: str = WEBHOOK_SECRET, timestamp: int | None = None
) -> str:
    """`Stripe-Signature` as Stripe sends it: `t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`, the
    key being the endpoint secret's text as is."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def parse_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding: `a[b][0][c]=v` becomes `{"a": {"b": [{"c": "v"}]}}`."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        head, bracket, rest = key.partition("[")
        parts = [head, *re.findall(r"\[([^\]]*)\]", bracket + rest)]
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _listify(root)


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {k: _listify(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


@dataclass
class _Failure:
    after: int
    status: int


class StripeError(Exception):
    def __init__(
        self, status: int, message: str, *, code: str | None = None, param: str | None = None
    ) -> None:
        self.status, self.message, self.code, self.param = status, message, code, param


def _error_body(error: StripeError, error_type: str | None = None) -> dict[str, Any]:
    return {
        "error": {
            "type": error_type or _ERROR_TYPES.get(error.status, "api_error"),
            "message": error.message,
            **({"code": error.code} if error.code else {}),
            **({"param": error.param} if error.param else {}),
        }
    }


def _error_response(error: StripeError, *, error_type: str | None = None) -> JSONResponse:
    return JSONResponse(
        _error_body(error, error_type), status_code=error.status, headers={"Request-Id": _id("req")}
    )


class FakeStripe(ProviderFake):
    def __init__(self, secret_key: str = SECRET_KEY) -> None:
        self.secret_key = secret_key
        self.meters = {METER_EVENT_NAME}
        self.prices: dict[str, dict[str, Any]] = {}
        self.customers: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.portal_sessions: list[dict[str, Any]] = []
        self.meter_events: dict[str, dict[str, Any]] = {}  # by identifier: each kept once
        self.requests: list[tuple[str, str, dict[str, Any]]] = []  # (method, path, params)
        self.idempotency_keys: list[str | None] = []  # each request's, in order
        self._idempotent: dict[str, tuple[str, str, int, dict[str, Any]]] = {}
        self._stall_after: int | None = None
        self._released = threading.Event()
        super().__init__(
            routes=[
                Route("/v1/customers", self._customers, methods=["POST"]),
                Route("/v1/checkout/sessions", self._checkout_sessions, methods=["POST"]),
                Route("/v1/billing_portal/sessions", self._portal_sessions, methods=["POST"]),
                Route("/v1/billing/meter_events", self._meter_events, methods=["POST"]),
            ]
        )
        # A failure here may wait for `after` requests to pass first.
        self._failures: list[_Failure] = []  # type: ignore[assignment]

    # -- test controls ------------------------------------------------------------------------

    def __exit__(self, *exc: object) -> None:
        self.release()  # a stalled request would hold the server's shutdown
        super().__exit__(*exc)

    def reset(self) -> None:
        with self._lock:
            self.meters = {METER_EVENT_NAME}
            self.prices.clear()
            self.customers.clear()
            self.sessions.clear()
            self.portal_sessions.clear()
            self.meter_events.clear()
            self.requests.clear()
            self.idempotency_keys.clear()
            self._idempotent.clear()
            self._failures.clear()
            self._stall_after = None
        self._released.clear()

    def fail_next(self, n: int = 1, status: int = 500, *, after: int = 0) -> None:
        """The n requests that come after the next `after` ones fail with `status`."""
        with self._lock:
            self._failures.extend(_Failure(after, status) for _ in range(n))

    def stall_after(self, k: int) -> None:
        """Answer k more requests, then hang every request until `release()`."""
        with self._lock:
            self._stall_after = k
        self._released.clear()

    def release(self) -> None:
        """Let stalled requests go (they fail), and stop stalling."""
        with self._lock:
            self._stall_after = None
        self._released.set()

    def add_price(self, *, unit_amount: int | None = None, metered: bool = False) -> str:
        price_id = _id("price")
        with self._lock:
            self.prices[price_id] = {
                "id": price_id,
                "object": "price",
                "currency": "usd",
                "unit_amount": unit_amount,
                "recurring": {
                    "interval": "month",
                    "usage_type": "metered" if metered else "licensed",
                },
            }
        return price_id

    def complete_checkout(self, session_id: str, *, payment_status: str = "paid") -> dict[str, Any]:
        """The session as `checkout.session.completed` carries it: complete, paid, and for a
        subscription with its new subscription's id."""
        with self._lock:
            session = self.sessions[session_id]
            session.update(status="complete", payment_status=payment_status)
            if session["mode"] == "subscription" and not session.get("subscription"):
                session["subscription"] = _id("sub")
            return copy.deepcopy(session)

    # -- the API ------------------------------------------------------------------------------

    async def _begin(self, request: Request) -> tuple[JSONResponse | None, dict[str, Any]]:
        params = parse_form((await request.body()).decode())
        key = request.headers.get("idempotency-key")
        scheme, _, api_key = request.headers.get("authorization", "").partition(" ")
        authorized = scheme.lower() == "bearer" and api_key.strip() == self.secret_key
        with self._lock:
            self.requests.append((request.method, request.url.path, params))
            self.idempotency_keys.append(key)
            if authorized and key is not None and key in self._idempotent:
                # A replay: Stripe answers from what it saved, without running anything (nor
                # consuming an injected failure).
                return None, params
            failure = None
            for pending in self._failures:
                if pending.after > 0:
                    pending.after -= 1
                else:
                    failure = pending
                    break
            if failure is not None:
                self._failures.remove(failure)
            stall = self._stall_after is not None and self._stall_after <= 0
            if self._stall_after is not None:
                self._stall_after -= 1
        if stall:
            await asyncio.to_thread(self._released.wait)
            return _error_response(StripeError(500, "Stalled (fake)")), params
        if failure is not None:
            error = StripeError(failure.status, "Injected failure (fake)")
            if key is not None and failure.status >= 500:
                # Stripe failed while running the request: the failure is what it saved.
                with self._lock:
                    fingerprint = json.dumps(params, sort_keys=True)
                    self._idempotent[key] = (
                        request.url.path,
                        fingerprint,
                        error.status,
                        _error_body(error),
                    )
            return _error_response(error), params
        if not authorized:
            return (
                _error_response(StripeError(401, f"Invalid API Key provided: {api_key[:8]}…")),
                params,
            )
        return None, params

    async def _run(self, request: Request, handler: Any) -> JSONResponse:
        refused, params = await self._begin(request)
        if refused is not None:
            return refused
        key = request.headers.get("idempotency-key")
        fingerprint = json.dumps(params, sort_keys=True)
        with self._lock:
            if key is not None and key in self._idempotent:
                path, seen, status, body = self._idempotent[key]
                if (path, seen) != (request.url.path, fingerprint):
                    return _error_response(
                        StripeError(
                            400,
                            "Keys for idempotent requests can only be used with the same"
                            " parameters they were first used with.",
                        ),
                        error_type="idempotency_error",
                    )
                return JSONResponse(
                    body, status_code=status, headers={"Idempotent-Replayed": "true"}
                )
            try:
                status, body = 200, handler(params)
            except StripeError as exc:
                status, body = exc.status, _error_body(exc)
            if key is not None:
                self._idempotent[key] = (request.url.path, fingerprint, status, body)
        return JSONResponse(
            copy.deepcopy(body), status_code=status, headers={"Request-Id": _id("req")}
        )

    async def _customers(self, request: Request) -> JSONResponse:
        def create(params: dict[str, Any]) -> dict[str, Any]:
            customer: dict[str, Any] = {
                "id": _id("cus"),
                "object": "customer",
                "created": int(time.time()),
                "email": params.get("email"),
                "name": params.get("name"),
                "metadata": params.get("metadata") or {},
                "livemode": False,
            }
            self.customers[customer["id"]] = customer
            return customer

        return await self._run(request, create)

    def _customer(self, params: dict[str, Any], param: str = "customer") -> str:
        customer = params.get(param)
        if customer not in self.customers:
            raise StripeError(
                400, f"No such customer: '{customer}'", code="resource_missing", param=param
            )
        return str(customer)

    async def _checkout_sessions(self, request: Request) -> JSONResponse:
        def create(params: dict[str, Any]) -> dict[str, Any]:
            mode = params.get("mode")
            if mode not in {"payment", "subscription"}:
                raise StripeError(400, "Invalid mode", param="mode")
            customer = self._customer(params)
            if not params.get("success_url"):
                raise StripeError(400, "Missing required param: success_url.", param="success_url")
            items = params.get("line_items")
            if not isinstance(items, list) or not items:
                raise StripeError(400, "Missing required param: line_items.", param="line_items")
            total = 0
            for index, item in enumerate(items):
                if mode == "payment":
                    data = item.get("price_data") or {}
                    if (
                        data.get("currency") != "usd"
                        or not str(data.get("unit_amount", "")).isdigit()
                    ):
                        raise StripeError(
                            400, "Invalid price_data", param=f"line_items[{index}][price_data]"
                        )
                    total += int(data["unit_amount"]) * int(item.get("quantity", "1"))
                    continue
                price = self.prices.get(item.get("price"))
                if price is None:
                    raise StripeError(
                        400,
                        f"No such price: '{item.get('price')}'",
                        code="resource_missing",
                        param=f"line_items[{index}][price]",
                    )
                metered = price["recurring"]["usage_type"] == "metered"
                if metered == ("quantity" in item):
                    raise StripeError(
                        400,
                        "Quantity is required for licensed prices and refused for metered ones",
                        param=f"line_items[{index}][quantity]",
                    )
                if not metered:
                    total += int(price["unit_amount"] or 0) * int(item["quantity"])
            session_id = _id("cs_test")
            session = {
                "id": session_id,
                "object": "checkout.session",
                "mode": mode,
                "status": "open",
                "payment_status": "unpaid",
                "customer": customer,
                "client_reference_id": params.get("client_reference_id"),
                "metadata": params.get("metadata") or {},
                "currency": "usd",
                "amount_subtotal": total,
                "amount_total": total,
                "subscription": None,
                "success_url": params["success_url"],
                "cancel_url": params.get("cancel_url"),
                "url": f"https://checkout.stripe.com/c/pay/{session_id}",
                "created": int(time.time()),
                "expires_at": int(time.time()) + 24 * 3600,
                "livemode": False,
            }
            self.sessions[session_id] = session
            return session

        return await self._run(request, create)

    async def _portal_sessions(self, request: Request) -> JSONResponse:
        def create(params: dict[str, Any]) -> dict[str, Any]:
            session = {
                "id": _id("bps"),
                "object": "billing_portal.session",
                "customer": self._customer(params),
                "return_url": params.get("return_url"),
                "url": f"https://billing.stripe.com/p/session/test_{secrets.token_hex(8)}",
                "created": int(time.time()),
                "livemode": False,
            }
            self.portal_sessions.append(session)
            return session

        return await self._run(request, create)

    async def _meter_events(self, request: Request) -> JSONResponse:
        def create(params: dict[str, Any]) -> dict[str, Any]:
            name = params.get("event_name")
            if name not in self.meters:
                raise StripeError(
                    400, f"No active meter found for event_name '{name}'", param="event_name"
                )
            payload = params.get("payload")
            if not isinstance(payload, dict):
                raise StripeError(400, "Missing required param: payload.", param="payload")
            self._customer(payload, "stripe_customer_id")
            try:
                float(payload.get("value", ""))
            except ValueError:
                raise StripeError(
                    400, "payload[value] must be a number", param="payload[value]"
                ) from None
            now = int(time.time())
            timestamp = int(params.get("timestamp") or now)
            if not now - MAX_EVENT_AGE_SECONDS <= timestamp <= now + MAX_EVENT_AHEAD_SECONDS:
                raise StripeError(
                    400,
                    "Timestamp must be within the past 35 calendar days or up to 5 minutes"
                    " in the future",
                    param="timestamp",
                )
            identifier = params.get("identifier") or _id("mev")
            if identifier in self.meter_events:
                raise StripeError(
                    400,
                    f"An event with identifier '{identifier}' already exists.",
                    param="identifier",
                )
            meter_event = {
                "object": "billing.meter_event",
                "created": now,
                "event_name": name,
                "identifier": identifier,
                "livemode": False,
                "payload": payload,
                "timestamp": timestamp,
            }
            self.meter_events[identifier] = meter_event
            return meter_event

        return await self._run(request, create)
