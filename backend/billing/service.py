"""Budgets and credits: admission before a model call, settlement after it.

A call first *reserves* what it may cost at most (its prompt and `max_tokens` at the model's
price). Reservations are admitted only while what is left (of the month's budget, and of the
credits of a prepaid workspace) is more than what calls in flight already hold, one at a time
on the account's row, so however many messages arrive together the recorded spend can pass the
limit by at most one message's worth. Settling replaces the reservation with the real cost,
charges it to the credits of a prepaid workspace, pauses the workspace when a limit is reached
and records the budget alerts reached.

What calls in flight hold is kept on the account (`billing_accounts.held`), so that admitting a
call is one conditional update of that row and settling it one upsert, each one round trip
(role switch included: repository._as_login_role). The reservation rows stay the ledger that
`held` stands for:
- every statement that writes reservations moves `held` by the amounts it inserted or deleted
  (as its own RETURNING says, so two statements deleting the same row subtract it once);
- a reservation whose process died before settling is given back by nobody, and is meant to
  count for RESERVATION_TTL only. Before `held` refuses a call, it is recounted from the
  reservations under the row's lock, the expired ones deleted and left out: a dead process's
  reservation never refuses a call after its TTL, and whatever else made `held` too high is
  corrected for good by the first refusal it would cause;
- the processes of an older version running during a deploy write reservations without
  moving `held`, and delete only their own: while they run, new admissions do not see what
  their calls hold (the overspend bound is one call per such call in flight), and nothing of
  theirs is left in `held` afterwards.

Billing modes (`billing_accounts.billing_mode`):
- `unmetered` and `subscription`: the spend is recorded and only the monthly budget limits it;
  credits are neither charged nor enforced, so `used_credits` counts prepaid usage only and a
  workspace that later turns prepaid starts with the credits it was given, not a debt.
- `prepaid`: every call is also charged to `used_credits`; a workspace whose credits are used
  up is paused (reason `credits`) exactly like one whose budget is spent (reason `budget`).

Whether a workspace may spend is decided from its state, not only its stored pause flag: a
budget pause ends with its month or a higher budget, a credits pause with new credits or another
billing mode, and the first admission after that lifts the flag.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, ROUND_UP, Decimal
from typing import Any
from uuid import UUID

from backend.billing import alerts, repository
from backend.db import Connection, Database, as_login_role
from backend.errors import InsufficientBudget

# Pauses that the account's own figures explain, and that end when the figures change.
_LIMIT_REASONS = ("budget", "credits")


class WorkspacePaused(InsufficientBudget):
    def __init__(self, reason: str | None) -> None:
        message = {
            "budget": "This workspace has spent its monthly budget",
            "credits": "This workspace has no credits left",
            "payment": "This workspace is paused until its payment goes through",
        }.get(reason or "", "This workspace is paused")
        super().__init__(message)
        self.reason = reason


class BudgetHeld(WorkspacePaused):
    """The limit is not reached, but calls in flight hold the rest of it: try again shortly."""

    def __init__(self, reason: str = "budget") -> None:
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class Admission:
    reservation_id: UUID | None  # None: the workspace has no limit to hold against


@dataclass(frozen=True, slots=True)
class Balance:
    """A workspace's credits, budget and month's spend, and why it is paused (if it is)."""

    total_credits: Decimal
    used_credits: Decimal
    monthly_budget: Decimal | None
    month_spend: Decimal
    paused_reason: str | None

    @property
    def available_credits(self) -> Decimal:
        # Negative when the last call overdrew the credits (by at most one message's worth):
        # the next grant pays that back first.
        return self.total_credits - self.used_credits

    @property
    def percent_used(self) -> int:
        """The month's spend as a percentage of the monthly budget (0 without a budget)."""
        if self.monthly_budget is None:
            return 0
        if self.monthly_budget == 0:
            return 100
        percent = self.month_spend * 100 / self.monthly_budget
        return int(percent.quantize(Decimal(1), rounding=ROUND_HALF_UP))

    @property
    def is_paused(self) -> bool:
        return self.paused_reason is not None


def _refusal(account: Mapping[str, Any]) -> str | None:
    """Why this account may not spend now (`budget`, `credits`, `payment`, …), or None."""
    if account["is_paused"] and account["paused_reason"] not in _LIMIT_REASONS:
        return str(account["paused_reason"] or "paused")
    if account["billing_mode"] == "prepaid" and account["used_credits"] >= account["total_credits"]:
        return "credits"
    budget = account["monthly_budget"]
    if budget is not None and account["current_spend"] >= budget:
        return "budget"
    return None


