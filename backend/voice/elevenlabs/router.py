"""WhatsApp agents on ElevenLabs (integration guide §5) and ElevenLabs' post-call webhook
(`/api/webhooks/elevenlabs/{token}`).

Routes that call ElevenLabs take no `Session`: they hold no database connection while it
answers. The fixed paths come before `/api/whatsapp/{agent_id}`, which would match them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request

from backend.auth.dependencies import AdminSubject
from backend.context import Context
from backend.errors import ValidationFailed
from backend.inbound import service as inbound
from backend.voice.elevenlabs import service
from backend.voice.elevenlabs.schemas import (
    ElevenLabsConnection,
    ElevenLabsKey,
    ElevenLabsValidation,
    WebhookAck,
    WebhookSecret,
    WhatsAppAgent,
    WhatsAppAgentUpdate,
    WhatsAppSync,
)

router = APIRouter(tags=["whatsapp agents"])

AgentId = Annotated[str, Path(min_length=1, max_length=200)]


def _agents(rows: list[dict[str, Any]]) -> list[WhatsAppAgent]:
    return [WhatsAppAgent.model_validate(r) for r in rows]


@router.post("/api/whatsapp/validate-elevenlabs", summary="Check and save an ElevenLabs key")
async def validate_elevenlabs(
    subject: AdminSubject,
    context: Context,
    api_key: Annotated[str | None, Query(max_length=200)] = None,
    body: ElevenLabsKey | None = None,
) -> ElevenLabsValidation:
    """Check an ElevenLabs key and, when valid, save it (encrypted) for the sync that follows.
    The key comes as `?api_key=` (the documented form) or as `{"api_key": …}`, which keeps it
    out of proxies' access logs. A refused key answers 200 with `valid: false` and stores
    nothing; ElevenLabs unreachable is a 502."""
    key = (api_key or (body.api_key if body else None) or "").strip()
    if not key:
        raise ValidationFailed(
            "An ElevenLabs API key is required",
            errors=[{"field": "api_key", "message": "required (query parameter or JSON body)"}],
        )
    return ElevenLabsValidation.model_validate(await service.validate_key(context, subject, key))


@router.get("/api/whatsapp/connection", summary="Get the ElevenLabs connection status")
async def connection_status(subject: AdminSubject, context: Context) -> ElevenLabsConnection:
    return ElevenLabsConnection.model_validate(await service.status(context, subject))


@router.put("/api/whatsapp/webhook-secret", summary="Set the ElevenLabs webhook secret")
async def set_webhook_secret(
    data: WebhookSecret, subject: AdminSubject, context: Context
) -> ElevenLabsConnection:
    """The HMAC secret ElevenLabs shows when its post-call webhook is created (stored
    encrypted); deliveries are refused until it is set."""
    row = await service.set_webhook_secret(context, subject, data.secret)
    return ElevenLabsConnection.model_validate(row)


@router.post("/api/whatsapp/sync", summary="Sync WhatsApp agents from ElevenLabs")
async def sync(subject: AdminSubject, context: Context) -> WhatsAppSync:
    rows = await service.sync(context, subject)
    return WhatsAppSync(count=len(rows), agents=_agents(rows))


@router.get("/api/whatsapp", summary="List WhatsApp agents")
async def list_agents(subject: AdminSubject, context: Context) -> WhatsAppSync:
    """The agents as the last sync left them, in the shape `POST /api/whatsapp/sync` answers."""
    rows = await service.list_agents(context, subject)
    return WhatsAppSync(count=len(rows), agents=_agents(rows))


@router.get("/api/whatsapp/{agent_id}", summary="Get a WhatsApp agent")
async def get_agent(agent_id: AgentId, subject: AdminSubject, context: Context) -> WhatsAppAgent:
    """The local copy, as the last sync or update left it."""
    return WhatsAppAgent.model_validate(await service.get_agent(context, subject, agent_id))


@router.patch("/api/whatsapp/{agent_id}", summary="Update a WhatsApp agent on ElevenLabs")
async def update_agent(
    agent_id: AgentId, data: WhatsAppAgentUpdate, subject: AdminSubject, context: Context
) -> WhatsAppAgent:
    """`agent_id` is ElevenLabs' id. ElevenLabs first, then the local copy; its validation
    errors come back as a 400 under our field names."""
    return WhatsAppAgent.model_validate(await service.update(context, subject, agent_id, data))


@router.post(
    "/api/webhooks/elevenlabs/{token}",
    tags=["webhooks"],
    summary="Receive an ElevenLabs post-call webhook",
)
async def elevenlabs_webhook(
    token: str,
    request: Request,
    context: Context,
    elevenlabs_signature: Annotated[str | None, Header()] = None,
) -> WebhookAck:
    """ElevenLabs' post-call webhooks, for the workspace whose URL this is. The signature is
    checked over the raw body before anything is read or stored (401 otherwise); a
    conversation's webhook is kept once, so a redelivery is a no-op, and its call stored by a
    job moments later."""
    raw_body = await request.body()
    workspace_id = await service.verified_workspace(context, token, elevenlabs_signature, raw_body)
    await service.receive(context, workspace_id, inbound.parse_json(raw_body))
    return WebhookAck()
