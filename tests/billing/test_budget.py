"""Budgets hold under concurrency: spend passes the budget by at most one message's worth, no
usage row is lost or doubled, and a spent workspace is refused before the model is called."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from uuid import UUID

import pytest

from backend.billing import service as billing
from tests.fixtures.factories import add_faq, chat, connect_openai, create_chatbot

# A long system prompt makes each message cost something visible at gpt-4o prices.
PROMPT = "You are the assistant of a clinic. " + "Be precise and kind. " * 400


@pytest.fixture
async def bot(client, admin, fake_openai):
    await connect_openai(client, admin, fake_openai.key)
    return await create_chatbot(client, admin, model="gpt-4o", max_tokens=50, system_prompt=PROMPT)


async def totals(context, workspace_id):
    async with context.db.system() as conn:
        usage = await (
            await conn.execute(
                "select coalesce(sum(cost), 0) as spend, count(*) as calls,"
                " count(*) filter (where service = 'OPENAI_GPT') as model_calls,"
                " count(*) filter (where message_id is null"
                "   or message_id not in (select id from messages)) as orphans"
                " from token_usage where workspace_id = %s",
                (workspace_id,),
            )
        ).fetchone()
        answered = await (
            await conn.execute(
                "select count(*) as n from messages where workspace_id = %s and source = 'model'",
                (workspace_id,),
            )
        ).fetchone()
        account = await (
            await conn.execute(
                "select month_spend, is_paused from billing_accounts where workspace_id = %s",
                (workspace_id,),
            )
        ).fetchone()
    return usage, answered["n"], account


async def test_credits_shape_and_budget_setting(client, admin):
    response = await client.get("/api/business/credits", headers=admin.headers)
    assert response.json() == {
        "success": True,
        "data": {
            "totalCredits": 0.0,
            "usedCredits": 0.0,
            "availableCredits": 0.0,
            "monthlyBudget": None,
            "currentMonthSpend": 0.0,
            "percentUsed": 0,
            "isPaused": False,
        },
    }
    updated = await client.put(
        "/api/business/credits", headers=admin.headers, json={"monthlyBudget": 25}
    )
    assert updated.json()["data"]["monthlyBudget"] == 25.0
    assert (
        await client.put("/api/business/credits", headers=admin.headers, json={"monthlyBudget": -1})
    ).status_code == 400


async def test_a_spent_budget_pauses_before_the_model_is_called(
    client, context, admin, bot, fake_openai
):
    await add_faq(client, admin, bot["id"], "Where are you?", "On MG Road.")
    await client.put("/api/business/credits", headers=admin.headers, json={"monthlyBudget": 0.001})
    first = await chat(client, bot["id"], "Hello", visitor_id="a")
    assert first.json()["source"] == "model"  # one message may pass the budget …
    calls = len(fake_openai.chat_requests)

    refused = await chat(client, bot["id"], "Hello again", visitor_id="b")  # … the next may not
    assert refused.status_code == 403
    assert refused.json()["code"] == "INSUFFICIENT_BUDGET"
    assert len(fake_openai.chat_requests) == calls  # refused before any call
    credits = (await client.get("/api/business/credits", headers=admin.headers)).json()["data"]
    assert credits["isPaused"] is True and credits["percentUsed"] >= 100
    # Free answers still work while paused.
    assert (await chat(client, bot["id"], "Where are you?", visitor_id="c")).json()[
        "message"
    ] == "On MG Road."

    # Raising the budget resumes the workspace.
    await client.put("/api/business/credits", headers=admin.headers, json={"monthlyBudget": 10})
    assert (await chat(client, bot["id"], "Back?", visitor_id="d")).json()["source"] == "model"
    assert (await client.get("/api/business/credits", headers=admin.headers)).json()["data"][
        "isPaused"
    ] is False


async def test_concurrent_messages_never_overrun_the_budget(
    client, context, admin, bot, fake_openai
):
    # Measure what one message costs, then allow about ten of them.
    await chat(client, bot["id"], "How much does one message cost?", visitor_id="probe")
    usage, _, _ = await totals(context, admin.workspace_id)
    one_message = usage["spend"]
    assert one_message > 0
    budget = (one_message * 10).quantize(Decimal("0.0001"))
    await client.put(
        "/api/business/credits", headers=admin.headers, json={"monthlyBudget": float(budget)}
    )

    responses = await asyncio.gather(
        *(chat(client, bot["id"], f"Question number {i}?", visitor_id=f"v{i}") for i in range(100))
    )
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 403}
    assert statuses.count(200) >= 5, statuses  # the budget was used, not refused wholesale
    assert all(r.json()["code"] == "INSUFFICIENT_BUDGET" for r in responses if r.status_code == 403)

    usage, answered, account = await totals(context, admin.workspace_id)
    assert usage["spend"] <= budget + one_message  # at most one message's worth over
    assert usage["orphans"] == 0  # every usage row belongs to a stored answer
    assert usage["model_calls"] == answered == statuses.count(200) + 1  # none lost, none doubled
    assert account["month_spend"] == usage["spend"]  # the counter agrees with the ledger


async def test_a_budget_pause_ends_with_its_month(client, context, admin, bot, fake_openai):
    await client.put("/api/business/credits", headers=admin.headers, json={"monthlyBudget": 0.001})
    assert (await chat(client, bot["id"], "Hello", visitor_id="a")).status_code == 200
    assert (await chat(client, bot["id"], "Anyone?", visitor_id="b")).status_code == 403
    async with context.db.system() as conn:  # what was spent was last month's
        await conn.execute(
            "update billing_accounts set spend_month = (date_trunc('month', now())"
            " - interval '1 month')::date where workspace_id = %s",
            (admin.workspace_id,),
        )
    # Reported as it is (the stored flag is lifted by the next admission) …
    credits = (await client.get("/api/business/credits", headers=admin.headers)).json()["data"]
    assert credits["isPaused"] is False and credits["currentMonthSpend"] == 0
    # … and the next message goes through.
    assert (await chat(client, bot["id"], "Still there?", visitor_id="c")).json()["source"] == (
        "model"
    )


async def test_concurrent_admissions_hold_the_budget_one_call_at_a_time(client, context, admin):
    """Forty calls of at most $0.003 ask at once against a $0.010 budget: exactly 4 are admitted
    (each while what is spent and held is under the budget); the others are told the budget is
    held, and every hold is given back when they settle."""
    await client.put("/api/business/credits", headers=admin.headers, json={"monthlyBudget": 0.01})
    workspace_id = UUID(admin.workspace_id)
    max_cost = Decimal("0.003")

    async def one_call() -> billing.Admission | None:
        try:
            async with context.db.for_workspace(workspace_id, "test") as conn:
                return await billing.admit(conn, workspace_id, max_cost)
        except billing.BudgetHeld as held:
            assert held.reason == "budget"
            return None

    admissions = [a for a in await asyncio.gather(*(one_call() for _ in range(40))) if a]
    assert len(admissions) == 4 and all(a.reservation_id for a in admissions)

    async def settle(admission: billing.Admission) -> None:
        async with context.db.for_workspace(workspace_id, "test") as conn:
            await billing.settle(conn, workspace_id, admission, Decimal("0.002"))

    await asyncio.gather(*(settle(a) for a in admissions))
    async with context.db.system() as conn:
        cur = await conn.execute(
            "select month_spend, held, is_paused, paused_reason,"
            " (select count(*) from billing_reservations r where r.workspace_id = a.workspace_id)"
            "   as reservations"
            " from billing_accounts a where workspace_id = %s",
            (admin.workspace_id,),
        )
        state = await cur.fetchone()
    assert state == {
        "month_spend": Decimal("0.008"),
        "held": 0,
        "is_paused": False,
        "paused_reason": None,
        "reservations": 0,
    }
    # $0.002 is left: one more call may take it.
    async with context.db.for_workspace(workspace_id, "test") as conn:
        assert (await billing.admit(conn, workspace_id, max_cost)).reservation_id is not None
