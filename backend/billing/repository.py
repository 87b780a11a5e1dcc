"""SQL for budgets and credits. Tenants may read their account but never write it, so these
statements run as the login role (`as_login_role`) and always name their workspace."""

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


async def get_account(conn: Connection, workspace_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(
        f"select *, {_SPEND} as current_spend from public.billing_accounts where workspace_id = %s",
        (workspace_id,),
    )
    return await cur.fetchone()


async def get_limits(conn: Connection, workspace_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select monthly_budget, is_paused from public.billing_accounts where workspace_id = %s",
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


async def record_spend(conn: Connection, workspace_id: UUID, amount: Decimal) -> None:
    """Add to the month's spend (the account appears with the first spend); pause the workspace
    when the spend reaches its budget."""
    new_spend = f"{_SPEND} + %(amount)s"
    reaches_budget = f"(billing_accounts.monthly_budget is not null and {new_spend} >= billing_accounts.monthly_budget)"
    await conn.execute(
        f"""
        insert into public.billing_accounts (workspace_id, month_spend) values (%(ws)s, %(amount)s)
        on conflict (workspace_id) do update set
          month_spend = {new_spend},
          spend_month = date_trunc('month', now())::date,
          is_paused = billing_accounts.is_paused or {reaches_budget},
          paused_reason = case when not billing_accounts.is_paused and {reaches_budget}
            then 'budget' else billing_accounts.paused_reason end,
          updated_at = now()
        """,
        {"amount": amount, "ws": workspace_id},
    )


async def set_budget(conn: Connection, workspace_id: UUID, budget: Decimal | None) -> None:
    await conn.execute(
        f"""
        insert into public.billing_accounts (workspace_id, monthly_budget) values (%(ws)s, %(budget)s)
        on conflict (workspace_id) do update set
          monthly_budget = excluded.monthly_budget,
          -- A budget pause lifts as soon as the budget leaves room again.
          is_paused = case when billing_accounts.paused_reason = 'budget'
            and (excluded.monthly_budget is null or {_SPEND} < excluded.monthly_budget)
            then false else billing_accounts.is_paused end,
          paused_reason = case when billing_accounts.paused_reason = 'budget'
            and (excluded.monthly_budget is null or {_SPEND} < excluded.monthly_budget)
            then null else billing_accounts.paused_reason end,
          updated_at = now()
        """,
        {"ws": workspace_id, "budget": budget},
    )
