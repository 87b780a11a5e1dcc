"""The omnichannel document's Business API: profile, AI configuration, credits and budget."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

import pytest

from backend.auth.subjects import AuthSubject, User
from backend.billing import credits_repository as credits
from backend.billing import service as billing
from backend.business import router as business_router
from tests.fixtures.factories import create_admin, create_api_key

# The documented fields, the time zone the stats count days in and the country national phone
# numbers are read in (additions).
PROFILE_FIELDS = {
    "id", "name", "email", "phone", "industry", "active", "createdAt", "timeZone", "country",
}  # fmt: skip
CREDIT_FIELDS = {
    "totalCredits",
    "usedCredits",
    "availableCredits",
    "monthlyBudget",
    "currentMonthSpend",
    "percentUsed",
    "isPaused",
}
# The request body of `PUT /api/business/ai-config`, as documented.
DOCUMENTED_AI_CONFIG = {
    "customPrompt": "You are a helpful assistant for our clinic...",
    "tone": "professional",
    "language": "en",
    "prohibitedTopics": ["medical advice", "diagnosis"],
    "fallbackMessage": "Let me connect you with a human agent.",
}
Z_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def field_names(response) -> list[str]:
    body = response.json()
    assert body["success"] is False and body["code"] == "VALIDATION_ERROR", body
    return [e["field"] for e in body["errors"]]


# -- profile ----------------------------------------------------------------------------------


async def test_profile_has_the_documented_fields(client, admin):
    response = await client.get("/api/business/me", headers=admin.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    profile = body["data"]
    assert set(profile) == PROFILE_FIELDS
    assert profile["id"] == admin.workspace_id
    assert profile["name"].startswith("alice")
    assert (profile["email"], profile["phone"], profile["industry"]) == (None, None, None)
    assert profile["active"] is True
    assert Z_TIMESTAMP.match(profile["createdAt"]), profile["createdAt"]
    created = datetime.fromisoformat(profile["createdAt"].replace("Z", "+00:00"))
    assert abs((datetime.now(UTC) - created).total_seconds()) < 300


async def test_created_at_is_utc_whatever_the_session_time_zone(context, admin):
    """`createdAt` ends in Z even when the database answers in another time zone."""
    subject = AuthSubject(
        principal=User(id=UUID(admin.user_id), email=admin.email, claims={}),
        workspace_id=UUID(admin.workspace_id),
        role="owner",
    )
    async with context.db.system() as conn:
        await conn.execute("set local timezone = 'Asia/Kolkata'")
        in_utc = await conn.execute(
            "select created_at at time zone 'UTC' as t from workspaces where id = %s",
            (admin.workspace_id,),
        )
        expected = (await in_utc.fetchone())["t"].replace(tzinfo=UTC)
        envelope = await business_router.get_profile(subject, conn)
    created_at = envelope.data.createdAt
    assert Z_TIMESTAMP.match(created_at), created_at
    assert datetime.fromisoformat(created_at.replace("Z", "+00:00")) == expected


async def test_patch_profile(client, admin):
    response = await client.patch(
        "/api/business/me",
        headers=admin.headers,
        json={
            "name": "Sunrise Clinic",
            "email": "front-desk@sunrise.example",
            "phone": "+1234567890",
            "industry": "healthcare",
        },
    )
    assert response.status_code == 200, response.text
    profile = response.json()["data"]
    assert set(profile) == PROFILE_FIELDS
    assert {k: profile[k] for k in ("name", "email", "phone", "industry")} == {
        "name": "Sunrise Clinic",
        "email": "front-desk@sunrise.example",
        "phone": "+1234567890",
        "industry": "healthcare",
    }
    assert (await client.get("/api/business/me", headers=admin.headers)).json()["data"] == profile

    # Only what is sent changes; null clears an optional field.
    partial = await client.patch("/api/business/me", headers=admin.headers, json={"industry": None})
    assert partial.status_code == 200
    data = partial.json()["data"]
    assert data["industry"] is None and data["name"] == "Sunrise Clinic"
    assert data["email"] == "front-desk@sunrise.example"
    empty = await client.patch("/api/business/me", headers=admin.headers, json={})
    assert empty.status_code == 200 and empty.json()["data"] == data


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"email": "not-an-email"}, "email"),
        ({"phone": "1" * 33}, "phone"),
        ({"industry": "x" * 101}, "industry"),
        ({"active": False}, "active"),
        ({"country": "XX"}, "country"),
        ({"country": "GBR"}, "country"),
        ({"country": "United Kingdom"}, "country"),
    ],
)
async def test_patch_profile_validation(client, admin, body, field):
    before = (await client.get("/api/business/me", headers=admin.headers)).json()["data"]
    response = await client.patch("/api/business/me", headers=admin.headers, json=body)
    assert response.status_code == 400, response.text
    assert field in field_names(response)
    assert (await client.get("/api/business/me", headers=admin.headers)).json()["data"] == before


async def test_the_country_is_set_or_follows_the_workspace_phone(client, admin):
    async def country():
        response = await client.get("/api/business/me", headers=admin.headers)
        return response.json()["data"]["country"]

    async def patch(body):
        response = await client.patch("/api/business/me", headers=admin.headers, json=body)
        assert response.status_code == 200, response.text
        return response.json()["data"]["country"]

    assert await country() is None  # neither a country nor a phone: national numbers unread
    assert await patch({"phone": "+44 20 7946 0958"}) == "GB"  # the phone's, until set
    assert await patch({"country": "in"}) == "IN"
    assert await patch({"phone": "+1 415 555 0100"}) == "IN"  # once set, the phone is not read
    assert await country() == "IN"
    assert await patch({"country": None}) == "US"  # cleared: the phone's again


async def test_each_workspace_sees_its_own_profile(client, admin, other_admin):
    await client.patch("/api/business/me", headers=admin.headers, json={"name": "Alice Co"})
    theirs = (await client.get("/api/business/me", headers=other_admin.headers)).json()["data"]
    assert theirs["id"] == other_admin.workspace_id and theirs["name"] != "Alice Co"
    foreign = {**other_admin.headers, "X-Workspace-Id": admin.workspace_id}
    assert (await client.get("/api/business/me", headers=foreign)).status_code == 404
    assert (
        await client.patch("/api/business/me", headers=foreign, json={"name": "Taken"})
    ).status_code == 404
    mine = (await client.get("/api/business/me", headers=admin.headers)).json()["data"]
    assert mine["name"] == "Alice Co"


async def test_an_agent_reads_but_cannot_change_the_business(client, anon_key, admin):
    agent = await create_admin(client, anon_key, "agent")
    await client.post(
        f"/api/workspaces/{admin.workspace_id}/members",
        headers=admin.headers,
        json={"email": agent.email, "role": "agent"},
    )
    as_agent = {**agent.headers, "X-Workspace-Id": admin.workspace_id}
    assert (await client.get("/api/business/me", headers=as_agent)).json()["data"]["id"] == (
        admin.workspace_id
    )
    for method, path, body in (
        ("PATCH", "/api/business/me", {"name": "Agent Co"}),
        ("PUT", "/api/business/ai-config", DOCUMENTED_AI_CONFIG),
        ("PUT", "/api/business/credits", {"monthlyBudget": 1}),
    ):
        response = await client.request(method, path, headers=as_agent, json=body)
        assert response.status_code == 403, (path, response.text)


# -- AI configuration -------------------------------------------------------------------------


async def test_ai_config_round_trip(client, admin):
    default = await client.get("/api/business/ai-config", headers=admin.headers)
    assert default.status_code == 200
    assert set(default.json()["data"]) == set(DOCUMENTED_AI_CONFIG)
    assert default.json()["data"]["prohibitedTopics"] == []

    response = await client.put(
        "/api/business/ai-config", headers=admin.headers, json=DOCUMENTED_AI_CONFIG
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "data": DOCUMENTED_AI_CONFIG}
    got = await client.get("/api/business/ai-config", headers=admin.headers)
    assert got.json() == {"success": True, "data": DOCUMENTED_AI_CONFIG}

    # A second PUT replaces the first; blank topics are dropped.
    changed = {**DOCUMENTED_AI_CONFIG, "tone": "friendly", "prohibitedTopics": [" pricing ", " "]}
    again = await client.put("/api/business/ai-config", headers=admin.headers, json=changed)
    assert again.json()["data"] == {**changed, "prohibitedTopics": ["pricing"]}
    got = await client.get("/api/business/ai-config", headers=admin.headers)
    assert got.json()["data"] == again.json()["data"]


async def test_ai_config_is_per_workspace(client, admin, other_admin):
    await client.put("/api/business/ai-config", headers=admin.headers, json=DOCUMENTED_AI_CONFIG)
    theirs = await client.get("/api/business/ai-config", headers=other_admin.headers)
    assert theirs.json()["data"] != DOCUMENTED_AI_CONFIG
    assert theirs.json()["data"]["prohibitedTopics"] == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"customPrompt": "x" * 8001}, "customPrompt"),
        ({"fallbackMessage": ""}, "fallbackMessage"),
        ({"fallbackMessage": "x" * 1001}, "fallbackMessage"),
        ({"tone": ""}, "tone"),
        ({"language": "e"}, "language"),
        ({"prohibitedTopics": ["t"] * 51}, "prohibitedTopics"),
        ({"custom_prompt": "snake case is not the documented name"}, "custom_prompt"),
    ],
)
async def test_ai_config_validation(client, admin, change, field):
    response = await client.put(
        "/api/business/ai-config", headers=admin.headers, json={**DOCUMENTED_AI_CONFIG, **change}
    )
    assert response.status_code == 400, response.text
    assert field in field_names(response)
    got = await client.get("/api/business/ai-config", headers=admin.headers)
    assert got.json()["data"]["customPrompt"] == ""


async def test_a_prompt_of_exactly_the_limit_is_accepted(client, admin):
    body = {**DOCUMENTED_AI_CONFIG, "customPrompt": "x" * 8000}
    response = await client.put("/api/business/ai-config", headers=admin.headers, json=body)
    assert response.status_code == 200
    assert len(response.json()["data"]["customPrompt"]) == 8000


# -- credits and budget -----------------------------------------------------------------------


async def test_credits_have_exactly_the_documented_fields(client, admin):
    response = await client.get("/api/business/credits", headers=admin.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"success", "data"} and body["success"] is True
    assert set(body["data"]) == CREDIT_FIELDS
    assert body["data"] == {
        "totalCredits": 0,
        "usedCredits": 0,
        "availableCredits": 0,
        "monthlyBudget": None,
        "currentMonthSpend": 0,
        "percentUsed": 0,
        "isPaused": False,
    }


async def test_set_and_clear_the_monthly_budget(client, admin):
    response = await client.put(
        "/api/business/credits", headers=admin.headers, json={"monthlyBudget": 50}
    )
    assert response.status_code == 200, response.text
    assert set(response.json()["data"]) == CREDIT_FIELDS
    assert response.json()["data"]["monthlyBudget"] == 50

    credits = (await client.get("/api/business/credits", headers=admin.headers)).json()["data"]
    assert credits["monthlyBudget"] == 50
    assert credits["percentUsed"] == 0 and credits["isPaused"] is False
    assert credits["currentMonthSpend"] == 0

    fractional = await client.put(
        "/api/business/credits", headers=admin.headers, json={"monthlyBudget": 12.34}
    )
    assert fractional.json()["data"]["monthlyBudget"] == 12.34

    cleared = await client.put(
        "/api/business/credits", headers=admin.headers, json={"monthlyBudget": None}
    )
    assert cleared.status_code == 200
    assert cleared.json()["data"]["monthlyBudget"] is None
    credits = (await client.get("/api/business/credits", headers=admin.headers)).json()["data"]
    assert credits["monthlyBudget"] is None and credits["isPaused"] is False


@pytest.mark.parametrize(
    "body",
    [{"monthlyBudget": -1}, {"monthlyBudget": -0.01}, {"monthlyBudget": "lots"}, {}],
)
async def test_budget_validation(client, admin, body):
    await client.put("/api/business/credits", headers=admin.headers, json={"monthlyBudget": 50})
    response = await client.put("/api/business/credits", headers=admin.headers, json=body)
    assert response.status_code == 400, response.text
    assert field_names(response) == ["monthlyBudget"]
    credits = (await client.get("/api/business/credits", headers=admin.headers)).json()["data"]
    assert credits["monthlyBudget"] == 50


async def test_the_documents_example_balance(client, context, admin):
    """$1,000 of prepaid credits, $150.50 spent this month against a $500 budget: the figures
    of the document's example."""
    ws = UUID(admin.workspace_id)
    async with context.db.system() as conn:
        await conn.execute(
            "insert into billing_accounts (workspace_id, billing_mode) values (%s, 'prepaid')",
            (ws,),
        )
        await credits.grant(conn, ws, Decimal("1000.00"), "adjustment", "example")
    await client.put("/api/business/credits", headers=admin.headers, json={"monthlyBudget": 500})
    async with context.db.for_workspace(ws, "test") as conn:
        await billing.settle(conn, ws, billing.Admission(None), Decimal("150.50"))
    response = await client.get("/api/business/credits", headers=admin.headers)
    assert response.json() == {
        "success": True,
        "data": {
            "totalCredits": 1000.00,
            "usedCredits": 150.50,
            "availableCredits": 849.50,
            "monthlyBudget": 500.00,
            "currentMonthSpend": 150.50,
            "percentUsed": 30,
            "isPaused": False,
        },
    }
    me = (await client.get("/api/business/me", headers=admin.headers)).json()["data"]
    assert me["active"] is True


