"""WhatsApp agents on ElevenLabs (integration guide §5), their post-call webhooks, and the
customer portal's list of them (§7)."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from backend.context import AppContext
from tests.conftest import app_with
from tests.fakes.elevenlabs import API_KEY, SCOPED_KEY, FakeElevenLabs
from tests.fixtures.connections import stored_connections
from tests.fixtures.factories import PASSWORD, Admin, unique_email
from tests.fixtures.jobs import run_inbound_jobs

WRONG_KEY = "sk_ffffffffffffffffffffffffffffffffffffffffffffffff"
WEBHOOK_SECRET = "wsec_5e2b7c9d1f3a4e6b8c0d2f4a6b8c0e1f"


@pytest.fixture(scope="module")
def elevenlabs_server() -> Iterator[FakeElevenLabs]:
    with FakeElevenLabs() as fake:
        yield fake


@pytest.fixture
def elevenlabs(elevenlabs_server: FakeElevenLabs) -> FakeElevenLabs:
    elevenlabs_server.reset()
    return elevenlabs_server


@pytest.fixture
async def whatsapp(
    database_url: str, elevenlabs: FakeElevenLabs
) -> AsyncIterator[tuple[httpx.AsyncClient, AppContext]]:
    """The app, with ElevenLabs pointing at the fake."""
    async with app_with(database_url, elevenlabs_base_url=elevenlabs.url) as (client, context):
        yield client, context


async def validate(client: httpx.AsyncClient, admin: Admin, key: str = API_KEY) -> httpx.Response:
    return await client.post(
        "/api/whatsapp/validate-elevenlabs", headers=admin.headers, params={"api_key": key}
    )


async def connected(client: httpx.AsyncClient, admin: Admin) -> dict[str, Any]:
    response = await validate(client, admin)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["valid"] is True
    return body


async def synced(client: httpx.AsyncClient, admin: Admin) -> dict[str, Any]:
    response = await client.post("/api/whatsapp/sync", headers=admin.headers)
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


async def test_a_valid_key_is_saved_encrypted_and_answers_the_subscription(
    whatsapp, admin, elevenlabs
):
    client, context = whatsapp
    before = await client.get("/api/whatsapp/connection", headers=admin.headers)
    assert before.json()["connected"] is False

    body = await connected(client, admin)
    assert body["user"]["subscription"]["tier"] == "creator"
    assert body["user"]["subscription"]["character_limit"] == 100000
    assert API_KEY not in json.dumps(body)  # ElevenLabs' `xi_api_key` is not passed on
    # ElevenLabs was asked with the key in its own header.
    assert [(r[1], r[4]) for r in elevenlabs.requests] == [("/v1/user", API_KEY)]

    [row] = await stored_connections(context, "elevenlabs")
    assert str(row["workspace_id"]) == admin.workspace_id
    assert row["secrets"]["api_key"] != API_KEY
    assert API_KEY not in " ".join(str(v) for v in row.values())
    assert context.secrets.decrypt(row["secrets"]["api_key"]) == API_KEY

    status = (await client.get("/api/whatsapp/connection", headers=admin.headers)).json()
    assert status["connected"] is True and status["status"] == "valid"
    assert status["api_key_last4"] == API_KEY[-4:]
    assert status["subscription_tier"] == "creator"
    assert status["webhook_secret_set"] is False
    token = row["settings"]["webhook_token"]
    assert status["webhook_url"] == f"http://test/api/webhooks/elevenlabs/{token}"
    assert body["connection"] == status

    # A new key replaces the old one and keeps the webhook URL ElevenLabs already has.
    again = await connected(client, admin)
    assert again["connection"]["webhook_url"] == status["webhook_url"]
    assert len(await stored_connections(context, "elevenlabs")) == 1


async def test_the_key_may_come_in_a_json_body(whatsapp, admin):
    client, context = whatsapp
    response = await client.post(
        "/api/whatsapp/validate-elevenlabs", headers=admin.headers, json={"api_key": API_KEY}
    )
    assert response.status_code == 200, response.text
    assert response.json()["valid"] is True
    assert len(await stored_connections(context, "elevenlabs")) == 1

    missing = await client.post("/api/whatsapp/validate-elevenlabs", headers=admin.headers)
    assert missing.status_code == 400, missing.text
    assert missing.json()["code"] == "VALIDATION_ERROR"
    assert missing.json()["errors"][0]["field"] == "api_key"


async def test_a_refused_key_is_not_valid_and_stores_nothing(whatsapp, admin):
    client, context = whatsapp
    response = await validate(client, admin, WRONG_KEY)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["valid"] is False
    assert "Invalid API key" in body["message"]
    assert body["connection"] is None
    assert await stored_connections(context, "elevenlabs") == []
    for not_a_key in ("clé secrète", "short"):
        malformed = await validate(client, admin, not_a_key)
        assert malformed.status_code == 200, malformed.text
        assert malformed.json()["valid"] is False
    assert await stored_connections(context, "elevenlabs") == []

    # Nor does it replace a working key.
    await connected(client, admin)
    assert (await validate(client, admin, WRONG_KEY)).json()["valid"] is False
    [row] = await stored_connections(context, "elevenlabs")
    assert context.secrets.decrypt(row["secrets"]["api_key"]) == API_KEY


async def test_a_key_without_user_read_is_valid_with_limited_scope(whatsapp, admin, elevenlabs):
    client, context = whatsapp
    response = await validate(client, admin, SCOPED_KEY)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["valid"] is True
    assert body["user"]["subscription"] is None
    assert "user_read" in body["message"]
    [row] = await stored_connections(context, "elevenlabs")
    assert context.secrets.decrypt(row["secrets"]["api_key"]) == SCOPED_KEY
    assert row["settings"]["subscription"] is None

    # It can still do what the agents page needs.
    elevenlabs.add_agent("Support Agent")
    assert (await synced(client, admin))["count"] == 1


async def test_elevenlabs_down_is_502_and_stores_nothing(whatsapp, admin, elevenlabs):
    client, context = whatsapp
    elevenlabs.fail_next(1, 503)
    response = await validate(client, admin)
    assert response.status_code == 502, response.text
    assert response.json()["code"] == "PROVIDER_UNAVAILABLE"
    assert await stored_connections(context, "elevenlabs") == []


async def test_only_admins_connect(whatsapp, client, admin, anon_key):
    http, _ = whatsapp
    customer = await add_customer(client, admin, anon_key)
    response = await validate(http, customer)
    assert response.status_code == 403, response.text


# -- agents -----------------------------------------------------------------------------------


async def test_sync_imports_every_page_and_removes_agents_gone_upstream(
    whatsapp, admin, elevenlabs
):
    client, context = whatsapp
    await connected(client, admin)
    support = elevenlabs.add_agent("Support Agent")
    sales = elevenlabs.add_agent(
        "Sales Agent",
        first_message="Namaste! Looking for a saree?",
        language="hi",
        prompt={"prompt": "You sell silk sarees.", "llm": "gpt-4o"},
    )
    returns = elevenlabs.add_agent("Returns Agent")
    elevenlabs.add_phone_number(sales["agent_id"], "+919876543210", "Store")
    elevenlabs.max_page_size = 2  # two pages

    body = await synced(client, admin)
    assert body["count"] == 3
    by_id = {a["agent_id"]: a for a in body["agents"]}
    assert set(by_id) == {support["agent_id"], sales["agent_id"], returns["agent_id"]}
    assert by_id[sales["agent_id"]]["name"] == "Sales Agent"
    assert by_id[sales["agent_id"]]["first_message"] == "Namaste! Looking for a saree?"
    assert by_id[sales["agent_id"]]["system_prompt"] == "You sell silk sarees."
    assert by_id[sales["agent_id"]]["language"] == "hi"
    assert by_id[sales["agent_id"]]["llm"] == "gpt-4o"
    assert by_id[sales["agent_id"]]["status"] == "active"
    [number] = by_id[sales["agent_id"]]["phone_numbers"]
    assert (number["phone_number"], number["label"]) == ("+919876543210", "Store")
    assert (
        by_id[support["agent_id"]]["system_prompt"] == "You are Support Agent, a helpful assistant."
    )

    pages = [r for r in elevenlabs.requests if r[1] == "/v1/convai/agents"]
    assert [p[2].get("cursor") for p in pages] == [None, "2"]
    assert all(p[2]["page_size"] == "100" for p in pages)

    rows = await stored(context, "whatsapp_agents")
    assert len(rows) == 3 and all(str(r["workspace_id"]) == admin.workspace_id for r in rows)

    elevenlabs.delete_agent(returns["agent_id"])
    elevenlabs.archive_agent(support["agent_id"])
    body = await synced(client, admin)
    assert sorted(a["agent_id"] for a in body["agents"]) == sorted(
        [support["agent_id"], sales["agent_id"]]
    )
    listed = (await client.get("/api/whatsapp", headers=admin.headers)).json()
    assert listed["count"] == 2
    assert [(a["name"], a["status"]) for a in listed["agents"]] == [
        ("Sales Agent", "active"),
        ("Support Agent", "archived"),  # archived on ElevenLabs
    ]


async def test_sync_without_a_connection_is_404(whatsapp, admin):
    client, _ = whatsapp
    response = await client.post("/api/whatsapp/sync", headers=admin.headers)
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "NOT_FOUND"


async def test_sync_when_elevenlabs_fails_keeps_the_local_copy(whatsapp, admin, elevenlabs):
    client, context = whatsapp
    await connected(client, admin)
    elevenlabs.add_agent("Support Agent")
    elevenlabs.add_agent("Sales Agent")
    await synced(client, admin)

    elevenlabs.delete_agent(next(iter(elevenlabs.agents)))
    elevenlabs.fail_next(1, 500)  # the agent list
    response = await client.post("/api/whatsapp/sync", headers=admin.headers)
    assert response.status_code == 502, response.text
    assert response.json()["code"] == "PROVIDER_UNAVAILABLE"
    assert len(await stored(context, "whatsapp_agents")) == 2


async def test_a_revoked_key_is_reported_and_marked_invalid(whatsapp, admin, elevenlabs):
    client, _ = whatsapp
    await connected(client, admin)
    elevenlabs.api_key = "sk_rotated"
    try:
        response = await client.post("/api/whatsapp/sync", headers=admin.headers)
    finally:
        elevenlabs.api_key = API_KEY
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["field"] == "api_key"
    status = (await client.get("/api/whatsapp/connection", headers=admin.headers)).json()
    assert status["status"] == "invalid" and "Invalid API key" in status["last_error"]


async def test_get_answers_the_local_copy_and_404_for_unknown(whatsapp, admin, elevenlabs):
    client, _ = whatsapp
    await connected(client, admin)
    support = elevenlabs.add_agent("Support Agent")
    await synced(client, admin)

    requests_before = len(elevenlabs.requests)
    response = await client.get(f"/api/whatsapp/{support['agent_id']}", headers=admin.headers)
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Support Agent"
    assert len(elevenlabs.requests) == requests_before  # ElevenLabs was not asked

    unknown = await client.get("/api/whatsapp/agent_nope", headers=admin.headers)
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["success"] is False and unknown.json()["code"] == "NOT_FOUND"


async def test_patch_maps_fields_to_elevenlabs_then_updates_the_local_copy(
    whatsapp, admin, elevenlabs
):
    client, context = whatsapp
    await connected(client, admin)
    support = elevenlabs.add_agent("Support Agent")
    await synced(client, admin)

    changes = {
        "name": "Support",
        "first_message": "Vanakkam! How can I help?",
        "system_prompt": "Answer in Tamil.",
        "language": "ta",
        "llm": "gpt-4o",
    }
    response = await client.patch(
        f"/api/whatsapp/{support['agent_id']}", headers=admin.headers, json=changes
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert {k: body[k] for k in changes} == changes

    path = f"/v1/convai/agents/{support['agent_id']}"
    (get, got, *_), (patch, patched, _, sent, _) = elevenlabs.requests[-2:]
    assert [(get, got), (patch, patched)] == [("GET", path), ("PATCH", path)]
    config = copy.deepcopy(support["conversation_config"])
    config["agent"].update(first_message="Vanakkam! How can I help?", language="ta")
    config["agent"]["prompt"].update(prompt="Answer in Tamil.", llm="gpt-4o")
    assert sent == {"name": "Support", "conversation_config": config}
    upstream = elevenlabs.agents[support["agent_id"]]["conversation_config"]["agent"]
    assert upstream["prompt"]["temperature"] == 0.0  # the rest of the prompt is untouched
    [row] = await stored(context, "whatsapp_agents")
    assert (row["name"], row["language"], row["system_prompt"]) == (
        "Support",
        "ta",
        "Answer in Tamil.",
    )


@pytest.mark.parametrize("replaces", [False, True], ids=["merging", "replacing"])
async def test_patch_keeps_all_it_does_not_change_whether_elevenlabs_merges_or_not(
    whatsapp, admin, elevenlabs, replaces
):
    """Whether ElevenLabs merges a PATCH's nested objects is unverified: if it replaces them,
    changing the prompt must still leave the agent its LLM, tools, knowledge base, voice …"""
    client, _ = whatsapp
    elevenlabs.patch_replaces_objects = replaces
    await connected(client, admin)
    support = elevenlabs.add_agent(
        "Support Agent",
        prompt={
            "prompt": "You help shoppers.",
            "llm": "gemini-2.0-flash",
            "temperature": 0.3,
            "tool_ids": ["tool_order_status"],
            "knowledge_base": [{"type": "file", "id": "kb_faq", "name": "FAQ"}],
        },
    )
    await synced(client, admin)
    agent_id = support["agent_id"]
    # Changed in ElevenLabs' dashboard since the sync: kept too.
    elevenlabs.agents[agent_id]["conversation_config"]["tts"]["voice_id"] = "voice_new"
    before = copy.deepcopy(elevenlabs.agents[agent_id])

    response = await client.patch(
        f"/api/whatsapp/{agent_id}", headers=admin.headers, json={"system_prompt": "Be brief."}
    )
    assert response.status_code == 200, response.text
    expected = copy.deepcopy(before)
    expected["conversation_config"]["agent"]["prompt"]["prompt"] = "Be brief."
    assert elevenlabs.agents[agent_id] == expected
    body = response.json()
    assert (body["system_prompt"], body["llm"]) == ("Be brief.", "gemini-2.0-flash")

    # A new name alone is a field of its own: no read first, nothing else sent.
    requests_before = len(elevenlabs.requests)
    renamed = await client.patch(
        f"/api/whatsapp/{agent_id}", headers=admin.headers, json={"name": "Support"}
    )
    assert renamed.status_code == 200, renamed.text
    [(method, _, _, sent, _)] = elevenlabs.requests[requests_before:]
    assert (method, sent) == ("PATCH", {"name": "Support"})
    expected["name"] = "Support"
    assert elevenlabs.agents[agent_id] == expected


async def test_patch_refused_by_elevenlabs_is_400_and_changes_nothing(whatsapp, admin, elevenlabs):
    client, context = whatsapp
    await connected(client, admin)
    support = elevenlabs.add_agent("Support Agent")
    await synced(client, admin)

    response = await client.patch(
        f"/api/whatsapp/{support['agent_id']}",
        headers=admin.headers,
        json={"name": "", "language": "klingon", "first_message": "Changed"},
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    fields = {e["field"]: e["message"] for e in body["errors"]}
    assert fields == {
        "name": "String should have at least 1 character",
        "language": "Value error, Language 'klingon' is not supported",
    }
    assert "String should have at least 1 character" in body["message"]
    assert elevenlabs.agents[support["agent_id"]]["name"] == "Support Agent"
    [row] = await stored(context, "whatsapp_agents")
    assert (row["name"], row["first_message"]) == (
        "Support Agent",
        "Hi, this is Support Agent. How can I help?",
    )

    unknown_field = await client.patch(
        f"/api/whatsapp/{support['agent_id']}", headers=admin.headers, json={"voice": "x"}
    )
    assert unknown_field.status_code == 400
    empty = await client.patch(
        f"/api/whatsapp/{support['agent_id']}", headers=admin.headers, json={}
    )
    assert empty.status_code == 400


async def test_status_is_ours_and_hides_an_agent_from_the_portal(
    whatsapp, client, admin, anon_key, elevenlabs
):
    http, _ = whatsapp
    await connected(http, admin)
    support = elevenlabs.add_agent("Support Agent")
    elevenlabs.add_agent("Sales Agent")
    await synced(http, admin)
    customer = await add_customer(client, admin, anon_key)

    offered = (await client.get("/api/customers/portal/agents", headers=customer.headers)).json()
    assert offered["whatsapp_agents"] == [
        {"id": a["agent_id"], "name": a["name"], "status": "active"}
        for a in sorted(elevenlabs.agents.values(), key=lambda a: a["name"])
    ]

    requests_before = len(elevenlabs.requests)
    archived = await http.patch(
        f"/api/whatsapp/{support['agent_id']}", headers=admin.headers, json={"status": "archived"}
    )
    assert archived.status_code == 200, archived.text
    assert archived.json()["status"] == "archived"
    assert len(elevenlabs.requests) == requests_before  # local only
    offered = (await client.get("/api/customers/portal/agents", headers=customer.headers)).json()
    assert [a["name"] for a in offered["whatsapp_agents"]] == ["Sales Agent"]

    # A sync does not bring it back; the admin does.
    await synced(http, admin)
    assert (await http.get(f"/api/whatsapp/{support['agent_id']}", headers=admin.headers)).json()[
        "status"
    ] == "archived"


async def test_another_workspace_cannot_see_or_change_the_agents(
    whatsapp, admin, other_admin, elevenlabs
):
    client, _ = whatsapp
    await connected(client, admin)
    support = elevenlabs.add_agent("Support Agent")
    await synced(client, admin)

    assert (await client.get("/api/whatsapp", headers=other_admin.headers)).json() == {
        "count": 0,
        "agents": [],
    }
    seen = await client.get(f"/api/whatsapp/{support['agent_id']}", headers=other_admin.headers)
    assert seen.status_code == 404, seen.text
    changed = await client.patch(
        f"/api/whatsapp/{support['agent_id']}",
        headers=other_admin.headers,
        json={"name": "Mine now"},
    )
    assert changed.status_code == 404, changed.text
    assert elevenlabs.agents[support["agent_id"]]["name"] == "Support Agent"
    status = await client.get("/api/whatsapp/connection", headers=other_admin.headers)
    assert status.json()["connected"] is False


# -- post-call webhooks -----------------------------------------------------------------------

CONVERSATION_ID = "conv_01jxk1ab2c3d4e5f6g7h8j9k0m"


def transcription(**data: Any) -> dict[str, Any]:
    """A `post_call_transcription` as ElevenLabs documents it (fields trimmed)."""
    return {
        "type": "post_call_transcription",
        "event_timestamp": 1739537297,
        "data": {
            "agent_id": "agent_support",
            "conversation_id": CONVERSATION_ID,
            "status": "done",
            "user_id": None,
            "transcript": [
                {"role": "agent", "message": "Hi, how can I help?", "time_in_call_secs": 0},
                {"role": "user", "message": "Where is my order?", "time_in_call_secs": 3},
                {"role": "agent", "message": None, "tool_calls": [{"tool_name": "lookup"}]},
                {"role": "agent", "message": "It ships tomorrow.", "time_in_call_secs": 9},
            ],
            "metadata": {
                "start_time_unix_secs": 1739537200,
                "call_duration_secs": 22,
                "cost": 296,
                "termination_reason": "Call ended by remote party",
                "main_language": "en",
                "phone_call": {
                    "type": "twilio",
                    "direction": "inbound",
                    "phone_number_id": "phnum_123",
                    "agent_number": "+14155550100",
                    "external_number": "+919876543210",
                    "call_sid": "CA123",
                },
            },
            "analysis": {
                "evaluation_criteria_results": {},
                "data_collection_results": {},
                "call_successful": "success",
                "transcript_summary": "The customer asked where their order is.",
            },
            "conversation_initiation_client_data": {"dynamic_variables": {}},
            **data,
        },
    }


def signed(body: bytes, *, secret: str = WEBHOOK_SECRET, at: float | None = None) -> dict[str, str]:
    t = int(time.time() if at is None else at)
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return {"ElevenLabs-Signature": f"t={t},v0={digest}", "Content-Type": "application/json"}


async def webhook_path(client: httpx.AsyncClient, admin: Admin) -> str:
    """Connect, give the webhook secret as an admin would, and answer the webhook URL's path."""
    await connected(client, admin)
    response = await client.put(
        "/api/whatsapp/webhook-secret", headers=admin.headers, json={"secret": WEBHOOK_SECRET}
    )
    assert response.status_code == 200, response.text
    assert response.json()["webhook_secret_set"] is True
    return urlsplit(response.json()["webhook_url"]).path


