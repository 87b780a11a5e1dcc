"""SQL for budgets and credits. Tenants may read their account but never write it, so these
statements run as the login role (`as_login_role`) and always name their workspace."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from backend.db import Connection

RESERVATION_TTL = "5 minutes"

# The month's spend, reset when a new month has started since the last write.
_SPEND = "case when spend_month < date_trunc('month', now())::date then 0 else month_spend end"


async def get_account(conn: Connection, workspace_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(
        f"select *, {_SPEND} as current_spend from public.billing_accounts where workspace_id = %s",
        (workspace_id,),
    )
    return await cur.fetchone()


async def lock_account(conn: Connection, workspace_id: UUID) -> dict[str, Any] | None:
    """The account, locked for this transaction, with what calls in flight hold."""
    cur = await conn.execute(
        f"""
        select a.*, {_SPEND} as current_spend,
               coalesce((select sum(r.amount) from public.billing_reservations r
                         where r.workspace_id = a.workspace_id
                           and r.created_at > now() - interval '{RESERVATION_TTL}'), 0) as held
        from public.billing_accounts a where a.workspace_id = %s for update
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
) -> dict[str, Any] | None:
    """Add to the month's spend; pause the workspace when that reaches its budget."""
    cur = await conn.execute(
        f"""
        update public.billing_accounts set
          month_spend = {_SPEND} + %(amount)s,
          spend_month = date_trunc('month', now())::date,
          is_paused = is_paused or (monthly_budget is not null and {_SPEND} + %(amount)s >= monthly_budget),
          paused_reason = case
            when not is_paused and monthly_budget is not null and {_SPEND} + %(amount)s >= monthly_budget
            then 'budget' else paused_reason end,
          updated_at = now()
        where workspace_id = %(ws)s
        returning is_paused
        """,
        {"amount": amount, "ws": workspace_id},
    )
    return await cur.fetchone()


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
