"""What a channel does (the web widget and API today, WhatsApp next): a message comes in, the
channel finds or starts its conversation and says who sent it and what they may see; the chat
engine answers; the channel delivers the answer its own way. Netflix Dispatch's conversation
plugin base is the model: one small interface, one class per channel.

The engine calls `open` inside the transaction that reads what a message needs and `keep`
inside the one that stores its answer, so a channel adds no transaction and no round trip of
its own; and a message that is refused (budget, key) leaves no conversation behind.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

from backend.db import Connection

if TYPE_CHECKING:
    from backend.chat.engine import ChatResult, Done, Token

# Whose orders the sender may ask about: any (a workspace's own server, through its API key),
# those placed with this phone (the national digits of a known customer's), or none.
ANY_ORDER = "*"
OrderOwner = str | None


@dataclass(frozen=True)
class Sender:
    """Who sent the message, as far as the channel can vouch, and what they may see."""

    # A person the channel vouches for: answers may be about them, so none is shared with
    # other people through the response cache.
    known: bool = False
    orders: OrderOwner = None


@dataclass(frozen=True)
class Opened:
    """The conversation a message belongs to, and who sent it."""

    conversation_id: UUID
    is_new: bool  # stored only with the first answer (`Channel.keep`)
    history: list[dict[str, str]] = field(default_factory=list)
    sender: Sender = Sender()
    # The delivery status the answer is stored with: None for the web's (delivered as it is
    # stored); `queued` for a channel that sends it afterwards (WhatsApp).
    answer_status: str | None = None


class Channel(Protocol):
    @property
    def name(self) -> str:
        """The conversation's channel, and the database principal of its work (`chat:<name>`)."""
        ...

    @property
    def label(self) -> str:
        """The channel as usage and cache rows name it: CHAT, API, PORTAL, WHATSAPP."""
        ...

    async def open(self, conn: Connection, chatbot_id: UUID, *, history: int) -> Opened:
        """The message's conversation (with its last `history` messages: for a question the
        channel stored, those before it) and sender, under the bot's workspace's claims; a
        conversation that is not the sender's is a 404."""
        ...

    async def keep(
        self,
        conn: Connection,
        opened: Opened,
        *,
        workspace_id: UUID,
        chatbot_id: UUID,
        answer: ChatResult,
    ) -> None:
        """Store what the channel knows of the conversation (a new one, a sender who has just
        identified), and whatever sending the answer needs (WhatsApp's outbox), in the
        transaction that stores the answer: an answer stored is an answer on its way."""
        ...

    async def deliver(self, answer: AsyncGenerator[Token | Done, None]) -> Any:
        """Hand the engine's answer (tokens, then one `Done`) to whoever asked."""
        ...