async def test_a_signed_transcription_is_stored_once_and_linked_to_the_customer(
    whatsapp, client, admin, anon_key
):
    http, context = whatsapp
    path = await webhook_path(http, admin)
    customer = await add_customer(client, admin, anon_key, phone="+91 98765 43210")
    [row] = await stored_connections(context, "elevenlabs")
    assert WEBHOOK_SECRET not in " ".join(str(v) for v in row.values())

    body = json.dumps(transcription()).encode()
    first = await http.post(path, content=body, headers=signed(body))
    assert first.status_code == 200, first.text
    assert first.json() == {"received": True}
    replay = await http.post(path, content=body, headers=signed(body))
    assert replay.status_code == 200, replay.text

    [call] = await stored(context, "calls")
    assert str(call["workspace_id"]) == admin.workspace_id
    assert (call["provider"], call["provider_call_id"], call["agent_id"]) == (
        "elevenlabs",
        CONVERSATION_ID,
        "agent_support",
    )
    assert (call["status"], call["direction"], call["language"]) == ("resolved", "inbound", "en")
    assert call["phone"] == "919876543210"
    assert str(call["customer_id"]) == customer.id
    assert call["started_at"].timestamp() == 1739537200
    assert call["ended_at"].timestamp() == 1739537222
    assert call["duration_seconds"] == 22
    assert call["transcript"] == (
        "agent: Hi, how can I help?\nuser: Where is my order?\nagent: It ships tomorrow."
    )
    assert call["summary"] == "The customer asked where their order is."
    assert call["analysis"]["call_successful"] == "success"
    assert call["metadata"]["cost_credits"] == 296 and call["cost"] == 0
    assert call["metadata"]["termination_reason"] == "Call ended by remote party"


