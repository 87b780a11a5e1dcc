"""Order confirmation calls through Bolna.

A shop's backend asks for a call with `POST /webhooks/{slug}/confirm-order`; Bolna's agent
calls the customer with the order in its prompt variables, and Bolna's execution webhook
reports the call as it goes (queued, ringing, in progress, completed) until it is over.

Rules:
- One call per order: a repeated request answers the call already placed, unless that call
  was missed or failed. Requests claim the order before calling Bolna, so concurrent ones do
  not both call.
- No transaction is open while Bolna answers; when Bolna refuses or cannot be reached, or
  anything fails before the request to Bolna goes out, nothing is recorded and the claim is
  given back, so the shop can simply retry. (An answer lost after the request went out cannot
  be told from no call: that retry may call twice, and the webhook then records the first
  call too, without its order.) Once Bolna answered with a call, the claim is never given
  back, even when the call cannot be recorded (see `confirm_order`).
- A repeated request answers the call already placed as it was placed: its number is the
  one the first request gave, whatever the repeat says.
- Bolna signs no webhook: each workspace's webhook URL carries a random token, stored hashed
  (to find it) and encrypted (to compare it in constant time).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from typing import Any
from uuid import UUID

import structlog

from backend.auth.subjects import ApiKey, AuthSubject, User
from backend.business import service as business
from backend.connections import service as connections
from backend.connections.schemas import ConnectionStatus, Provider
from backend.connections.service import Webhook
from backend.context import AppContext
from backend.db import Connection
from backend.errors import (
    Conflict,
    ProviderUnavailable,
    Unauthorized,
    ValidationFailed,
    VoxtroError,
)
from backend.inbound import service as inbound
from backend.inbound.registry import Provider as InboundProvider
from backend.inbound.schemas import InboundEvent
from backend.integrations.bolna import webhooks
from backend.integrations.bolna.client import (
    BolnaClient,
    BolnaNotFound,
    BolnaUnavailable,
    BolnaValidationError,
    InvalidKey,
)
from backend.kit import payloads
from backend.kit.phones import valid_e164
from backend.voice.bolna import repository
from backend.voice.bolna.schemas import BolnaConnect, ConfirmOrder, OrderItem
from backend.voice.calls import repository as calls_repository
from backend.voice.calls import service as calls_service

log = structlog.get_logger(__name__)

FALLBACK_COUNTRY = "IN"


class BolnaRefused(VoxtroError):
    """Bolna answered, and refused: the workspace's connection needs fixing."""

    status_code = 502
    code = "PROVIDER_ERROR"


class ConnectionRefused(BolnaRefused):
    """Bolna refused the stored key or no longer has the agent: the connection is marked
    invalid until an admin connects again."""


class BolnaNotConnected(Conflict):
    code = "NOT_CONFIGURED"

    def __init__(self) -> None:
        super().__init__("Bolna is not connected to this workspace: PUT /api/bolna/connection")


class CallBeingPlaced(Conflict):
    def __init__(self, order_id: str) -> None:
        super().__init__(
            f"A confirmation call for order {order_id} is being placed right now; retry shortly",
            headers={"Retry-After": "5"},
        )


def _bolna(context: AppContext, api_key: str) -> BolnaClient:
    return BolnaClient(api_key, base_url=context.settings.bolna_base_url)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def webhook_url(context: AppContext, token: str) -> str:
    return f"{context.settings.base_url}/api/webhooks/bolna/{token}"


def _public(found: ConnectionStatus) -> dict[str, Any]:
    """What an admin may see of a connection (never the key nor the token)."""
    return {
        "connected": True,
        "status": found.status,
        "api_key_last4": found.last4,
        **{
            k: found.settings.get(k)
            for k in ("agent_id", "agent_name", "from_phone_number", "default_country")
        },
        "validated_at": found.validated_at,
        "last_error": found.last_error,
    }


# -- the connection -----------------------------------------------------------------------------


async def connect(
    context: AppContext, subject: AuthSubject[User], data: BolnaConnect
) -> dict[str, Any]:
    country = data.default_country
    if country is None:
        # The connection's own country wins; else the workspace's, as when it was connected.
        async with context.db.as_claims(subject.principal.claims) as conn:
            country = await business.default_region(conn, subject.workspace_id)
    token = secrets.token_urlsafe(32)
    saved = await connections.save(
        context,
        subject,
        Provider.BOLNA,
        {"api_key": data.api_key},
        settings={
            "agent_id": data.agent_id,
            "from_phone_number": data.from_phone_number,
            "default_country": country or FALLBACK_COUNTRY,
        },
        webhook=Webhook(token, secrets={"webhook_token": token}),
        renew_webhook=data.rotate_webhook_url,
    )
    url = webhook_url(context, token) if saved.webhook_issued else None
    return {**_public(saved.status), "webhook_url": url}


