"""Budget alerts: recorded when the month's spend reaches 80 % and 100 % of the budget, once per
month and threshold however many calls (or concurrent calls) cross it, logged, listed under
`GET /api/business/alerts`, and written by the backend only."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from uuid import UUID

import pytest
from psycopg import errors as pg_errors
from structlog.testing import capture_logs

from backend.billing import service as billing
from tests.fixtures.factories import create_api_key


async def spend(context, workspace_id: str, *amounts: str) -> None:
    """Settle calls that cost `amounts`, one after the other, as the chat engine does."""
    ws = UUID(workspace_id)
    for amount in amounts:
        async with context.db.for_workspace(ws, "test") as conn:
            await billing.settle(conn, ws, billing.Admission(None), Decimal(amount))


async def stored_alerts(context, workspace_id: str) -> list[tuple[int, Decimal, Decimal]]:
    async with context.db.system() as conn:
        cur = await conn.execute(
            "select threshold, spend, budget from budget_alerts where workspace_id = %s"
            " order by month, threshold",
            (workspace_id,),
        )
        return [(r["threshold"], r["spend"], r["budget"]) for r in await cur.fetchall()]


async def set_budget(client, admin, budget: float | None) -> dict:
    response = await client.put(
        "/api/business/credits", headers=admin.headers, json={"monthlyBudget": budget}
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def test_each_threshold_is_recorded_once_when_crossed(client, context, admin):
    await set_budget(client, admin, 1.00)
    await spend(context, admin.workspace_id, "0.50")
    assert await stored_alerts(context, admin.workspace_id) == []

    with capture_logs() as logs:
        await spend(context, admin.workspace_id, "0.30")  # 0.80: exactly 80 %
    assert await stored_alerts(context, admin.workspace_id) == [
        (80, Decimal("0.80"), Decimal("1.00"))
    ]
    assert [(e["event"], e["threshold"], e["spend"]) for e in logs] == [
        ("budget_alert", 80, "0.800000")
    ]

    await spend(context, admin.workspace_id, "0.05", "0.10")  # 0.95: still 80 % only
    await spend(context, admin.workspace_id, "0.05", "0.20")  # 1.00, then 1.20
    await spend(context, admin.workspace_id, "0.01")
    assert await stored_alerts(context, admin.workspace_id) == [
        (80, Decimal("0.80"), Decimal("1.00")),
        (100, Decimal("1.00"), Decimal("1.00")),
    ]
    credits = (await client.get("/api/business/credits", headers=admin.headers)).json()["data"]
    assert credits["currentMonthSpend"] == 1.21 and credits["percentUsed"] == 121
    assert credits["isPaused"] is True


async def test_one_call_crossing_both_thresholds_records_both(context, client, admin):
    await set_budget(client, admin, 0.01)
    await spend(context, admin.workspace_id, "0.0125")
    assert await stored_alerts(context, admin.workspace_id) == [
        (80, Decimal("0.0125"), Decimal("0.01")),
        (100, Decimal("0.0125"), Decimal("0.01")),
    ]


async def test_concurrent_calls_record_each_alert_once(context, client, admin):
    """Twenty calls of $0.10 settle at once against a $1.00 budget: the settlements queue on the
    account's row, so the alerts carry the spend of the very call that reached them."""
    await set_budget(client, admin, 1.00)
    ws = UUID(admin.workspace_id)

    async def one_call() -> None:
        async with context.db.for_workspace(ws, "test") as conn:
            await billing.settle(conn, ws, billing.Admission(None), Decimal("0.10"))

    await asyncio.gather(*(one_call() for _ in range(20)))
    assert await stored_alerts(context, admin.workspace_id) == [
        (80, Decimal("0.80"), Decimal("1.00")),
        (100, Decimal("1.00"), Decimal("1.00")),
    ]