async def test_unsigned_forged_stale_and_future_deliveries_are_refused(whatsapp, admin):
    client, context = whatsapp
    path = await webhook_path(client, admin)
    body = json.dumps(transcription()).encode()
    now = time.time()
    good = signed(body)
    cases = {
        "missing": {"Content-Type": "application/json"},
        "malformed": {"ElevenLabs-Signature": "sha256=abc"},
        "wrong secret": signed(body, secret="wsec_not_the_one"),
        "other body": signed(b'{"type": "post_call_transcription"}'),
        "stale": signed(body, at=now - 31 * 60),
        "future": signed(body, at=now + 10 * 60),
    }
    for case, headers in cases.items():
        response = await client.post(path, content=body, headers=headers)
        assert response.status_code == 401, (case, response.text)
        assert response.json()["code"] == "UNAUTHORIZED", case
    unknown = await client.post("/api/webhooks/elevenlabs/" + "x" * 32, content=body, headers=good)
    assert unknown.status_code == 401, unknown.text
    assert await stored(context, "calls") == []

    # Within the window (some clock skew either way) the same body is accepted.
    skewed = await client.post(path, content=body, headers=signed(body, at=now + 60))
    assert skewed.status_code == 200, skewed.text


async def test_deliveries_wait_for_the_webhook_secret(whatsapp, admin):
    client, context = whatsapp
    body = (await connected(client, admin))["connection"]
    path = urlsplit(body["webhook_url"]).path
    payload = json.dumps(transcription()).encode()
    response = await client.post(path, content=payload, headers=signed(payload))
    assert response.status_code == 401, response.text
    assert "webhook-secret" in response.json()["message"]
    assert await stored(context, "calls") == []


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"status": "failed"}, "failed"),
        ({"analysis": {"call_successful": "failure"}}, "escalated"),
        (
            {"metadata": {"termination_reason": "transfer_to_number tool was called"}},
            "escalated",
        ),
        ({"transcript": [{"role": "agent", "message": "Hello? Anyone there?"}]}, "missed"),
    ],
)
async def test_the_outcome_maps_to_a_call_status(whatsapp, admin, data, expected):
    client, context = whatsapp
    path = await webhook_path(client, admin)
    body = json.dumps(transcription(**data)).encode()
    response = await client.post(path, content=body, headers=signed(body))
    assert response.status_code == 200, response.text
    [call] = await stored(context, "calls")
    assert call["status"] == expected