async def status(context: AppContext, subject: AuthSubject[User]) -> dict[str, Any]:
    async with context.db.as_claims(subject.principal.claims) as conn:
        found = await connections.status(conn, subject.workspace_id, Provider.BOLNA)
    return {"connected": False} if found is None else _public(found)


# -- confirm-order ------------------------------------------------------------------------------


def _principal(subject: AuthSubject[ApiKey]) -> str:
    return f"api_key:{subject.principal.id}"


def _e164(phone: str, country: str) -> str:
    """The customer's number in E.164; national numbers are read in the workspace's country."""
    number = valid_e164(phone, country)
    if number is None:
        raise ValidationFailed(
            "Invalid phone number",
            errors=[
                {
                    "field": "phone",
                    "message": f"not a valid phone number (national numbers are read as {country})",
                }
            ],
        )
    return number


def _amount(value: float) -> str:
    return f"{value:.2f}".removesuffix(".00")


def _item_line(item: OrderItem) -> str:
    line = f"{item.qty} x {item.name}"
    return line if item.price is None else f"{line} at {_amount(item.price)} each"


def user_data(order: ConfirmOrder) -> dict[str, Any]:
    """The agent prompt's variables. Bolna substitutes `{name}` with each value as text, so
    the items come as one readable line (`items`) and as data (`item_list`), and absent text
    is empty rather than 'None'."""
    return {
        "customer_name": order.customer_name or "",
        "order_id": order.order_id,
        "items": "; ".join(_item_line(item) for item in order.items),
        "item_list": [item.model_dump() for item in order.items],
        "total_amount": order.total_amount,
        "cod": order.cod,
        "delivery_address": order.delivery_address or "",
    }


async def _place(
    bolna: BolnaClient, connection: dict[str, Any], phone: str, variables: dict[str, Any]
) -> str:
    """Bolna's execution id for a new call, or the error to answer."""
    try:
        async with bolna:
            return await bolna.make_call(
                agent_id=connection["agent_id"],
                recipient_phone_number=phone,
                from_phone_number=connection["from_phone_number"],
                user_data=variables,
            )
    except BolnaUnavailable as exc:
        raise ProviderUnavailable(f"{exc} No call was placed or recorded.") from exc
    except InvalidKey as exc:
        raise ConnectionRefused(
            f"Bolna refused this workspace's API key ({exc}): connect Bolna again"
        ) from exc
    except BolnaNotFound as exc:
        raise ConnectionRefused(
            f"Bolna has no agent {connection['agent_id']} any more ({exc}): connect Bolna again"
        ) from exc
    except BolnaValidationError as exc:
        raise BolnaRefused(f"Bolna refused the call: {exc}") from exc


class CallNotRecorded(VoxtroError):
    """Bolna placed the call, and the database would not record it."""

    def __init__(self, order_id: str, execution_id: str) -> None:
        super().__init__(
            f"The confirmation call for order {order_id} was placed (Bolna execution"
            f" {execution_id}) but could not be recorded. Do not retry: the order is held for"
            f" {repository.CLAIM_TTL} so that the customer is not called twice"
        )


async def _release(
    context: AppContext,
    subject: AuthSubject[ApiKey],
    order_id: str,
    claim_id: UUID,
    refused: ConnectionRefused | None = None,
) -> None:
    async with context.db.for_workspace(subject.workspace_id, _principal(subject)) as conn:
        await repository.release_order(conn, subject.workspace_id, order_id, claim_id)
        if refused is not None:
            await connections.mark_invalid(
                conn, subject.workspace_id, Provider.BOLNA, refused.message
            )


async def _record(
    context: AppContext,
    subject: AuthSubject[ApiKey],
    order: ConfirmOrder,
    claim_id: UUID,
    values: dict[str, Any],
) -> UUID:
    """Record the call Bolna placed and settle the order's claim on it; tried twice (both
    statements are idempotent). Never gives the claim up: see `confirm_order`."""
    workspace_id = subject.workspace_id
    for attempt in (1, 2):
        try:
            async with context.db.for_workspace(workspace_id, _principal(subject)) as conn:
                call_id = await calls_repository.record_placed_call(conn, workspace_id, values)
                await repository.settle_order(conn, workspace_id, order.order_id, claim_id, call_id)
        except Exception as exc:
            if attempt == 2:
                log.exception(
                    "bolna_call_not_recorded",
                    order_id=order.order_id,
                    execution_id=values["provider_call_id"],
                )
                raise CallNotRecorded(order.order_id, values["provider_call_id"]) from exc
            log.warning("bolna_call_record_retried", order_id=order.order_id, exc_info=True)
        else:
            return call_id
    raise AssertionError("unreachable")