def _rooms(account: Mapping[str, Any]) -> list[tuple[str, Decimal]]:
    """What is left under each limit the account has."""
    rooms = []
    if account["billing_mode"] == "prepaid":
        rooms.append(("credits", account["total_credits"] - account["used_credits"]))
    if account["monthly_budget"] is not None:
        rooms.append(("budget", account["monthly_budget"] - account["current_spend"]))
    return rooms


def _quantum(amount: Decimal) -> Decimal:
    """An amount at the precision reservations keep (6 decimals), rounded up: never held short."""
    return amount.quantize(Decimal("0.000001"), rounding=ROUND_UP)


def _held_limit(account: Mapping[str, Any]) -> str:
    """The limit whose room calls in flight hold (as the account was seen)."""
    return next(
        (limit for limit, room in _rooms(account) if account["held"] >= room),
        "credits" if account["billing_mode"] == "prepaid" else "budget",
    )


async def admit(conn: Connection, workspace_id: UUID, max_cost: Decimal) -> Admission:
    """Reserve `max_cost` for a call, or raise `WorkspacePaused` before anything is spent."""
    # One conditional update of the account's row, in one round trip (role switch included):
    # admitted while what calls in flight hold leaves room (see repository.admit). An account
    # with nothing to hold against (no budget, not prepaid, not paused) is only read.
    amount = _quantum(max_cost)
    account = await repository.admit(conn, workspace_id, amount)
    if account is None:
        return Admission(None)
    if account["admitted"]:
        return Admission(account["reservation_id"])
    reason = _refusal(account)
    if reason is not None:
        # (Settling the call that reached the limit already marked the workspace paused.)
        raise WorkspacePaused(reason)
    if not (_rooms(account) or account["is_paused"]):
        return Admission(None)
    # Refused for what calls in flight hold, or by a newer state of the row than the one shown:
    # count the holds again from the reservations (expired ones, of processes that died
    # mid-call, leave them) and try once more, under the row's lock.
    account = await repository.admit(conn, workspace_id, amount, recount=True)
    assert account is not None  # (an account goes only with its workspace)
    if account["admitted"]:
        return Admission(account["reservation_id"])
    reason = _refusal(account)
    if reason is not None:
        raise WorkspacePaused(reason)
    raise BudgetHeld(_held_limit(account))


async def wait_for_room(
    db: Database, workspace_id: UUID, max_cost: Decimal, principal: str, *, patience: float = 5.0
) -> Admission:
    """After `BudgetHeld`: try again for a little while, since calls in flight may cost less
    than they hold. A limit that is really reached is refused at once."""
    deadline = time.monotonic() + patience
    delay = 0.02
    while True:
        await asyncio.sleep(delay)
        try:
            async with db.for_workspace(workspace_id, principal) as conn:
                return await admit(conn, workspace_id, max_cost)
        except BudgetHeld as held:
            delay = min(delay * 2, 0.5)
            if time.monotonic() + delay > deadline:
                raise WorkspacePaused(held.reason) from None


async def settle(conn: Connection, workspace_id: UUID, admission: Admission, cost: Decimal) -> None:
    """Record what the call really cost, in the same transaction as its usage row: its
    reservation is given back and the cost recorded in one statement."""
    if cost > 0:
        recorded = await repository.record_spend(conn, workspace_id, cost, admission.reservation_id)
        alerts.announce(workspace_id, recorded)
    else:
        await release(conn, admission)


async def release(conn: Connection, admission: Admission) -> None:
    """The call did not happen or cost nothing: give the reservation back."""
    if admission.reservation_id is not None:
        await repository.release(conn, admission.reservation_id)


async def balance(conn: Connection, workspace_id: UUID) -> Balance:
    account = await repository.get_account(conn, workspace_id)
    if account is None:  # nothing spent, granted or set yet
        return Balance(Decimal(0), Decimal(0), None, Decimal(0), None)
    return Balance(
        total_credits=account["total_credits"],
        used_credits=account["used_credits"],
        monthly_budget=account["monthly_budget"],
        month_spend=account["current_spend"],
        paused_reason=_refusal(account),
    )


async def set_budget(conn: Connection, workspace_id: UUID, budget: Decimal | None) -> None:
    """Set (or clear, with None) the monthly budget. A budget the month's spend has already
    reached pauses the workspace and records its alerts; one with room lifts a budget pause."""
    async with as_login_role(conn):
        recorded = await repository.set_budget(conn, workspace_id, budget)
    alerts.announce(workspace_id, recorded)
