"""Voice assistants on VAPI: the workspace's keys, the assistants synced from its account, and
the end-of-call reports VAPI posts to us.

The private key reaches VAPI's server API; the public key goes to browsers (Web SDK). Both are
checked before they are saved, encrypted at rest, and never returned except the public key by
`GET /api/voice/token` (it is meant for browsers). No transaction is open while VAPI answers.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from backend.auth.subjects import AuthSubject, User
from backend.connections import service as connections
from backend.connections.schemas import ConnectionStatus, Provider
from backend.connections.service import Stored, Webhook
from backend.connections.validators import VAPI
from backend.context import AppContext
from backend.db import Connection
from backend.errors import (
    NotFound,
    ProviderUnavailable,
    Unauthorized,
    ValidationFailed,
)
from backend.inbound import service as inbound
from backend.inbound.registry import Provider as InboundProvider
from backend.inbound.schemas import InboundEvent
from backend.integrations.vapi import assistants, webhooks
from backend.integrations.vapi.client import (
    InvalidKey,
    VapiClient,
    VapiError,
    VapiNotFound,
    VapiValidationError,
)
from backend.kit import payloads
from backend.voice.calls import service as calls_service
from backend.voice.vapi import repository
from backend.voice.vapi.schemas import VoiceAssistantUpdate


class NoVoiceConnection(NotFound):
    def __init__(self) -> None:
        super().__init__("No VAPI account is connected to this workspace")


class NoSuchAssistant(NotFound):
    def __init__(self) -> None:
        super().__init__("No such voice assistant in this workspace (sync first?)")


class VapiRefused(ValidationFailed):
    """VAPI's own validation errors, passed on."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__(
            "VAPI refused the update: " + "; ".join(messages),
            errors=[{"field": _field_of(m), "message": m} for m in messages],
        )


def _field_of(message: str) -> str:
    # NestJS/class-validator messages start with the property path ("name must be …").
    first = message.split(" ", 1)[0]
    return first if re.fullmatch(r"[A-Za-z_][\w.\[\]]*", first) else "body"


def webhook_url(context: AppContext) -> str:
    return f"{context.settings.base_url}/api/webhooks/vapi"


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _vapi(context: AppContext, private_key: str) -> VapiClient:
    return VapiClient(private_key, base_url=context.settings.vapi_base_url)


def _stored_key_refused() -> ValidationFailed:
    return ValidationFailed(
        "VAPI refused the stored private key: connect the account again",
        errors=[{"field": "private_key", "message": "invalid key"}],
    )


def _unreachable(exc: VapiError) -> ProviderUnavailable:
    # The client's message already says what failed and what to check.
    return ProviderUnavailable(str(exc))


async def validate_public_key(context: AppContext, public_key: str) -> dict[str, Any]:
    problem = await VAPI.public_key_problem(context, public_key.strip())
    return {"valid": problem is None, "message": problem or VAPI.PUBLIC_KEY_CHECKED}


def _view(context: AppContext, found: ConnectionStatus) -> dict[str, Any]:
    return {
        "connected": True,
        "status": found.status,
        "private_key_last4": found.last4,
        "public_key_last4": found.settings.get("public_key_last4"),
        "validated_at": found.validated_at,
        "webhook_url": webhook_url(context),
    }


async def connect(
    context: AppContext,
    subject: AuthSubject[User],
    private_key: str,
    public_key: str,
    *,
    rotate_webhook_secret: bool = False,
) -> dict[str, Any]:
    secret = secrets.token_urlsafe(32)
    saved = await connections.save(
        context,
        subject,
        Provider.VAPI,
        {"private_key": private_key.strip(), "public_key": public_key.strip()},
        webhook=Webhook(secret, secrets={"webhook_secret": secret}),
        renew_webhook=rotate_webhook_secret,
    )
    return {
        **_view(context, saved.status),
        "webhook_secret": secret if saved.webhook_issued else None,  # new, or rotated
    }


