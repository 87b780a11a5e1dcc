"""`POST /api/chat/message`: public, like the widget (the chatbot id is the only credential),
limited per visitor and per address on each bot; answers as JSON, or as server-sent events
when asked."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import StreamingResponse

from backend.auth.dependencies import VisitorPrincipal, limit_visitor
from backend.auth.subjects import User
from backend.chat.engine import ChatInput, ChatResult, Done, Token
from backend.chat.schemas import ChatMessageIn, ChatMessageOut
from backend.context import AppContext, Context
from backend.customers import service as customers
from backend.errors import Forbidden, VoxtroError
from backend.widget import identity
from backend.widget import repository as widget_repository
from backend.workspaces import repository as workspaces

router = APIRouter(tags=["chat"])


async def preview_allowed(context: AppContext, principal: Any, chatbot_id: UUID) -> bool:
    """`preview_mode` counts only for an admin of the bot's own workspace."""
    if not isinstance(principal, User) or principal.is_customer:
        return False
    async with context.db.as_claims(principal.claims) as conn:
        cur = await conn.execute(
            "select workspace_id from public.chatbots where id = %s", (chatbot_id,)
        )
        row = await cur.fetchone()
        return (
            row is not None
            and await workspaces.member_role(conn, row["workspace_id"], principal.id) is not None
        )


def result_json(result: ChatResult) -> dict[str, Any]:
    return ChatMessageOut(
        conversation_id=result.conversation_id,
        message=result.message,
        actions=result.actions,
        message_id=result.message_id,
        source=result.source,
        citations=result.citations,
    ).model_dump(mode="json")


# For the spec: what a streamed answer is, besides the JSON one.
STREAMED: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The answer: JSON, or server-sent events when asked to stream.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


async def respond(
    events: AsyncGenerator[Token | Done, None], *, stream: bool
) -> Response | dict[str, Any]:
    """JSON, or a stream of `token` events ending with one `done` event (the stored message id
    and the usage). Errors before the first event keep their HTTP status."""
    first = await anext(events)
    if not stream:
        event = first
        while not isinstance(event, Done):
            event = await anext(events)
        return result_json(event.result)

    async def body() -> AsyncIterator[str]:
        event: Token | Done | None = first
        try:
            while event is not None:
                if isinstance(event, Token):
                    yield _sse("token", {"content": event.text})
                else:
                    yield _sse(
                        "done", {**result_json(event.result), "usage": event.result.usage.tokens()}
                    )
                event = await anext(events, None)
        except VoxtroError as exc:
            yield _sse("error", {"code": exc.code, "message": exc.message})
        finally:
            await events.aclose()  # a reader gone mid-answer: settle what it cost now

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post(
    "/api/chat/message",
    response_model=ChatMessageOut,
    summary="Send a message to a chatbot",
    responses=STREAMED,
)
async def chat_message(
    data: ChatMessageIn,
    request: Request,
    principal: VisitorPrincipal,
    context: Context,
    accept: Annotated[str, Header()] = "",
) -> Any:
    await limit_visitor(context, request, data.chatbot_id, data.visitor_id)
    if data.preview_mode and not await preview_allowed(context, principal, data.chatbot_id):
        raise Forbidden("preview_mode needs the token of an admin of this chatbot's workspace")
    stream = data.stream or "text/event-stream" in accept
    user, customer_id, channel = None, None, "widget"
    portal = (
        await customers.of_portal_user(context, principal) if isinstance(principal, User) else None
    )
    if data.user_id or portal is not None:
        async with context.db.system() as conn:
            bot = await widget_repository.bot_access(conn, data.chatbot_id)
        if bot is not None and data.user_id:
            user = await identity.verified_user(context, bot["workspace_id"], data)
            if user is not None:
                customer_id = await customers.for_verified_user(context, bot["workspace_id"], user)
        if bot is not None and portal is not None and portal["workspace_id"] == bot["workspace_id"]:
            # A customer signed in to the portal, chatting with one of their workspace's bots.
            customer_id, channel = portal["id"], "portal"
    events = context.chat.events(
        ChatInput(
            chatbot_id=data.chatbot_id,
            message=data.message,
            visitor_id=data.visitor_id,
            conversation_id=data.conversation_id,
            channel=channel,
            preview=data.preview_mode,
            user=user,
            customer_id=customer_id,
        )
    )
    return await respond(events, stream=stream)
