"""Messages as channels need them: delivery status that only moves forward, a provider's message
stored once, what the chat path writes, and one event per change."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import Counter

import pytest

from backend.context import AppContext
from backend.conversations import repository as conversations
from backend.events import repository as events
from tests.fixtures.factories import Admin, chat, create_chatbot

STATUSES = ["queued", "sent", "delivered", "read", "failed"]
FORWARD = ["queued", "sent", "delivered", "read"]


def moves(before: str, after: str) -> bool:
    """The rule, written out: forward along FORWARD; failed only before delivery; never out of
    failed."""
    if before == "failed":
        return False
    if after == "failed":
        return before in ("queued", "sent")
    return FORWARD.index(after) > FORWARD.index(before)


@pytest.fixture
async def whatsapp(context: AppContext, client, admin: Admin) -> uuid.UUID:
    """A WhatsApp conversation of the admin's workspace."""
    bot = await create_chatbot(client, admin)
    conversation_id = uuid.uuid4()
    ws = uuid.UUID(admin.workspace_id)
    async with context.db.for_workspace(ws, "test") as conn:
        await conversations.create_conversation(
            conn,
            conversation_id=conversation_id,
            workspace_id=ws,
            chatbot_id=uuid.UUID(bot["id"]),
            visitor_id="wa:919876543210",
            channel="whatsapp",
            is_preview=False,
        )
    return conversation_id


async def _event_types(context: AppContext, subject: uuid.UUID | str) -> Counter[str]:
    async with context.db.system() as conn:
        found = await events.list_for_subject(conn, uuid.UUID(str(subject)))
    return Counter(e["type"] for e in found)


async def _sent(
    context: AppContext, admin: Admin, conversation: uuid.UUID, status: str, provider_id: str
) -> uuid.UUID:
    """An answer sent on WhatsApp, at `status`."""
    ws = uuid.UUID(admin.workspace_id)
    message_id = uuid.uuid4()
    async with context.db.for_workspace(ws, "test") as conn:
        await conversations.add_message(
            conn,
            {
                "id": message_id,
                "workspace_id": ws,
                "conversation_id": conversation,
                "role": "assistant",
                "content": "Your order ships today.",
                "status": status,
                "provider_message_id": provider_id,
            },
        )
    return message_id


async def test_delivery_status_only_moves_forward_for_every_pair(context, admin, whatsapp):
    ws = uuid.UUID(admin.workspace_id)
    for n, (before, after) in enumerate(itertools.product(STATUSES, STATUSES)):
        provider_id = f"wamid.{n}"
        message_id = await _sent(context, admin, whatsapp, before, provider_id)
        async with context.db.for_workspace(ws, "test") as conn:
            moved = await conversations.advance_status(
                conn,
                workspace_id=ws,
                channel="whatsapp",
                provider_message_id=provider_id,
                status=after,  # type: ignore[arg-type]
                error_code="131026" if after == "failed" else None,
                error_message="Message undeliverable" if after == "failed" else None,
            )
            row = await conversations.message(conn, message_id)
        assert row is not None
        expected = moves(before, after)
        assert moved is expected, (before, after)
        assert row["status"] == (after if expected else before), (before, after)
        changed = (await _event_types(context, message_id))["message.status_changed"]
        assert changed == (1 if expected else 0), (before, after)
        if expected and after == "failed":
            assert (row["error_code"], row["error_message"]) == (
                "131026",
                "Message undeliverable",
            )


async def test_a_late_delivered_never_overwrites_read(context, admin, whatsapp):
    ws = uuid.UUID(admin.workspace_id)
    message_id = await _sent(context, admin, whatsapp, "sent", "wamid.late")
    reports = ["read", "delivered", "sent", "failed", "read"]
    async with context.db.for_workspace(ws, "test") as conn:
        moved = [
            await conversations.advance_status(
                conn,
                workspace_id=ws,
                message_id=message_id,
                status=status,  # type: ignore[arg-type]
            )
            for status in reports
        ]
        row = await conversations.message(conn, message_id)
    assert moved == [True, False, False, False, False]
    assert row is not None and row["status"] == "read"
    assert (await _event_types(context, message_id))["message.status_changed"] == 1


async def test_racing_reports_leave_the_furthest_status(context, admin, whatsapp):
    """`read` holds the row when `delivered` arrives: `delivered` waits, then finds `read`
    and changes nothing."""
    ws = uuid.UUID(admin.workspace_id)
    message_id = await _sent(context, admin, whatsapp, "sent", "wamid.race")
    async with context.db.for_workspace(ws, "read-report") as first:
        assert await conversations.advance_status(
            first, workspace_id=ws, message_id=message_id, status="read"
        )

        async def late_delivered() -> bool:
            async with context.db.for_workspace(ws, "delivered-report") as second:
                return await conversations.advance_status(
                    second, workspace_id=ws, message_id=message_id, status="delivered"
                )

        racing = asyncio.create_task(late_delivered())
        await asyncio.sleep(0.3)
        assert not racing.done()  # waiting for the first report's transaction
    assert await racing is False
    async with context.db.system() as conn:
        row = await conversations.message(conn, message_id)
    assert row is not None and row["status"] == "read"


