"""What Meta's webhook events do (the inbox's handler for WhatsApp), in the inbox job's
transaction under the event's workspace:

- a message: its contact (by WhatsApp id, with the profile name) and their last inbound time,
  the bot's open conversation with them on the number, the message stored once (its kind,
  a readable line, its typed details), the consent keywords (STOP, START and the workspace's
  own words), and, when it has words to answer, the bot is on and no person has taken the
  conversation over, the `whatsapp.answer` job: one contact's answers one at a time, in order
  (the job's lock);
- a status: the send it is about (by Meta's id, or by ours that travels as
  `biz_opaque_callback_data`), settled when its own outcome was lost, and its message's
  delivery status moved forward (never back); 131047 closes the contact's 24-hour window;
- a system error: logged, nothing else.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final
from uuid import UUID, uuid4

import structlog
from psycopg.types.json import Jsonb

from backend.contacts import repository as contact_repository
from backend.contacts import service as contacts
from backend.conversations import repository as conversations
from backend.conversations.repository import DeliveryStatus
from backend.db import Connection, as_login_role
from backend.inbound.schemas import InboundEvent
from backend.integrations.whatsapp import webhooks
from backend.kit import payloads
from backend.tasks import task_app
from backend.whatsapp import repository
from backend.whatsapp.answers import ANSWER_QUEUE, ANSWER_TASK

log = structlog.get_logger(__name__)

CHANNEL: Final = "whatsapp"
OPT_OUT = "STOP"
OPT_IN = "START"
# Meta's "re-engagement message": more than 24 hours since the person last wrote.
WINDOW_CLOSED = 131047

# Meta's statuses as our delivery statuses (`played`: a voice message was listened to).
_STATUSES: dict[str, DeliveryStatus] = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "played": "read",
    "failed": "failed",
}


def answer_lock(contact_id: UUID) -> str:
    """One contact's answers run one at a time, in the order their messages were stored."""
    return f"{ANSWER_TASK}:{contact_id}"


async def handle_event(conn: Connection, event: InboundEvent) -> str | None:
    assert event.workspace_id is not None  # stored with its number's workspace
    payload = payloads.obj(event.payload)
    kind = event.type or ""
    if kind.startswith("message."):
        return await _message(conn, event.workspace_id, payload)
    if kind.startswith("status."):
        return await _status(conn, event.workspace_id, payload)
    if kind == "error":
        error = payloads.obj(payload.get("error"))
        log.warning(
            "whatsapp_system_error",
            phone_number_id=payload.get("phone_number_id"),
            code=error.get("code"),
            title=error.get("title"),
            details=payloads.obj(error.get("error_data")).get("details"),
        )
        return f"system error {error.get('code')}: {error.get('title') or error.get('message')}"
    return f"ignored: unknown event type {event.type!r}"


# -- messages -------------------------------------------------------------------------------------


def _keyword(said: str, words: list[str]) -> str | None:
    """The word the whole message is (trimmed, in any case), if it is one of `words`."""
    said = said.strip().casefold()
    return next((word for word in words if word.strip().casefold() == said), None)


async def _consent(conn: Connection, workspace_id: UUID, contact_id: UUID, said: str) -> bool:
    """Apply a consent keyword; True when the message was one (it is not answered)."""
    own = await repository.keywords(conn, workspace_id)
    for opted_in, words in ((False, [OPT_OUT, *own["opt_out"]]), (True, [OPT_IN, *own["opt_in"]])):
        word = _keyword(said, words)
        if word is not None:
            await contacts.set_consent(
                conn=conn,
                workspace_id=workspace_id,
                contact_id=contact_id,
                opted_in=opted_in,
                source=f"{CHANNEL}:{word.strip()}"[:100],
            )
            return True
    return False


async def _queue_answer(conn: Connection, message_id: UUID, contact_id: UUID) -> None:
    # By name (whatsapp/tasks.py declares it, and imports this module).
    deferrer = task_app.configure_task(
        ANSWER_TASK, connection=conn, queue=ANSWER_QUEUE, lock=answer_lock(contact_id)
    )
    async with as_login_role(conn):  # the queue's tables are closed to the API roles
        await deferrer.defer_async(message_id=str(message_id))


def _phone(wa_id: str) -> str | None:
    """The digits a conversation's `phone` keeps (what the stats show and search)."""
    return wa_id if wa_id.isdigit() and 6 <= len(wa_id) <= 15 else None


