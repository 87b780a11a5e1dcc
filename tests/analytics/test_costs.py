"""`GET /api/analytics/costs`: what a workspace spent, by service, channel or day of its own
calendar, in the omnichannel document's shape, against figures computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from backend.analytics.service import shares
from tests.analytics.factories import add_call, add_usage
from tests.fakes.openai import Reply
from tests.fixtures.factories import chat, connect_openai, create_api_key, create_chatbot

OCTOBER = "startDate=2026-10-01&endDate=2026-10-31"


async def costs(client, admin, query: str = "") -> dict:
    response = await client.get(f"/api/analytics/costs?{query}", headers=admin.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"success", "data"} and body["success"] is True
    return body["data"]


@pytest.fixture
async def october(context, admin, other_admin):
    """$5.00 in October 2026 (UTC), and what must not count: a preview, the days either side,
    a call that cost nothing, another workspace."""
    ws = admin.workspace_id
    await add_usage(context, ws, at="2026-10-05T10:00:00+00:00", cost="2.50")
    await add_usage(context, ws, at="2026-10-05T12:00:00+00:00", cost="1.00", channel="WHATSAPP")
    await add_usage(
        context,
        ws,
        at="2026-10-06T09:00:00+00:00",
        cost="0.25",
        service="OPENAI_EMBEDDING",
        channel="KNOWLEDGE",
    )
    await add_call(context, ws, at="2026-10-07T08:00:00+00:00", cost="0.75", provider="vapi")
    await add_call(context, ws, at="2026-10-07T09:00:00+00:00", cost="0.50", provider="elevenlabs")
    await add_call(context, ws, at="2026-10-07T10:00:00+00:00", cost="0", provider="bolna")
    # Not counted:
    await add_usage(context, ws, at="2026-10-06T10:00:00+00:00", cost="9.00", preview=True)
    await add_usage(context, ws, at="2026-09-30T23:59:59+00:00", cost="7.00")
    await add_usage(context, ws, at="2026-11-01T00:00:00+00:00", cost="7.00")
    await add_usage(context, other_admin.workspace_id, at="2026-10-05T10:00:00+00:00", cost="8")


async def test_by_service(client, admin, october):
    assert await costs(client, admin, f"{OCTOBER}&groupBy=service") == {
        "total": 5.0,
        "breakdown": [
            {"service": "OPENAI_GPT", "cost": 3.5, "percentage": 70.0},
            {"service": "VAPI_VOICE", "cost": 0.75, "percentage": 15.0},
            {"service": "ELEVENLABS_VOICE", "cost": 0.5, "percentage": 10.0},
            {"service": "OPENAI_EMBEDDING", "cost": 0.25, "percentage": 5.0},
        ],
    }
    # Service is what the document's example groups by, and so the default.
    assert await costs(client, admin, OCTOBER) == await costs(
        client, admin, f"{OCTOBER}&groupBy=service"
    )


async def test_by_channel(client, admin, october):
    assert await costs(client, admin, f"{OCTOBER}&groupBy=channel") == {
        "total": 5.0,
        "breakdown": [
            {"channel": "CHAT", "cost": 2.5, "percentage": 50.0},
            {"channel": "VOICE", "cost": 1.25, "percentage": 25.0},
            {"channel": "WHATSAPP", "cost": 1.0, "percentage": 20.0},
            {"channel": "KNOWLEDGE", "cost": 0.25, "percentage": 5.0},
        ],
    }


async def test_by_day(client, admin, october):
    assert await costs(client, admin, f"{OCTOBER}&groupBy=day") == {
        "total": 5.0,
        "breakdown": [
            {"day": "2026-10-05", "cost": 3.5, "percentage": 70.0},
            {"day": "2026-10-06", "cost": 0.25, "percentage": 5.0},
            {"day": "2026-10-07", "cost": 1.25, "percentage": 25.0},
        ],
    }


async def test_days_are_the_workspaces_own(client, context, admin):
    """In Asia/Kolkata (UTC+05:30) 6 October runs from 5 October 18:30 UTC to 6 October 18:30."""
    patched = await client.patch(
        "/api/business/me", headers=admin.headers, json={"timeZone": "Asia/Kolkata"}
    )
    assert patched.status_code == 200
    ws = admin.workspace_id
    await add_usage(context, ws, at="2026-10-05T18:00:00+00:00", cost="0.10")  # 23:30 on the 5th
    await add_usage(context, ws, at="2026-10-05T23:30:00+00:00", cost="0.20")  # 05:00 on the 6th
    await add_call(context, ws, at="2026-10-06T18:29:59+00:00", cost="0.30")  # 23:59:59, 6th
    await add_usage(context, ws, at="2026-10-06T18:45:00+00:00", cost="0.40")  # 00:15 on the 7th

    sixth = await costs(client, admin, "startDate=2026-10-06&endDate=2026-10-06&groupBy=day")
    assert sixth == {
        "total": 0.5,
        "breakdown": [{"day": "2026-10-06", "cost": 0.5, "percentage": 100.0}],
    }
    week = await costs(client, admin, "startDate=2026-10-01&endDate=2026-10-07&groupBy=day")
    assert [(d["day"], d["cost"]) for d in week["breakdown"]] == [
        ("2026-10-05", 0.1),
        ("2026-10-06", 0.5),
        ("2026-10-07", 0.4),
    ]


async def test_the_documents_example_figures(client, context, admin):
    ws = admin.workspace_id
    await add_usage(context, ws, at="2024-01-10T10:00:00+00:00", cost="350.00")
    await add_usage(context, ws, at="2024-01-11T10:00:00+00:00", cost="50", service="EXOTEL_SMS")
    await add_usage(
        context, ws, at="2024-01-12T10:00:00+00:00", cost="50", service="OPENAI_EMBEDDING"
    )
    response = await client.get(
        "/api/analytics/costs?startDate=2024-01-01&endDate=2024-01-31&groupBy=service",
        headers=admin.headers,
    )
    assert response.json() == {
        "success": True,
        "data": {
            "total": 450.00,
            "breakdown": [
                {"service": "OPENAI_GPT", "cost": 350.00, "percentage": 77.8},
                {"service": "EXOTEL_SMS", "cost": 50.00, "percentage": 11.1},
                {"service": "OPENAI_EMBEDDING", "cost": 50.00, "percentage": 11.1},
            ],
        },
    }


async def test_three_equal_thirds_still_add_up_to_100(client, context, admin):
    for channel in ("API", "CHAT", "WHATSAPP"):
        await add_usage(
            context,
            admin.workspace_id,
            at="2026-10-10T10:00:00+00:00",
            cost="0.01",
            channel=channel,
        )
    data = await costs(client, admin, f"{OCTOBER}&groupBy=channel")
    assert data["total"] == 0.03
    # 33.33… each: the unit left over goes to the first of the tie (by name).
    assert [(c["channel"], c["percentage"]) for c in data["breakdown"]] == [
        ("API", 33.4),
        ("CHAT", 33.3),
        ("WHATSAPP", 33.3),
    ]
    assert sum(Decimal(str(c["percentage"])) for c in data["breakdown"]) == 100


@pytest.mark.parametrize(
    ("amounts", "expected"),
    [
        (["1", "1", "1"], ["33.4", "33.3", "33.3"]),
        (["350", "50", "50"], ["77.8", "11.1", "11.1"]),
        (
            ["2", "1", "1", "1", "1", "1", "1"],
            ["25.0", "12.5", "12.5", "12.5", "12.5", "12.5", "12.5"],
        ),
        (["0.000001", "999.999999"], ["0.0", "100.0"]),
        (["1", "1", "1", "1", "1", "1"], ["16.7", "16.7", "16.7", "16.7", "16.6", "16.6"]),
        (["0.5"], ["100.0"]),
        ([], []),
    ],
)
def test_shares_round_to_one_decimal_and_sum_to_100(amounts, expected):
    result = shares([Decimal(a) for a in amounts])
    assert result == [Decimal(e) for e in expected]
    assert sum(result, Decimal(0)) == (100 if amounts else 0)


async def test_nothing_spent_is_an_empty_breakdown(client, admin):
    for group in ("service", "channel", "day"):
        assert await costs(client, admin, f"{OCTOBER}&groupBy={group}") == {
            "total": 0.0,
            "breakdown": [],
        }


async def test_a_chat_answer_is_counted_at_the_price_of_its_tokens(client, admin, fake_openai):
    """Without dates: this month so far. gpt-4o-mini at $0.15 / $0.60 per million tokens:
    1,000 in and 500 out cost $0.00015 + $0.00030; the question's embedding (a few tokens of
    text-embedding-3-small) costs less than a millionth of a dollar, so nothing is shown."""
    await connect_openai(client, admin, fake_openai.key)
    bot = await create_chatbot(client, admin)
    fake_openai.script(Reply(content="Hi!", prompt_tokens=1000, completion_tokens=500))
    assert (await chat(client, bot["id"], "Hello")).json()["source"] == "model"
    assert await costs(client, admin) == {
        "total": 0.00045,
        "breakdown": [{"service": "OPENAI_GPT", "cost": 0.00045, "percentage": 100.0}],
    }
    by_channel = await costs(client, admin, "groupBy=channel")
    assert by_channel["breakdown"] == [{"channel": "CHAT", "cost": 0.00045, "percentage": 100.0}]
    by_day = await costs(client, admin, "groupBy=day")
    today = datetime.now(UTC).date().isoformat()
    assert by_day["breakdown"] == [{"day": today, "cost": 0.00045, "percentage": 100.0}]


async def test_timestamps_count_by_their_calendar_date(client, admin, october):
    """What a browser's `toISOString()` of a picked day gives is taken as that day."""
    data = await costs(
        client,
        admin,
        "startDate=2026-10-05T00:00:00.000Z&endDate=2026-10-05T00:00:00.000Z&groupBy=day",
    )
    assert data["breakdown"] == [{"day": "2026-10-05", "cost": 3.5, "percentage": 100.0}]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("startDate=2026-10-31&endDate=2026-10-01", "endDate"),
        ("startDate=2025-10-01&endDate=2026-10-02", "endDate"),  # 367 days: 366 is the most
        ("startDate=yesterday", "startDate"),
        ("startDate=2026-02-30", "startDate"),
        ("endDate=2026-13-01", "endDate"),
        ("startDate=9999-12-30&endDate=9999-12-31", "endDate"),
        ("groupBy=week", "groupBy"),
        ("groupBy=SERVICE", "groupBy"),
    ],
)
async def test_invalid_queries_are_the_documents_400(client, admin, query, field):
    response = await client.get(f"/api/analytics/costs?{query}", headers=admin.headers)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["success"] is False and body["code"] == "VALIDATION_ERROR"
    assert [e["field"] for e in body["errors"]] == [field]


