from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from backend.connections import repository as connections
from backend.connections.schemas import Provider
from backend.db import Connection
from backend.voice.calls.repository import CUSTOMER_BY_PHONE

# A claim on an order with no call recorded after this long belongs to a request that died
# between Bolna and the database; another request may take the order over. Far longer than
# Bolna's client timeout, so a live request never loses its claim.
CLAIM_TTL = "2 minutes"


# -- the connection -----------------------------------------------------------------------------


async def workspace_slug(conn: Connection, workspace_id: UUID) -> str | None:
    cur = await conn.execute("select slug from public.workspaces where id = %s", (workspace_id,))
    row = await cur.fetchone()
    return row["slug"] if row else None


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


# -- calls --------------------------------------------------------------------------------------


async def record_placed_call(conn: Connection, workspace_id: UUID, values: dict[str, Any]) -> UUID:
    """The outbound call just placed (`values`: provider_call_id, agent_id, phone, metadata);
    its id. Bolna's first webhook may have stored the call already (it can arrive before this
    transaction): then the order is added to that row. Execution ids are the workspace's own:
    another workspace's call with the same id (one Bolna account connected to both) is its
    copy, left alone. Idempotent: recording the same call again changes nothing more."""
    cur = await conn.execute(
        f"""
        insert into public.calls as c
          (workspace_id, provider, provider_call_id, agent_id, direction, status, phone,
           customer_id, started_at, metadata)
        values (%(ws)s, 'bolna', %(provider_call_id)s, %(agent_id)s, 'outbound', 'queued',
                %(phone)s::text, {CUSTOMER_BY_PHONE}, now(), %(metadata)s)
        on conflict (workspace_id, provider, provider_call_id) do update
          set metadata = c.metadata || excluded.metadata
        returning c.id
        """,
        {**values, "ws": workspace_id, "metadata": Jsonb(values["metadata"])},
    )
    row = await cur.fetchone()
    assert row is not None
    call_id: UUID = row["id"]
    return call_id


# A delivery moves the call forward when its Bolna status ranks after the last one applied.
_FORWARD = "coalesce((c.metadata -> 'bolna' ->> 'rank')::int, -1) < %(rank)s"
# The same end reported again (Bolna re-posts `completed` once the recording or the extracted
# data is ready): it may fill fields in, never change the status nor when the call ended.
_SAME_END = (
    "%(ended)s and (c.metadata -> 'bolna' ->> 'rank')::int = %(rank)s"
    " and c.metadata -> 'bolna' ->> 'status' = %(bolna_status)s"
)
# What a delivery leaves in the fields it may fill: its own value when it has one (a later
# delivery knows more), else the earlier one. Bolna sends zeros for what it does not know yet,
# so a zero duration or cost replaces nothing but a null.
_FILLED = {
    "duration_seconds": "coalesce(nullif(excluded.duration_seconds, 0), c.duration_seconds,"
    " excluded.duration_seconds)",
    "transcript": "coalesce(excluded.transcript, c.transcript)",
    "recording_url": "coalesce(excluded.recording_url, c.recording_url)",
    "cost": "coalesce(nullif(%(cost)s, 0), c.cost)",
    "analysis": "c.analysis || excluded.analysis",
    # The last state's Bolna details, over the earlier ones' (a repeat may lack some).
    "metadata": "c.metadata || excluded.metadata || jsonb_build_object('bolna',"
    " coalesce(c.metadata -> 'bolna', '{}') || (excluded.metadata -> 'bolna'))",
}


async def apply_execution(conn: Connection, workspace_id: UUID, values: dict[str, Any]) -> bool:
    """Apply one Bolna execution state to the workspace's call, or store the call when it is
    new; True when something changed. `values["rank"]` orders Bolna's statuses: a state no
    later than the one applied last (a repeated or late delivery) changes nothing, except the
    same end again (`values["ended"]`, same Bolna status), which fills in what it brings new
    (recording, transcript, extracted data, cost, duration) and keeps the status: a different
    end after an end is ignored. Fields Bolna leaves empty keep what an earlier state gave.
    One statement, so concurrent deliveries of one call serialise on its row."""
    filled = ", ".join(f"{column} = {value}" for column, value in _FILLED.items())
    changes = " or ".join(
        f"({value}) is distinct from c.{column}" for column, value in _FILLED.items()
    )
    cur = await conn.execute(
        f"""
        insert into public.calls as c
          (workspace_id, provider, provider_call_id, agent_id, direction, status, phone,
           customer_id, started_at, ended_at, duration_seconds, transcript, recording_url,
           cost, analysis, metadata)
        values (%(ws)s, 'bolna', %(provider_call_id)s, %(agent_id)s, %(direction)s,
                %(status)s, %(phone)s::text, {CUSTOMER_BY_PHONE}, %(started_at)s, %(ended_at)s,
                %(duration_seconds)s, %(transcript)s, %(recording_url)s,
                coalesce(%(cost)s, 0), %(analysis)s, %(metadata)s)
        on conflict (workspace_id, provider, provider_call_id) do update set
          status = case when {_FORWARD} then excluded.status else c.status end,
          agent_id = coalesce(c.agent_id, excluded.agent_id),
          phone = coalesce(excluded.phone, c.phone),
          customer_id = coalesce(c.customer_id, excluded.customer_id),
          started_at = coalesce(c.started_at, excluded.started_at),
          -- Set by the first end only: no state before an end has one.
          ended_at = coalesce(c.ended_at, excluded.ended_at),
          {filled}
        where {_FORWARD} or ({_SAME_END} and ({changes}))
        """,
        {
            **values,
            "ws": workspace_id,
            "bolna_status": values["metadata"]["bolna"]["status"],
            "analysis": Jsonb(values["analysis"]),
            "metadata": Jsonb(values["metadata"]),
        },
    )
    return cur.rowcount > 0
