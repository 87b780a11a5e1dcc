"""Events with one order key (a WhatsApp contact's messages to a number) are applied one at a
time, in the order they were received, however many jobs the worker runs at once; other keys
side by side; an event that fails holds back the later ones of its key until it applies; the
sweeper and a redelivery queue a job under its key again."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from backend.context import AppContext
from backend.inbound import service as inbound
from tests.fakes import whatsapp as meta
from tests.fixtures.jobs import run_inbound_jobs
from tests.whatsapp.test_receive import OTHER_WA_ID, connect_bot, fetch, post

KEY_LOCK = f"inbound.order:whatsapp:{meta.PHONE_NUMBER_ID}:{meta.WA_ID}"
SLOW = 0.4  # seconds the database takes to store each inbound message


@pytest.fixture
async def bot(client, admin, fake_graph_server) -> dict[str, Any]:
    fake_graph_server.reset()
    return await connect_bot(client, admin, fake_graph_server)


@pytest.fixture
async def slow_database(context: AppContext) -> AsyncIterator[None]:
    """The database takes SLOW seconds to store each inbound message, and notes when it
    started and finished (`test_applied`); it refuses a message whose text is in
    `test_refused` (as a full disk would) until the test removes it."""
    async with context.db.system() as conn:
        await conn.execute(
            f"""
            create table public.test_applied (content text, started timestamptz,
              ended timestamptz);
            create table public.test_refused (content text primary key);
            create function public.test_slow_message() returns trigger
            language plpgsql security definer set search_path = '' as $$
            declare
              started timestamptz := clock_timestamp();
            begin
              if exists (select 1 from public.test_refused where content = new.content) then
                raise exception 'could not extend file: No space left on device';
              end if;
              perform pg_sleep({SLOW});
              insert into public.test_applied values (new.content, started, clock_timestamp());
              return new;
            end $$;
            create trigger test_slow_message before insert on public.messages
              for each row when (new.role = 'user')
              execute function public.test_slow_message();
            """
        )
    try:
        yield
    finally:
        async with context.db.system() as conn:
            await conn.execute(
                "drop trigger test_slow_message on public.messages;"
                " drop function public.test_slow_message();"
                " drop table public.test_applied, public.test_refused"
            )


async def send(client, *texts: str, wa_id: str = meta.WA_ID) -> dict[str, Any]:
    """One POST of Meta's with a contact's messages, all dated the same second; its body."""
    at = str(int(datetime.now(UTC).timestamp()))
    messages = [meta.text_message(wa_id, text, timestamp=at) for text in texts]
    body = meta.webhook_body([meta.message_change(wa_id=wa_id, messages=messages)])
    await post(client, body)
    return body


async def applied(context: AppContext) -> list[dict[str, Any]]:
    return await fetch(context, "select * from test_applied order by started")


async def stored(context: AppContext, wa_id: str = meta.WA_ID) -> list[str]:
    """A contact's messages as their conversation shows them."""
    rows = await fetch(
        context,
        "select m.content from messages m join conversations c on c.id = m.conversation_id"
        " where c.visitor_id = %s and m.role = 'user' order by m.created_at",
        wa_id,
    )
    return [r["content"] for r in rows]


async def answers_queued(context: AppContext) -> list[str]:
    """The messages whose answer jobs were queued, in the order they were."""
    rows = await fetch(
        context,
        "select m.content from procrastinate_jobs j join messages m"
        " on m.id = (j.args ->> 'message_id')::uuid"
        " where j.task_name = 'whatsapp.answer' order by j.id",
    )
    return [r["content"] for r in rows]


async def inbox_jobs(context: AppContext) -> list[dict[str, Any]]:
    return await fetch(
        context,
        "select j.id, j.lock, j.status::text, e.payload -> 'message' -> 'text' ->> 'body' as text"
        " from procrastinate_jobs j"
        " join inbound_events e on e.id = (j.args ->> 'inbound_event_id')::bigint"
        " where j.task_name = 'inbound.process' order by j.id",
    )


def one_at_a_time(rows: list[dict[str, Any]]) -> bool:
    return all(b["started"] >= a["ended"] for a, b in itertools.pairwise(rows))


async def test_one_contacts_messages_are_applied_one_at_a_time_in_the_order_received(
    client, context, bot, slow_database
):
    """Three POSTs in quick succession, one with two messages, all of the same second: with
    four jobs at once, each message is stored after the one before, and its answer queued
    after the one before's."""
    await send(client, "one")
    await send(client, "two", "three")
    await send(client, "four")
    jobs = await inbox_jobs(context)
    assert [j["lock"] for j in jobs] == [KEY_LOCK] * 4

    await run_inbound_jobs(context, concurrency=4)
    rows = await applied(context)
    assert [r["content"] for r in rows] == ["one", "two", "three", "four"]
    assert one_at_a_time(rows)
    assert await stored(context) == ["one", "two", "three", "four"]
    assert await answers_queued(context) == ["one", "two", "three", "four"]


