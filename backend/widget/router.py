"""The web channel's endpoints. The public widget API (no auth, open CORS without credentials):
a bot's config, visitor messages and their history, form submissions; the admin's
identity-verification secret; and `POST /api/chat/message`, public like the widget (the chatbot
id is the only credential), for visitors, portal customers and admins trying a bot. Each is
limited per visitor and per address on each bot, and answers as JSON or server-sent events.
(The OpenAI-compatible API: `openai_compat.py`.)"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, status

from backend.auth.dependencies import (
    AdminSubject,
    Session,
    VisitorPrincipal,
    limit_bot_address,
    limit_visitor,
)
from backend.chat.dependencies import Engine
from backend.chat.engine import ChatInput
from backend.context import Context
from backend.conversations import repository as conversations
from backend.errors import NotFound
from backend.kit.schemas import Envelope
from backend.widget import forms, identity, service
from backend.widget.channel import STREAMED
from backend.widget.schemas import (
    USER_HASH_PATTERN,
    ChatMessageIn,
    ChatMessageOut,
    FormSubmitIn,
    FormSubmitOut,
    IdentitySecret,
    VisitorHistory,
    VisitorIdentity,
    WidgetConfig,
    WidgetMessageIn,
)

router = APIRouter(tags=["widget"])
chat_router = APIRouter(tags=["chat"])

HISTORY_LIMIT = 100


@router.get("/api/widget/{chatbot_id}/config", summary="Get a chatbot's widget configuration")
async def widget_config(
    chatbot_id: UUID, request: Request, context: Context, _: VisitorPrincipal
) -> WidgetConfig:
    await limit_bot_address(context, request, chatbot_id)
    bot = await service.public_bot(context, request, chatbot_id, full=True)
    return WidgetConfig(
        chatbot_id=bot["id"],
        name=bot["name"],
        theme=bot["theme"],
        first_message=bot["first_message"],
        placeholder_text=bot["placeholder_text"],
        forms=bot["forms"],
        faqs=bot["faqs"],
    )


@router.post(
    "/api/widget/{chatbot_id}/message",
    response_model=ChatMessageOut,
    summary="Send a visitor's message from the widget",
    responses=STREAMED,
)
async def widget_message(
    chatbot_id: UUID,
    data: WidgetMessageIn,
    request: Request,
    context: Context,
    engine: Engine,
    _: VisitorPrincipal,
    accept: Annotated[str, Header()] = "",
) -> Any:
    """A visitor's message: the answer as JSON, or as server-sent events (`token`…, `done`)
    with `stream: true` or `Accept: text/event-stream`."""
    # Limited before anything is read, verified or written for the visitor.
    await limit_visitor(context, request, chatbot_id, data.visitor_id)
    bot = await service.public_bot(context, request, chatbot_id)
    stream = data.stream or "text/event-stream" in accept
    chat = await service.widget_chat(context, bot, data, stream=stream)
    return await chat.deliver(
        engine.events(ChatInput(chatbot_id=chatbot_id, message=data.message, channel=chat))
    )


@chat_router.post(
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
    engine: Engine,
    accept: Annotated[str, Header()] = "",
) -> Any:
    await limit_visitor(context, request, data.chatbot_id, data.visitor_id)
    stream = data.stream or "text/event-stream" in accept
    chat = await service.api_chat(context, principal, data, stream=stream)
    return await chat.deliver(
        engine.events(
            ChatInput(
                chatbot_id=data.chatbot_id,
                message=data.message,
                channel=chat,
                preview=data.preview_mode,
            )
        )
    )


@router.get(
    "/api/widget/{chatbot_id}/conversations/{conversation_id}/messages",
    summary="Get a visitor's conversation history",
)
async def visitor_history(
    chatbot_id: UUID,
    conversation_id: UUID,
    request: Request,
    context: Context,
    _: VisitorPrincipal,
    visitor_id: Annotated[str, Query(min_length=1, max_length=200)],
    user_id: Annotated[str | None, Query(max_length=200)] = None,
    user_hash: Annotated[str | None, Query(max_length=128, pattern=USER_HASH_PATTERN)] = None,
) -> VisitorHistory:
    """A conversation's messages, for the visitor whose conversation it is and no one else (a
    signed-in user's: with their verified identity)."""
    await limit_bot_address(context, request, chatbot_id)
    bot = await service.public_bot(context, request, chatbot_id)
    user = await identity.verified_user(
        context, bot["workspace_id"], VisitorIdentity(user_id=user_id, user_hash=user_hash)
    )
    async with context.db.for_workspace(bot["workspace_id"], "widget") as conn:
        messages = await conversations.visitor_messages(
            conn,
            chatbot_id,
            conversation_id,
            visitor_id,
            HISTORY_LIMIT,
            user_id=user.id if user else None,
        )
    if messages is None:
        raise NotFound("Conversation not found")
    return VisitorHistory.model_validate({"conversation_id": conversation_id, "messages": messages})


@router.post(
    "/api/forms/submit", status_code=status.HTTP_201_CREATED, summary="Submit a widget form"
)
async def submit_form(
    data: FormSubmitIn, request: Request, context: Context, _: VisitorPrincipal
) -> FormSubmitOut:
    """A form filled in the widget: stored against the conversation, and a lead when it says
    how to reach the visitor."""
    return await forms.submit(context, request, data)


@router.get("/api/widget/identity-secret", summary="Get the identity verification secret")
async def get_identity_secret(
    subject: AdminSubject, session: Session, context: Context
) -> Envelope[IdentitySecret]:
    """The secret the workspace's servers sign user ids with (`user_hash` =
    HMAC-SHA256(secret, user_id), hex); made on first request."""
    subject.require_admin("see the widget identity secret")
    value = await identity.secret(session, context.secrets, subject.workspace_id)
    if value is None:
        value = identity.new_secret()
        await identity.store_secret(session, context.secrets, subject.workspace_id, value)
    return Envelope(data=IdentitySecret(secret=value))


@router.post(
    "/api/widget/identity-secret/rotate", summary="Rotate the identity verification secret"
)
async def rotate_identity_secret(
    subject: AdminSubject, session: Session, context: Context
) -> Envelope[IdentitySecret]:
    """A new secret; hashes made with the old one stop verifying at once."""
    subject.require_admin("rotate the widget identity secret")
    value = identity.new_secret()
    await identity.store_secret(session, context.secrets, subject.workspace_id, value)
    return Envelope(data=IdentitySecret(secret=value))