async def status(context: AppContext, subject: AuthSubject[User]) -> dict[str, Any]:
    async with context.db.as_claims(subject.principal.claims) as conn:
        found = await connections.status(conn, subject.workspace_id, Provider.VAPI)
    return {"connected": False} if found is None else _view(context, found)


async def _connection(context: AppContext, subject: AuthSubject[User]) -> Stored:
    async with context.db.as_claims(subject.principal.claims) as conn:
        stored = await connections.load(conn, context.secrets, subject.workspace_id, Provider.VAPI)
    if stored is None:
        raise NoVoiceConnection()
    return stored


async def token(context: AppContext, subject: AuthSubject[User]) -> str:
    return (await _connection(context, subject)).secret("public_key")


async def sync(context: AppContext, subject: AuthSubject[User]) -> list[dict[str, Any]]:
    """Upsert every assistant of the VAPI account; delete the local ones gone upstream."""
    subject.require_admin("sync voice assistants")
    connection = await _connection(context, subject)
    try:
        async with _vapi(context, connection.secret("private_key")) as v:
            found = await v.list_assistants()
            numbers = await v.list_phone_numbers()
    except InvalidKey as exc:
        raise _stored_key_refused() from exc
    except VapiError as exc:
        raise _unreachable(exc) from exc
    number_of = assistants.numbers_by_assistant(numbers)
    async with context.db.as_claims(subject.principal.claims) as conn:
        rows = [
            await repository.upsert_assistant(
                conn, subject.workspace_id, assistants.local_fields(a, number_of.get(str(a["id"])))
            )
            for a in found
        ]
        await repository.delete_assistants_except(
            conn, subject.workspace_id, [r["vapi_id"] for r in rows]
        )
    return rows


async def list_assistants(context: AppContext, subject: AuthSubject[User]) -> list[dict[str, Any]]:
    async with context.db.as_claims(subject.principal.claims) as conn:
        return await repository.list_assistants(conn, subject.workspace_id)


async def update(
    context: AppContext, subject: AuthSubject[User], vapi_id: str, data: VoiceAssistantUpdate
) -> dict[str, Any]:
    """VAPI first; the local copy follows what VAPI answered, and only if it accepted."""
    subject.require_admin("edit voice assistants")
    connection = await _connection(context, subject)
    async with context.db.as_claims(subject.principal.claims) as conn:
        local = await repository.get_assistant(conn, subject.workspace_id, vapi_id)
    if local is None:
        raise NoSuchAssistant()
    changes = data.model_dump(by_alias=True, exclude_unset=True)
    if not changes:
        raise ValidationFailed("Nothing to update", errors=[{"field": "body", "message": "empty"}])
    try:
        async with _vapi(context, connection.secret("private_key")) as v:
            updated = await v.update_assistant(vapi_id, changes)
    except VapiValidationError as exc:
        raise VapiRefused(exc.messages) from exc
    except VapiNotFound as exc:
        raise NotFound("VAPI no longer has this assistant (sync again)") from exc
    except InvalidKey as exc:
        raise _stored_key_refused() from exc
    except VapiError as exc:
        raise _unreachable(exc) from exc
    if not updated.get("id"):
        updated = {**updated, "id": vapi_id}
    async with context.db.as_claims(subject.principal.claims) as conn:
        return await repository.upsert_assistant(
            conn, subject.workspace_id, assistants.local_fields(updated, local["phone_number"])
        )


# -- the server URL (webhook) -------------------------------------------------------------------


async def webhook_workspace(context: AppContext, secret: str | None) -> UUID:
    if not secret:
        raise Unauthorized("Missing VAPI webhook secret")
    async with context.db.system() as conn:
        row = await repository.connection_by_secret_hash(conn, _secret_hash(secret))
    if row is None or not hmac.compare_digest(
        context.secrets.decrypt(row["encrypted_webhook_secret"]).encode(), secret.encode()
    ):
        raise Unauthorized("Invalid VAPI webhook secret")
    workspace_id: UUID = row["workspace_id"]
    return workspace_id