async def test_a_new_month_alerts_again(context, client, admin):
    await set_budget(client, admin, 1.00)
    await spend(context, admin.workspace_id, "1.50")
    async with context.db.system() as conn:  # that spend was last month's
        await conn.execute(
            "update billing_accounts set spend_month = (date_trunc('month', now())"
            " - interval '1 month')::date where workspace_id = %s",
            (admin.workspace_id,),
        )
        await conn.execute(
            "update budget_alerts set month = (date_trunc('month', now())"
            " - interval '1 month')::date where workspace_id = %s",
            (admin.workspace_id,),
        )
    await spend(context, admin.workspace_id, "0.85")  # this month's spend starts from zero
    assert await stored_alerts(context, admin.workspace_id) == [
        (80, Decimal("1.50"), Decimal("1.00")),
        (100, Decimal("1.50"), Decimal("1.00")),
        (80, Decimal("0.85"), Decimal("1.00")),
    ]


async def test_a_budget_set_below_the_spend_pauses_and_alerts(context, client, admin):
    await spend(context, admin.workspace_id, "0.50")
    assert (await set_budget(client, admin, 2.00))["isPaused"] is False
    assert await stored_alerts(context, admin.workspace_id) == []

    credits = await set_budget(client, admin, 0.50)
    assert credits["isPaused"] is True and credits["percentUsed"] == 100
    assert await stored_alerts(context, admin.workspace_id) == [
        (80, Decimal("0.50"), Decimal("0.50")),
        (100, Decimal("0.50"), Decimal("0.50")),
    ]
    async with context.db.system() as conn:
        cur = await conn.execute(
            "select is_paused, paused_reason from billing_accounts where workspace_id = %s",
            (admin.workspace_id,),
        )
        assert await cur.fetchone() == {"is_paused": True, "paused_reason": "budget"}

    # Raising it again lifts the pause, and alerts nothing new this month.
    assert (await set_budget(client, admin, 5.00))["isPaused"] is False
    assert len(await stored_alerts(context, admin.workspace_id)) == 2


async def test_a_zero_budget_stops_spending_without_alerts(context, client, admin):
    credits = await set_budget(client, admin, 0)
    assert credits["isPaused"] is True and credits["percentUsed"] == 100
    await spend(context, admin.workspace_id, "0.01")
    assert await stored_alerts(context, admin.workspace_id) == []


async def test_alerts_endpoint(client, context, admin, other_admin):
    await set_budget(client, admin, 1.00)
    await spend(context, admin.workspace_id, "0.90", "0.20")
    response = await client.get("/api/business/alerts", headers=admin.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["pagination"] == {"page": 1, "limit": 20, "total": 2, "totalPages": 1}
    newest, oldest = body["data"]
    assert {k: newest[k] for k in ("threshold", "spend", "budget")} == {
        "threshold": 100,
        "spend": 1.1,
        "budget": 1.0,
    }
    assert {k: oldest[k] for k in ("threshold", "spend", "budget")} == {
        "threshold": 80,
        "spend": 0.9,
        "budget": 1.0,
    }
    assert set(newest) == {"threshold", "month", "spend", "budget", "createdAt"}
    assert newest["createdAt"].endswith("Z") and len(newest["month"]) == 7  # YYYY-MM

    page_two = await client.get("/api/business/alerts?page=2&limit=1", headers=admin.headers)
    assert [a["threshold"] for a in page_two.json()["data"]] == [80]

    key = (await create_api_key(client, admin, ["api"]))["key"]
    keyed = await client.get("/api/business/alerts", headers={"X-API-Key": key})
    assert keyed.json()["data"] == body["data"]
    theirs = await client.get("/api/business/alerts", headers=other_admin.headers)
    assert theirs.json()["data"] == [] and theirs.json()["pagination"]["total"] == 0
    assert (await client.get("/api/business/alerts")).status_code == 401
    bad = await client.get("/api/business/alerts?limit=101", headers=admin.headers)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "limit"


async def test_members_cannot_write_alerts(context, admin):
    claims = {"sub": admin.user_id, "role": "authenticated", "email": admin.email}
    with pytest.raises(pg_errors.InsufficientPrivilege):
        async with context.db.as_claims(claims) as conn:
            await conn.execute(
                "insert into budget_alerts (workspace_id, month, threshold, spend, budget)"
                " values (%s, date_trunc('month', now())::date, 80, 1, 1)",
                (admin.workspace_id,),
            )
