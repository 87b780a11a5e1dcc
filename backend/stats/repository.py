"""The dashboard's aggregates. Every query names the workspace and runs on an index that starts
with it (see migrations/20261124_10_calls.sql), so a workspace's figures cost the same however
many other workspaces share the tables. What they read of conversations and messages is
conversations/repository.py's."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from backend.conversations import repository as conversations
from backend.db import Connection


async def calendar(conn: Connection, workspace_id: UUID) -> dict[str, Any]:
    """The workspace's time zone, its today, and the last of its days already rolled up in
    that time zone (None: nothing is, or it was rolled up in another time zone)."""
    cur = await conn.execute(
        """
        select w.time_zone, (now() at time zone w.time_zone)::date as today, r.rolled_through
        from public.workspaces w
        left join public.stats_rollups r on r.workspace_id = w.id and r.time_zone = w.time_zone
        where w.id = %s
        """,
        (workspace_id,),
    )
    row = await cur.fetchone()
    if row is None:
        return {"time_zone": "UTC", "today": datetime.now(UTC).date(), "rolled_through": None}
    return row


async def overview(conn: Connection, workspace_id: UUID, days: dict[str, Any]) -> dict[str, Any]:
    cur = await conn.execute(
        f"""
        select total_conversations, orders_tracked, inbound_calls, messages_today from (
          select {conversations.OVERVIEW_FIGURES},
            (select count(*) from public.calls
              where workspace_id = %(ws)s and direction = 'inbound') as inbound_calls
        ) figures
        """,
        {"ws": workspace_id, "tz": days["time_zone"], "recent_from": days["today"]},
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def messages_per_day(
    conn: Connection, workspace_id: UUID, days: dict[str, Any], count: int
) -> list[dict[str, Any]]:
    """A row for each of the last `count` days of the workspace's calendar, today included:
    rolled-up days from `message_day_counts`, the others counted from the messages."""
    today: date = days["today"]
    first = today - timedelta(days=count - 1)
    rolled: date | None = days["rolled_through"]
    recent_from = max(first, rolled + timedelta(days=1)) if rolled else first
    cur = await conn.execute(
        f"""
        with counted as (
          select day, messages as n from public.message_day_counts
          where workspace_id = %(ws)s and day >= %(first_day)s and day < %(recent_from)s
          union all
          {conversations.RECENT_MESSAGE_DAYS}
        )
        select d::date as date, coalesce(sum(counted.n), 0) as count
        from generate_series(%(first_day)s::date, %(today)s::date, interval '1 day') d
        left join counted on counted.day = d::date
        group by d
        order by d
        """,
        {
            "ws": workspace_id,
            "tz": days["time_zone"],
            "first_day": first,
            "recent_from": recent_from,
            "today": today,
        },
    )
    return await cur.fetchall()


async def workspaces_to_roll_up(conn: Connection, *, settle: timedelta) -> list[dict[str, Any]]:
    """Workspaces with a finished day not rolled up yet. A day is finished `settle` after its
    midnight, so that no message of it is still being written; a workspace whose time zone
    changed starts over (`rolled_through` None)."""
    cur = await conn.execute(
        """
        select * from (
          select w.id as workspace_id, w.time_zone,
                 ((now() - %(settle)s) at time zone w.time_zone)::date - 1 as through,
                 case when r.time_zone = w.time_zone then r.rolled_through end as rolled_through
          from public.workspaces w left join public.stats_rollups r on r.workspace_id = w.id
          -- A zone PostgreSQL does not know would fail the whole statement, for everyone.
          where w.time_zone in (select name from pg_timezone_names)
        ) due
        where rolled_through is null or rolled_through < through
        """,
        {"settle": settle},
    )
    return await cur.fetchall()


async def roll_up(conn: Connection, due: dict[str, Any]) -> None:
    """Count one workspace's finished days after `rolled_through` (all of them when None)."""
    params = {
        "ws": due["workspace_id"],
        "tz": due["time_zone"],
        "after": due["rolled_through"],
        "through": due["through"],
    }
    if due["rolled_through"] is None:
        await conn.execute(
            "delete from public.message_day_counts where workspace_id = %(ws)s", params
        )
    await conn.execute(
        f"""
        insert into public.message_day_counts (workspace_id, day, messages)
        {conversations.MESSAGE_DAYS_THROUGH}
        on conflict (workspace_id, day) do update set messages = excluded.messages
        """,
        params,
    )
    await conn.execute(
        """
        insert into public.stats_rollups (workspace_id, time_zone, rolled_through)
        values (%(ws)s, %(tz)s, %(through)s)
        on conflict (workspace_id) do update set time_zone = excluded.time_zone,
          rolled_through = excluded.rolled_through, updated_at = now()
        """,
        params,
    )


_CALL = (
    "id, phone, status, duration_seconds, language, started_at, ended_at, transcript, recording_url"
)


# The calls the stats list: finished ones (the CHICX guide lists these four statuses only);
# queued and in-progress calls show up once they are over.
FINISHED_CALL_STATUSES = ("resolved", "escalated", "missed", "failed")


async def calls(
    conn: Connection, workspace_id: UUID, *, status: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """A page of the workspace's finished calls (of one status, when given), latest first,
    and how many there are."""
    statuses = [status] if status else list(FINISHED_CALL_STATUSES)
    where = "workspace_id = %(ws)s and status = any(%(statuses)s)"
    params = {"ws": workspace_id, "statuses": statuses, "limit": limit, "offset": offset}
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
