"""The bot answering a contact's WhatsApp message: the `whatsapp.answer` job's work.

The inbox's handler stores the message and defers the job with a lock per contact, so a
contact's messages are answered one at a time, in order, each with the answers before it in its
history. The job is idempotent: a message answered already (`reply_to` is unique), a message
whose conversation a person took over (escalated) or closed, a bot whose WhatsApp was switched
off, or a message gone, is not answered. What the workspace must fix (its budget, its OpenAI
key) leaves the message unanswered, logged; a model outage is raised, for the job's retry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

import structlog

from backend.chat.engine import ChatEngine, ChatInput, ChatResult, ProviderKeyRefused
from backend.errors import VoxtroError
from backend.whatsapp import repository
from backend.whatsapp.channel import WhatsAppChat

if TYPE_CHECKING:
    from backend.context import AppContext

log = structlog.get_logger(__name__)

ANSWER_TASK = "whatsapp.answer"
# Apart from the sends' queue: a worker running only sends never waits on a model.
ANSWER_QUEUE = "whatsapp_answers"


def question_text(kind: str, content: str, details: dict[str, Any]) -> str | None:
    """What the contact asked, as stored: a text's or a button's words, an interactive
    reply's title, a media caption; None for a message without words (a location, a sticker)."""
    if kind in ("text", "button"):
        return content or None
    if kind == "interactive":
        return (details.get("reply") or {}).get("title") or None
    return (details.get("media") or {}).get("caption") or None


def _skipped(found: dict[str, Any] | None) -> str | None:
    """Why a message gets no answer, if it does not."""
    if found is None:
        return "gone"
    if found["role"] != "user" or found["contact_id"] is None or found["channel_account"] is None:
        return "not a contact's message"
    if found["answered"]:
        return "answered"
    if found["conversation_status"] in ("escalated", "closed"):
        return f"conversation {found['conversation_status']}"
    if not found["enabled"]:
        return "whatsapp disabled"
    if question_text(found["kind"], found["content"], found["details"]) is None:
        return "no text"
    return None


async def answer(context: AppContext, message_id: UUID) -> ChatResult | None:
    """Answer an inbound message (the answer queued to be sent); None when it gets none."""
    async with context.db.system() as conn:
        found = await repository.question(conn, message_id)
    reason = _skipped(found)
    if reason is not None or found is None:
        log.info("whatsapp_answer_skipped", message_id=str(message_id), reason=reason)
        return None
    channel = WhatsAppChat(
        conversation_id=found["conversation_id"],
        question_id=message_id,
        wa_id=found["wa_id"],
        phone_number_id=found["channel_account"],
        phone=found["phone"],
    )
    turn = ChatInput(
        found["chatbot_id"],
        message=question_text(found["kind"], found["content"], found["details"]) or "",
        channel=channel,
        message_id=message_id,
        fallback_on_outage=False,
    )
    try:
        result = await ChatEngine.build(context).reply(turn)
    except VoxtroError as exc:
        # The workspace's to fix (its budget, its key, a bot switched off): trying again will
        # not help, and nothing is sent. An outage is for the job's retry.
        if exc.retryable and not isinstance(exc, ProviderKeyRefused):
            raise
        log.warning(
            "whatsapp_answer_refused",
            message_id=str(message_id),
            chatbot_id=str(found["chatbot_id"]),
            code=exc.code,
            reason=exc.message,
        )
        return None
    log.info("whatsapp_answered", message_id=str(message_id), source=result.source)
    return result
