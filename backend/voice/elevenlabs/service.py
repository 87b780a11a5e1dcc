"""WhatsApp agents on ElevenLabs: the workspace's API key, the agents synced from its account,
and the post-call webhooks ElevenLabs signs with a secret the admin copies from its dashboard.

The key is checked before it is saved, encrypted at rest, and never returned. No transaction
is open while ElevenLabs answers.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any
from uuid import UUID

from backend.auth.subjects import AuthSubject, User
from backend.connections import service as connections
from backend.connections.schemas import ConnectionStatus, Provider
from backend.connections.service import Stored, Webhook
from backend.connections.validators import KeyRefused
from backend.context import AppContext
from backend.db import Connection
from backend.errors import (
    NotFound,
    ProviderUnavailable,
    Unauthorized,
    ValidationFailed,
    VoxtroError,
)
from backend.inbound import service as inbound
from backend.inbound.registry import Provider as InboundProvider
from backend.inbound.schemas import InboundEvent
from backend.integrations.elevenlabs import agents, webhooks
from backend.integrations.elevenlabs.client import (
    ElevenLabsClient,
    ElevenLabsError,
    ElevenLabsNotFound,
    ElevenLabsValidationError,
    InvalidKey,
    MissingPermissions,
)
from backend.kit import payloads
from backend.voice.calls import service as calls_service
from backend.voice.elevenlabs import repository
from backend.voice.elevenlabs.schemas import WhatsAppAgentUpdate

SYNC_CONCURRENCY = 4  # agent detail requests in flight during a sync


class NoElevenLabsConnection(NotFound):
    def __init__(self) -> None:
        super().__init__("No ElevenLabs account is connected to this workspace")


class NoSuchAgent(NotFound):
    def __init__(self) -> None:
        super().__init__("No such WhatsApp agent in this workspace (sync first?)")


class ElevenLabsRefused(ValidationFailed):
    """ElevenLabs' own validation errors, passed on under our field names."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        errors = [{"field": agents.our_field(path), "message": m} for path, m in problems]
        super().__init__(
            "ElevenLabs refused the update: "
            + "; ".join(f"{e['field']}: {e['message']}" for e in errors),
            errors=errors,
        )


def webhook_url(context: AppContext, token: str) -> str:
    return f"{context.settings.base_url}/api/webhooks/elevenlabs/{token}"


def _client(context: AppContext, api_key: str) -> ElevenLabsClient:
    return ElevenLabsClient(api_key, base_url=context.settings.elevenlabs_base_url)


def _unreachable(exc: ElevenLabsError) -> ProviderUnavailable:
    # The client's message already says what failed and what to check.
    return ProviderUnavailable(str(exc))


def _connection_view(context: AppContext, found: ConnectionStatus | None) -> dict[str, Any]:
    if found is None:
        return {"connected": False}
    return {
        "connected": True,
        "status": found.status,
        "api_key_last4": found.last4,
        "subscription_tier": found.settings.get("subscription_tier"),
        "validated_at": found.validated_at,
        "last_error": found.last_error,
        "webhook_url": webhook_url(context, found.settings["webhook_token"]),
        "webhook_secret_set": "webhook_secret" in found.secrets_set,
    }


# -- the connection -----------------------------------------------------------------------------


async def validate_key(
    context: AppContext, subject: AuthSubject[User], api_key: str
) -> dict[str, Any]:
    """Check the key with ElevenLabs and, when it is valid, save it (encrypted) at once, so the
    next call (sync) works. A key ElevenLabs refuses is an answer (`valid: false`), not an
    error, and changes nothing. A new connection gets its webhook URL; a new key keeps the URL
    and secret that ElevenLabs' dashboard already has."""
    token = secrets.token_urlsafe(24)
    try:
        saved = await connections.save(
            context,
            subject,
            Provider.ELEVENLABS,
            {"api_key": api_key.strip()},
            webhook=Webhook(token, settings={"webhook_token": token}),
        )
    except KeyRefused as exc:
        return {"valid": False, "message": exc.message}
    user, scope_problem = saved.checked.details["user"], saved.checked.details["scope_problem"]
    return {
        "valid": True,
        "message": (
            f"Valid key with limited permissions ({scope_problem}): the subscription is not shown"
            if scope_problem
            else None
        ),
        "user": {
            "user_id": user.get("user_id") if user else None,
            "first_name": user.get("first_name") if user else None,
            "subscription": saved.status.settings.get("subscription"),
        },
        "connection": _connection_view(context, saved.status),
    }


