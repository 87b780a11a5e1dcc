"""SQL for budgets, credits and budget alerts. Tenants may read their account but never write
it, so the writes run as the login role (`as_login_role`) and always name their workspace."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from backend.db import Connection

# Longer than the slowest call a message can make (4 calls, each up to 60 s with 2 retries).
RESERVATION_TTL = "15 minutes"


def _spend(table: str = "billing_accounts") -> str:
    """The month's spend, reset when a new month has started since the last write."""
    return (
        f"case when {table}.spend_month < date_trunc('month', now())::date then 0"
        f" else {table}.month_spend end"
    )


_SPEND = _spend()

# Appended to a statement whose data-modifying CTE `account` returns the account after the
# change: records the 80 % and 100 % alerts its spend has reached this month, each once (the
# unique key makes a second crossing, or a concurrent one, a no-op), and returns only those
# recorded now. A zero budget is a deliberate stop, not spending to be warned about.
_RECORD_ALERTS = """
, alerts as (
  insert into public.budget_alerts (workspace_id, month, threshold, spend, budget)
  select a.workspace_id, a.spend_month, t.threshold, a.month_spend, a.monthly_budget
  from account a cross join (values (80), (100)) as t (threshold)
  where a.monthly_budget > 0 and a.month_spend * 100 >= a.monthly_budget * t.threshold
  on conflict (workspace_id, month, threshold) do nothing
  returning threshold, spend, budget
)
select threshold, spend, budget from alerts order by threshold
"""


async def get_account(conn: Connection, workspace_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(
        f"select *, {_SPEND} as current_spend from public.billing_accounts where workspace_id = %s",
        (workspace_id,),
    )
    return await cur.fetchone()


async def get_limits(conn: Connection, workspace_id: UUID) -> dict[str, Any] | None:
    """What tells whether a call must be held against anything (one primary-key read; the
    tenant's own read policy allows it, so no role switch is needed)."""
    cur = await conn.execute(
        "select monthly_budget, is_paused, billing_mode from public.billing_accounts"
        " where workspace_id = %s",
        (workspace_id,),
    )
    return await cur.fetchone()


async def lock_account(conn: Connection, workspace_id: UUID) -> dict[str, Any] | None:
    """The account, locked for this transaction, with what calls in flight hold."""
    locked = await conn.execute(
        "select 1 from public.billing_accounts where workspace_id = %s for update", (workspace_id,)
    )
    if await locked.fetchone() is None:
        return None
    # A second statement, so that its snapshot (READ COMMITTED) includes the reservations
    # committed by whoever held the lock before us: one statement would not see them.
    cur = await conn.execute(
        f"""
        select a.*, {_spend("a")} as current_spend,
               coalesce((select sum(r.amount) from public.billing_reservations r
                         where r.workspace_id = a.workspace_id
                           and r.created_at > now() - interval '{RESERVATION_TTL}'), 0) as held
        from public.billing_accounts a where a.workspace_id = %s
        """,
        (workspace_id,),
    )
    return await cur.fetchone()


async def set_paused(
    conn: Connection, workspace_id: UUID, paused: bool, reason: str | None
) -> None:
    await conn.execute(
        "update public.billing_accounts set is_paused = %s, paused_reason = %s, updated_at = now()"
        " where workspace_id = %s",
        (paused, reason, workspace_id),
    )


async def add_reservation(conn: Connection, workspace_id: UUID, amount: Decimal) -> UUID:
    cur = await conn.execute(
        "insert into public.billing_reservations (workspace_id, amount) values (%s, %s) returning id",
        (workspace_id, amount),
    )
    row = await cur.fetchone()
    assert row is not None
    return UUID(str(row["id"]))


async def release_reservation(conn: Connection, reservation_id: UUID) -> None:
    await conn.execute("delete from public.billing_reservations where id = %s", (reservation_id,))


async def record_spend(
    conn: Connection, workspace_id: UUID, amount: Decimal
) -> list[dict[str, Any]]:
    """Add to the month's spend (the account appears with the first spend) and, in prepaid
    mode, to the credits used; pause the workspace when its credits run out or its spend
    reaches the budget; record the budget alerts reached. Returns the alerts recorded now."""
    new_spend = f"{_SPEND} + %(amount)s"
    reaches_budget = (
        f"(billing_accounts.monthly_budget is not null"
        f" and {new_spend} >= billing_accounts.monthly_budget)"
    )
    exhausts_credits = (
        "(billing_accounts.billing_mode = 'prepaid'"
        " and billing_accounts.used_credits + %(amount)s >= billing_accounts.total_credits)"
    )
    cur = await conn.execute(
        f"""
        with account as (
          insert into public.billing_accounts (workspace_id, month_spend)
          values (%(ws)s, %(amount)s)
          on conflict (workspace_id) do update set
            month_spend = {new_spend},
            spend_month = date_trunc('month', now())::date,
            used_credits = billing_accounts.used_credits
              + case when billing_accounts.billing_mode = 'prepaid' then %(amount)s else 0 end,
            is_paused = billing_accounts.is_paused or {exhausts_credits} or {reaches_budget},
            paused_reason = case
              when billing_accounts.is_paused then billing_accounts.paused_reason
              when {exhausts_credits} then 'credits'
              when {reaches_budget} then 'budget'
              else billing_accounts.paused_reason end,
            updated_at = now()
          returning workspace_id, spend_month, month_spend, monthly_budget
        )
        {_RECORD_ALERTS}
        """,
        {"amount": amount, "ws": workspace_id},
    )
    return await cur.fetchall()


async def set_budget(
    conn: Connection, workspace_id: UUID, budget: Decimal | None
) -> list[dict[str, Any]]:
    """Set the budget; a budget the month's spend has already reached pauses the workspace, and
    one that leaves room again lifts a budget pause. Returns the alerts recorded now (a budget
    set below what is spent has reached its thresholds)."""
    room = f"(excluded.monthly_budget is null or {_SPEND} < excluded.monthly_budget)"
    cur = await conn.execute(
        f"""
        with account as (
          insert into public.billing_accounts
            (workspace_id, monthly_budget, is_paused, paused_reason)
          values (%(ws)s, %(budget)s, coalesce(%(budget)s::numeric <= 0, false),
                  case when %(budget)s::numeric <= 0 then 'budget' end)
          on conflict (workspace_id) do update set
            monthly_budget = excluded.monthly_budget,
            is_paused = case
              when billing_accounts.paused_reason = 'budget' and {room} then false
              when not billing_accounts.is_paused and not {room} then true
              else billing_accounts.is_paused end,
            paused_reason = case
              when billing_accounts.paused_reason = 'budget' and {room} then null
              when not billing_accounts.is_paused and not {room} then 'budget'
              else billing_accounts.paused_reason end,
            updated_at = now()
          returning workspace_id, date_trunc('month', now())::date as spend_month,
                    {_SPEND} as month_spend, monthly_budget
        )
        {_RECORD_ALERTS}
        """,
        {"ws": workspace_id, "budget": budget},
    )
    return await cur.fetchall()


async def budget_alerts(
    conn: Connection, workspace_id: UUID, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    cur = await conn.execute(
        "select threshold, month, spend, budget, created_at from public.budget_alerts"
        " where workspace_id = %s order by created_at desc, threshold desc limit %s offset %s",
        (workspace_id, limit, offset),
    )
    rows = await cur.fetchall()
    counted = await conn.execute(
        "select count(*) as n from public.budget_alerts where workspace_id = %s", (workspace_id,)
    )
    total = await counted.fetchone()
    return rows, int(total["n"]) if total else 0
