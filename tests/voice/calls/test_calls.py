"""`call.ended`: written once per call, in the transaction that stores the call as ended,
whichever provider reports it and however often (repeats, late deliveries, an import of a call
whose report also came, two deliveries applied at the same moment)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from backend.context import AppContext
from backend.inbound import service as inbound
from tests.conftest import app_with
from tests.fakes.bolna import API_KEY, FakeBolna, execution
from tests.fakes.vapi import PRIVATE_KEY, PUBLIC_KEY, FakeVapi
from tests.fixtures.factories import Admin
from tests.fixtures.jobs import run_inbound_jobs
from tests.voice.vapi.test_vapi import end_of_call_report

EXECUTION_ID = "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"


@pytest.fixture(scope="module")
def bolna_server() -> Iterator[FakeBolna]:
    with FakeBolna() as fake:
        yield fake


@pytest.fixture(scope="module")
def vapi_server() -> Iterator[FakeVapi]:
    with FakeVapi() as fake:
        yield fake


@pytest.fixture
async def api(
    database_url: str, bolna_server: FakeBolna, vapi_server: FakeVapi
) -> AsyncIterator[tuple[httpx.AsyncClient, AppContext]]:
    bolna_server.reset()
    vapi_server.reset()
    async with app_with(
        database_url, bolna_base_url=bolna_server.url, vapi_base_url=vapi_server.url
    ) as (client, context):
        yield client, context


@pytest.fixture
async def bolna(api, admin: Admin, bolna_server: FakeBolna) -> dict[str, str]:
    """The admin's workspace connected to Bolna: its webhook path and agent."""
    client, _ = api
    agent_id = bolna_server.add_agent()
    response = await client.put(
        "/api/bolna/connection",
        headers=admin.headers,
        json={"api_key": API_KEY, "agent_id": agent_id},
    )
    assert response.status_code == 200, response.text
    return {
        "webhook": response.json()["webhook_url"].removeprefix("http://test"),
        "agent_id": agent_id,
    }


async def ended_events(context: AppContext) -> list[dict[str, Any]]:
    async with context.db.system() as conn:
        cur = await conn.execute(
            "select e.workspace_id, e.subject_id, e.payload, c.id as call_id"
            " from events e left join calls c on c.id = e.subject_id"
            " where e.type = 'call.ended' order by e.id"
        )
        return await cur.fetchall()


async def test_a_bolna_call_ends_once_through_repeats_and_late_deliveries(api, bolna, admin):
    client, context = api
    ended = {"conversation_duration": 42, "updated_at": "2026-11-25T10:31:30Z"}
    for status, fields in [
        ("queued", {}),
        ("in-progress", {}),
        ("completed", ended),
        ("completed", ended),  # repeated
        ("completed", {**ended, "extracted_data": {"confirmed": True}}),  # fills in
        ("no-answer", {}),  # another end: ignored
        ("in-progress", {}),  # late
    ]:
        payload = execution(EXECUTION_ID, status, agent_id=bolna["agent_id"], **fields)
        response = await client.post(bolna["webhook"], json=payload)
        assert response.status_code == 200, response.text
        await run_inbound_jobs(context)
    [event] = await ended_events(context)
    assert str(event["workspace_id"]) == admin.workspace_id
    assert event["subject_id"] == event["call_id"]
    assert event["payload"] == {
        "provider": "bolna",
        "provider_call_id": EXECUTION_ID,
        "status": "resolved",
        "duration_seconds": 42,
    }


async def test_two_ends_applied_at_the_same_moment_end_the_call_once(api, bolna):
    client, context = api
    for fields in ({"conversation_duration": 42}, {"conversation_duration": 43}):
        payload = execution(EXECUTION_ID, "completed", agent_id=bolna["agent_id"], **fields)
        assert (await client.post(bolna["webhook"], json=payload)).status_code == 200
    async with context.db.system() as conn:
        rows = await (await conn.execute("select id from inbound_events")).fetchall()
    assert len(rows) == 2  # two deliveries with different bodies: two events
    # Two workers take them at once.
    await asyncio.gather(*(inbound.process(context.db, r["id"]) for r in rows))
    assert len(await ended_events(context)) == 1


async def test_a_call_not_ended_yet_has_no_event(api, bolna):
    client, context = api
    for status in ("queued", "ringing", "in-progress", "call-disconnected"):
        payload = execution(EXECUTION_ID, status, agent_id=bolna["agent_id"])
        assert (await client.post(bolna["webhook"], json=payload)).status_code == 200
    await run_inbound_jobs(context)
    assert await ended_events(context) == []


async def test_a_vapi_call_reported_and_imported_ends_once(api, admin, vapi_server):
    client, context = api
    connected = await client.post(
        "/api/voice/connect",
        headers=admin.headers,
        json={"private_key": PRIVATE_KEY, "public_key": PUBLIC_KEY},
    )
    assert connected.status_code == 200, connected.text
    call = vapi_server.add_call(datetime.now(UTC) - timedelta(minutes=30))
    response = await client.post(
        "/api/webhooks/vapi",
        headers={"X-Vapi-Secret": connected.json()["webhook_secret"]},
        json=end_of_call_report(call=call),
    )
    assert response.status_code == 200, response.text
    await run_inbound_jobs(context)
    imported = await client.post("/api/voice/calls/import", headers=admin.headers)
    assert imported.json() == {"found": 1, "imported": 0}

    other = vapi_server.add_call(datetime.now(UTC) - timedelta(minutes=40))
    imported = await client.post("/api/voice/calls/import", headers=admin.headers)
    assert imported.json() == {"found": 2, "imported": 1}
    events = await ended_events(context)
    assert [e["payload"]["provider_call_id"] for e in events] == [call["id"], other["id"]]
    assert all(e["subject_id"] == e["call_id"] for e in events)
