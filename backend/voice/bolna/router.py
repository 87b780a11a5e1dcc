"""Order confirmation calls: the Bolna connection (admins), the commerce notification route
that places a call (CHICX integration guide §2.5), and Bolna's execution webhook.

Routes that call Bolna take no `Session`: they hold no database connection while Bolna answers.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from backend.auth.dependencies import AdminSubject
from backend.context import Context
from backend.errors import CHICX_CODES
from backend.inbound import service as inbound
from backend.notifications.dependencies import NotificationSender
from backend.voice.bolna import service
from backend.voice.bolna.schemas import (
    BolnaConnect,
    BolnaConnection,
    ConfirmationCall,
    ConfirmOrder,
)
from backend.voice.vapi.schemas import WebhookAck

router = APIRouter()


@router.put("/api/bolna/connection", tags=["voice"], summary="Connect Bolna (key and agent)")
async def connect(data: BolnaConnect, subject: AdminSubject, context: Context) -> BolnaConnection:
    """Check the key (`GET /user/me`) and the agent with Bolna (400 names the wrong one; 502
    when Bolna cannot be reached), and store them, the key encrypted. The answer carries the
    webhook URL to give the agent when it is new (first connection, or `rotate_webhook_url`):
    it holds the webhook's credential and is not shown again."""
    return BolnaConnection.model_validate(await service.connect(context, subject, data))


@router.get("/api/bolna/connection", tags=["voice"], summary="Get the Bolna connection status")
async def connection_status(subject: AdminSubject, context: Context) -> BolnaConnection:
    return BolnaConnection.model_validate(await service.status(context, subject))


@router.post(
    "/webhooks/{slug}/confirm-order",
    tags=["notifications"],
    summary="Place an order confirmation call",
    dependencies=[Depends(CHICX_CODES)],
)
async def confirm_order(
    data: ConfirmOrder,
    subject: NotificationSender,
    context: Context,
    response: Response,
) -> ConfirmationCall:
    """Call the customer through the workspace's Bolna agent to confirm an order, with the
    order in the agent's variables. One call per order: asked again while that call is queued,
    under way or done, this answers the same call (`Idempotent-Replayed: true`) and calls
    nobody; once it was missed or failed, it calls again. 409 while another request for the
    order is placing its call, 502 when Bolna refused or could not be reached (nothing was
    placed: retry). A repeated request answers the call as it was placed, `phone` included.
    500 `INTERNAL_ERROR` after Bolna placed the call if it could not be recorded: the order is
    held (409) for a while rather than called twice."""
    call, replayed = await service.confirm_order(context, subject, data)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return ConfirmationCall(
        message=f"Confirmation call initiated for order {data.order_id}",
        order_id=data.order_id,
        call_id=call["id"],
        phone=call["phone"],
        execution_id=call["provider_call_id"],
    )


@router.post(
    "/api/webhooks/bolna/{token}", tags=["webhooks"], summary="Receive a Bolna call update"
)
async def bolna_webhook(token: str, request: Request, context: Context) -> WebhookAck:
    """Bolna's execution object, posted on every status change of a call. The token in the
    URL names the workspace (Bolna signs nothing). Each delivery is kept once and applied by
    a job moments later; repeated and late deliveries change nothing; a call placed from
    Bolna's side is stored as a new call."""
    workspace_id = await service.webhook_workspace(context, token)
    await service.receive(context, workspace_id, inbound.parse_json(await request.body()))
    return WebhookAck()
