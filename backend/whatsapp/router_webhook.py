"""Meta's WhatsApp webhook (`/whatsapp/webhook`): one URL for every tenant's numbers, the URL
to enter in Meta's app console with a bot's verify token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import PlainTextResponse

from backend.auth.dependencies import authenticate
from backend.context import Context
from backend.integrations.whatsapp.webhooks import SIGNATURE_HEADER
from backend.whatsapp import webhook
from backend.whatsapp.schemas import WebhookAck

router = APIRouter(tags=["webhooks"])


@router.get(
    "/whatsapp/webhook",
    summary="Verify the WhatsApp webhook (Meta's handshake)",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    # Anyone may try tokens here: counted per address like other anonymous routes.
    dependencies=[Depends(authenticate)],
)
async def verify(
    context: Context,
    mode: Annotated[str | None, Query(alias="hub.mode", max_length=50)] = None,
    verify_token: Annotated[str | None, Query(alias="hub.verify_token", max_length=500)] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge", max_length=500)] = None,
) -> PlainTextResponse:
    """Meta calls this when the webhook URL is saved in its console: the challenge comes back
    as the plain body when `hub.verify_token` is one of the workspace bots' verify tokens
    (403 otherwise)."""
    return PlainTextResponse(
        await webhook.verify(context, mode=mode, token=verify_token, challenge=challenge)
    )


# Not rate-limited per address: Meta posts every tenant's events from a few addresses, and
# refused deliveries are retried for days. The signature is what keeps others out.
@router.post("/whatsapp/webhook", summary="Receive Meta's WhatsApp webhook")
async def receive(
    request: Request,
    context: Context,
    signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER)] = None,
) -> WebhookAck:
    """Messages, statuses and system errors of the numbers connected to Voxtro. The body must
    be signed (`X-Hub-Signature-256`) with the app secret of every number it names (401 and
    nothing stored otherwise); each message and status is kept once however often Meta
    delivers it, and applied by a job moments later. Changes for numbers Voxtro does not know
    are skipped."""
    await webhook.receive(context, await request.body(), signature)
    return WebhookAck()
