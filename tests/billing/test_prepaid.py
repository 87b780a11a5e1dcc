"""Prepaid workspaces: every call is charged to the credits at the platform's prices, the call
that uses them up pauses the workspace (as a spent budget does), new credits resume it, and
however many calls arrive together the credits are overdrawn by at most one call's worth."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from uuid import UUID

import pytest

from backend.billing import credits_repository as credits
from backend.billing import service as billing
from tests.fakes.openai import Reply
from tests.fixtures.factories import chat, connect_openai, create_chatbot

# gpt-4o: $2.50 per million input tokens, $10 per million output tokens (price table 2026-11-01):
# 1,000 in + 500 out = $0.0025 + $0.0050. (The question's embedding, 2 tokens of "Hello" at
# $0.02 per million, rounds to $0.000000.) The long prompt makes what a message may cost at
# most, which its admission holds, more than what it costs, as with the real model.
ONE_ANSWER = Reply(content="Hello there.", prompt_tokens=1000, completion_tokens=500)
ANSWER_COST = Decimal("0.0075")
PROMPT = "You are the assistant of a clinic. " + "Be precise and kind. " * 200


@pytest.fixture
async def bot(client, admin, fake_openai):
    await connect_openai(client, admin, fake_openai.key)
    return await create_chatbot(client, admin, model="gpt-4o", max_tokens=500, system_prompt=PROMPT)


async def make_prepaid(context, workspace_id: str, amount: str) -> None:
    async with context.db.system() as conn:
        await conn.execute(
            "insert into billing_accounts (workspace_id, billing_mode) values (%s, 'prepaid')",
            (workspace_id,),
        )
        await credits.grant(conn, UUID(workspace_id), Decimal(amount), "adjustment", "test-start")


async def account(context, workspace_id: str) -> dict:
    async with context.db.system() as conn:
        cur = await conn.execute(
            "select a.total_credits, a.used_credits, a.month_spend, a.is_paused, a.paused_reason,"
            " (select coalesce(sum(cost), 0) from token_usage u where u.workspace_id = a.workspace_id)"
            "   as ledger"
            " from billing_accounts a where a.workspace_id = %s",
            (workspace_id,),
        )
        row = await cur.fetchone()
    assert row is not None
    return row


async def credit_figures(client, admin) -> dict:
    response = await client.get("/api/business/credits", headers=admin.headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def test_the_call_that_uses_up_the_credits_pauses_the_workspace(
    client, context, admin, bot, fake_openai
):
    await make_prepaid(context, admin.workspace_id, "0.010")
    fake_openai.script(ONE_ANSWER, ONE_ANSWER, ONE_ANSWER)

    first = await chat(client, bot["id"], "Hello", visitor_id="a")
    assert first.json()["source"] == "model"
    assert await credit_figures(client, admin) == {
        "totalCredits": 0.01,
        "usedCredits": 0.0075,
        "availableCredits": 0.0025,
        "monthlyBudget": None,
        "currentMonthSpend": 0.0075,
        "percentUsed": 0,
        "isPaused": False,
    }

    # $0.0025 left is not enough for a whole answer, but it is not nothing: the call is made,
    # and it overdraws the credits by less than one call's worth.
    second = await chat(client, bot["id"], "Are you open today?", visitor_id="b")
    assert second.json()["source"] == "model"
    state = await account(context, admin.workspace_id)
    assert state["used_credits"] == 2 * ANSWER_COST == state["ledger"] == state["month_spend"]
    assert (state["is_paused"], state["paused_reason"]) == (True, "credits")
    figures = await credit_figures(client, admin)
    assert figures["usedCredits"] == 0.015 and figures["availableCredits"] == -0.005
    assert figures["isPaused"] is True
    me = (await client.get("/api/business/me", headers=admin.headers)).json()["data"]
    assert me["active"] is False

    calls = len(fake_openai.chat_requests)
    refused = await chat(client, bot["id"], "Where is the clinic?", visitor_id="c")
    assert refused.status_code == 403
    assert refused.json()["code"] == "INSUFFICIENT_BUDGET"
    assert refused.json()["message"] == "This workspace has no credits left"
    assert len(fake_openai.chat_requests) == calls  # refused before the model was called

    # New credits pay back the overdraft first, and the workspace resumes.
    async with context.db.system() as conn:
        await credits.grant(conn, UUID(admin.workspace_id), Decimal("1.00"), "cli", "top-up-1")
    figures = await credit_figures(client, admin)
    assert figures["availableCredits"] == 0.995 and figures["isPaused"] is False
    assert (await chat(client, bot["id"], "Thanks!", visitor_id="d")).json()["source"] == "model"
    state = await account(context, admin.workspace_id)
    assert state["used_credits"] == 3 * ANSWER_COST and state["is_paused"] is False


async def test_a_prepaid_workspace_without_credits_is_refused(
    client, context, admin, bot, fake_openai
):
    async with context.db.system() as conn:
        await conn.execute(
            "insert into billing_accounts (workspace_id, billing_mode) values (%s, 'prepaid')",
            (admin.workspace_id,),
        )
    refused = await chat(client, bot["id"], "Hello")
    assert refused.status_code == 403 and refused.json()["code"] == "INSUFFICIENT_BUDGET"
    assert fake_openai.chat_requests == []
    # Nothing was ever spent, yet the workspace is paused in everything it reports.
    assert (await credit_figures(client, admin))["isPaused"] is True


@pytest.mark.parametrize("mode", ["unmetered", "subscription"])
async def test_other_modes_neither_charge_nor_enforce_credits(
    client, context, admin, bot, fake_openai, mode
):
    async with context.db.system() as conn:
        await conn.execute(
            "insert into billing_accounts (workspace_id, billing_mode) values (%s, %s)",
            (admin.workspace_id, mode),
        )
    fake_openai.script(ONE_ANSWER, ONE_ANSWER)
    for question in ("Hello", "Are you open today?"):
        assert (await chat(client, bot["id"], question)).json()["source"] == "model"
    state = await account(context, admin.workspace_id)
    assert state["used_credits"] == 0 and state["month_spend"] == 2 * ANSWER_COST
    assert state["is_paused"] is False


async def test_credits_and_budget_limit_together(client, context, admin, bot, fake_openai):
    """A prepaid workspace with a budget stops at whichever comes first."""
    await make_prepaid(context, admin.workspace_id, "5.00")
    await client.put("/api/business/credits", headers=admin.headers, json={"monthlyBudget": 0.007})
    fake_openai.script(ONE_ANSWER, ONE_ANSWER)
    assert (await chat(client, bot["id"], "Hello", visitor_id="a")).status_code == 200
    refused = await chat(client, bot["id"], "Are you open today?", visitor_id="b")
    assert refused.status_code == 403
    assert refused.json()["message"] == "This workspace has spent its monthly budget"
    assert await credit_figures(client, admin) == {
        "totalCredits": 5.0,
        "usedCredits": 0.0075,
        "availableCredits": 4.9925,
        "monthlyBudget": 0.007,
        "currentMonthSpend": 0.0075,
        "percentUsed": 107,  # 0.0075 / 0.007 = 107.14 %
        "isPaused": True,
    }


async def test_concurrent_admissions_overdraw_by_at_most_one_call(context, admin):
    """Forty calls of at most $0.003 each ask at once for $0.010 of credits: exactly
    ceil(0.010 / 0.003) = 4 are admitted (each while less than the credits is held), and if
    all of them cost their maximum the credits are overdrawn by $0.002, under one call."""
    await make_prepaid(context, admin.workspace_id, "0.010")
    workspace_id = UUID(admin.workspace_id)
    max_cost = Decimal("0.003")

    async def one_call() -> billing.Admission | None:
        try:
            async with context.db.for_workspace(workspace_id, "test") as conn:
                return await billing.admit(conn, workspace_id, max_cost)
        except billing.WorkspacePaused as refused:
            assert refused.reason == "credits"
            return None

    admissions = [a for a in await asyncio.gather(*(one_call() for _ in range(40))) if a]
    assert len(admissions) == 4
    assert all(a.reservation_id is not None for a in admissions)

    async def settle(admission: billing.Admission) -> None:
        async with context.db.for_workspace(workspace_id, "test") as conn:
            await billing.settle(conn, workspace_id, admission, max_cost)

    await asyncio.gather(*(settle(a) for a in admissions))
    state = await account(context, admin.workspace_id)
    assert state["used_credits"] == Decimal("0.012") <= state["total_credits"] + max_cost
    assert (state["is_paused"], state["paused_reason"]) == (True, "credits")
    assert await holds(context, admin.workspace_id) == (0, 0, 0)  # every hold given back
    with pytest.raises(billing.WorkspacePaused):
        async with context.db.for_workspace(workspace_id, "test") as conn:
            await billing.admit(conn, workspace_id, max_cost)


async def test_concurrent_messages_never_overdraw_by_more_than_one_message(
    client, context, admin, bot, fake_openai
):
    # Credits for about eight answers; fifty visitors ask at once.
    await make_prepaid(context, admin.workspace_id, "0.06")
    fake_openai.script(*[ONE_ANSWER] * 50)
    responses = await asyncio.gather(
        *(chat(client, bot["id"], f"Question {i}?", visitor_id=f"v{i}") for i in range(50))
    )
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 403}
    answered = statuses.count(200)
    assert answered >= 5, statuses  # the credits were used, not refused wholesale

    state = await account(context, admin.workspace_id)
    assert state["used_credits"] == state["ledger"] == answered * ANSWER_COST
    assert state["used_credits"] <= Decimal("0.06") + ANSWER_COST
    assert (state["is_paused"], state["paused_reason"]) == (True, "credits")
    assert await holds(context, admin.workspace_id) == (0, 0, 0)


async def holds(context, workspace_id: str) -> tuple[Decimal, Decimal, int]:
    """What the account holds for calls in flight, what its reservations add up to, and how
    many there are."""
    async with context.db.system() as conn:
        cur = await conn.execute(
            "select a.held, coalesce(sum(r.amount), 0) as reserved, count(r.id) as n"
            " from billing_accounts a"
            " left join billing_reservations r on r.workspace_id = a.workspace_id"
            " where a.workspace_id = %s group by a.held",
            (workspace_id,),
        )
        row = await cur.fetchone()
    assert row is not None
    return row["held"], row["reserved"], row["n"]


async def test_holds_are_given_back_by_settling_and_releasing(context, admin):
    await make_prepaid(context, admin.workspace_id, "1.00")
    workspace_id = UUID(admin.workspace_id)
    async with context.db.for_workspace(workspace_id, "test") as conn:
        settled = await billing.admit(conn, workspace_id, Decimal("0.0030001"))
        released = await billing.admit(conn, workspace_id, Decimal("0.002"))
        free = await billing.admit(conn, workspace_id, Decimal("0.001"))
    # Held at the precision reservations keep, rounded up.
    assert await holds(context, admin.workspace_id) == (Decimal("0.006001"),) * 2 + (3,)
    async with context.db.for_workspace(workspace_id, "test") as conn:
        await billing.settle(conn, workspace_id, settled, Decimal("0.001"))
        await billing.release(conn, released)
        await billing.settle(conn, workspace_id, free, Decimal(0))  # cost nothing
        # The tenant's role is back after each: it still cannot write its account.
        role = await (await conn.execute("select current_user as name")).fetchone()
        assert role == {"name": "authenticated"}
    assert await holds(context, admin.workspace_id) == (0, 0, 0)
    assert (await account(context, admin.workspace_id))["used_credits"] == Decimal("0.001")


async def test_the_hold_of_a_call_whose_process_died_ages_out(context, admin):
    """A process that dies between admission and settlement leaves its reservation, and what it
    holds, behind: it refuses calls for RESERVATION_TTL at most."""
    await make_prepaid(context, admin.workspace_id, "0.010")
    workspace_id = UUID(admin.workspace_id)

    async def admit(max_cost: str) -> billing.Admission:
        async with context.db.for_workspace(workspace_id, "test") as conn:
            return await billing.admit(conn, workspace_id, Decimal(max_cost))

    dead = await admit("0.010")  # never settled (yet)
    with pytest.raises(billing.BudgetHeld) as held:
        await admit("0.001")
    assert held.value.reason == "credits"
    assert await holds(context, admin.workspace_id) == (Decimal("0.010"), Decimal("0.010"), 1)

    async with context.db.system() as conn:  # fifteen minutes later
        await conn.execute(
            "update billing_reservations set created_at = now() - interval '16 minutes'"
            " where workspace_id = %s",
            (admin.workspace_id,),
        )
    alive = await admit("0.001")
    assert await holds(context, admin.workspace_id) == (Decimal("0.001"), Decimal("0.001"), 1)

    # The call outlived its reservation after all: it is charged, and gives back nothing more.
    async with context.db.for_workspace(workspace_id, "test") as conn:
        await billing.settle(conn, workspace_id, dead, Decimal("0.004"))
    assert await holds(context, admin.workspace_id) == (Decimal("0.001"), Decimal("0.001"), 1)
    async with context.db.for_workspace(workspace_id, "test") as conn:
        await billing.settle(conn, workspace_id, alive, Decimal("0.001"))
    assert await holds(context, admin.workspace_id) == (0, 0, 0)
    assert (await account(context, admin.workspace_id))["used_credits"] == Decimal("0.005")


async def test_a_wrong_hold_is_recounted_before_it_refuses_a_call(context, admin):
    await make_prepaid(context, admin.workspace_id, "0.010")
    workspace_id = UUID(admin.workspace_id)
    async with context.db.system() as conn:  # e.g. reservations deleted by hand
        await conn.execute(
            "update billing_accounts set held = 5 where workspace_id = %s", (admin.workspace_id,)
        )
    async with context.db.for_workspace(workspace_id, "test") as conn:
        admission = await billing.admit(conn, workspace_id, Decimal("0.002"))
    assert admission.reservation_id is not None
    assert await holds(context, admin.workspace_id) == (Decimal("0.002"), Decimal("0.002"), 1)


async def test_a_pause_for_payment_is_not_lifted_by_credits(context, admin):
    await make_prepaid(context, admin.workspace_id, "1.00")
    workspace_id = UUID(admin.workspace_id)
    async with context.db.system() as conn:
        await conn.execute(
            "update billing_accounts set is_paused = true, paused_reason = 'payment'"
            " where workspace_id = %s",
            (admin.workspace_id,),
        )
    with pytest.raises(billing.WorkspacePaused) as refused:
        async with context.db.for_workspace(workspace_id, "test") as conn:
            await billing.admit(conn, workspace_id, Decimal("0.001"))
    assert refused.value.reason == "payment"
    state = await account(context, admin.workspace_id)
    assert (state["is_paused"], state["paused_reason"]) == (True, "payment")
    assert await holds(context, admin.workspace_id) == (0, 0, 0)