async def test_percent_used_rounds_half_up(client, context, admin):
    ws = UUID(admin.workspace_id)
    await client.put("/api/business/credits", headers=admin.headers, json={"monthlyBudget": 8})
    async with context.db.for_workspace(ws, "test") as conn:
        await billing.settle(conn, ws, billing.Admission(None), Decimal("0.02"))  # 0.25 %
    data = (await client.get("/api/business/credits", headers=admin.headers)).json()["data"]
    assert data["percentUsed"] == 0
    async with context.db.for_workspace(ws, "test") as conn:
        await billing.settle(conn, ws, billing.Admission(None), Decimal("0.02"))  # 0.5 %
    data = (await client.get("/api/business/credits", headers=admin.headers)).json()["data"]
    assert data["percentUsed"] == 1 and data["currentMonthSpend"] == 0.04
    # Spend is recorded in every mode, credits are charged in prepaid mode only.
    assert data["usedCredits"] == 0


async def test_budgets_are_per_workspace(client, admin, other_admin):
    await client.put("/api/business/credits", headers=admin.headers, json={"monthlyBudget": 50})
    theirs = (await client.get("/api/business/credits", headers=other_admin.headers)).json()
    assert theirs["data"]["monthlyBudget"] is None


# -- API keys ---------------------------------------------------------------------------------


