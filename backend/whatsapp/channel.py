"""The WhatsApp channel of the chat engine: a contact's message, stored when Meta delivered it,
answered in its conversation (the bot's with that contact on one of its numbers), the answer
sent back on the same number through the outbox.

WhatsApp vouches for the sender's phone, so the contact may ask about the orders placed with
that phone, and nobody else's. The answer is queued in the transaction that stores it
(`keep`): an answer stored is an answer sent, exactly once."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from uuid import UUID

from backend.chat.engine import ChatResult, Done, Token, final
from backend.conversations import repository as conversations
from backend.conversations.channel import Opened, Sender
from backend.db import Connection
from backend.errors import NotFound
from backend.kit.phones import national_digits
from backend.whatsapp import formatting, outbox, repository


class QuestionNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("The message to answer is not in this bot's conversation")


@dataclass
class WhatsAppChat:
    """An inbound message (`question_id`, stored) of a contact (`wa_id`, their WhatsApp id; `phone`,
    their number in E.164) to a bot's number (`phone_number_id`)."""

    conversation_id: UUID
    question_id: UUID
    wa_id: str
    phone_number_id: str
    phone: str | None = None
    name: str = "whatsapp"
    label: str = "WHATSAPP"

    async def open(self, conn: Connection, chatbot_id: UUID, *, history: int) -> Opened:
        conversation = await conversations.conversation(conn, self.conversation_id, chatbot_id)
        if conversation is None:
            raise QuestionNotFound()
        return Opened(
            self.conversation_id,
            is_new=False,
            history=await repository.history_before(conn, self.question_id, limit=history),
            sender=Sender(known=True, orders=national_digits(self.phone or f"+{self.wa_id}")),
            answer_status="queued",  # until Meta says it was sent
        )

    async def keep(
        self,
        conn: Connection,
        opened: Opened,
        *,
        workspace_id: UUID,
        chatbot_id: UUID,
        answer: ChatResult,
    ) -> None:
        text = formatting.with_sources(formatting.to_whatsapp(answer.message), answer.citations)
        await outbox.queue(
            conn,
            workspace_id=workspace_id,
            message_id=answer.message_id,
            phone_number_id=self.phone_number_id,
            recipient=self.wa_id,
            payloads=[
                {
                    "to": self.wa_id,
                    "type": "text",
                    "text": {"body": part, "preview_url": formatting.has_link(part)},
                }
                for part in formatting.split(text)
            ],
            kind="chat",
            job_delay_seconds=0,
        )

    async def deliver(self, answer: AsyncGenerator[Token | Done, None]) -> ChatResult:
        """The stored answer: it reaches the contact through the outbox."""
        return await final(await anext(answer), answer)
