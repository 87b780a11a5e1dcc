"""SQL for Stripe billing: a workspace's Stripe customer and subscription, plans, received
events, and the usage rows reported to the meter.

Tenants may read their billing account but never write it, and the other tables are the
backend's alone, so every statement here runs as the login role (`system()` transactions, or
`as_login_role` inside a tenant's) and names its workspace explicitly.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from backend.db import Connection

# -- accounts ---------------------------------------------------------------------------------


async def account(conn: Connection, workspace_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select * from public.billing_accounts where workspace_id = %s", (workspace_id,)
    )
    return await cur.fetchone()


async def workspace(conn: Connection, workspace_id: UUID) -> dict[str, Any] | None:
    """What a Stripe customer is named after: the workspace's name and e-mail."""
    cur = await conn.execute(
        "select id, name, email from public.workspaces where id = %s", (workspace_id,)
    )
    return await cur.fetchone()


async def workspace_of_customer(conn: Connection, customer_id: str) -> UUID | None:
    cur = await conn.execute(
        "select workspace_id from public.billing_accounts where stripe_customer_id = %s",
        (customer_id,),
    )
    row = await cur.fetchone()
    return UUID(str(row["workspace_id"])) if row else None


async def set_customer(conn: Connection, workspace_id: UUID, customer_id: str) -> str:
    """Record the workspace's Stripe customer unless it has one; the one it has."""
    cur = await conn.execute(
        """
        insert into public.billing_accounts (workspace_id, stripe_customer_id) values (%s, %s)
        on conflict (workspace_id) do update set
          stripe_customer_id = coalesce(billing_accounts.stripe_customer_id,
                                        excluded.stripe_customer_id),
          updated_at = now()
        returning stripe_customer_id
        """,
        (workspace_id, customer_id),
    )
    row = await cur.fetchone()
    assert row is not None
    return str(row["stripe_customer_id"])


async def make_prepaid(conn: Connection, workspace_id: UUID) -> None:
    """A workspace that buys credits is prepaid from then on (unless it has a plan)."""
    await conn.execute(
        "update public.billing_accounts set billing_mode = 'prepaid', updated_at = now()"
        " where workspace_id = %s and billing_mode = 'unmetered'",
        (workspace_id,),
    )


async def start_subscription(
    conn: Connection,
    workspace_id: UUID,
    *,
    subscription_id: str,
    plan: str | None,
    started_at: datetime,
) -> None:
    """The workspace subscribed to `plan`: its usage from `started_at` on is metered. A repeat
    of the same subscription keeps the start it had."""
    await conn.execute(
        """
        insert into public.billing_accounts
          (workspace_id, billing_mode, stripe_subscription_id, plan, subscription_status,
           metered_from)
        values (%(ws)s, 'subscription', %(sub)s, %(plan)s, 'active', %(at)s)
        on conflict (workspace_id) do update set
          billing_mode = 'subscription',
          metered_from = case
            when billing_accounts.stripe_subscription_id is not distinct from %(sub)s
            then coalesce(billing_accounts.metered_from, %(at)s) else %(at)s end,
          subscription_status = case
            when billing_accounts.stripe_subscription_id is not distinct from %(sub)s
            then coalesce(billing_accounts.subscription_status, 'active') else 'active' end,
          stripe_subscription_id = %(sub)s,
          plan = coalesce(%(plan)s, billing_accounts.plan),
          updated_at = now()
        """,
        {"ws": workspace_id, "sub": subscription_id, "plan": plan, "at": started_at},
    )


async def update_subscription(
    conn: Connection,
    workspace_id: UUID,
    *,
    subscription_id: str,
    status: str,
    plan: str | None,
    event_at: datetime,
) -> bool:
    """Stripe's latest word on the workspace's subscription; False when the event is about
    another subscription or older than one already applied."""
    cur = await conn.execute(
        """
        update public.billing_accounts set
          subscription_status = %(status)s,
          plan = coalesce(%(plan)s, plan),
          subscription_event_at = %(at)s,
          updated_at = now()
        where workspace_id = %(ws)s and stripe_subscription_id = %(sub)s
          and (subscription_event_at is null or subscription_event_at <= %(at)s)
        """,
        {
            "ws": workspace_id,
            "sub": subscription_id,
            "status": status,
            "plan": plan,
            "at": event_at,
        },
    )
    return cur.rowcount > 0


async def end_subscription(
    conn: Connection, workspace_id: UUID, *, subscription_id: str, status: str, event_at: datetime
) -> bool:
    """The subscription is over: back to prepaid credits, nothing metered any more."""
    cur = await conn.execute(
        """
        update public.billing_accounts set
          billing_mode = 'prepaid', stripe_subscription_id = null, plan = null,
          subscription_status = %(status)s, metered_from = null,
          subscription_event_at = %(at)s, updated_at = now()
        where workspace_id = %(ws)s and stripe_subscription_id = %(sub)s
          and (subscription_event_at is null or subscription_event_at <= %(at)s)
        """,
        {"ws": workspace_id, "sub": subscription_id, "status": status, "at": event_at},
    )
    return cur.rowcount > 0


