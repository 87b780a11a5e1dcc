from __future__ import annotations

from typing import Any
from uuid import UUID

from backend.connections import repository as connections
from backend.connections.schemas import Provider
from backend.db import Connection

# A claim on an order with no call recorded after this long belongs to a request that died
# between Bolna and the database; another request may take the order over. Far longer than
# Bolna's client timeout, so a live request never loses its claim.
CLAIM_TTL = "2 minutes"


# -- the connection -----------------------------------------------------------------------------


async def connection_by_token_hash(conn: Connection, token_hash: str) -> dict[str, Any] | None:
    """Runs before the workspace is known (system transaction)."""
    row = await connections.by_webhook_hash(conn, Provider.BOLNA, token_hash)
    if row is None:
        return None
    return {
        "workspace_id": row["workspace_id"],
        "encrypted_webhook_token": row["secrets"]["webhook_token"],
    }


# -- one confirmation call per order ------------------------------------------------------------


async def claim_order(conn: Connection, workspace_id: UUID, order_id: str, claim_id: UUID) -> bool:
    """Claim the order for a new call: True when this request may place it. An order is free
    when it has no row yet, when its claim went stale without a call, or when its last call
    was missed or failed (a confirmation may be tried again)."""
    cur = await conn.execute(
        f"""
        insert into public.order_confirmation_calls as o (workspace_id, order_id, claim_id)
        values (%(ws)s, %(order_id)s, %(claim_id)s)
        on conflict (workspace_id, order_id) do update
          set claim_id = excluded.claim_id, claimed_at = now(), call_id = null
          where (o.call_id is null and o.claimed_at < now() - interval '{CLAIM_TTL}')
             or exists (select 1 from public.calls c
                        where c.id = o.call_id and c.workspace_id = o.workspace_id
                          and c.status in ('missed', 'failed'))
        returning o.claim_id
        """,
        {"ws": workspace_id, "order_id": order_id, "claim_id": claim_id},
    )
    row = await cur.fetchone()
    return row is not None and row["claim_id"] == claim_id


async def order_call(conn: Connection, workspace_id: UUID, order_id: str) -> dict[str, Any] | None:
    """The call that confirms this order (`id`, `provider_call_id`, and `phone`: the number
    called, as the request that placed the call gave it), None while one is being placed."""
    cur = await conn.execute(
        """
        select c.id, c.provider_call_id,
               coalesce(c.metadata -> 'order' ->> 'phone', '+' || c.phone) as phone
        from public.order_confirmation_calls o
        join public.calls c on c.id = o.call_id and c.workspace_id = o.workspace_id
        where o.workspace_id = %s and o.order_id = %s
        """,
        (workspace_id, order_id),
    )
    return await cur.fetchone()


async def release_order(
    conn: Connection, workspace_id: UUID, order_id: str, claim_id: UUID
) -> None:
    """Give the claim up (no call was placed), unless another request took it over since."""
    await conn.execute(
        "delete from public.order_confirmation_calls"
        " where workspace_id = %s and order_id = %s and claim_id = %s and call_id is null",
        (workspace_id, order_id, claim_id),
    )


async def settle_order(
    conn: Connection, workspace_id: UUID, order_id: str, claim_id: UUID, call_id: UUID
) -> None:
    await conn.execute(
        "update public.order_confirmation_calls set call_id = %s"
        " where workspace_id = %s and order_id = %s and claim_id = %s",
        (call_id, workspace_id, order_id, claim_id),
    )
