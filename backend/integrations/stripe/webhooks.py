"""What Stripe posts to the platform's webhook endpoint (providers.md §7): the
`Stripe-Signature` over the raw body, the event envelope, and the parts of its objects we read
that are Stripe's own shape."""

from __future__ import annotations

import re
import time
from typing import Any

import stripe

# Stripe refuses signed events older than this (and so do we): a captured delivery cannot be
# replayed later.
WEBHOOK_TOLERANCE_SECONDS = 300
_EVENT_ID = re.compile(r"evt_[A-Za-z0-9_]{1,250}")


class InvalidSignature(Exception):
    """A webhook whose `Stripe-Signature` is missing, wrong, or too old."""


def verify_signature(
    payload: bytes,
    signature: str | None,
    secret: str,
    *,
    tolerance: int = WEBHOOK_TOLERANCE_SECONDS,
) -> None:
    """Check a webhook's `Stripe-Signature` over the raw body: any `v1` HMAC-SHA256 of
    `"{t}.{body}"` with the endpoint secret, `t` no older than `tolerance` seconds. Stripe
    signs UTF-8 JSON: a body that is not UTF-8 cannot carry a valid signature."""
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidSignature("The body is not UTF-8, so Stripe did not sign it") from exc
    try:
        stripe.WebhookSignature.verify_header(payload, signature, secret, tolerance)
    except stripe.SignatureVerificationError as exc:
        raise InvalidSignature(exc.user_message or "Invalid Stripe-Signature") from exc
    # stripe-python refuses only old timestamps; one far ahead is as much a replay risk (a
    # signature captured now would stay good until then).
    stamped = next(
        (i.strip()[2:] for i in (signature or "").split(",") if i.strip().startswith("t=")), ""
    )
    if not stamped.strip().isdigit() or int(stamped) > time.time() + tolerance:
        raise InvalidSignature("Timestamp outside the tolerance zone")


def is_event(event: Any) -> bool:
    """Whether a body is an event in Stripe's envelope: an `evt_` id, a type, and the object it
    is about in `data.object`."""
    data = event.get("data") if isinstance(event, dict) else None
    return (
        isinstance(data, dict)
        and isinstance(data.get("object"), dict)
        and _EVENT_ID.fullmatch(str(event.get("id"))) is not None
        and isinstance(event.get("type"), str)
        and 1 <= len(event["type"]) <= 255
    )


def price_ids(subscription: dict[str, Any]) -> list[str]:
    """The ids of the prices a subscription's items are on."""
    items = (subscription.get("items") or {}).get("data") or []
    return [
        str(item["price"]["id"])
        for item in items
        if isinstance(item, dict)
        and isinstance(item.get("price"), dict)
        and item["price"].get("id")
    ]
