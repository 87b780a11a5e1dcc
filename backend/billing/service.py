"""Budgets: admission before a model call, settlement after it.

A call first *reserves* what it may cost at most (its prompt and `max_tokens` at the model's
price). Reservations are admitted only while the month's spend plus what is already held stays
under the budget, one at a time under a row lock, so however many messages arrive together the
recorded spend can pass the budget by at most one message's worth. Settling replaces the
reservation with the real cost, and pauses the workspace when the budget is reached.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from backend.billing import repository
from backend.db import Connection, Database, as_login_role
from backend.errors import InsufficientBudget


class WorkspacePaused(InsufficientBudget):
    def __init__(self, reason: str | None) -> None:
        message = {
            "budget": "This workspace has spent its monthly budget",
            "credits": "This workspace has no credits left",
        }.get(reason or "", "This workspace is paused")
        super().__init__(message)


class BudgetHeld(WorkspacePaused):
    """The budget is not spent, but calls in flight hold the rest of it: try again shortly."""

    def __init__(self) -> None:
        super().__init__("budget")


@dataclass(frozen=True, slots=True)
class Admission:
    reservation_id: UUID | None  # None: the workspace has no limit to hold against


async def admit(conn: Connection, workspace_id: UUID, max_cost: Decimal) -> Admission:
    """Reserve `max_cost` for a call, or raise `WorkspacePaused` before anything is spent."""
    async with as_login_role(conn):
        limits = await repository.get_limits(conn, workspace_id)
        if limits is None or (limits["monthly_budget"] is None and not limits["is_paused"]):
            return Admission(None)  # nothing to hold against: no lock, no contention
        account = await repository.lock_account(conn, workspace_id)
        if account is None:
            return Admission(None)
        budget, spend = account["monthly_budget"], account["current_spend"]
        if account["is_paused"] and account["paused_reason"] != "budget":
            raise WorkspacePaused(account["paused_reason"])
        if budget is not None and spend >= budget:
            # (Settling the call that reached the budget already marked the workspace paused.)
            raise WorkspacePaused("budget")
        if account["is_paused"]:  # a budget pause whose month has ended, or budget raised
            await repository.set_paused(conn, workspace_id, False, None)
        if budget is None:
            return Admission(None)
        if spend + account["held"] >= budget:
            raise BudgetHeld()
        return Admission(await repository.add_reservation(conn, workspace_id, max_cost))


async def wait_for_room(
    db: Database, workspace_id: UUID, max_cost: Decimal, principal: str, *, patience: float = 5.0
) -> Admission:
    """After `BudgetHeld`: try again for a little while, since calls in flight may cost less
    than they hold. A budget that is really spent is refused at once."""
    deadline = time.monotonic() + patience
    delay = 0.02
    while True:
        await asyncio.sleep(delay)
        try:
            async with db.for_workspace(workspace_id, principal) as conn:
                return await admit(conn, workspace_id, max_cost)
        except BudgetHeld:
            delay = min(delay * 2, 0.5)
            if time.monotonic() + delay > deadline:
                raise WorkspacePaused("budget") from None


async def settle(conn: Connection, workspace_id: UUID, admission: Admission, cost: Decimal) -> None:
    """Record what the call really cost, in the same transaction as its usage row."""
    async with as_login_role(conn):
        if admission.reservation_id is not None:
            await repository.release_reservation(conn, admission.reservation_id)
        if cost > 0:
            await repository.record_spend(conn, workspace_id, cost)


async def release(conn: Connection, admission: Admission) -> None:
    """The call did not happen or cost nothing: give the reservation back."""
    if admission.reservation_id is not None:
        async with as_login_role(conn):
            await repository.release_reservation(conn, admission.reservation_id)


async def credits(conn: Connection, workspace_id: UUID) -> dict[str, object]:
    account = await repository.get_account(conn, workspace_id)
    if account is None:
        total = used = spend = Decimal(0)
        budget = None
        paused = False
    else:
        total, used = account["total_credits"], account["used_credits"]
        budget, spend, paused = (
            account["monthly_budget"],
            account["current_spend"],
            account["is_paused"],
        )
    percent = round(float(spend / budget * 100)) if budget else 0
    return {
        "totalCredits": float(total),
        "usedCredits": float(used),
        "availableCredits": float(total - used),
        "monthlyBudget": float(budget) if budget is not None else None,
        "currentMonthSpend": float(spend),
        "percentUsed": percent,
        "isPaused": paused,
    }


async def set_budget(conn: Connection, workspace_id: UUID, budget: Decimal | None) -> None:
    async with as_login_role(conn):
        await repository.set_budget(conn, workspace_id, budget)
