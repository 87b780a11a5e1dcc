"""Credits a workspace is given: Stripe top-ups, the free allowance, `voxtro credits grant`.

Every grant is a `credit_grants` row, unique per workspace and (source, reference) — a Checkout
session id, the workspace id for the free allowance, an operator's reference — so a grant
repeated for the same reason (a webhook delivered three times, a command run twice) adds credits
once, and an operator's reference used for another workspace is another grant. The balance on
`billing_accounts` moves in the same transaction as the ledger row. Tenants may read both but
never write them, so these statements run as the login role and name their workspace.

Credits given to an unmetered workspace make it prepaid, whoever gives them (a purchase, an
operator's `voxtro credits grant`, an adjustment): credits that are never charged would mean
nothing. A workspace on a plan stays on it (its usage is metered, not charged to credits).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from backend.config import Settings
from backend.db import Connection, as_login_role

Source = Literal["free", "checkout", "cli", "adjustment"]


async def grant(
    conn: Connection,
    workspace_id: UUID,
    amount: Decimal,
    source: Source,
    reference: str,
    note: str | None = None,
) -> bool:
    """Add `amount` to the workspace's credits unless this (source, reference) was granted to
    it before; True when it is new. Credits (a positive amount) make an unmetered workspace
    prepaid. A workspace paused because its credits ran out resumes as soon as it has some
    again."""
    async with as_login_role(conn):
        cur = await conn.execute(
            "insert into public.credit_grants (workspace_id, amount, source, reference, note)"
            " values (%s, %s, %s, %s, %s)"
            " on conflict (workspace_id, source, reference) do nothing returning id",
            (workspace_id, amount, source, reference, note),
        )
        if await cur.fetchone() is None:
            return False
        await conn.execute(
            """
            insert into public.billing_accounts (workspace_id, total_credits, billing_mode)
            values (%(ws)s, %(amount)s,
                    case when %(amount)s > 0 then 'prepaid' else 'unmetered' end)
            on conflict (workspace_id) do update set
              total_credits = billing_accounts.total_credits + %(amount)s,
              billing_mode = case
                when billing_accounts.billing_mode = 'unmetered' and %(amount)s > 0
                then 'prepaid' else billing_accounts.billing_mode end,
              is_paused = case when billing_accounts.paused_reason = 'credits'
                and billing_accounts.total_credits + %(amount)s > billing_accounts.used_credits
                then false else billing_accounts.is_paused end,
              paused_reason = case when billing_accounts.paused_reason = 'credits'
                and billing_accounts.total_credits + %(amount)s > billing_accounts.used_credits
                then null else billing_accounts.paused_reason end,
              updated_at = now()
            """,
            {"ws": workspace_id, "amount": amount},
        )
        return True


async def open_account(conn: Connection, workspace_id: UUID, settings: Settings) -> None:
    """A new workspace's billing: with Stripe configured it starts prepaid, with the free
    allowance; without, nothing (its spend is recorded and only its budget limits it)."""
    if not settings.billing_enabled:
        return
    async with as_login_role(conn):
        await conn.execute(
            "insert into public.billing_accounts (workspace_id, billing_mode) values (%s, 'prepaid')"
            " on conflict (workspace_id) do nothing",
            (workspace_id,),
        )
    allowance = Decimal(str(settings.free_credits))
    if allowance > 0:
        await grant(conn, workspace_id, allowance, "free", str(workspace_id), "Free credits")


async def billing_mode(conn: Connection, workspace_id: UUID) -> str:
    """How the workspace pays: 'unmetered' (also without an account yet), 'prepaid' or
    'subscription'."""
    cur = await conn.execute(
        "select billing_mode from public.billing_accounts where workspace_id = %s",
        (workspace_id,),
    )
    row = await cur.fetchone()
    return str(row["billing_mode"]) if row else "unmetered"


async def balance(conn: Connection, workspace_id: UUID) -> Decimal:
    """Credits left (given less used); 0 for a workspace that has no account yet."""
    cur = await conn.execute(
        "select total_credits - used_credits as available from public.billing_accounts"
        " where workspace_id = %s",
        (workspace_id,),
    )
    row = await cur.fetchone()
    return Decimal(row["available"]) if row else Decimal(0)


async def recent_grants(
    conn: Connection, workspace_id: UUID, *, limit: int = 20
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "select amount, source, reference, note, created_at from public.credit_grants"
        " where workspace_id = %s order by created_at desc, id limit %s",
        (workspace_id, limit),
    )
    return await cur.fetchall()


async def find_workspaces(conn: Connection, named: str) -> list[dict[str, Any]]:
    """The workspaces an operator means (in `voxtro credits grant`): the one of this id or
    slug, else those of this name (any case); more than one means the name is ambiguous."""
    try:
        workspace_id: UUID | None = UUID(named)
    except ValueError:
        workspace_id = None
    cur = await conn.execute(
        "select id, name, slug from public.workspaces where id = %s or slug = %s",
        (workspace_id, named),
    )
    found = await cur.fetchone()
    if found is not None:
        return [found]
    cur = await conn.execute(
        "select id, name, slug from public.workspaces where lower(name) = lower(%s)"
        " order by created_at",
        (named.strip(),),
    )
    return await cur.fetchall()