async def test_a_leap_year_fits_in_the_range(client, admin):
    assert (await costs(client, admin, "startDate=2024-01-01&endDate=2024-12-31"))["total"] == 0


async def test_who_may_read_costs(client, admin, october):
    key = (await create_api_key(client, admin, ["api"]))["key"]
    keyed = await client.get(f"/api/analytics/costs?{OCTOBER}", headers={"X-API-Key": key})
    assert keyed.status_code == 200 and keyed.json()["data"]["total"] == 5.0

    stats_only = (await create_api_key(client, admin, ["stats:read"]))["key"]
    refused = await client.get("/api/analytics/costs", headers={"X-API-Key": stats_only})
    assert refused.status_code == 403 and refused.json()["code"] == "FORBIDDEN"
    assert (await client.get("/api/analytics/costs")).status_code == 401


async def test_each_workspace_sees_its_own_costs(client, admin, other_admin, october):
    theirs = await costs(client, other_admin, f"{OCTOBER}&groupBy=service")
    assert theirs == {
        "total": 8.0,
        "breakdown": [{"service": "OPENAI_GPT", "cost": 8.0, "percentage": 100.0}],
    }
    foreign = {**other_admin.headers, "X-Workspace-Id": admin.workspace_id}
    assert (await client.get("/api/analytics/costs", headers=foreign)).status_code == 404
