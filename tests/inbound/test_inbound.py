"""The inbox, end to end through VAPI's webhook: a delivery is answered at once and kept once,
its job stores the call once however often it is delivered or run, a failure half-way is
retried without a trace of the failed attempt, and nothing is lost between storing and
processing (a worker that never ran, a job that was lost)."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import psycopg
import pytest

from backend.context import AppContext
from backend.inbound import registry
from backend.inbound import service as inbound
from backend.tasks import TASK_MODULES
from tests.conftest import app_with, make_settings
from tests.fakes.vapi import PRIVATE_KEY, PUBLIC_KEY, FakeVapi
from tests.fixtures.factories import Admin
from tests.fixtures.jobs import run_inbound_jobs
from tests.voice.vapi.test_vapi import CALL_ID, end_of_call_report


@pytest.fixture(scope="module")
def vapi_server() -> Iterator[FakeVapi]:
    with FakeVapi() as fake:
        yield fake


@pytest.fixture
async def voice(
    database_url: str, vapi_server: FakeVapi
) -> AsyncIterator[tuple[httpx.AsyncClient, AppContext]]:
    vapi_server.reset()
    async with app_with(database_url, vapi_base_url=vapi_server.url) as (client, context):
        yield client, context


async def connect(client: httpx.AsyncClient, admin: Admin) -> str:
    """Connect the admin's workspace to VAPI; its webhook secret."""
    response = await client.post(
        "/api/voice/connect",
        headers=admin.headers,
        json={"private_key": PRIVATE_KEY, "public_key": PUBLIC_KEY},
    )
    assert response.status_code == 200, response.text
    value: str = response.json()["webhook_secret"]
    return value


@pytest.fixture
async def secret(voice: tuple[httpx.AsyncClient, AppContext], admin: Admin) -> str:
    return await connect(voice[0], admin)


async def deliver(client: httpx.AsyncClient, secret: str, **report: Any) -> None:
    response = await client.post(
        "/api/webhooks/vapi", headers={"X-Vapi-Secret": secret}, json=end_of_call_report(**report)
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"received": True}


async def fetch(context: AppContext, query: str, *args: Any) -> list[dict[str, Any]]:
    async with context.db.system() as conn:
        return await (await conn.execute(query, args)).fetchall()


async def calls(context: AppContext) -> list[dict[str, Any]]:
    return await fetch(context, "select provider_call_id, status from calls")


async def call_ended_events(context: AppContext) -> list[dict[str, Any]]:
    return await fetch(context, "select subject_id from events where type = 'call.ended'")


async def jobs(context: AppContext) -> list[str]:
    rows = await fetch(
        context,
        "select status::text from procrastinate_jobs where task_name = 'inbound.process'"
        " order by id",
    )
    return [r["status"] for r in rows]


async def test_a_delivery_is_answered_at_once_and_its_job_stores_the_call(voice, secret, admin):
    client, context = voice
    await deliver(client, secret)
    [event] = await fetch(context, "select * from inbound_events")
    assert (event["provider"], event["event_id"], event["type"]) == (
        "vapi",
        f"end-of-call-report:{CALL_ID}",
        "end-of-call-report",
    )
    assert str(event["workspace_id"]) == admin.workspace_id
    assert event["payload"] == end_of_call_report()
    assert event["processed_at"] is None
    assert await calls(context) == []  # answered before it is applied
    assert await jobs(context) == ["todo"]

    await run_inbound_jobs(context)
    assert await calls(context) == [{"provider_call_id": CALL_ID, "status": "resolved"}]
    [event] = await fetch(context, "select processed_at, attempts, last_error from inbound_events")
    assert event["processed_at"] is not None
    assert (event["attempts"], event["last_error"]) == (1, None)
    assert await jobs(context) == []  # succeeded


async def test_a_duplicate_delivery_is_stored_once_and_processed_once(voice, secret):
    client, context = voice
    for _ in range(3):  # VAPI retries a delivery it thinks failed
        await deliver(client, secret)
    assert len(await fetch(context, "select id from inbound_events")) == 1
    assert await jobs(context) == ["todo"]  # one job, however often it came
    await run_inbound_jobs(context)
    await deliver(client, secret)  # once more, after it was applied: nothing to do
    assert await jobs(context) == []
    await run_inbound_jobs(context)

    assert len(await calls(context)) == 1
    assert len(await call_ended_events(context)) == 1
    [event] = await fetch(context, "select attempts from inbound_events")
    assert event["attempts"] == 1


async def test_a_crash_between_storing_and_processing_loses_nothing(database_url, voice, secret):
    """The web process stored the delivery and died before any worker ran: a worker started
    later (another process) applies it."""
    client, context = voice
    await deliver(client, secret)
    assert await calls(context) == []

    restarted = AppContext.build(make_settings(database_url))
    await restarted.db.open()
    try:
        await run_inbound_jobs(restarted)
    finally:
        await restarted.aclose()
    assert await calls(context) == [{"provider_call_id": CALL_ID, "status": "resolved"}]
    assert len(await call_ended_events(context)) == 1