async def _message(conn: Connection, workspace_id: UUID, payload: dict[str, Any]) -> str | None:
    message = payloads.obj(payload.get("message"))
    sender = payloads.obj(payload.get("contact"))
    phone_number_id = payloads.text(payload.get("phone_number_id"))
    wa_id = payloads.text(sender.get("wa_id"))
    wamid = payloads.text(message.get("id"))
    if phone_number_id is None or wa_id is None or wamid is None:
        return "ignored: a message without its number, sender or id"
    number = await repository.receiving_number(conn, workspace_id, phone_number_id)
    if number is None:
        return "ignored: the number is no longer connected to this workspace"
    contact, _ = await contacts.find_or_create_by_identity(
        conn=conn,
        workspace_id=workspace_id,
        channel=CHANNEL,
        external_id=wa_id,
        profile_name=payloads.text(sender.get("profile_name")),
    )
    at = webhooks.moment(message) or datetime.now(UTC)
    await contacts.record_inbound(
        conn=conn, workspace_id=workspace_id, contact_id=contact["id"], channel=CHANNEL, at=at
    )
    conversation, _ = await conversations.open_contact_conversation(
        conn,
        workspace_id=workspace_id,
        chatbot_id=number["chatbot_id"],
        contact_id=contact["id"],
        channel=CHANNEL,
        channel_account=phone_number_id,
        visitor_id=wa_id,
        phone=_phone(wa_id),
        customer_id=contact["customer_id"],
    )
    if conversation["customer_id"] is None and contact["customer_id"] is not None:
        # The contact became a known customer after the conversation started.
        await conversations.identify_conversation(
            conn, conversation["id"], None, contact["customer_id"]
        )
    # Meta's time, to the second; but never before what the conversation already shows (the
    # bot's answer to the message before, another message of the same second): a conversation
    # reads in the order it happened here.
    latest = await conversations.latest_message_at(conn, conversation["id"])
    if latest is not None and at <= latest:
        at = latest + timedelta(microseconds=1)
    kind, content, details = webhooks.message_summary(message)
    message_id = uuid4()
    stored = await conversations.add_message_once(
        conn,
        {
            "id": message_id,
            "workspace_id": workspace_id,
            "conversation_id": conversation["id"],
            "role": "user",
            "channel": CHANNEL,
            "kind": kind,
            "content": content,
            "details": Jsonb(details),
            "provider_message_id": wamid,
            "created_at": at,
        },
    )
    if not stored:
        return "ignored: the message was stored before"
    await conversations.touch_conversation(conn, conversation["id"], added=1, escalate=False)
    said = webhooks.message_text(message)
    if said is None:
        return None  # nothing to answer: a reaction, a sticker, a location…
    if await _consent(conn, workspace_id, contact["id"], said):
        return None
    if not number["enabled"]:
        return "not answered: the bot's WhatsApp is switched off"
    if conversation["status"] != "active":
        return f"not answered: the conversation is {conversation['status']}"
    await _queue_answer(conn, message_id, contact["id"])
    return None


# -- statuses -------------------------------------------------------------------------------------


def _uuid(value: Any) -> UUID | None:
    try:
        return UUID(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _error(status: dict[str, Any]) -> tuple[str | None, str | None]:
    """Meta's first error of a failed status: its code, and its title with the details."""
    errors = [e for e in status.get("errors") or [] if isinstance(e, dict)]
    if not errors:
        return None, None
    first = errors[0]
    code = first.get("code")
    title = payloads.text(first.get("title")) or payloads.text(first.get("message"))
    details = payloads.text(payloads.obj(first.get("error_data")).get("details"))
    message = ": ".join(dict.fromkeys(part for part in (title, details) if part)) or None
    return (str(code)[:100] if code is not None else None), (message[:2000] if message else None)


async def _status(conn: Connection, workspace_id: UUID, payload: dict[str, Any]) -> str | None:
    status = payloads.obj(payload.get("status"))
    wamid = payloads.text(status.get("id"), 200)
    state = _STATUSES.get(str(status.get("status")))
    if wamid is None or state is None:
        return f"ignored: status {status.get('status')!r}"
    row = await repository.outbox_for_status(
        conn, workspace_id, wamid=wamid, outbox_id=_uuid(status.get("biz_opaque_callback_data"))
    )
    if row is None:
        return "unknown message"
    if row["wamid"] is None or row["status"] in ("queued", "sending"):
        # Meta has the send: its outcome, lost to a crash or a timeout, is this.
        await repository.settle_outbox(conn, row["id"], wamid)
    code, message = _error(status) if state == "failed" else (None, None)
    moved = await conversations.advance_status(
        conn,
        workspace_id=workspace_id,
        status=state,
        message_id=row["message_id"],
        error_code=code,
        error_message=message,
    )
    if code == str(WINDOW_CLOSED):
        contact = await contact_repository.by_identity(
            conn, workspace_id=workspace_id, channel=CHANNEL, external_id=row["recipient"]
        )
        if contact is not None:
            await contact_repository.close_window(
                conn,
                workspace_id=workspace_id,
                contact_id=contact["id"],
                channel=CHANNEL,
                at=webhooks.moment(status) or datetime.now(UTC),
            )
    return None if moved else f"no change: the message is already past {state}"