async def test_reads_work_with_an_api_key_and_writes_are_refused(client, admin):
    await client.patch("/api/business/me", headers=admin.headers, json={"name": "Keyed Co"})
    await client.put("/api/business/credits", headers=admin.headers, json={"monthlyBudget": 50})
    key = (await create_api_key(client, admin, ["api"]))["key"]
    headers = {"X-API-Key": key}

    me = await client.get("/api/business/me", headers=headers)
    assert me.status_code == 200, me.text
    assert me.json()["data"]["id"] == admin.workspace_id
    assert me.json()["data"]["name"] == "Keyed Co"
    assert set(me.json()["data"]) == PROFILE_FIELDS
    credits = await client.get("/api/business/credits", headers=headers)
    assert credits.status_code == 200, credits.text
    assert set(credits.json()["data"]) == CREDIT_FIELDS
    assert credits.json()["data"]["monthlyBudget"] == 50
    config = await client.get("/api/business/ai-config", headers=headers)
    assert config.status_code == 200

    for method, path, body in (
        ("PUT", "/api/business/ai-config", DOCUMENTED_AI_CONFIG),
        ("PUT", "/api/business/credits", {"monthlyBudget": 1}),
        ("PATCH", "/api/business/me", {"name": "Key Co"}),
    ):
        refused = await client.request(method, path, headers=headers, json=body)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["code"] == "FORBIDDEN"
    credits = (await client.get("/api/business/credits", headers=headers)).json()["data"]
    assert credits["monthlyBudget"] == 50
    assert (await client.get("/api/business/me", headers=headers)).json()["data"]["name"] == (
        "Keyed Co"
    )


async def test_a_key_without_the_api_scope_is_refused(client, admin):
    key = (await create_api_key(client, admin, ["stats:read"]))["key"]
    for path in ("/api/business/me", "/api/business/credits"):
        response = await client.get(path, headers={"X-API-Key": key})
        assert response.status_code == 403, path


async def test_anonymous_callers_are_refused(client):
    for path in ("/api/business/me", "/api/business/credits", "/api/business/ai-config"):
        assert (await client.get(path)).status_code == 401


async def test_a_time_zone_the_database_does_not_know_is_refused(client, context, admin):
    from zoneinfo import available_timezones

    async with context.db.system() as conn:
        known = {
            r["name"]
            for r in await (await conn.execute("select name from pg_timezone_names")).fetchall()
        }
    # Python's zone list is not PostgreSQL's (tzdata versions, aliases such as `localtime`).
    unknown = sorted(available_timezones() - known)
    if not unknown:
        pytest.skip("this PostgreSQL knows every zone Python knows")
    response = await client.patch(
        "/api/business/me", headers=admin.headers, json={"timeZone": unknown[0]}
    )
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["field"] == "timeZone"
    profile = await client.get("/api/business/me", headers=admin.headers)
    assert profile.json()["data"]["timeZone"] == "UTC"
