"""Voice assistants on VAPI (integration guide §4) and VAPI's end-of-call webhook (§11)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from backend.context import AppContext
from tests.conftest import app_with
from tests.fakes.vapi import PRIVATE_KEY, PUBLIC_KEY, FakeVapi
from tests.fixtures.connections import stored_connections
from tests.fixtures.factories import Admin
from tests.fixtures.jobs import run_inbound_jobs

WRONG_KEY = "11111111-2222-4333-8444-555555555555"


@pytest.fixture(scope="module")
def vapi_server() -> Iterator[FakeVapi]:
    with FakeVapi() as fake:
        yield fake


@pytest.fixture
def vapi(vapi_server: FakeVapi) -> FakeVapi:
    vapi_server.reset()
    return vapi_server


@pytest.fixture
async def voice(
    database_url: str, vapi: FakeVapi
) -> AsyncIterator[tuple[httpx.AsyncClient, AppContext]]:
    """The app, with VAPI pointing at the fake."""
    async with app_with(database_url, vapi_base_url=vapi.url) as (client, context):
        yield client, context


async def connect(client: httpx.AsyncClient, admin: Admin, **keys: Any) -> httpx.Response:
    return await client.post(
        "/api/voice/connect",
        headers=admin.headers,
        json={"private_key": PRIVATE_KEY, "public_key": PUBLIC_KEY, **keys},
    )


async def connected(client: httpx.AsyncClient, admin: Admin) -> dict[str, Any]:
    response = await connect(client, admin)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def stored(context: AppContext, table: str) -> list[dict[str, Any]]:
    """The table as a user sees it moments after the deliveries: once the worker has run the
    jobs they queued (a webhook is answered at once and applied by a job)."""
    await run_inbound_jobs(context)
    async with context.db.system() as conn:
        return await (await conn.execute(f"select * from public.{table}")).fetchall()


# -- connection -------------------------------------------------------------------------------


async def test_connect_with_a_wrong_private_key_names_it_and_stores_nothing(voice, admin):
    client, context = voice
    response = await connect(client, admin, private_key=WRONG_KEY)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert [e["field"] for e in body["errors"]] == ["private_key"]
    assert await stored_connections(context, "vapi") == []


async def test_connect_with_keys_swapped_names_both(voice, admin):
    client, context = voice
    response = await connect(client, admin, private_key=PUBLIC_KEY, public_key=PRIVATE_KEY)
    assert response.status_code == 400, response.text
    fields = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert set(fields) == {"private_key", "public_key"}
    assert "private key" in fields["public_key"]
    assert await stored_connections(context, "vapi") == []


async def test_connect_with_a_malformed_public_key(voice, admin):
    client, _ = voice
    response = await connect(client, admin, public_key="not-a-vapi-key")
    assert response.status_code == 400, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["public_key"]


async def test_connect_stores_both_keys_encrypted_and_shows_the_secret_once(voice, admin, vapi):
    client, context = voice
    body = await connected(client, admin)
    assert body["connected"] is True and body["status"] == "valid"
    assert body["private_key_last4"] == PRIVATE_KEY[-4:]
    assert body["public_key_last4"] == PUBLIC_KEY[-4:]
    assert body["webhook_url"] == "http://test/api/webhooks/vapi"
    secret = body["webhook_secret"]
    assert secret and len(secret) >= 32

    [row] = await stored_connections(context, "vapi")
    text = " ".join(str(v) for v in row.values())
    for raw in (PRIVATE_KEY, PUBLIC_KEY, secret):
        assert raw not in text
    assert context.secrets.decrypt(row["secrets"]["private_key"]) == PRIVATE_KEY
    assert context.secrets.decrypt(row["secrets"]["public_key"]) == PUBLIC_KEY
    # The private key was checked on VAPI's server API with the private key.
    assert ("GET", "/assistant", None) in vapi.requests

    again = await connected(client, admin)
    assert again["webhook_secret"] is None  # kept, and not shown again
    [row_again] = await stored_connections(context, "vapi")
    assert row_again["webhook_hash"] == row["webhook_hash"]

    token = await client.get("/api/voice/token", headers=admin.headers)
    assert token.status_code == 200, token.text
    assert token.json() == {"token": PUBLIC_KEY}


async def test_a_rotated_webhook_secret_is_shown_once_and_the_old_one_stops_working(voice, admin):
    client, context = voice
    old = (await connected(client, admin))["webhook_secret"]
    rotated = await connect(client, admin, rotate_webhook_secret=True)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["webhook_secret"]
    assert new and new != old
    for secret, expected in ((old, 401), (new, 200)):
        response = await client.post(
            "/api/webhooks/vapi", headers={"X-Vapi-Secret": secret}, json=end_of_call_report()
        )
        assert response.status_code == expected, response.text
    assert len(await stored(context, "calls")) == 1


async def test_token_without_a_connection_is_404(voice, admin):
    client, _ = voice
    response = await client.get("/api/voice/token", headers=admin.headers)
    assert response.status_code == 404


async def test_validate_public_key(voice, admin):
    client, _ = voice

    async def valid(key: str) -> dict[str, Any]:
        response = await client.post(
            "/api/voice/validate", headers=admin.headers, json={"public_key": key}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    public = await valid(PUBLIC_KEY)
    # VAPI checks public keys only when a browser call starts: the answer says what was checked.
    assert public["valid"] is True and "not a private key" in public["message"]
    assert (await valid("nope"))["valid"] is False
    private = await valid(PRIVATE_KEY)
    assert private["valid"] is False and "private key" in private["message"]


# -- assistants -------------------------------------------------------------------------------


async def test_sync_imports_assistants_and_removes_the_ones_gone_upstream(voice, admin, vapi):
    client, context = voice
    await connected(client, admin)
    sales = vapi.add_assistant("Sales Assistant")
    support = vapi.add_assistant("Support", firstMessage="Hi there!")
    vapi.add_phone_number("+14155550100", sales["id"])

    response = await client.post("/api/voice/sync", headers=admin.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 2
    by_id = {a["id"]: a for a in body["assistants"]}
    assert set(by_id) == {sales["id"], support["id"]}
    assert by_id[sales["id"]]["name"] == "Sales Assistant"
    assert by_id[sales["id"]]["firstMessage"] == "Hello, this is Sales Assistant."
    assert by_id[sales["id"]]["voice"] == sales["voice"]
    assert by_id[sales["id"]]["model"] == sales["model"]
    assert by_id[sales["id"]]["phoneNumber"] == "+14155550100"
    assert by_id[support["id"]]["firstMessage"] == "Hi there!"

    rows = await stored(context, "voice_assistants")
    assert {r["vapi_id"] for r in rows} == {sales["id"], support["id"]}
    assert all(str(r["workspace_id"]) == admin.workspace_id for r in rows)

    vapi.delete_assistant(support["id"])
    response = await client.post("/api/voice/sync", headers=admin.headers)
    assert response.status_code == 200, response.text
    assert [a["id"] for a in response.json()["assistants"]] == [sales["id"]]
    assert [r["vapi_id"] for r in await stored(context, "voice_assistants")] == [sales["id"]]

    listed = await client.get("/api/voice/assistants", headers=admin.headers)
    assert listed.json()["count"] == 1
    assert [a["id"] for a in listed.json()["assistants"]] == [sales["id"]]


async def test_sync_reads_every_page_and_deletes_nothing_still_upstream(voice, admin, vapi):
    client, _ = voice
    await connected(client, admin)
    vapi.max_page = 50  # VAPI may give fewer than asked for, without saying so
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(120):
        stamp = (start + timedelta(seconds=i)).isoformat(timespec="milliseconds")
        vapi.add_assistant(f"Assistant {i:03}", createdAt=stamp.replace("+00:00", "Z"))
    for _ in range(2):  # the second sync must keep all of them
        response = await client.post("/api/voice/sync", headers=admin.headers)
        assert response.status_code == 200, response.text
        assert response.json()["count"] == 120
    listed = await client.get("/api/voice/assistants", headers=admin.headers)
    assert listed.json()["count"] == len(listed.json()["assistants"]) == 120


async def test_sync_without_a_connection_is_404(voice, admin):
    client, _ = voice
    response = await client.post("/api/voice/sync", headers=admin.headers)
    assert response.status_code == 404


async def test_sync_when_vapi_is_down_is_502_and_keeps_the_local_copy(voice, admin, vapi):
    client, context = voice
    await connected(client, admin)
    vapi.add_assistant("Sales Assistant")
    assert (await client.post("/api/voice/sync", headers=admin.headers)).status_code == 200
    vapi.fail_next(1, 500)
    response = await client.post("/api/voice/sync", headers=admin.headers)
    assert response.status_code == 502, response.text
    assert len(await stored(context, "voice_assistants")) == 1


async def test_patch_updates_vapi_first_then_the_local_copy(voice, admin, vapi):
    client, context = voice
    await connected(client, admin)
    sales = vapi.add_assistant("Sales Assistant")
    await client.post("/api/voice/sync", headers=admin.headers)

    voice_config = {"provider": "11labs", "voiceId": "sarah"}
    response = await client.patch(
        f"/api/voice/{sales['id']}",
        headers=admin.headers,
        json={"name": "Sales", "firstMessage": "Welcome!", "voice": voice_config},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["id"], body["name"], body["firstMessage"]) == (sales["id"], "Sales", "Welcome!")
    assert body["voice"] == voice_config
    # Upstream got exactly the changes, in VAPI's field names.
    assert vapi.requests[-1] == (
        "PATCH",
        f"/assistant/{sales['id']}",
        {"name": "Sales", "firstMessage": "Welcome!", "voice": voice_config},
    )
    assert vapi.assistants[sales["id"]]["name"] == "Sales"
    [row] = await stored(context, "voice_assistants")
    assert (row["name"], row["first_message"], row["voice"]) == ("Sales", "Welcome!", voice_config)


async def test_patch_refused_by_vapi_reports_its_message_and_changes_nothing(voice, admin, vapi):
    client, context = voice
    await connected(client, admin)
    sales = vapi.add_assistant("Sales Assistant")
    await client.post("/api/voice/sync", headers=admin.headers)

    response = await client.patch(
        f"/api/voice/{sales['id']}",
        headers=admin.headers,
        json={"name": "x" * 60, "firstMessage": "Changed"},
    )
    assert 400 <= response.status_code < 500, response.text
    body = response.json()
    assert "name must be shorter than or equal to 40 characters" in body["message"]
    assert body["errors"] == [
        {"field": "name", "message": "name must be shorter than or equal to 40 characters"}
    ]
    assert vapi.assistants[sales["id"]]["name"] == "Sales Assistant"
    [row] = await stored(context, "voice_assistants")
    assert (row["name"], row["first_message"]) == (
        "Sales Assistant",
        "Hello, this is Sales Assistant.",
    )


async def test_patch_an_assistant_of_another_workspace_is_404(voice, admin, other_admin, vapi):
    client, _ = voice
    await connected(client, admin)
    sales = vapi.add_assistant("Sales Assistant")
    await client.post("/api/voice/sync", headers=admin.headers)
    await connected(client, other_admin)
    response = await client.patch(
        f"/api/voice/{sales['id']}", headers=other_admin.headers, json={"name": "Mine now"}
    )
    assert response.status_code == 404, response.text
    assert vapi.assistants[sales["id"]]["name"] == "Sales Assistant"


# -- webhook ----------------------------------------------------------------------------------

CALL_ID = "c0ffee00-1234-4abc-8def-000000000001"


def end_of_call_report(**overrides: Any) -> dict[str, Any]:
    message = {
        "type": "end-of-call-report",
        "timestamp": 1732106128338,
        "endedReason": "customer-ended-call",
        "cost": 0.1931,
        "startedAt": "2025-11-20T12:33:20.740Z",
        "endedAt": "2025-11-20T12:35:28.338Z",
        "call": {
            "id": CALL_ID,
            "orgId": "org-1",
            "assistantId": "asst-1",
            "phoneNumberId": "pn-1",
            "customer": {"number": "+34655720245"},
            "type": "inboundPhoneCall",
        },
        "customer": {"number": "+34655720245"},
        "artifact": {
            "transcript": "AI: Hello!\nUser: Where is my order?",
            "messages": [{"role": "assistant", "message": "Hello!"}],
            "recordingUrl": "https://storage.vapi.ai/rec-1.wav",
        },
        "analysis": {"summary": "The customer asked about an order.", "successEvaluation": "true"},
        **overrides,
    }
    return {"message": message}


async def test_webhook_rejects_a_missing_or_wrong_secret(voice, admin):
    client, context = voice
    await connected(client, admin)
    for headers in ({}, {"X-Vapi-Secret": "wrong"}, {"Authorization": "Bearer wrong"}):
        response = await client.post(
            "/api/webhooks/vapi", headers=headers, json=end_of_call_report()
        )
        assert response.status_code == 401, (headers, response.text)
    assert await stored(context, "calls") == []


async def test_end_of_call_report_is_stored_once_and_linked_to_the_customer(
    voice, admin, other_admin
):
    client, context = voice
    secret = (await connected(client, admin))["webhook_secret"]
    created = await client.post(
        "/api/customers",
        headers=admin.headers,
        json={"email": "caller@example.com", "phone": "+34655720245"},
    )
    assert created.status_code == 201, created.text
    customer_id = created.json()["customer_id"]

    first = await client.post(
        "/api/webhooks/vapi", headers={"X-Vapi-Secret": secret}, json=end_of_call_report()
    )
    assert first.status_code == 200, first.text
    again = await client.post(
        "/api/webhooks/vapi",
        headers={"Authorization": f"Bearer {secret}"},
        json=end_of_call_report(),
    )
    assert again.status_code == 200, again.text

    [call] = await stored(context, "calls")
    assert str(call["workspace_id"]) == admin.workspace_id
    assert (call["provider"], call["provider_call_id"], call["agent_id"]) == (
        "vapi",
        CALL_ID,
        "asst-1",
    )
    assert call["status"] == "resolved"
    assert call["direction"] == "inbound"
    assert call["duration_seconds"] == 128  # 127.598 s
    assert call["transcript"] == "AI: Hello!\nUser: Where is my order?"
    assert call["summary"] == "The customer asked about an order."
    assert call["recording_url"] == "https://storage.vapi.ai/rec-1.wav"
    assert call["cost"] == Decimal("0.1931")
    assert call["phone"] == "34655720245"
    assert str(call["customer_id"]) == customer_id
    assert call["metadata"]["endedReason"] == "customer-ended-call"

    # RLS: the other workspace's admin cannot see it; its own admin can.
    async with context.db.as_claims(
        {"sub": other_admin.user_id, "role": "authenticated", "email": other_admin.email}
    ) as conn:
        assert await (await conn.execute("select * from public.calls")).fetchall() == []
    async with context.db.as_claims(
        {"sub": admin.user_id, "role": "authenticated", "email": admin.email}
    ) as conn:
        assert len(await (await conn.execute("select * from public.calls")).fetchall()) == 1


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("assistant-ended-call", "resolved"),
        ("assistant-forwarded-call", "escalated"),
        ("customer-did-not-answer", "missed"),
        ("customer-busy", "missed"),
        ("voicemail", "missed"),
        ("pipeline-error-openai-llm-failed", "failed"),
        ("call.in-progress.error-transfer-failed", "failed"),
    ],
)
async def test_ended_reason_maps_to_a_status(voice, admin, reason, expected):
    client, context = voice
    secret = (await connected(client, admin))["webhook_secret"]
    response = await client.post(
        "/api/webhooks/vapi",
        headers={"X-Vapi-Secret": secret},
        json=end_of_call_report(endedReason=reason),
    )
    assert response.status_code == 200, response.text
    [call] = await stored(context, "calls")
    assert call["status"] == expected


async def test_legacy_top_level_fields_and_other_messages(voice, admin):
    client, context = voice
    secret = (await connected(client, admin))["webhook_secret"]
    headers = {"X-Vapi-Secret": secret}
    ack = await client.post(
        "/api/webhooks/vapi",
        headers=headers,
        json={"message": {"type": "status-update", "status": "in-progress", "call": {"id": "x"}}},
    )
    assert ack.status_code == 200, ack.text
    assert await stored(context, "calls") == []

    legacy = end_of_call_report(
        artifact={},
        analysis={},
        startedAt=None,
        endedAt=None,
        transcript="AI: Hi",
        summary="Short call.",
        recordingUrl="https://storage.vapi.ai/legacy.wav",
        durationSeconds=42.4,
    )
    response = await client.post("/api/webhooks/vapi", headers=headers, json=legacy)
    assert response.status_code == 200, response.text
    [call] = await stored(context, "calls")
    assert (call["transcript"], call["summary"], call["duration_seconds"]) == (
        "AI: Hi",
        "Short call.",
        42,
    )
    assert call["recording_url"] == "https://storage.vapi.ai/legacy.wav"
    assert call["customer_id"] is None


# -- calls the webhook missed -------------------------------------------------------------------


async def test_import_stores_the_ended_calls_the_webhook_missed_once(voice, admin, vapi):
    client, context = voice
    secret = (await connected(client, admin))["webhook_secret"]
    now = datetime.now(UTC)
    # 130 ended calls over the last day (more than one page of VAPI's list), one still going,
    # one that ended a moment ago (its report may be on the way), one too old for the window.
    ended = [vapi.add_call(now - timedelta(minutes=20 + 10 * i)) for i in range(130)]
    vapi.add_call(now, status="in-progress", endedReason=None, endedAt=None)
    vapi.add_call(now - timedelta(minutes=5))
    vapi.add_call(now - timedelta(days=5))
    delivered = ended[0]  # its end-of-call report did arrive
    report = end_of_call_report(call={**delivered, "customer": {"number": "+919876543210"}})
    response = await client.post(
        "/api/webhooks/vapi", headers={"X-Vapi-Secret": secret}, json=report
    )
    assert response.status_code == 200, response.text
    await run_inbound_jobs(context)  # its call is stored

    first = await client.post("/api/voice/calls/import", headers=admin.headers, json={"days": 2})
    assert first.status_code == 200, first.text
    assert first.json() == {"found": 130, "imported": 129}
    again = await client.post("/api/voice/calls/import", headers=admin.headers)
    assert again.json() == {"found": 130, "imported": 0}

    calls = await stored(context, "calls")
    assert len(calls) == 130
    assert {c["provider_call_id"] for c in calls} == {c["id"] for c in ended}
    imported = next(c for c in calls if c["provider_call_id"] == ended[5]["id"])
    assert imported["status"] == "resolved"
    assert imported["phone"] == "919876543210"
    assert imported["transcript"] == "AI: Hello\nUser: Where is my order?"
    assert imported["summary"] == "Asked about an order."
    assert imported["cost"] == Decimal("0.05")


async def test_import_needs_a_connection_and_an_admin(voice, admin, vapi):
    client, _ = voice
    response = await client.post("/api/voice/calls/import", headers=admin.headers)
    assert response.status_code == 404
    await connected(client, admin)
    for days in (0, 31):
        response = await client.post(
            "/api/voice/calls/import", headers=admin.headers, json={"days": days}
        )
        assert response.status_code == 400, days
    vapi.fail_next(1, 503)
    response = await client.post("/api/voice/calls/import", headers=admin.headers)
    assert response.status_code == 502
    status = await client.get("/api/voice/connect", headers=admin.headers)
    assert status.json()["status"] == "valid"  # VAPI being down says nothing of the key


async def test_a_key_vapi_refuses_on_import_marks_the_connection_invalid(voice, admin, vapi):
    client, _ = voice
    await connected(client, admin)
    vapi.private_key = WRONG_KEY  # the key was revoked in VAPI's dashboard
    try:
        response = await client.post("/api/voice/calls/import", headers=admin.headers)
    finally:
        vapi.private_key = PRIVATE_KEY
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["field"] == "private_key"
    status = await client.get("/api/voice/connect", headers=admin.headers)
    assert status.json()["status"] == "invalid"


async def test_numbers_that_fit_no_column_read_as_absent(voice, admin):
    client, context = voice
    secret = (await connected(client, admin))["webhook_secret"]
    report = json.dumps(end_of_call_report(durationSeconds=float("nan"), cost=1e300))
    assert "NaN" in report  # what a sloppy sender may put on the wire; json.loads accepts it
    response = await client.post(
        "/api/webhooks/vapi",
        headers={"X-Vapi-Secret": secret, "content-type": "application/json"},
        content=report,
    )
    assert response.status_code == 200, response.text
    [call] = await stored(context, "calls")
    assert call["duration_seconds"] == 128  # from startedAt and endedAt instead
    assert call["cost"] == 0


@pytest.mark.parametrize(
    ("address", "message"),
    [
        (
            "refused",
            "Could not reach VAPI at 127.0.0.1:{port}: the connection was refused. Check the"
            " address (VAPI_BASE_URL) and its port, and that the service is running.",
        ),
        (
            "unresolvable",
            "Could not reach VAPI at vapi.invalid: the name does not resolve. Check the address"
            " (VAPI_BASE_URL) for a typo.",
        ),
    ],
)
async def test_vapi_out_of_reach_says_once_what_failed_and_what_to_check(
    database_url, anon_key, address, message
):
    from tests.fixtures.factories import create_admin
    from tests.fixtures.servers import free_port

    port = free_port()
    base_url = f"http://127.0.0.1:{port}" if address == "refused" else "http://vapi.invalid"
    async with app_with(database_url, vapi_base_url=base_url) as (client, context):
        admin = await create_admin(client, anon_key)
        response = await connect(client, admin)
        assert response.status_code == 502, response.text
        body = response.json()
        assert body["code"] == "PROVIDER_UNAVAILABLE"
        if address == "unresolvable" and "looked up" in body["message"]:
            pytest.skip("this machine has no DNS server at all")
        assert body["message"] == message.format(port=port)
        assert await stored_connections(context, "vapi") == []