async def test_a_web_conversation_has_no_phone(whatsapp, admin):
    client, context = whatsapp
    path = await webhook_path(client, admin)
    body = json.dumps(
        transcription(metadata={"start_time_unix_secs": 1739537200, "call_duration_secs": 5})
    ).encode()
    assert (await client.post(path, content=body, headers=signed(body))).status_code == 200
    [call] = await stored(context, "calls")
    assert (call["direction"], call["phone"], call["customer_id"]) == ("web", None, None)


async def test_initiation_failures_are_stored_once_and_audio_is_ignored(whatsapp, admin):
    client, context = whatsapp
    path = await webhook_path(client, admin)
    failure = {
        "type": "call_initiation_failure",
        "event_timestamp": 1759931652,
        "data": {
            "agent_id": "agent_support",
            "conversation_id": "conv_failed_1",
            "failure_reason": "unknown",
            "metadata": {"type": "twilio", "body": {"To": "+919876543210"}},
        },
    }
    body = json.dumps(failure).encode()
    for _ in range(2):
        response = await client.post(path, content=body, headers=signed(body))
        assert response.status_code == 200, response.text
    audio = json.dumps(
        {
            "type": "post_call_audio",
            "event_timestamp": 1759931652,
            "data": {
                "agent_id": "agent_support",
                "conversation_id": "conv_2",
                # A few minutes of audio: more than other routes' body limit.
                "full_audio": base64.b64encode(bytes(3_000_000)).decode(),
            },
        }
    ).encode()
    response = await client.post(path, content=audio, headers=signed(audio))
    assert response.status_code == 200, response.text

    [call] = await stored(context, "calls")
    assert (call["provider_call_id"], call["status"], call["phone"]) == (
        "conv_failed_1",
        "failed",
        "919876543210",
    )
    assert call["metadata"]["failure_reason"] == "unknown"


# -- helpers ----------------------------------------------------------------------------------


@dataclass
class Customer:
    id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def add_customer(
    client: httpx.AsyncClient, admin: Admin, anon_key: str, **fields: Any
) -> Customer:
    """A customer the admin adds with a portal login, signed in."""
    email = unique_email("customer")
    created = await client.post(
        "/api/customers",
        headers=admin.headers,
        json={"email": email, "password": PASSWORD, **fields},
    )
    assert created.status_code == 201, created.text
    session = await client.post(
        "/auth/v1/token?grant_type=password",
        headers={"apikey": anon_key},
        json={"email": email, "password": PASSWORD},
    )
    assert session.status_code == 200, session.text
    return Customer(id=created.json()["customer_id"], token=session.json()["access_token"])
