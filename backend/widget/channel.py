"""The web channel: a browser (the widget, the messenger page, the portal) or a workspace's own
server, known by a visitor id. It finds or starts the visitor's conversation, says what the
sender may see, and delivers the engine's answer as JSON or server-sent events (the
OpenAI-compatible API delivers in OpenAI's format: `openai_compat.py`)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from fastapi import Response
from fastapi.responses import StreamingResponse

from backend.chat.engine import ChatResult, Done, Token, final
from backend.conversations import repository as conversations
from backend.conversations.channel import Opened, OrderOwner, Sender
from backend.conversations.schemas import VerifiedUser
from backend.customers import repository as customers
from backend.db import Connection
from backend.errors import NotFound, VoxtroError
from backend.kit.phones import national_digits
from backend.widget.schemas import ChatMessageOut

# For the spec: what a streamed answer is, besides the JSON one.
STREAMED: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The answer: JSON, or server-sent events when asked to stream.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


class ConversationNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Conversation not found")


@dataclass
class WebChat:
    """A visitor's message to a bot, from the widget, `/api/chat/message` or the portal."""

    visitor_id: str
    conversation_id: UUID | None = None
    # Who the visitor is, when the host page vouched for them (identity verification).
    user: VerifiedUser | None = None
    # The workspace's customer this is (a verified visitor, a signed-in portal customer).
    customer_id: UUID | None = None
    preview: bool = False
    stream: bool = False
    name: str = "widget"  # or "portal": a customer signed in to the portal

    @property
    def label(self) -> str:
        return "CHAT" if self.name == "widget" else self.name.upper()

    async def open(self, conn: Connection, chatbot_id: UUID, *, history: int) -> Opened:
        if self.conversation_id is None:
            return Opened(uuid.uuid4(), is_new=True, sender=await self._sender(conn))
        conversation = await conversations.conversation(conn, self.conversation_id, chatbot_id)
        # Someone else's conversation is as unknown as one that does not exist; so is a
        # signed-in user's for whoever uses the browser after them (same visitor id).
        if conversation is None or conversation["visitor_id"] != self.visitor_id:
            raise ConversationNotFound()
        if conversation["user_id"] is not None and (
            self.user is None or self.user.id != conversation["user_id"]
        ):
            raise ConversationNotFound()
        return Opened(
            self.conversation_id,
            is_new=False,
            history=await conversations.history(conn, self.conversation_id, limit=history),
            sender=await self._sender(conn),
        )

    async def _sender(self, conn: Connection) -> Sender:
        return Sender(
            known=self.user is not None or self.customer_id is not None,
            orders=await self._orders(conn),
        )

    async def _orders(self, conn: Connection) -> OrderOwner:
        """Orders are personal: a customer's are those placed with their own phone; an
        anonymous visitor has none."""
        if self.customer_id is None:
            return None
        return national_digits(await customers.phone(conn, self.customer_id))

    async def keep(
        self,
        conn: Connection,
        opened: Opened,
        *,
        workspace_id: UUID,
        chatbot_id: UUID,
        answer: ChatResult,  # delivered by `deliver`, to whoever is waiting
    ) -> None:
        if opened.is_new:
            await conversations.create_conversation(
                conn,
                conversation_id=opened.conversation_id,
                workspace_id=workspace_id,
                chatbot_id=chatbot_id,
                visitor_id=self.visitor_id,
                channel=self.name,
                is_preview=self.preview,
                user=self.user,
                customer_id=self.customer_id,
            )
        elif self.user is not None or self.customer_id is not None:
            await conversations.identify_conversation(
                conn, opened.conversation_id, self.user, self.customer_id
            )
        if self.customer_id is not None:
            await customers.touch(conn, self.customer_id)

    async def deliver(
        self, answer: AsyncGenerator[Token | Done, None]
    ) -> Response | dict[str, Any]:
        """JSON, or a stream of `token` events ending with one `done` event (the stored message
        id and the usage). Errors before the first event keep their HTTP status."""
        first = await anext(answer)
        if not self.stream:
            return result_json(await final(first, answer))

        async def body() -> AsyncIterator[str]:
            event: Token | Done | None = first
            try:
                while event is not None:
                    if isinstance(event, Token):
                        yield _sse("token", {"content": event.text})
                    else:
                        done = {**result_json(event.result), "usage": event.result.usage.tokens()}
                        yield _sse("done", done)
                    event = await anext(answer, None)
            except VoxtroError as exc:
                yield _sse("error", {"code": exc.code, "message": exc.message})
            finally:
                await answer.aclose()  # a reader gone mid-answer: settle what it cost now

        return StreamingResponse(
            body(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
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


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"