_REPORT = "end-of-call-report"


async def receive(context: AppContext, workspace_id: UUID, payload: Any) -> bool:
    """Check one server message and keep an end-of-call report in the inbox, where a job stores
    its call; True when it is new. VAPI's messages carry no id of their own: a call has one
    report, so the report's id is its call's."""
    message = payloads.obj(payloads.obj(payload).get("message"))
    if message.get("type") != _REPORT:
        return False  # acknowledged; we act on end-of-call reports only
    call_id = payloads.text(payloads.obj(message.get("call")).get("id"), 200)
    if call_id is None:
        raise ValidationFailed(
            "end-of-call-report without a call id",
            errors=[{"field": "message.call.id", "message": "required"}],
        )
    return await inbound.receive(
        context.db,
        provider=InboundProvider.VAPI,
        event_id=f"{_REPORT}:{call_id}",
        workspace_id=workspace_id,
        type=_REPORT,
        payload=payload,
    )


async def handle_event(conn: Connection, event: InboundEvent) -> str | None:
    """Store the call of a stored end-of-call report (the `inbound.process` job)."""
    assert event.workspace_id is not None  # stored with the workspace its secret names
    values = webhooks.call_from_report(payloads.obj(payloads.obj(event.payload).get("message")))
    if values is None:
        return "ignored: a report without a call id"
    if not await calls_service.store_finished(conn, event.workspace_id, "vapi", values):
        return "ignored: the call was stored already (imported)"
    return None


# -- calls missed by the webhook ----------------------------------------------------------------

# How far back the hourly job looks for calls the webhook did not deliver (VAPI retries a
# failing server URL only briefly; two days covers an outage of ours over a weekend night).
IMPORT_WINDOW = timedelta(days=2)
# A call that ended this recently may still have its end-of-call report on the way, with the
# analysis VAPI adds after the call: the report, not the import, stores it.
REPORT_GRACE = timedelta(minutes=15)


def _ended_before(call: dict[str, Any], moment: datetime) -> bool:
    ended = payloads.when(call.get("endedAt")) or payloads.when(call.get("updatedAt"))
    return call.get("status") == "ended" and ended is not None and ended <= moment


async def import_calls(context: AppContext, workspace_id: UUID, since: datetime) -> dict[str, int]:
    """Store the calls created since `since`, ended long enough ago, that we do not have: each
    call once, whether its end-of-call report arrived or not. A key VAPI refuses marks the
    connection invalid (the hourly job then leaves it alone until it is connected again)."""
    async with context.db.for_workspace(workspace_id, "vapi-import") as conn:
        connection = await connections.load(conn, context.secrets, workspace_id, Provider.VAPI)
    if connection is None:
        raise NoVoiceConnection()
    try:
        async with _vapi(context, connection.secret("private_key")) as vapi:
            calls = await vapi.list_calls(since)
    except InvalidKey as exc:
        async with context.db.for_workspace(workspace_id, "vapi-import") as conn:
            await connections.mark_invalid(
                conn, workspace_id, Provider.VAPI, f"VAPI refused the key: {exc}"
            )
        raise _stored_key_refused() from exc
    except VapiError as exc:
        raise _unreachable(exc) from exc
    settled = datetime.now(UTC) - REPORT_GRACE
    # A Call carries what an end-of-call report carries, at its top level.
    ended = [
        values
        for call in calls
        if _ended_before(call, settled)
        and (values := webhooks.call_from_report({**call, "call": call})) is not None
    ]
    async with context.db.for_workspace(workspace_id, "vapi-import") as conn:
        imported = sum(
            [await calls_service.store_finished(conn, workspace_id, "vapi", v) for v in ended]
        )
    return {"found": len(ended), "imported": imported}


async def connected_workspaces(context: AppContext) -> list[UUID]:
    async with context.db.system() as conn:
        return await connections.valid_workspaces(conn, Provider.VAPI)
