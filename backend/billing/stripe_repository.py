"""SQL for Stripe billing: a workspace's Stripe customer and subscription, plans, and the
meter's outbox (usage waiting for Stripe) and reports. (Received events are the inbox's:
backend/inbound.)

Tenants may read their billing account but never write it, and the other tables are the
backend's alone, so every statement here runs as the login role (`system()` transactions, or
`as_login_role` inside a tenant's) and names its workspace explicitly.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

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


async def lock_account(conn: Connection, workspace_id: UUID) -> None:
    """Lock the workspace's billing account until the end of the transaction: two events about
    its subscription (a Checkout completion and the subscription's end) take turns, and the
    second sees what the first committed."""
    await conn.execute(
        "select 1 from public.billing_accounts where workspace_id = %s for update", (workspace_id,)
    )


async def subscription_ended(conn: Connection, subscription_id: str) -> bool:
    cur = await conn.execute(
        "select 1 from public.stripe_ended_subscriptions where id = %s", (subscription_id,)
    )
    return await cur.fetchone() is not None


async def record_ended_subscription(
    conn: Connection, workspace_id: UUID, *, subscription_id: str, status: str, event_at: datetime
) -> None:
    """Remember that Stripe ended this subscription, whether or not the workspace has it yet."""
    await conn.execute(
        "insert into public.stripe_ended_subscriptions (id, workspace_id, status, ended_at)"
        " values (%s, %s, %s, %s) on conflict (id) do nothing",
        (subscription_id, workspace_id, status, event_at),
    )


async def start_subscription(
    conn: Connection, workspace_id: UUID, *, subscription_id: str, plan: str | None
) -> None:
    """The workspace subscribed to `plan`: its usage is metered from now on (the usage written
    from the commit of this transaction on: see meter_outbox). A repeat of the same
    subscription keeps the status it had."""
    await conn.execute(
        """
        insert into public.billing_accounts
          (workspace_id, billing_mode, stripe_subscription_id, plan, subscription_status)
        values (%(ws)s, 'subscription', %(sub)s, %(plan)s, 'active')
        on conflict (workspace_id) do update set
          billing_mode = case
            when billing_accounts.stripe_subscription_id is not distinct from %(sub)s
             and billing_accounts.subscription_status = 'paused'
            then billing_accounts.billing_mode else 'subscription' end,
          subscription_status = case
            when billing_accounts.stripe_subscription_id is not distinct from %(sub)s
            then coalesce(billing_accounts.subscription_status, 'active') else 'active' end,
          subscription_event_at = case
            when billing_accounts.stripe_subscription_id is not distinct from %(sub)s
            then billing_accounts.subscription_event_at end,
          stripe_subscription_id = %(sub)s,
          plan = coalesce(%(plan)s, billing_accounts.plan),
          updated_at = now()
        """,
        {"ws": workspace_id, "sub": subscription_id, "plan": plan},
    )


# Leaving the subscription mode lifts a pause for an unpaid invoice: without a plan, the
# workspace's credits limit it, and `pause_unpaid` pauses only workspaces on a plan.
_LIFT_PAYMENT_PAUSE = """
          is_paused = case when paused_reason = 'payment' then false else is_paused end,
          paused_reason = case when paused_reason = 'payment' then null else paused_reason end"""


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
    another subscription or older than one already applied. A `paused` subscription bills
    nothing, so its usage is not metered: the workspace is prepaid until it resumes (the
    subscription is kept, and its resumption makes the workspace metered again)."""
    mode = "case when %(status)s = 'paused' then 'prepaid' else 'subscription' end"
    cur = await conn.execute(
        f"""
        update public.billing_accounts set
          billing_mode = {mode},
          subscription_status = %(status)s,
          plan = coalesce(%(plan)s, plan),
          is_paused = case when paused_reason = 'payment' and %(status)s = 'paused'
            then false else is_paused end,
          paused_reason = case when paused_reason = 'payment' and %(status)s = 'paused'
            then null else paused_reason end,
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
    """The subscription is over: back to prepaid credits, nothing metered from now on (usage
    already in the meter's outbox is still reported). Its unpaid invoices no longer pause the
    workspace: the grace period ends and a 'payment' pause lifts (what is owed stays with
    Stripe's dunning; the workspace now spends credits it paid for)."""
    cur = await conn.execute(
        f"""
        update public.billing_accounts set
          billing_mode = 'prepaid', stripe_subscription_id = null, plan = null,
          subscription_status = %(status)s,
          payment_failed_at = null, failed_invoice_id = null,{_LIFT_PAYMENT_PAUSE},
          subscription_event_at = %(at)s, updated_at = now()
        where workspace_id = %(ws)s and stripe_subscription_id = %(sub)s
          and (subscription_event_at is null or subscription_event_at <= %(at)s)
        """,
        {"ws": workspace_id, "sub": subscription_id, "status": status, "at": event_at},
    )
    return cur.rowcount > 0


async def payment_failed(
    conn: Connection, workspace_id: UUID, invoice_id: str, event_at: datetime
) -> bool:
    """An invoice of the workspace's plan failed: the grace period starts (unless it already
    runs, for this invoice or another). A workspace without a plan (it ended, or is paused)
    is limited by its credits instead: nothing to start."""
    cur = await conn.execute(
        """
        update public.billing_accounts set
          failed_invoice_id = case when payment_failed_at is null then %(invoice)s
            else failed_invoice_id end,
          payment_failed_at = coalesce(payment_failed_at, %(at)s),
          payment_event_at = %(at)s, updated_at = now()
        where workspace_id = %(ws)s and billing_mode = 'subscription'
          and (payment_event_at is null or payment_event_at <= %(at)s)
        """,
        {"ws": workspace_id, "invoice": invoice_id, "at": event_at},
    )
    return cur.rowcount > 0


async def payment_cleared(
    conn: Connection, workspace_id: UUID, event_at: datetime, *, invoice_id: str | None = None
) -> bool:
    """No grace period any more, and a payment pause lifts: an invoice was paid (any invoice:
    the customer's payment works again), or — with `invoice_id` — the invoice whose failure
    started the grace period was voided or marked uncollectible."""
    cur = await conn.execute(
        f"""
        update public.billing_accounts set
          payment_failed_at = null, failed_invoice_id = null,{_LIFT_PAYMENT_PAUSE},
          payment_event_at = %(at)s, updated_at = now()
        where workspace_id = %(ws)s and (payment_event_at is null or payment_event_at <= %(at)s)
          and (%(invoice)s::text is null or failed_invoice_id = %(invoice)s::text)
        """,
        {"ws": workspace_id, "at": event_at, "invoice": invoice_id},
    )
    return cur.rowcount > 0


async def pause_unpaid(conn: Connection, grace_days: int) -> list[UUID]:
    """Pause the workspaces on a plan whose payment failed more than `grace_days` ago (a
    'payment' pause replaces any other: paying lifts it, and the budget or credits are checked
    again then). A workspace without a plan is never paused for payment."""
    cur = await conn.execute(
        """
        update public.billing_accounts set is_paused = true, paused_reason = 'payment',
          updated_at = now()
        where billing_mode = 'subscription'
          and payment_failed_at < now() - make_interval(days => %s)
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


# -- the meter --------------------------------------------------------------------------------


async def claim_outbox(
    conn: Connection,
    claim_id: UUID,
    *,
    limit: int,
    lease: timedelta,
    skip_workspaces: Sequence[UUID],
) -> list[dict[str, Any]]:
    """Lease up to `limit` rows of the meter's outbox to this run, oldest first: rows no run
    holds (never claimed, or their lease ran out), of workspaces not set aside by this run.
    Rows another transaction has locked are skipped, and a row whose claim committed since
    this statement's snapshot is checked again under its lock (READ COMMITTED), so two runs
    never lease the same row."""
    cur = await conn.execute(
        """
        with next as (
          select usage_id from public.meter_outbox
          where (claimed_until is null or claimed_until < now())
            and workspace_id <> all(%(skip)s::uuid[])
          order by created_at, usage_id
          limit %(limit)s
          for update skip locked
        )
        update public.meter_outbox o
        set claimed_until = now() + %(lease)s, claim_id = %(claim)s
        from next where o.usage_id = next.usage_id
        returning o.usage_id, o.workspace_id, o.stripe_customer_id, o.value, o.created_at
        """,
        {"skip": list(skip_workspaces), "limit": limit, "lease": lease, "claim": claim_id},
    )
    rows = await cur.fetchall()
    return sorted(rows, key=lambda r: (r["created_at"], r["usage_id"]))


async def record_reports(conn: Connection, reports: Sequence[dict[str, Any]]) -> None:
    """Mark usage rows reported (or skipped, with the reason) and take them out of the outbox;
    a row marked before stays as it was, and a row deleted meanwhile (its workspace was) is not
    marked."""
    if not reports:
        return
    async with conn.cursor() as cur:
        await cur.executemany(
            "insert into public.usage_meter_reports (usage_id, workspace_id, status, value, reason)"
            " select %(usage_id)s, %(workspace_id)s, %(status)s, %(value)s, %(reason)s"
            " where exists (select 1 from public.token_usage where id = %(usage_id)s)"
            " on conflict (usage_id) do nothing",
            reports,
        )
    await conn.execute(
        "delete from public.meter_outbox where usage_id = any(%s)",
        ([r["usage_id"] for r in reports],),
    )


async def release_claims(conn: Connection, claim_id: UUID, usage_ids: Sequence[UUID]) -> None:
    """Give back rows this run leased and did not send: the next run takes them at once."""
    if not usage_ids:
        return
    await conn.execute(
        "update public.meter_outbox set claimed_until = null, claim_id = null"
        " where usage_id = any(%s) and claim_id = %s",
        (list(usage_ids), claim_id),
    )