async def confirm_order(
    context: AppContext, subject: AuthSubject[ApiKey], order: ConfirmOrder
) -> tuple[dict[str, Any], bool]:
    """Place the order's confirmation call, or find the one already placed; the call
    (`id`, `provider_call_id`, `phone`: the number called, as the request that placed the
    call gave it) and whether it was already there.

    The order's claim is given back when this fails before Bolna placed a call: any error
    before the request to Bolna goes out (a key that cannot be decrypted, …), and Bolna
    refusing or not answering (see the module's rules). Once Bolna answered with an execution
    id it is never given back: if the call cannot be recorded (even on a second try), the
    claim stays without a call, so requests for the order answer 409 rather than call the
    customer again, until the claim goes stale (`repository.CLAIM_TTL`); Bolna's webhook
    still records the call, without its order. An unexpected error while the request is with
    Bolna (it may or may not have placed the call) keeps the claim too."""
    workspace_id, principal = subject.workspace_id, _principal(subject)
    claim_id = uuid.uuid4()
    async with context.db.for_workspace(workspace_id, principal) as conn:
        stored = await connections.load(conn, context.secrets, workspace_id, Provider.BOLNA)
        if stored is None:
            raise BolnaNotConnected()
        connection = stored.settings
        phone = _e164(order.phone, connection["default_country"])
        if not await repository.claim_order(conn, workspace_id, order.order_id, claim_id):
            existing = await repository.order_call(conn, workspace_id, order.order_id)
            if existing is None:
                raise CallBeingPlaced(order.order_id)
            return existing, True

    try:  # nothing has reached Bolna yet
        variables = user_data(order)
        bolna = _bolna(context, stored.secret("api_key"))
    except Exception:
        await _release(context, subject, order.order_id, claim_id)
        raise
    try:
        execution_id = await _place(bolna, connection, phone, variables)
    except VoxtroError as exc:
        refused = exc if isinstance(exc, ConnectionRefused) else None
        await _release(context, subject, order.order_id, claim_id, refused)
        raise

    call_id = await _record(
        context,
        subject,
        order,
        claim_id,
        {
            "provider_call_id": execution_id,
            "agent_id": connection["agent_id"],
            "phone": phone.removeprefix("+"),
            "metadata": {"order": order.model_dump()},
        },
    )
    log.info("bolna_call_placed", order_id=order.order_id, execution_id=execution_id)
    return {"id": call_id, "provider_call_id": execution_id, "phone": order.phone}, False


# -- Bolna's execution webhook ------------------------------------------------------------------


async def webhook_workspace(context: AppContext, token: str) -> UUID:
    async with context.db.system() as conn:
        row = await repository.connection_by_token_hash(conn, _token_hash(token))
    if row is None or not hmac.compare_digest(
        context.secrets.decrypt(row["encrypted_webhook_token"]).encode(), token.encode()
    ):
        raise Unauthorized("Unknown Bolna webhook URL")
    workspace_id: UUID = row["workspace_id"]
    return workspace_id


def _execution(payload: Any) -> dict[str, Any] | None:
    """The execution a delivery carries, or None for a status this code does not know
    (acknowledged, not applied); 400 for what is not an execution at all."""
    execution = payloads.obj(payload)
    problems = [
        {"field": name, "message": "required"}
        for name in ("id", "status")
        if execution.get(name) in (None, "")
    ]
    if problems:
        raise ValidationFailed("Not a Bolna execution", errors=problems)
    if not webhooks.knows(str(execution.get("status"))):
        log.warning("bolna_unknown_status", status=execution.get("status"))
        return None
    return execution


async def receive(context: AppContext, workspace_id: UUID, payload: Any) -> bool:
    """Check one execution delivery and keep it in the inbox, where a job applies it; True
    when it is new. Bolna's deliveries carry no id of their own: one is a digest of its body,
    so a repeat is kept once and each new state of the call is kept."""
    execution = _execution(payload)
    if execution is None:
        return False
    return await inbound.receive(
        context.db,
        provider=InboundProvider.BOLNA,
        event_id=inbound.digest(execution),
        workspace_id=workspace_id,
        type=str(execution["status"])[:255],
        payload=execution,
    )


async def handle_event(conn: Connection, event: InboundEvent) -> str | None:
    """Apply a stored execution delivery to its call (the `inbound.process` job)."""
    assert event.workspace_id is not None  # stored with the workspace its URL names
    values = webhooks.call_from_execution(payloads.obj(event.payload))
    if values is None:
        return f"ignored: Bolna status {event.type!r} is not one we know"
    if not await calls_service.apply_bolna_execution(conn, event.workspace_id, values):
        return "ignored: a repeated or late delivery"
    return None