async def status(context: AppContext, subject: AuthSubject[User]) -> dict[str, Any]:
    async with context.db.as_claims(subject.principal.claims) as conn:
        found = await connections.status(conn, subject.workspace_id, Provider.ELEVENLABS)
    return _connection_view(context, found)


async def set_webhook_secret(
    context: AppContext, subject: AuthSubject[User], secret: str
) -> dict[str, Any]:
    async with context.db.as_claims(subject.principal.claims) as conn:
        found = await connections.set_secret(
            conn, context.secrets, subject, Provider.ELEVENLABS, "webhook_secret", secret.strip()
        )
    if found is None:
        raise NoElevenLabsConnection()
    return _connection_view(context, found)


async def _connection(context: AppContext, subject: AuthSubject[User]) -> Stored:
    async with context.db.as_claims(subject.principal.claims) as conn:
        stored = await connections.load(
            conn, context.secrets, subject.workspace_id, Provider.ELEVENLABS
        )
    if stored is None:
        raise NoElevenLabsConnection()
    return stored


async def _failure(
    context: AppContext, subject: AuthSubject[User], exc: ElevenLabsError
) -> VoxtroError:
    """What the admin is told when ElevenLabs refuses the stored key or cannot answer."""
    if isinstance(exc, InvalidKey):
        async with context.db.as_claims(subject.principal.claims) as conn:
            await connections.mark_invalid(
                conn, subject.workspace_id, Provider.ELEVENLABS, str(exc)
            )
        return ValidationFailed(
            "ElevenLabs refused the stored API key: connect the account again",
            errors=[{"field": "api_key", "message": str(exc)}],
        )
    if isinstance(exc, MissingPermissions):
        return ValidationFailed(
            "The stored ElevenLabs API key lacks a permission this needs",
            errors=[{"field": "api_key", "message": str(exc)}],
        )
    return _unreachable(exc)


# -- agents -------------------------------------------------------------------------------------


async def _agent_details(client: ElevenLabsClient, agent_ids: list[str]) -> list[dict[str, Any]]:
    """Each agent in full (the list has no prompt or first message), a few at a time; one
    deleted since the list was read is left out."""
    semaphore = asyncio.Semaphore(SYNC_CONCURRENCY)

    async def one(agent_id: str) -> dict[str, Any] | None:
        async with semaphore:
            try:
                agent = await client.get_agent(agent_id)
            except ElevenLabsNotFound:
                return None
        return {**agent, "agent_id": agent.get("agent_id") or agent_id}

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(agent_id)) for agent_id in agent_ids]
    except ExceptionGroup as failures:
        raise failures.exceptions[0] from None  # the others were cancelled with it
    return [agent for task in tasks if (agent := task.result()) is not None]


async def sync(context: AppContext, subject: AuthSubject[User]) -> list[dict[str, Any]]:
    """Upsert every agent of the ElevenLabs account; delete the local ones gone upstream.
    Nothing changes locally unless every agent was read."""
    subject.require_admin("sync WhatsApp agents")
    connection = await _connection(context, subject)
    try:
        async with _client(context, connection.secret("api_key")) as c:
            summaries = await c.list_agents()
            details = await _agent_details(c, [str(s["agent_id"]) for s in summaries])
    except ElevenLabsError as exc:
        raise await _failure(context, subject, exc) from exc
    archived = {str(s["agent_id"]) for s in summaries if s.get("archived")}
    async with context.db.as_claims(subject.principal.claims) as conn:
        rows = [
            await repository.upsert_agent(
                conn,
                subject.workspace_id,
                agents.local_fields(agent),
                archived=agent["agent_id"] in archived,
            )
            for agent in details
        ]
        await repository.delete_agents_except(
            conn, subject.workspace_id, [r["agent_id"] for r in rows]
        )
    return rows


async def list_agents(context: AppContext, subject: AuthSubject[User]) -> list[dict[str, Any]]:
    async with context.db.as_claims(subject.principal.claims) as conn:
        return await repository.list_agents(conn, subject.workspace_id)


async def get_agent(
    context: AppContext, subject: AuthSubject[User], agent_id: str
) -> dict[str, Any]:
    async with context.db.as_claims(subject.principal.claims) as conn:
        row = await repository.get_agent(conn, subject.workspace_id, agent_id)
    if row is None:
        raise NoSuchAgent()
    return row


