"""Meta's webhook, one URL for every tenant: the handshake (`GET`, a bot's verify token), and the
deliveries (`POST`), whose changes are routed by the business phone number they name.

A delivery is checked with the app secret of every number it names (Meta signs the whole body
with the app's secret) before anything of it is stored; then each message, status and system
error becomes one inbox event of its number's workspace, all in one transaction, and Meta gets
its 200 at once: the events are applied by `inbound.process` (`whatsapp/inbound.py`)."""

from __future__ import annotations

import hashlib
from typing import Any

import structlog

from backend.context import AppContext
from backend.errors import Forbidden, Unauthorized, ValidationFailed
from backend.inbound import service as inbound
from backend.inbound.registry import Provider
from backend.inbound.service import Delivery
from backend.integrations.whatsapp import webhooks
from backend.kit import payloads
from backend.whatsapp import numbers, repository
from backend.whatsapp.numbers import Number

log = structlog.get_logger(__name__)

OBJECT = "whatsapp_business_account"


class NotWhatsAppBusiness(ValidationFailed):
    def __init__(self) -> None:
        super().__init__(
            f"Not a WhatsApp webhook: `object` must be {OBJECT!r}",
            errors=[{"field": "object", "message": f"must be {OBJECT!r}"}],
        )


def token_hash(token: str) -> str:
    """How a bot's verify token is kept (`whatsapp_bots.verify_token_hash`)."""
    return hashlib.sha256(token.encode()).hexdigest()


async def verify(
    context: AppContext, *, mode: str | None, token: str | None, challenge: str | None
) -> str:
    """Meta's subscription handshake: the challenge, when the token is some bot's."""
    if mode != "subscribe" or not token or challenge is None:
        raise Forbidden("Expected hub.mode=subscribe with hub.verify_token and hub.challenge")
    async with context.db.system() as conn:
        known = await repository.verify_token_known(conn, token_hash(token))
    if not known:
        raise Forbidden("Unknown verify token")
    return challenge


def _wamid(item: dict[str, Any]) -> str | None:
    return payloads.text(item.get("id"), 200)


def order_key(phone_number_id: str, wa_id: str) -> str:
    """One contact's messages to one number are applied one at a time, in the order Meta sent
    them: each stored after the one before, each answer deferred after the one before. (Statuses
    need none: each moves its message forward only, whichever comes first, and a broadcast's
    statuses are applied side by side.)"""
    return f"whatsapp:{phone_number_id}:{wa_id}"


def _events(found: list[webhooks.Change], known: dict[str, Number], payload: Any) -> list[Delivery]:
    """One inbox event per message, status and system error of the known numbers' changes."""
    deliveries: list[Delivery] = []
    errors = 0
    digest = ""
    for change in found:
        number = known.get(change.phone_number_id)
        if number is None:
            continue
        where = {
            "phone_number_id": change.phone_number_id,
            "display_phone_number": change.display_phone_number,
        }

        def event(
            event_id: str,
            type: str,
            payload: dict[str, Any],
            n: Number = number,
            order: str | None = None,
        ) -> None:
            deliveries.append(
                Delivery(
                    Provider.WHATSAPP,
                    event_id,
                    payload,
                    workspace_id=n.workspace_id,
                    type=type,
                    order_key=order,
                )
            )

        for message in change.messages:
            wamid, wa_id = _wamid(message), payloads.text(message.get("from"), 100)
            if wamid is None or wa_id is None:
                log.warning("whatsapp_message_without_id", phone_number_id=change.phone_number_id)
                continue
            kind = payloads.text(message.get("type"), 50) or "unsupported"
            contact = {"wa_id": wa_id, "profile_name": change.contacts.get(wa_id)}
            event(
                f"message:{wamid}",
                f"message.{kind}",
                {**where, "contact": contact, "message": message},
                order=order_key(change.phone_number_id, wa_id),
            )
        for status in change.statuses:
            wamid, state = _wamid(status), payloads.text(status.get("status"), 30)
            if wamid is None or state is None:
                log.warning("whatsapp_status_without_id", phone_number_id=change.phone_number_id)
                continue
            event(f"status:{wamid}:{state}", f"status.{state}", {**where, "status": status})
        for error in change.errors:
            # System errors carry no id: the body's digest and their place in it make Meta's
            # redelivery of the same body a repeat, and a later occurrence a new event.
            digest = digest or inbound.digest(payload)
            event(f"error:{digest}:{errors}", "error", {**where, "error": error})
            errors += 1
    return deliveries


async def receive(context: AppContext, body: bytes, signature: str | None) -> int:
    """Check a delivery's signature with its numbers' app secrets, and keep its events in the
    inbox, all or none; how many were new. 401 when the signature is missing or does not match
    (nothing stored)."""
    if not signature:
        raise Unauthorized(f"Missing {webhooks.SIGNATURE_HEADER}")
    payload = inbound.parse_json(body)
    if payloads.obj(payload).get("object") != OBJECT:
        raise NotWhatsAppBusiness()
    found = webhooks.changes(payload)
    ids = sorted({change.phone_number_id for change in found})
    # Two statements, each whole on its own, without a transaction around them (the hot path
    # of every tenant's traffic: BEGIN and COMMIT would double its round trips): one reads the
    # numbers, one stores the events with their jobs (`inbound.store`).
    async with context.db.autocommit() as conn:
        known = {n.phone_number_id: n for n in await numbers.by_ids(conn, context.secrets, ids)}
        # Every number named must vouch for the body (one with another tenant's secret, or
        # none, refuses it whole).
        secrets = {number.app_secret for number in known.values()}
        if not all(s and webhooks.signature_valid(body, signature, s) for s in secrets):
            raise Unauthorized(f"{webhooks.SIGNATURE_HEADER} does not match the body")
        unknown = [i for i in ids if i not in known]
        if unknown:
            # Skipped, and the delivery still acknowledged: a number disconnected from us (or
            # never connected) stays subscribed at Meta, which would retry a refusal for days
            # and then disable the app's webhook for every number on it. Nothing of it is
            # stored, so nothing unverified gets in.
            log.warning("whatsapp_webhook_unknown_numbers", phone_number_ids=unknown)
        return await inbound.store(conn, _events(found, known, payload))
