"""The dashboard's aggregates. Every query names the workspace and runs on an index that starts
with it (see migrations/20261124_10_calls.sql), so a workspace's figures cost the same however
many other workspaces share the tables."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from backend.db import Connection


async def time_zone(conn: Connection, workspace_id: UUID) -> str:
    cur = await conn.execute(
        "select time_zone from public.workspaces where id = %s", (workspace_id,)
    )
    row = await cur.fetchone()
    return row["time_zone"] if row else "UTC"


async def overview(conn: Connection, workspace_id: UUID, tz: str) -> dict[str, Any]:
    cur = await conn.execute(
        """
        select
          (select count(*) from public.conversations
            where workspace_id = %(ws)s and not is_preview) as total_conversations,
          (select coalesce(sum(order_lookups), 0) from public.conversations
            where workspace_id = %(ws)s and order_lookups > 0) as orders_tracked,
          (select count(*) from public.calls
            where workspace_id = %(ws)s and direction = 'inbound') as inbound_calls,
          (select count(*) from public.messages
            where workspace_id = %(ws)s
              and created_at >= (date_trunc('day', now() at time zone %(tz)s) at time zone %(tz)s)
          ) as messages_today
        """,
        {"ws": workspace_id, "tz": tz},
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def messages_per_day(
    conn: Connection, workspace_id: UUID, tz: str, days: int
) -> list[dict[str, Any]]:
    """A row for each of the last `days` days of the workspace's calendar, today included."""
    # The first instant counted, as a value: the messages index serves the range directly.
    cur = await conn.execute(
        "select today, (today - (%(days)s - 1))::timestamp at time zone %(tz)s as since"
        " from (select (now() at time zone %(tz)s)::date as today) t",
        {"tz": tz, "days": days},
    )
    bounds = await cur.fetchone()
    assert bounds is not None
    cur = await conn.execute(
        """
        with counted as (
          select (created_at at time zone %(tz)s)::date as day, count(*) as n
          from public.messages
          where workspace_id = %(ws)s and created_at >= %(since)s
          group by 1
        )
        select d::date as date, coalesce(counted.n, 0) as count
        from generate_series(%(first)s::date, %(today)s::date, interval '1 day') d
        left join counted on counted.day = d::date
        order by d
        """,
        {
            "ws": workspace_id,
            "tz": tz,
            "since": bounds["since"],
            "first": bounds["today"] - timedelta(days=days - 1),
            "today": bounds["today"],
        },
    )
    return await cur.fetchall()


async def conversations(
    conn: Connection,
    workspace_id: UUID,
    *,
    status: str | None,
    phone: str | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    where = (
        "workspace_id = %(ws)s and not is_preview"
        " and (%(status)s::text is null or status = %(status)s)"
        # Anywhere in the number: a national number finds its international form.
        " and (%(phone)s::text is null or strpos(phone, %(phone)s) > 0)"
    )
    params = {
        "ws": workspace_id,
        "status": status,
        "phone": phone,
        "limit": limit,
        "offset": offset,
    }
    cur = await conn.execute(
        f"select id, phone, status, channel, message_count, started_at from public.conversations"
        f" where {where} order by started_at desc, id limit %(limit)s offset %(offset)s",
        params,
    )
    rows = await cur.fetchall()
    total = await conn.execute(
        f"select count(*) as n from public.conversations where {where}", params
    )
    counted = await total.fetchone()
    return rows, int(counted["n"]) if counted else 0


_CALL = (
    "id, phone, status, duration_seconds, language, started_at, ended_at, transcript, recording_url"
)


async def calls(
    conn: Connection, workspace_id: UUID, *, status: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    where = "workspace_id = %(ws)s and (%(status)s::text is null or status = %(status)s)"
    params = {"ws": workspace_id, "status": status, "limit": limit, "offset": offset}
    cur = await conn.execute(
        f"select {_CALL} from public.calls where {where}"
        " order by started_at desc nulls last, id limit %(limit)s offset %(offset)s",
        params,
    )
    rows = await cur.fetchall()
    total = await conn.execute(f"select count(*) as n from public.calls where {where}", params)
    counted = await total.fetchone()
    return rows, int(counted["n"]) if counted else 0


async def call(conn: Connection, workspace_id: UUID, call_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(
        f"select {_CALL} from public.calls where id = %s and workspace_id = %s",
        (call_id, workspace_id),
    )
    return await cur.fetchone()