async def test_other_contacts_messages_are_applied_side_by_side(
    client, context, bot, slow_database
):
    await send(client, "mine")
    await send(client, "theirs", wa_id=OTHER_WA_ID)
    await send(client, "mine again")
    await run_inbound_jobs(context, concurrency=4)

    rows = await applied(context)
    mine = [r for r in rows if r["content"] != "theirs"]
    [theirs] = [r for r in rows if r["content"] == "theirs"]
    assert [r["content"] for r in mine] == ["mine", "mine again"] and one_at_a_time(mine)
    # The other contact's message was stored while the first of mine was.
    assert theirs["started"] < mine[0]["ended"] and mine[0]["started"] < theirs["ended"]


async def test_a_failing_message_holds_back_the_later_ones_of_its_contact_until_it_applies(
    client, context, bot, slow_database
):
    async with context.db.system() as conn:
        await conn.execute("insert into test_refused values ('one')")
    await send(client, "one")
    await send(client, "two")
    await send(client, "hello", wa_id=OTHER_WA_ID)
    await send(client, "three")
    await run_inbound_jobs(context, concurrency=4)
    # The first is retried later; the others of its contact wait behind it, not the other's.
    assert await stored(context) == []
    assert await stored(context, OTHER_WA_ID) == ["hello"]
    assert [(j["text"], j["status"]) for j in await inbox_jobs(context)] == [
        ("one", "todo"),
        ("two", "todo"),
        ("three", "todo"),
    ]

    # Its job runs out of retries: the next one of the contact tries it first, and waits.
    async with context.db.system() as conn:
        await conn.execute(
            "update procrastinate_jobs set status = 'failed' where id = %s",
            ((await inbox_jobs(context))[0]["id"],),
        )
    await run_inbound_jobs(context, concurrency=4)
    assert await stored(context) == []
    events = await fetch(
        context,
        "select payload -> 'message' -> 'text' ->> 'body' as text, attempts, last_error,"
        " processed_at from inbound_events where order_key is not null order by id",
    )
    one, two, _, three = events
    assert one["processed_at"] is None and "No space left on device" in one["last_error"]
    assert two["processed_at"] is None and "waiting for event" in two["last_error"]
    assert three["attempts"] == 0 and three["processed_at"] is None

    # Fixed, and time passes: all of them, in order.
    async with context.db.system() as conn:
        await conn.execute("delete from test_refused")
        await conn.execute("update procrastinate_jobs set scheduled_at = now()")
    await run_inbound_jobs(context, concurrency=4)
    assert await stored(context) == ["one", "two", "three"]
    assert await answers_queued(context) == ["hello", "one", "two", "three"]
    assert one_at_a_time([r for r in await applied(context) if r["content"] != "hello"])


async def test_the_sweeper_and_a_redelivery_queue_a_message_under_its_contacts_key(
    client, context, bot
):
    first = await send(client, "one")
    second = await send(client, "two")
    async with context.db.system() as conn:  # their jobs were lost
        await conn.execute("delete from procrastinate_jobs where task_name = 'inbound.process'")
        await conn.execute("update inbound_events set received_at = now() - interval '11 minutes'")
    assert await inbound.requeue_stale(context.db) == 2
    jobs = await inbox_jobs(context)
    assert [(j["text"], j["lock"]) for j in jobs] == [("one", KEY_LOCK), ("two", KEY_LOCK)]

    # The first one's job runs when Meta delivers both again, the second's having been lost:
    # the job running under the key is not the second's, which is queued again, under the key.
    async with context.db.system() as conn:
        await conn.execute(
            "update procrastinate_jobs set status = 'doing' where id = %s", (jobs[0]["id"],)
        )
        await conn.execute("delete from procrastinate_jobs where id = %s", (jobs[1]["id"],))
    await post(client, first)
    await post(client, second)
    assert [(j["text"], j["status"], j["lock"]) for j in await inbox_jobs(context)] == [
        ("one", "doing", KEY_LOCK),
        ("two", "todo", KEY_LOCK),
    ]
    assert await inbound.requeue_stale(context.db) == 0  # each has its job

    async with context.db.system() as conn:  # the running one is given back (a crash)
        await conn.execute(
            "update procrastinate_jobs set status = 'todo' where id = %s", (jobs[0]["id"],)
        )
    await run_inbound_jobs(context, concurrency=4)
    assert await stored(context) == ["one", "two"]
    assert await answers_queued(context) == ["one", "two"]


async def test_statuses_have_no_order_key(client, context, bot):
    """Each moves its own message forward only, whichever comes first."""
    await post(
        client,
        meta.webhook_body([meta.status_change(statuses=[meta.status("wamid.A", "delivered")])]),
    )
    [event] = await fetch(context, "select id, order_key from inbound_events")
    assert event["order_key"] is None
    [job] = await inbox_jobs(context)
    assert job["lock"] == f"{inbound.JOB_LOCK}{event['id']}"
