"""Meta's status webhooks on what we sent: a message's delivery status only moves forward
whatever order the statuses come in, a failure keeps Meta's error, 131047 closes the contact's
24-hour window (a newer message opens it again), and a send whose outcome was lost is settled
by its status (found by the outbox id Meta sends back)."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from backend.context import AppContext
from backend.conversations import repository as conversations
from backend.whatsapp import outbox
from tests.fakes import whatsapp as meta
from tests.fakes.whatsapp import PHONE_NUMBER_ID, WA_ID
from tests.fixtures.factories import Admin
from tests.fixtures.jobs import run_inbound_jobs
from tests.whatsapp.test_receive import connect_bot, deliver, fetch, post

WAMID = "wamid.HBgMOTE5ODc2NTQzMjEwFQIAERgSQUJDREVGMDEyMzQ1Njc4OQA="


async def statuses(client: httpx.AsyncClient, context: AppContext, *items: dict[str, Any]) -> None:
    """Meta reports on our sends, one delivery per status (as it does), and the inbox applies
    them."""
    for item in items:
        await post(client, meta.webhook_body([meta.status_change(statuses=[item])]))
    await run_inbound_jobs(context)


async def send(context: AppContext, admin: Admin, *, wamid: str | None, state: str) -> UUID:
    """The bot's answer to the contact's message, queued in the outbox; then, as the sender
    leaves it, `sent` with Meta's id, or `sending` with the call's outcome lost."""
    workspace_id = UUID(admin.workspace_id)
    [conversation] = await fetch(context, "select id from conversations")
    message_id = uuid4()
    async with context.db.for_workspace(workspace_id, "test") as conn:
        await conversations.add_message(
            conn,
            {
                "id": message_id,
                "workspace_id": workspace_id,
                "conversation_id": conversation["id"],
                "role": "assistant",
                "channel": "whatsapp",
                "content": "Your order ORD-9271 has shipped",
                "status": "queued",
            },
        )
        await outbox.queue(
            conn,
            workspace_id=workspace_id,
            message_id=message_id,
            phone_number_id=PHONE_NUMBER_ID,
            recipient=WA_ID,
            payloads=[{"to": WA_ID, "type": "text", "text": {"body": "Your order has shipped"}}],
            kind="chat",
        )
    async with context.db.system() as conn:
        await conn.execute(
            "update whatsapp_outbox set status = %s, wamid = %s, attempts = 1,"
            " claimed_at = now(), sent_at = case when %s = 'sent' then now() end",
            (state, wamid, state),
        )
        if state == "sent":
            await conn.execute(
                "update messages set status = 'sent', provider_message_id = %s where id = %s",
                (wamid, message_id),
            )
    return message_id


@pytest.fixture
async def bot(client, admin, graph) -> dict[str, Any]:
    return await connect_bot(client, admin, graph)


@pytest.fixture
async def answer(client, context, admin, bot) -> UUID:
    await deliver(client, meta.text_message(body="Where is my order?"))
    await run_inbound_jobs(context)
    return await send(context, admin, wamid=WAMID, state="sent")


async def message_status(context: AppContext, message_id: UUID) -> dict[str, Any]:
    [row] = await fetch(
        context,
        "select status, error_code, error_message, provider_message_id from messages where id = %s",
        message_id,
    )
    return row


async def status_events(context: AppContext) -> list[str]:
    rows = await fetch(
        context,
        "select payload from events where type = 'message.status_changed' order by id",
    )
    return [r["payload"]["status"] for r in rows]


async def test_statuses_in_order_move_the_message_to_read(client, context, admin, answer):
    await statuses(client, context, meta.status(WAMID, "sent"), meta.status(WAMID, "delivered"))
    assert (await message_status(context, answer))["status"] == "delivered"
    await statuses(client, context, meta.status(WAMID, "read"))
    assert (await message_status(context, answer))["status"] == "read"
    assert await status_events(context) == ["delivered", "read"]  # `sent` it was already
    [conversation] = await fetch(context, "select id from conversations")
    listed = await client.get(
        f"/api/conversations/{conversation['id']}/messages", headers=admin.headers
    )
    assert [m["status"] for m in listed.json()["data"]] == ["DELIVERED", "READ"]


async def test_statuses_out_of_order_never_move_it_back(client, context, answer):
    await statuses(client, context, meta.status(WAMID, "read"), meta.status(WAMID, "delivered"))
    assert (await message_status(context, answer))["status"] == "read"
    # A failure reported after it was read changes nothing either.
    await statuses(client, context, meta.status(WAMID, "failed", errors=[meta.error(131026)]))
    row = await message_status(context, answer)
    assert (row["status"], row["error_code"]) == ("read", None)
    assert await status_events(context) == ["read"]
    notes = await fetch(
        context, "select last_error from inbound_events where type like 'status.%%' order by id"
    )
    assert [n["last_error"] for n in notes] == [
        None,
        "no change: the message is already past delivered",
        "no change: the message is already past failed",
    ]


async def test_a_repeated_status_is_applied_once(client, context, answer):
    await statuses(
        client, context, meta.status(WAMID, "delivered"), meta.status(WAMID, "delivered")
    )
    events = await fetch(context, "select event_id from inbound_events where type like 'status.%%'")
    assert [e["event_id"] for e in events] == [f"status:{WAMID}:delivered"]
    assert await status_events(context) == ["delivered"]


async def test_a_voice_message_played_reads_as_read(client, context, answer):
    await statuses(client, context, meta.status(WAMID, "played"))
    assert (await message_status(context, answer))["status"] == "read"


async def test_a_failure_keeps_metas_error(client, context, answer):
    await statuses(
        client,
        context,
        meta.status(
            WAMID, "failed", errors=[meta.error(131026, details="The number is not on WhatsApp")]
        ),
    )
    row = await message_status(context, answer)
    assert (row["status"], row["error_code"]) == ("failed", "131026")
    assert row["error_message"] == "Message undeliverable: The number is not on WhatsApp"
    await statuses(client, context, meta.status(WAMID, "delivered"))  # too late: it failed
    assert (await message_status(context, answer))["status"] == "failed"


async def window(context: AppContext) -> dict[str, Any]:
    [row] = await fetch(
        context, "select last_inbound_at, window_closed_at from contact_last_inbound"
    )
    return row


async def test_131047_closes_the_window_and_a_newer_message_opens_it(client, context, answer):
    before = await window(context)
    assert before["window_closed_at"] is None
    await statuses(client, context, meta.status(WAMID, "failed", errors=[meta.error(131047)]))
    row = await message_status(context, answer)
    assert (row["status"], row["error_code"]) == ("failed", "131047")
    assert row["error_message"].startswith("Re-engagement message")
    closed = (await window(context))["window_closed_at"]
    assert closed is not None and closed >= before["last_inbound_at"]

    # A message that was written before the window closed, delivered late, does not open it.
    late = str(int(before["last_inbound_at"].timestamp()) - 60)
    await deliver(client, meta.text_message(body="hello?", timestamp=late))
    await run_inbound_jobs(context)
    assert (await window(context))["window_closed_at"] == closed
    # One written after does.
    await deliver(
        client, meta.text_message(body="Hi again", timestamp=str(int(closed.timestamp()) + 5))
    )
    await run_inbound_jobs(context)
    assert (await window(context))["window_closed_at"] is None


async def test_a_send_whose_outcome_was_lost_is_settled_by_its_status(client, context, admin, bot):
    await deliver(client, meta.text_message(body="Where is my order?"))
    await run_inbound_jobs(context)
    message_id = await send(context, admin, wamid=None, state="sending")  # crashed mid-call
    [row] = await fetch(context, "select id from whatsapp_outbox")
    outbox_id = str(row["id"])

    await statuses(
        client, context, meta.status(WAMID, "delivered", biz_opaque_callback_data=outbox_id)
    )
    [settled] = await fetch(context, "select status, wamid, sent_at from whatsapp_outbox")
    assert (settled["status"], settled["wamid"]) == ("sent", WAMID)
    assert settled["sent_at"] is not None
    row = await message_status(context, message_id)
    assert (row["status"], row["provider_message_id"]) == ("delivered", WAMID)
    # Later statuses name only Meta's id: found by it now.
    await statuses(client, context, meta.status(WAMID, "read"))
    assert (await message_status(context, message_id))["status"] == "read"


async def test_a_status_for_a_message_we_never_sent_changes_nothing(client, context, answer):
    await statuses(
        client,
        context,
        meta.status("wamid.someone-else", "read", biz_opaque_callback_data=str(uuid4())),
        meta.status("wamid.junk", "read", biz_opaque_callback_data="not-an-id"),
    )
    notes = await fetch(context, "select last_error from inbound_events where type = 'status.read'")
    assert [n["last_error"] for n in notes] == ["unknown message", "unknown message"]
    assert (await message_status(context, answer))["status"] == "sent"
    [row] = await fetch(context, "select wamid, status from whatsapp_outbox")
    assert (row["wamid"], row["status"]) == (WAMID, "sent")