async def test_an_event_whose_job_was_lost_is_swept_and_processed(voice, secret):
    """Its job is gone (failed for good, or lost with a queue restored from a backup): the
    sweeper queues it again once it has waited long enough, and only then."""
    client, context = voice
    await deliver(client, secret)
    async with context.db.system() as conn:
        await conn.execute("delete from procrastinate_jobs where task_name = 'inbound.process'")
    assert await inbound.requeue_stale(context.db) == 0  # too recent: its job may be running
    async with context.db.system() as conn:
        await conn.execute("update inbound_events set received_at = now() - interval '11 minutes'")
    assert await inbound.requeue_stale(context.db) == 1
    assert await inbound.requeue_stale(context.db) == 0  # its job waits: once
    await run_inbound_jobs(context)
    assert len(await calls(context)) == 1
    assert await inbound.requeue_stale(context.db) == 0  # processed


@pytest.fixture
async def fail_once(context: AppContext) -> AsyncIterator[None]:
    """The database refuses the first `call.ended` event written after this (as a full disk or
    a failover would), then accepts them again. A sequence counts: it is not rolled back with
    the transaction that failed."""
    async with context.db.system() as conn:
        await conn.execute(
            """
            create sequence public.test_fail_once;
            create function public.test_fail_once() returns trigger language plpgsql as $$
            begin
              if nextval('public.test_fail_once') = 1 then
                raise exception 'could not extend file: No space left on device';
              end if;
              return new;
            end $$;
            create trigger test_fail_once before insert on public.events
              for each row when (new.type = 'call.ended')
              execute function public.test_fail_once();
            """
        )
    try:
        yield
    finally:
        async with context.db.system() as conn:
            await conn.execute(
                "drop trigger test_fail_once on public.events;"
                " drop function public.test_fail_once(); drop sequence public.test_fail_once"
            )


async def test_a_job_that_fails_half_way_is_retried_and_applies_the_event_once(
    voice, secret, fail_once
):
    """The call was stored, then writing its event failed: the attempt leaves nothing behind
    (no call without its event), the error is kept on the event, and the retry applies it."""
    client, context = voice
    await deliver(client, secret)
    await run_inbound_jobs(context)

    assert await calls(context) == []
    [event] = await fetch(context, "select processed_at, attempts, last_error from inbound_events")
    assert event["processed_at"] is None and event["attempts"] == 1
    assert "No space left on device" in event["last_error"]
    [job] = await fetch(
        context,
        "select id, status::text, scheduled_at > now() as later from procrastinate_jobs"
        " where task_name = 'inbound.process'",
    )
    assert (job["status"], job["later"]) == ("todo", True)  # retried, after a wait

    async with context.db.system() as conn:  # time passes
        await conn.execute(
            "update procrastinate_jobs set scheduled_at = now() where id = %s", (job["id"],)
        )
    await run_inbound_jobs(context)
    assert len(await calls(context)) == 1
    assert len(await call_ended_events(context)) == 1
    [event] = await fetch(context, "select processed_at, attempts, last_error from inbound_events")
    assert event["processed_at"] is not None
    assert (event["attempts"], event["last_error"]) == (2, None)


async def test_refused_deliveries_store_nothing(voice, secret):
    client, context = voice
    wrong = await client.post(
        "/api/webhooks/vapi", headers={"X-Vapi-Secret": "wrong"}, json=end_of_call_report()
    )
    assert wrong.status_code == 401
    no_id = await client.post(
        "/api/webhooks/vapi",
        headers={"X-Vapi-Secret": secret},
        json=end_of_call_report(call={"type": "webCall"}),
    )
    assert no_id.status_code == 400
    assert no_id.json()["errors"] == [{"field": "message.call.id", "message": "required"}]
    # Messages we do not act on are acknowledged, not kept.
    update = await client.post(
        "/api/webhooks/vapi",
        headers={"X-Vapi-Secret": secret},
        json={"message": {"type": "status-update", "status": "in-progress", "call": {"id": "x"}}},
    )
    assert update.status_code == 200 and update.json() == {"received": True}
    assert await fetch(context, "select id from inbound_events") == []
    assert await jobs(context) == []


async def test_one_provider_account_in_two_workspaces_keeps_a_copy_for_each(
    voice, secret, other_admin
):
    """The same report delivered to two workspaces (one VAPI account connected to both) is kept
    for each, as their calls are."""
    client, context = voice
    await deliver(client, secret)
    await deliver(client, await connect(client, other_admin))
    await run_inbound_jobs(context)
    rows = await fetch(context, "select workspace_id from calls")
    assert len({r["workspace_id"] for r in rows}) == 2


async def test_members_cannot_read_or_write_the_inbox(voice, secret, admin):
    client, context = voice
    await deliver(client, secret)
    claims = {"sub": admin.user_id, "role": "authenticated", "email": admin.email}
    for statement in (
        "select * from public.inbound_events",
        "update public.inbound_events set processed_at = now()",
        "delete from public.inbound_events",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            async with context.db.as_claims(claims) as conn:
                await conn.execute(statement)
    assert (
        len(await fetch(context, "select id from inbound_events where processed_at is null")) == 1
    )


def test_the_worker_has_a_handler_for_every_provider():
    """`voxtro worker` imports only TASK_MODULES: a provider whose handler is registered
    anywhere else would have its events kept and never applied."""
    for module in TASK_MODULES:
        importlib.import_module(module)
    missing = [p for p in registry.Provider if registry.handler_for(p) is None]
    assert missing == []