async def test_advance_status_names_its_message(context, admin):
    ws = uuid.UUID(admin.workspace_id)
    async with context.db.for_workspace(ws, "test") as conn:
        with pytest.raises(ValueError):
            await conversations.advance_status(conn, workspace_id=ws, status="read")


async def test_a_providers_repeated_delivery_is_stored_once(
    context, admin, other_admin, whatsapp, client
):
    ws = uuid.UUID(admin.workspace_id)
    inbound = {
        "workspace_id": ws,
        "conversation_id": whatsapp,
        "role": "user",
        "content": "Where is my order?",
        "channel": "whatsapp",
        "provider_message_id": "wamid.HBgM",
    }
    async with context.db.for_workspace(ws, "test") as conn:
        first = await conversations.add_message_once(conn, {**inbound, "id": uuid.uuid4()})
    async with context.db.for_workspace(ws, "test") as conn:
        again = await conversations.add_message_once(
            conn, {**inbound, "id": uuid.uuid4(), "content": "Where is my order? (resent)"}
        )
    assert (first, again) == (True, False)
    async with context.db.system() as conn:
        rows = await (
            await conn.execute(
                "select id, content, direction from messages where provider_message_id = %s",
                ("wamid.HBgM",),
            )
        ).fetchall()
    assert [(r["content"], r["direction"]) for r in rows] == [("Where is my order?", "inbound")]
    assert await _event_types(context, rows[0]["id"]) == {"message.created": 1}

    # The same provider id is another message in another workspace.
    bot = await create_chatbot(client, other_admin)
    theirs = uuid.uuid4()
    other_ws = uuid.UUID(other_admin.workspace_id)
    async with context.db.for_workspace(other_ws, "test") as conn:
        await conversations.create_conversation(
            conn,
            conversation_id=theirs,
            workspace_id=other_ws,
            chatbot_id=uuid.UUID(bot["id"]),
            visitor_id="wa:1",
            channel="whatsapp",
            is_preview=False,
        )
        assert await conversations.add_message_once(
            conn, {**inbound, "workspace_id": other_ws, "conversation_id": theirs}
        )
    async with context.db.for_workspace(ws, "test") as conn:
        with pytest.raises(ValueError):
            await conversations.add_message_once(conn, {**inbound, "provider_message_id": None})


async def test_the_chat_path_writes_messages_as_channels_read_them(client, context, admin):
    """What migration 26 gives the rows the web channels write: directions from the role, the
    conversation's channel, delivered, no provider id or error."""
    bot = await create_chatbot(client, admin)
    answer = await chat(client, bot["id"], "Hello there")
    conversation = answer.json()["conversation_id"]
    async with context.db.system() as conn:
        rows = await (
            await conn.execute(
                "select role, direction, channel, status, provider_message_id, error_code,"
                " status_changed_at, agent_id from messages where conversation_id = %s"
                " order by created_at",
                (conversation,),
            )
        ).fetchall()
    assert [tuple(r.values()) for r in rows] == [
        ("user", "inbound", "widget", "delivered", None, None, None, None),
        ("assistant", "outbound", "widget", "delivered", None, None, None, None),
    ]


async def test_one_event_per_change_on_the_chat_path(client, context, admin):
    bot = await create_chatbot(client, admin)
    first = await chat(client, bot["id"], "Hello there")
    conversation = first.json()["conversation_id"]
    await chat(client, bot["id"], "My email is priya@example.com", conversation_id=conversation)
    assert await _event_types(context, conversation) == {"conversation.created": 1}
    async with context.db.system() as conn:
        messages = await (
            await conn.execute(
                "select id, role from messages where conversation_id = %s order by created_at",
                (conversation,),
            )
        ).fetchall()
        assert len(messages) == 4
        created = await events.list_since(conn, after_id=0, types=None)
    for message in messages:
        assert await _event_types(context, message["id"]) == {"message.created": 1}
    by_message = {e["subject_id"]: e for e in created if e["type"] == "message.created"}
    assert by_message[messages[0]["id"]]["payload"] == {
        "conversation_id": conversation,
        "role": "user",
        "direction": "inbound",
        "channel": "widget",
    }
    assert Counter(e["type"] for e in created) == {"conversation.created": 1, "message.created": 4}

    # A lead read from the conversation is created once; reading it again completes it.
    for _ in range(2):
        extracted = await client.post(
            f"/api/leads/extract?conversation_id={conversation}", headers=admin.headers
        )
        assert extracted.status_code == 200, extracted.text
    lead_id = extracted.json()["lead_id"]
    assert await _event_types(context, lead_id) == {"lead.created": 1}

    closed = await client.post(
        f"/api/conversations/{conversation}/close", headers=admin.headers, json={"reason": "OTHER"}
    )
    assert closed.status_code == 200
    assert await _event_types(context, conversation) == {
        "conversation.created": 1,
        "conversation.closed": 1,
    }


async def test_events_roll_back_with_the_message(context, admin, whatsapp):
    ws = uuid.UUID(admin.workspace_id)
    message_id = uuid.uuid4()
    with pytest.raises(RuntimeError):
        async with context.db.for_workspace(ws, "test") as conn:
            await conversations.add_message(
                conn,
                {
                    "id": message_id,
                    "workspace_id": ws,
                    "conversation_id": whatsapp,
                    "role": "user",
                    "content": "Hi",
                },
            )
            raise RuntimeError("the turn failed")
    assert await _event_types(context, message_id) == {}
