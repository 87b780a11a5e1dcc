"""SQL for budgets, credits and budget alerts. Tenants may read their account but never write
it, so the writes run as the login role (`as_login_role`, or `_as_login_role` for the statements
of every model call: the same, in one round trip) and always name their workspace."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from uuid import UUID

from backend.db import Connection, insert_sql

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


# Leaving the tenant's role for the login role and coming back, around statements sent in one
# pipeline (see `_as_login_role`). The way back is the one `db.as_login_role` takes: to the
# tenant's role when the transaction has a tenant's claims.
_LEAVE_ROLE = "select set_config('role', 'none', true)"
_RESTORE_ROLE = (
    "select set_config('role', case when coalesce(current_setting('request.jwt.claims', true), '')"
    " <> '' then 'authenticated' else 'none' end, true)"
)

Statement = tuple[str, Mapping[str, Any]]


async def _as_login_role(conn: Connection, *statements: Statement) -> list[list[dict[str, Any]]]:
    """The rows of each statement, run as the login role inside the caller's transaction (as
    `db.as_login_role` does) but sent in one pipeline with the role switch and its undoing, so
    the whole costs one round trip instead of one per statement. Each statement still takes its
    own snapshot (READ COMMITTED) when it starts, after the one before it has finished. An error
    fails the transaction as it would otherwise; the statements after it are not run."""
    async with conn.pipeline():
        await conn.execute(_LEAVE_ROLE)
        cursors = [await conn.execute(query, params) for query, params in statements]
        await conn.execute(_RESTORE_ROLE)
    return [await cur.fetchall() if cur.description else [] for cur in cursors]


# A call may be admitted while this account has room for it: not paused for a reason of its own
# (`payment`, …: a `budget` or `credits` pause is re-judged from the figures), and what calls in
# flight hold is less than the credits left (prepaid) and less than the month's budget left.
_ROOM = f"""
  (not a.is_paused or coalesce(a.paused_reason, '') in ('budget', 'credits'))
  and (a.billing_mode <> 'prepaid' or a.used_credits + a.held < a.total_credits)
  and (a.monthly_budget is null or {_spend("a")} + a.held < a.monthly_budget)
"""
# Whether the account has any limit to hold calls against.
_HAS_LIMIT = "(a.billing_mode = 'prepaid' or a.monthly_budget is not null)"

# One conditional update admits the call and holds its cost, and lifts a limit pause that its
# month's end, a higher budget or new credits have made stale; the reservation row (so a crashed
# process's hold ages out, see `_RECOUNT_HELD`) is written in the same statement. Concurrent
# admissions queue on the row, and each re-checks the room on the row as the one before it left
# it (READ COMMITTED re-evaluates an update's condition on the newest version). The last select
# shows the account as the statement found it, to tell a refusal's reason.
_ADMIT = f"""
with account as (
  update public.billing_accounts a set
    held = a.held + case when {_HAS_LIMIT} then %(amount)s else 0 end,
    is_paused = false,
    paused_reason = null,
    updated_at = case when a.is_paused then now() else a.updated_at end
  where a.workspace_id = %(ws)s and ({_HAS_LIMIT} or a.is_paused) and {_ROOM}
  returning {_HAS_LIMIT} as has_limit
), reservation as (
  insert into public.billing_reservations (workspace_id, amount)
  select %(ws)s, %(amount)s from account where has_limit
  returning id
)
select exists (select from account) as admitted, (select id from reservation) as reservation_id,
       a.billing_mode, a.is_paused, a.paused_reason, a.total_credits, a.used_credits,
       a.monthly_budget, a.held, {_spend("a")} as current_spend
