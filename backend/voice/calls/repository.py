"""Writing `calls` rows, shared by the providers' webhooks and imports."""

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
) -> bool:
    """Store one finished call, once per provider call id in the workspace: a redelivered report
    is a no-op (another workspace connected to the same provider account keeps its own copy).
    True when the row is new. `values`: provider_call_id, agent_id, direction, status, phone,
    language, started_at, ended_at, duration_seconds, transcript, summary, analysis, metadata,
    and optionally recording_url and cost."""
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
    return cur.rowcount > 0