async def payment_failed(conn: Connection, workspace_id: UUID, event_at: datetime) -> bool:
    """An invoice failed: the grace period starts (unless it already runs)."""
    cur = await conn.execute(
        """
        update public.billing_accounts set
          payment_failed_at = coalesce(payment_failed_at, %(at)s),
          payment_event_at = %(at)s, updated_at = now()
        where workspace_id = %(ws)s and (payment_event_at is null or payment_event_at <= %(at)s)
        """,
        {"ws": workspace_id, "at": event_at},
    )
    return cur.rowcount > 0


async def payment_succeeded(conn: Connection, workspace_id: UUID, event_at: datetime) -> bool:
    """An invoice was paid: no grace period any more, and a payment pause lifts."""
    cur = await conn.execute(
        """
        update public.billing_accounts set
          payment_failed_at = null,
          is_paused = case when paused_reason = 'payment' then false else is_paused end,
          paused_reason = case when paused_reason = 'payment' then null else paused_reason end,
          payment_event_at = %(at)s, updated_at = now()
        where workspace_id = %(ws)s and (payment_event_at is null or payment_event_at <= %(at)s)
        """,
        {"ws": workspace_id, "at": event_at},
    )
    return cur.rowcount > 0


async def pause_unpaid(conn: Connection, grace_days: int) -> list[UUID]:
    """Pause the workspaces whose payment failed more than `grace_days` ago (a 'payment' pause
    replaces any other: paying lifts it, and the budget or credits are checked again then)."""
    cur = await conn.execute(
        """
        update public.billing_accounts set is_paused = true, paused_reason = 'payment',
          updated_at = now()
        where payment_failed_at < now() - make_interval(days => %s)
          and paused_reason is distinct from 'payment'
        returning workspace_id
        """,
        (grace_days,),
    )
    return [UUID(str(r["workspace_id"])) for r in await cur.fetchall()]


# -- plans ------------------------------------------------------------------------------------


async def active_plans(conn: Connection) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "select code, name, included_usage from public.billing_plans where active order by code"
    )
    return await cur.fetchall()


async def plan(conn: Connection, code: str) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select * from public.billing_plans where code = %s and active", (code,)
    )
    return await cur.fetchone()


async def plan_of_prices(conn: Connection, price_ids: Sequence[str]) -> str | None:
    """The plan whose monthly fee is one of these prices (a subscription's items)."""
    cur = await conn.execute(
        "select code from public.billing_plans where fee_price_id = any(%s) order by active desc"
        " limit 1",
        (list(price_ids),),
    )
    row = await cur.fetchone()
    return str(row["code"]) if row else None


# -- events -----------------------------------------------------------------------------------


async def insert_event(conn: Connection, event_id: str, kind: str, payload: Any) -> bool:
    """Store an event unless it was received before; True when it is new."""
    cur = await conn.execute(
        "insert into public.stripe_events (id, type, payload) values (%s, %s, %s)"
        " on conflict (id) do nothing returning id",
        (event_id, kind, Jsonb(payload)),
    )
    return await cur.fetchone() is not None


async def lock_event(conn: Connection, event_id: str) -> dict[str, Any] | None:
    """The event, locked until the end of the transaction: two runs of its job take turns."""
    cur = await conn.execute(
        "select * from public.stripe_events where id = %s for update", (event_id,)
    )
    return await cur.fetchone()


async def finish_event(conn: Connection, event_id: str, *, error: str | None, done: bool) -> None:
    await conn.execute(
        "update public.stripe_events set attempts = attempts + 1, error = %s,"
        " processed_at = case when %s then now() end where id = %s",
        (error, done, event_id),
    )


# -- the meter --------------------------------------------------------------------------------


async def claim_unreported(conn: Connection, limit: int) -> list[dict[str, Any]]:
    """Usage rows to report, oldest first, locked for this transaction: rows with a cost, of
    workspaces on a plan, since the plan started, not reported yet. Rows another run has
    locked are skipped, so concurrent runs share the work instead of repeating it."""
    cur = await conn.execute(
        """
        select t.id, t.workspace_id, t.cost, t.created_at, a.stripe_customer_id
        from public.token_usage t
        join public.billing_accounts a on a.workspace_id = t.workspace_id
        where a.billing_mode = 'subscription' and a.stripe_customer_id is not null
          and t.created_at >= a.metered_from and t.cost > 0 and not t.is_preview
          and not exists (select 1 from public.usage_meter_reports r where r.usage_id = t.id)
        order by t.created_at, t.id
        limit %s
        for update of t skip locked
        """,
        (limit,),
    )
    rows = await cur.fetchall()
    if not rows:
        return rows
    # A row another run had locked when this statement began, and reported and released since,
    # looks unreported to this statement's snapshot. Now that we hold the locks, a second
    # statement (a new snapshot, READ COMMITTED) sees every report committed for them.
    cur = await conn.execute(
        "select usage_id from public.usage_meter_reports where usage_id = any(%s)",
        ([r["id"] for r in rows],),
    )
    reported = {r["usage_id"] for r in await cur.fetchall()}
    return [r for r in rows if r["id"] not in reported]


async def record_reports(conn: Connection, reports: Sequence[dict[str, Any]]) -> None:
    """Mark usage rows reported (or skipped, with the reason); a row marked before stays as
    it was."""
    if not reports:
        return
    async with conn.cursor() as cur:
        await cur.executemany(
            "insert into public.usage_meter_reports (usage_id, workspace_id, status, value, reason)"
            " values (%(usage_id)s, %(workspace_id)s, %(status)s, %(value)s, %(reason)s)"
            " on conflict (usage_id) do nothing",
            reports,
        )