async def update(
    context: AppContext, subject: AuthSubject[User], agent_id: str, data: WhatsAppAgentUpdate
) -> dict[str, Any]:
    """ElevenLabs first; the local copy follows what ElevenLabs answered, and only if it
    accepted. `status` alone never reaches ElevenLabs. A change to the agent's configuration
    reads the agent from ElevenLabs first and sends its `conversation_config` back whole,
    changed (`agents.upstream_body`)."""
    subject.require_admin("edit WhatsApp agents")
    local = await get_agent(context, subject, agent_id)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if not changes:
        raise ValidationFailed("Nothing to update", errors=[{"field": "body", "message": "empty"}])
    updated: dict[str, Any] | None = None
    if any(field in agents.UPSTREAM_PATHS for field in changes):
        connection = await _connection(context, subject)
        key = connection.secret("api_key")
        try:
            async with _client(context, key) as client:
                # The agent as ElevenLabs has it now, not our copy (an edit in ElevenLabs'
                # dashboard since the last sync must survive).
                current = (
                    await client.get_agent(agent_id) if agents.needs_current(changes) else None
                )
                updated = await client.update_agent(
                    agent_id, agents.upstream_body(current, changes)
                )
        except ElevenLabsValidationError as exc:
            raise ElevenLabsRefused(exc.problems) from exc
        except ElevenLabsNotFound as exc:
            raise NotFound("ElevenLabs no longer has this agent (sync again)") from exc
        except ElevenLabsError as exc:
            raise await _failure(context, subject, exc) from exc
    async with context.db.as_claims(subject.principal.claims) as conn:
        row: dict[str, Any] | None = local
        if updated is not None:
            row = await repository.upsert_agent(
                conn,
                subject.workspace_id,
                agents.local_fields({**updated, "agent_id": updated.get("agent_id") or agent_id}),
                archived=False,
            )
        if "status" in changes:
            row = await repository.set_status(
                conn, subject.workspace_id, agent_id, changes["status"]
            )
    if row is None:  # deleted by a sync meanwhile
        raise NoSuchAgent()
    return row


# -- post-call webhooks -------------------------------------------------------------------------


async def verified_workspace(
    context: AppContext, token: str, header: str | None, raw_body: bytes
) -> UUID:
    """The workspace whose webhook URL this is, once the body's signature is checked with its
    secret (`webhooks.signed_by`)."""
    try:
        timestamp, signatures = webhooks.signature(header, time.time())
    except webhooks.InvalidSignature as exc:
        raise Unauthorized(str(exc)) from exc
    async with context.db.system() as conn:
        row = await repository.connection_by_token(conn, token)
    if row is None:
        raise Unauthorized("Invalid ElevenLabs webhook URL or signature")
    if row["encrypted_webhook_secret"] is None:
        raise Unauthorized(
            "No webhook secret is set for this ElevenLabs connection"
            " (PUT /api/whatsapp/webhook-secret)"
        )
    secret = context.secrets.decrypt(row["encrypted_webhook_secret"])
    if not webhooks.signed_by(secret, timestamp, signatures, raw_body):
        raise Unauthorized("ElevenLabs signature does not match the request body")
    workspace_id: UUID = row["workspace_id"]
    return workspace_id


async def receive(context: AppContext, workspace_id: UUID, payload: Any) -> bool:
    """Check one verified webhook and keep it in the inbox, where a job stores its call; True
    when it is new. Other types (audio, …) are acknowledged and ignored. ElevenLabs' webhooks
    carry no id of their own: a conversation has one of each type, so the event's id is its
    type and conversation id."""
    event = payloads.obj(payload)
    kind = event.get("type")
    if not isinstance(kind, str) or kind not in webhooks.CALL_EVENTS:
        return False
    conversation_id = payloads.text(payloads.obj(event.get("data")).get("conversation_id"), 200)
    if conversation_id is None:
        raise ValidationFailed(
            f"{kind} without a conversation id",
            errors=[{"field": "data.conversation_id", "message": "required"}],
        )
    return await inbound.receive(
        context.db,
        provider=InboundProvider.ELEVENLABS,
        event_id=f"{kind}:{conversation_id}",
        workspace_id=workspace_id,
        type=kind,
        payload=event,
    )


async def handle_event(conn: Connection, event: InboundEvent) -> str | None:
    """Store the call of a stored webhook (the `inbound.process` job)."""
    assert event.workspace_id is not None  # stored with the workspace its URL names
    to_call = webhooks.CALL_EVENTS.get(event.type or "")
    values = to_call(payloads.obj(payloads.obj(event.payload).get("data"))) if to_call else None
    if values is None:
        return f"ignored: a {event.type} event without a conversation id"
    if not await calls_service.store_finished(conn, event.workspace_id, "elevenlabs", values):
        return "ignored: the call was stored already"
    return None
