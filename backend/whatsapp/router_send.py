"""The bot builder's WhatsApp module (seed 001): sending text, templates, media and interactive
messages from a bot's number, and the bot's message history. Admins, or API keys with
`whatsapp:send` (sending) or `whatsapp:read` (the history)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse

from backend.auth.dependencies import api_subject
from backend.auth.subjects import ApiKey, AuthSubject, User
from backend.context import Context
from backend.errors import error_body
from backend.kit.schemas import ErrorBody
from backend.whatsapp import messages, sender
from backend.whatsapp.schemas import (
    MessageHistory,
    SendAnswer,
    SendError,
    SendInteractive,
    SendMedia,
    SendTemplate,
    SendText,
)

router = APIRouter(prefix="/whatsapp", tags=["whatsapp"])

Sender = Annotated[AuthSubject[User | ApiKey], Depends(api_subject("whatsapp:send"))]
Reader = Annotated[AuthSubject[User | ApiKey], Depends(api_subject("whatsapp:read"))]
BotId = Annotated[UUID, Query(description="The bot (chatbot) whose WhatsApp number sends")]

REJECTED = "WHATSAPP_REJECTED"
# Meta's refusal is a 422 too (WHATSAPP_REJECTED, in `_STATUSES`): not listed here, where the
# API documents no 422 (FastAPI's own, which invalid input never gets: it is a 400).
_SEND_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"model": SendAnswer, "description": "Queued: Meta could not take it yet; retried"},
    404: {"model": ErrorBody, "description": "No such bot in the workspace"},
    409: {
        "model": ErrorBody,
        "description": "WHATSAPP_WINDOW_CLOSED (only a template may go) or"
        " WHATSAPP_NOT_CONFIGURED (the bot has no enabled number)",
    },
}


def _principal(subject: AuthSubject[User | ApiKey]) -> str:
    kind = "api_key" if isinstance(subject.principal, ApiKey) else "user"
    return f"{kind}:{subject.principal.id}"


async def _send(
    context: Context,
    subject: AuthSubject[User | ApiKey],
    response: Response,
    *,
    bot_id: UUID,
    to: str,
    message: dict[str, Any],
) -> SendAnswer | JSONResponse:
    outcome = await sender.send(
        context,
        workspace_id=subject.workspace_id,
        chatbot_id=bot_id,
        to=to,
        message=message,
        kind="api",
        principal=_principal(subject),
    )
    failed = outcome.status == "failed"
    answer = SendAnswer(
        id=outcome.message_id,
        wamid=outcome.wamid,
        status=outcome.status,
        to=outcome.recipient,
        error=SendError(code=outcome.error_code, message=outcome.error_message)
        if failed or outcome.error_message
        else None,
    )
    if failed:
        message_text = f"WhatsApp refused the message: {outcome.error_message}"
        return JSONResponse(
            {**error_body(REJECTED, message_text), **answer.model_dump(mode="json")},
            status_code=422,
        )
    if outcome.status == "queued":
        response.status_code = 202
    return answer


_STATUSES = """

Answers `{"id", "wamid", "status", "to", "error"}`:
- **200** `status: "sent"`: Meta accepted the message (`wamid` is its id; delivery and reading
  come later, on the message in `GET /whatsapp/messages/{bot_id}`).
- **202** `status: "queued"`: Meta could not take it now (its rate limits, an outage, no
  answer): it is sent by a job with backoff, once; `error` says why it waits.
- **400** `VALIDATION_ERROR` naming the field (Meta's limits are checked first: nothing is
  stored or sent); **404** no such bot in the workspace; **409** `WHATSAPP_WINDOW_CLOSED` (a
  free-form message more than 24 hours after the contact last wrote: send a template) or
  `WHATSAPP_NOT_CONFIGURED` (the bot has no enabled WhatsApp number).
- **422** `WHATSAPP_REJECTED`: Meta refused it (an invalid number 131026, the window closed
  131047, …): the platform's error body plus the send's fields, `id` being the stored message
  (failed, with Meta's error) and `error.code` Meta's code."""


@router.post(
    "/send/text",
    summary="Send a text message",
    response_model=SendAnswer,
    responses=_SEND_RESPONSES,
    description="A text message (at most 4,096 characters), within the 24-hour window." + _STATUSES,
)
async def send_text(
    bot_id: BotId, data: SendText, subject: Sender, context: Context, response: Response
) -> SendAnswer | JSONResponse:
    return await _send(
        context, subject, response, bot_id=bot_id, to=data.to, message=messages.text(data)
    )


@router.post(
    "/send/template",
    summary="Send a template message",
    response_model=SendAnswer,
    responses=_SEND_RESPONSES,
    description="An approved template (any time, window or not): `components` as Meta takes"
    " them, or `parameters` (a list: positional; an object: named) and `buttons`." + _STATUSES,
)
async def send_template(
    bot_id: BotId, data: SendTemplate, subject: Sender, context: Context, response: Response
) -> SendAnswer | JSONResponse:
    return await _send(
        context, subject, response, bot_id=bot_id, to=data.to, message=messages.template(data)
    )


@router.post(
    "/send/media",
    summary="Send an image, document, audio, video or sticker",
    response_model=SendAnswer,
    responses=_SEND_RESPONSES,
    description="A media message by `link` or uploaded `media_id`, within the 24-hour window;"
    " `caption` (not for audio and stickers), `filename` (documents)." + _STATUSES,
)
async def send_media(
    bot_id: BotId, data: SendMedia, subject: Sender, context: Context, response: Response
) -> SendAnswer | JSONResponse:
    return await _send(
        context, subject, response, bot_id=bot_id, to=data.to, message=messages.media(data)
    )


@router.post(
    "/send/interactive",
    summary="Send reply buttons or a list",
    response_model=SendAnswer,
    responses=_SEND_RESPONSES,
    description="Meta's interactive object beside `to`, within the 24-hour window: 1 to 3"
    " reply buttons (titles at most 20 characters), or a list (at most 10 rows)." + _STATUSES,
)
async def send_interactive(
    bot_id: BotId, data: SendInteractive, subject: Sender, context: Context, response: Response
) -> SendAnswer | JSONResponse:
    return await _send(
        context, subject, response, bot_id=bot_id, to=data.to, message=messages.interactive(data)
    )


@router.get(
    "/messages/{bot_id}",
    summary="A bot's WhatsApp messages",
    response_model=MessageHistory,
    responses={404: {"model": ErrorBody, "description": "No such bot in the workspace"}},
)
async def message_history(
    bot_id: UUID,
    subject: Reader,
    context: Context,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    contact: Annotated[
        str | None,
        Query(max_length=100, description="A contact id, or a phone in any format"),
    ] = None,
    before: Annotated[
        str | None,
        Query(max_length=64, description="`next_before` of the previous page, or a time"),
    ] = None,
) -> dict[str, Any]:
    """Both directions, newest first, with each message's delivery status and Meta's error
    when it failed. Page back with `before`."""
    async with context.db.for_workspace(subject.workspace_id, _principal(subject)) as conn:
        return await messages.history(
            conn,
            workspace_id=subject.workspace_id,
            chatbot_id=bot_id,
            limit=limit,
            contact=contact,
            before=before,
        )
