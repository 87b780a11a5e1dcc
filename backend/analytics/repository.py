"""The omnichannel analytics' aggregates. Every query names the workspace and reads a range of an
index that starts with it (token_usage: workspace and time, carrying what is summed), so a
workspace's figures cost the same however many other workspaces share the tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from backend.db import Connection

# What a cost is grouped by, for model usage and for calls. Calls are billed by their voice
# provider on the VOICE channel; their day is when they started (when they were recorded, for
# a call that never started).
_CALL_TIME = "coalesce(started_at, created_at)"
_KEYS: dict[str, tuple[str, str]] = {
    "service": ("service", "upper(provider) || '_VOICE'"),
    "channel": ("channel", "'VOICE'"),
    "day": (
        "to_char(created_at at time zone %(tz)s, 'YYYY-MM-DD')",
        f"to_char({_CALL_TIME} at time zone %(tz)s, 'YYYY-MM-DD')",
    ),
}


async def time_zone(conn: Connection, workspace_id: UUID) -> str:
    cur = await conn.execute(
        "select time_zone from public.workspaces where id = %s", (workspace_id,)
    )
    row = await cur.fetchone()
    return row["time_zone"] if row else "UTC"


async def costs(
    conn: Connection,
    workspace_id: UUID,
    *,
    since: datetime,
    until: datetime,
    group_by: str,
    tz: str,
) -> list[dict[str, Any]]:
    """What was spent in [since, until) per `group_by` key: model usage (builder previews left
    out, as everywhere in analytics) and calls. Keys that cost nothing are left out."""
    usage_key, call_key = _KEYS[group_by]
    cur = await conn.execute(
        f"""
        select key, sum(cost) as cost from (
          select {usage_key} as key, sum(cost) as cost from public.token_usage
          where workspace_id = %(ws)s and created_at >= %(since)s and created_at < %(until)s
            and not is_preview
          group by 1
          union all
          select {call_key} as key, sum(cost) as cost from public.calls
          where workspace_id = %(ws)s
            and {_CALL_TIME} >= %(since)s and {_CALL_TIME} < %(until)s
          group by 1
        ) spent
        group by key
        having sum(cost) > 0
        """,
        {"ws": workspace_id, "since": since, "until": until, "tz": tz},
    )
    return await cur.fetchall()


async def customer_figures(
    conn: Connection, workspace_id: UUID, *, month_start: datetime
) -> dict[str, Any]:
    cur = await conn.execute(
        """
        select count(*) as total,
               count(*) filter (where created_at >= %(month)s) as new_this_month,
               count(*) filter (where is_verified) as verified
        from public.customers where workspace_id = %(ws)s
        """,
        {"ws": workspace_id, "month": month_start},
    )
    row = await cur.fetchone()
    assert row is not None
    return row
