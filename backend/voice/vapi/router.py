"""Voice assistants (integration guide §4) and VAPI's server URL (§11, `/api/webhooks/vapi`).

Routes that call VAPI take no `Session`: they hold no database connection while VAPI answers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request

from backend.auth.dependencies import AdminSubject
from backend.context import Context
from backend.inbound import service as inbound
from backend.integrations.vapi import webhooks
from backend.voice.vapi import service
from backend.voice.vapi.schemas import (
    CallImport,
    CallImportResult,
    PublicKeyValidate,
    PublicKeyValidation,
    VoiceAssistant,
    VoiceAssistantUpdate,
    VoiceConnect,
    VoiceConnection,
    VoiceSync,
    VoiceToken,
    WebhookAck,
)

router = APIRouter(tags=["voice"])


def _assistant(row: dict[str, Any]) -> VoiceAssistant:
    return VoiceAssistant(
        id=row["vapi_id"],
        name=row["name"],
        first_message=row["first_message"],
        voice=row["voice"],
        model=row["model"],
        phone_number=row["phone_number"],
        synced_at=row["synced_at"],
    )


@router.post("/api/voice/connect", summary="Connect VAPI (private and public keys)")
async def connect(data: VoiceConnect, subject: AdminSubject, context: Context) -> VoiceConnection:
    """Check both keys with VAPI (400 names the wrong one), store them encrypted, and answer
    the webhook URL and, when the connection is new, its secret (shown once)."""
    row = await service.connect(
        context,
        subject,
        data.private_key,
        data.public_key,
        rotate_webhook_secret=data.rotate_webhook_secret,
    )
    return VoiceConnection.model_validate(row)


@router.get("/api/voice/connect", summary="Get the VAPI connection status")
async def connection_status(subject: AdminSubject, context: Context) -> VoiceConnection:
    return VoiceConnection.model_validate(await service.status(context, subject))


@router.post("/api/voice/validate", summary="Check a VAPI public key")
async def validate_public_key(
    data: PublicKeyValidate, _: AdminSubject, context: Context
) -> PublicKeyValidation:
    return PublicKeyValidation.model_validate(
        await service.validate_public_key(context, data.public_key)
    )


@router.post("/api/voice/sync", summary="Sync voice assistants from VAPI")
async def sync(subject: AdminSubject, context: Context) -> VoiceSync:
    rows = await service.sync(context, subject)
    return VoiceSync(count=len(rows), assistants=[_assistant(r) for r in rows])


@router.get("/api/voice/assistants", summary="List voice assistants")
async def list_assistants(subject: AdminSubject, context: Context) -> VoiceSync:
    """The assistants as the last sync left them, in the shape `POST /api/voice/sync` answers."""
    rows = await service.list_assistants(context, subject)
    return VoiceSync(count=len(rows), assistants=[_assistant(r) for r in rows])


@router.get("/api/voice/token", summary="Get the VAPI public key for the browser SDK")
async def token(subject: AdminSubject, context: Context) -> VoiceToken:
    """The workspace's VAPI public key, for the browser Web SDK (`new Vapi(token)`)."""
    return VoiceToken(token=await service.token(context, subject))


@router.patch("/api/voice/{assistant_id}", summary="Update a voice assistant on VAPI")
async def update_assistant(
    assistant_id: str, data: VoiceAssistantUpdate, subject: AdminSubject, context: Context
) -> VoiceAssistant:
    """`assistant_id` is VAPI's id (as `sync` returns it). VAPI first, then the local copy;
    VAPI's validation errors come back as a 400."""
    return _assistant(await service.update(context, subject, assistant_id, data))


@router.post("/api/voice/calls/import", summary="Import recent calls from VAPI")
async def import_calls(
    subject: AdminSubject, context: Context, data: CallImport | None = None
) -> CallImportResult:
    """Fetch the ended calls of the last `days` days from VAPI and store those the webhook did
    not deliver (a job does this hourly for the last two days)."""
    subject.require_admin("import calls")
    since = datetime.now(UTC) - timedelta(days=(data or CallImport()).days)
    counts = await service.import_calls(context, subject.workspace_id, since)
    return CallImportResult.model_validate(counts)


@router.post("/api/webhooks/vapi", tags=["webhooks"], summary="Receive a VAPI server message")
async def vapi_webhook(
    request: Request,
    context: Context,
    x_vapi_secret: Annotated[str | None, Header()] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> WebhookAck:
    """VAPI's server messages. The workspace is the one whose secret comes in `X-Vapi-Secret`
    or `Authorization: Bearer`; end-of-call reports are kept once per call id, and their call
    stored by a job moments later."""
    workspace_id = await service.webhook_workspace(
        context, webhooks.presented_secret(x_vapi_secret, authorization)
    )
    await service.receive(context, workspace_id, inbound.parse_json(await request.body()))
    return WebhookAck()