from public.billing_accounts a where a.workspace_id = %(ws)s
"""

# `held` recomputed from the reservations. The row is locked first, so that the second
# statement's snapshot has every reservation committed by whoever held it before. Reservations
# older than the TTL are deleted (their process died mid-call, or the call outlived any timeout:
# if it settles after all, it finds nothing to give back) and no longer counted; those a
# settlement is deleting right now are skipped, not waited for (it waits for this row, and will
# subtract them itself), so they still count, as do the reservations a settlement deleted but
# has not committed yet. In this statement's snapshot the rows its own CTE deletes are still
# there: they are left out by id.
_LOCK = "select 1 from public.billing_accounts where workspace_id = %(ws)s for update"
_RECOUNT_HELD = f"""
with expired as (
  delete from public.billing_reservations where id in (
    select id from public.billing_reservations
    where workspace_id = %(ws)s and created_at <= now() - interval '{RESERVATION_TTL}'
    for update skip locked)
  returning id
)
update public.billing_accounts a set held = coalesce(
  (select sum(r.amount) from public.billing_reservations r
   where r.workspace_id = a.workspace_id and r.id not in (select id from expired)),
  0)
where a.workspace_id = %(ws)s
"""


async def admit(
    conn: Connection, workspace_id: UUID, amount: Decimal, *, recount: bool = False
) -> dict[str, Any] | None:
    """Hold `amount` for a call if the account has room for it (one round trip): the account as
    the admission found it, with `admitted` and the `reservation_id` (None when the account has
    no limit to hold against); None without an account. With `recount`, `held` is recomputed
    from the reservations first, under the row's lock (one more statement, same round trip)."""
    params = {"ws": workspace_id, "amount": amount}
    statements: list[Statement] = [(_LOCK, params), (_RECOUNT_HELD, params)] if recount else []
    results = await _as_login_role(conn, *statements, (_ADMIT, params))
    rows = results[-1]
    return rows[0] if rows else None


async def release(conn: Connection, reservation_id: UUID) -> None:
    """Give a reservation back: the row goes, and what it held with it."""
    await _as_login_role(
        conn,
        (
            """
            with released as (
              delete from public.billing_reservations where id = %(id)s
              returning workspace_id, amount
            )
            update public.billing_accounts a set held = greatest(a.held - r.amount, 0)
            from released r where a.workspace_id = r.workspace_id
            """,
            {"id": reservation_id},
        ),
    )


async def record_spend(
    conn: Connection, workspace_id: UUID, amount: Decimal, reservation_id: UUID | None
) -> list[dict[str, Any]]:
    """Give back the call's reservation (if any) and add what it cost to the month's spend (the
    account appears with the first spend) and, in prepaid mode, to the credits used; pause the
    workspace when its credits run out or its spend reaches the budget; record the budget alerts
    reached. One statement, one round trip. Returns the alerts recorded now."""
    new_spend = f"{_SPEND} + %(amount)s"
    reaches_budget = (
        f"(billing_accounts.monthly_budget is not null"
        f" and {new_spend} >= billing_accounts.monthly_budget)"
    )
    exhausts_credits = (
        "(billing_accounts.billing_mode = 'prepaid'"
        " and billing_accounts.used_credits + %(amount)s >= billing_accounts.total_credits)"
    )
    # A reservation already deleted as expired (its call outlived the TTL) gives nothing back;
    # `held` is kept from going below zero all the same, should anything else ever disagree.
    results = await _as_login_role(
        conn,
        (
            f"""
            with released as (
              delete from public.billing_reservations
              where id = %(reservation)s and workspace_id = %(ws)s
              returning amount
            ), account as (
              insert into public.billing_accounts (workspace_id, month_spend)
              values (%(ws)s, %(amount)s)
              on conflict (workspace_id) do update set
                held = greatest(
                  billing_accounts.held - coalesce((select sum(amount) from released), 0), 0),
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
            {"amount": amount, "ws": workspace_id, "reservation": reservation_id},
        ),
    )
    return results[0]


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


async def add_usage(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Usage rows, all of the same columns, in one statement."""
    if not rows:
        return
    async with conn.cursor() as cur:
        await cur.executemany(insert_sql("token_usage", rows[0]), rows)
