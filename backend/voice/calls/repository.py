"""All writes to `calls`: the providers' reports and imports, and Bolna's placed calls and
execution updates. Calls are unique per (workspace, provider, provider call id): two workspaces
connected to one provider account each keep their own copy."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from backend.db import Connection

# The workspace's customer with the call's phone: customers keep E.164 with '+', calls digits.
CUSTOMER_BY_PHONE = (
    "(select id from public.customers"
    " where workspace_id = %(ws)s and phone = '+' || %(phone)s::text)"
)


async def insert_once(
    conn: Connection, workspace_id: UUID, provider: str, values: dict[str, Any]
) -> UUID | None:
    """Store one finished call, once per provider call id in the workspace: a redelivered report
    is a no-op (another workspace connected to the same provider account keeps its own copy).
    The new row's id, None when it was there already. `values`: provider_call_id, agent_id,
    direction, status, phone, language, started_at, ended_at, duration_seconds, transcript,
    summary, analysis, metadata, and optionally recording_url and cost."""
    cur = await conn.execute(
        f"""
        insert into public.calls
          (workspace_id, provider, provider_call_id, agent_id, direction, status, phone,
           customer_id, language, started_at, ended_at, duration_seconds, transcript, summary,
           recording_url, cost, analysis, metadata)
        values (
          %(ws)s, %(provider)s, %(provider_call_id)s, %(agent_id)s, %(direction)s, %(status)s,
          %(phone)s::text, {CUSTOMER_BY_PHONE},
          %(language)s, %(started_at)s, %(ended_at)s, %(duration_seconds)s, %(transcript)s,
          %(summary)s, %(recording_url)s, %(cost)s, %(analysis)s, %(metadata)s)
        on conflict (workspace_id, provider, provider_call_id) do nothing
        returning id
        """,
        {
            "recording_url": None,
            "cost": 0,
            **values,
            "ws": workspace_id,
            "provider": provider,
            "analysis": Jsonb(values["analysis"]),
            "metadata": Jsonb(values["metadata"]),
        },
    )
    row = await cur.fetchone()
    return row["id"] if row else None


async def record_placed_call(conn: Connection, workspace_id: UUID, values: dict[str, Any]) -> UUID:
    """The outbound call Bolna just placed (`values`: provider_call_id, agent_id, phone,
    metadata); its id. Bolna's first webhook may have stored the call already (it can arrive
    before this transaction): then the order is added to that row. Execution ids are the
    workspace's own: another workspace's call with the same id (one Bolna account connected to
    both) is its copy, left alone. Idempotent: recording the same call again changes nothing
    more."""
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
_FILL = ", ".join(f"{column} = {value}" for column, value in _FILLED.items())
_CHANGES = " or ".join(
    f"({value}) is distinct from c.{column}" for column, value in _FILLED.items()
)
_EXECUTION = f"""
    insert into public.calls as c
      (workspace_id, provider, provider_call_id, agent_id, direction, status, phone,
       customer_id, started_at, ended_at, duration_seconds, transcript, recording_url,
       cost, analysis, metadata)
    values (%(ws)s, 'bolna', %(provider_call_id)s, %(agent_id)s, %(direction)s,
            %(status)s, %(phone)s::text, {CUSTOMER_BY_PHONE}, %(started_at)s, %(ended_at)s,
            %(duration_seconds)s, %(transcript)s, %(recording_url)s,
            coalesce(%(cost)s, 0), %(analysis)s, %(metadata)s)
    on conflict (workspace_id, provider, provider_call_id) do {{}}
    returning c.id, c.status, c.ended_at, c.duration_seconds
"""
_EXECUTION_NEW = _EXECUTION.format("nothing")
_EXECUTION_UPDATE = _EXECUTION.format(
    f"""update set
      status = case when {_FORWARD} then excluded.status else c.status end,
      agent_id = coalesce(c.agent_id, excluded.agent_id),
      phone = coalesce(excluded.phone, c.phone),
      customer_id = coalesce(c.customer_id, excluded.customer_id),
      started_at = coalesce(c.started_at, excluded.started_at),
      -- Set by the first end only: no state before an end has one.
      ended_at = coalesce(c.ended_at, excluded.ended_at),
      {_FILL}
    where {_FORWARD} or ({_SAME_END} and ({_CHANGES}))"""
)


async def apply_execution(
    conn: Connection, workspace_id: UUID, values: dict[str, Any]
) -> dict[str, Any] | None:
    """Apply one Bolna execution state to the workspace's call, or store the call when it is
    new. `values["rank"]` orders Bolna's statuses: a state no later than the one applied last
    (a repeated or late delivery) changes nothing, except the same end again
    (`values["ended"]`, same Bolna status), which fills in what it brings new (recording,
    transcript, extracted data, cost, duration) and keeps the status: a different end after an
    end is ignored. Fields Bolna leaves empty keep what an earlier state gave.

    The call (`id`, `status`, `duration_seconds`, and `ended_now`: this delivery is the one
    that ended it) when something changed, else None. The call's row is locked first, so
    concurrent deliveries of one call take turns and each knows what the other left."""
    params = {
        **values,
        "ws": workspace_id,
        "bolna_status": values["metadata"]["bolna"]["status"],
        "analysis": Jsonb(values["analysis"]),
        "metadata": Jsonb(values["metadata"]),
    }
    while True:
        cur = await conn.execute(
            "select ended_at from public.calls where workspace_id = %s and provider = 'bolna'"
            " and provider_call_id = %s for update",
            (workspace_id, values["provider_call_id"]),
        )
        before = await cur.fetchone()
        cur = await conn.execute(_EXECUTION_NEW if before is None else _EXECUTION_UPDATE, params)
        row = await cur.fetchone()
        if before is not None or row is not None:
            break
        # Stored by another transaction since we looked (its insert won): apply to that row.
    if row is None:
        return None
    was_ended = before is not None and before["ended_at"] is not None
    return {**row, "ended_now": row["ended_at"] is not None and not was_ended}
