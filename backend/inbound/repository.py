"""SQL of the inbox. The table is closed to tenants: every statement runs as the login role."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from backend.db import Connection


async def insert(
    conn: Connection,
    *,
    provider: str,
    event_id: str,
    workspace_id: UUID | None,
    type: str | None,
    payload: Any,
    job_lock_prefix: str,
) -> dict[str, Any] | None:
    """Store a delivery unless it was received before. Its row's `id`, whether it is `new`,
    whether it is `processed`, and whether its job is `queued` (waiting or running); None when
    another transaction is storing it right now (that one queues its job)."""
    cur = await conn.execute(
        """
        with new as (
          insert into public.inbound_events (provider, event_id, workspace_id, type, payload)
          values (%(provider)s, %(event_id)s, %(ws)s, %(type)s, %(payload)s)
          on conflict on constraint inbound_events_once do nothing
          returning id
        )
        select id, true as new, false as processed, false as queued from new
        union all
        select e.id, false, e.processed_at is not null,
          exists (select 1 from public.procrastinate_jobs j
                  where j.queueing_lock = %(prefix)s || e.id and j.status = 'todo')
          or exists (select 1 from public.procrastinate_jobs j
                     where j.lock = %(prefix)s || e.id and j.status = 'doing')
        from public.inbound_events e
        where e.provider = %(provider)s and e.workspace_id is not distinct from %(ws)s
          and e.event_id = %(event_id)s and not exists (select 1 from new)
        """,
        {
            "provider": provider,
            "event_id": event_id,
            "ws": workspace_id,
            "type": type,
            "payload": Jsonb(payload),
            "prefix": job_lock_prefix,
        },
    )
    return await cur.fetchone()


async def lock(conn: Connection, inbound_event_id: int) -> dict[str, Any] | None:
    """The event, locked until the end of the transaction: two runs of its job take turns."""
    cur = await conn.execute(
        "select * from public.inbound_events where id = %s for update", (inbound_event_id,)
    )
    return await cur.fetchone()


async def finish(conn: Connection, inbound_event_id: int, *, error: str | None, done: bool) -> None:
    await conn.execute(
        "update public.inbound_events set attempts = attempts + 1, last_error = %s,"
        " processed_at = case when %s then now() end where id = %s",
        (error, done, inbound_event_id),
    )


async def stale(
    conn: Connection, *, older_than: timedelta, job_lock_prefix: str, limit: int
) -> list[int]:
    """Events still unprocessed `older_than` after they arrived whose job is neither waiting
    (`todo`, its queueing lock) nor running (`doing`, its lock): their job ran out of retries,
    or was lost. Oldest first."""
    cur = await conn.execute(
        """
        select e.id from public.inbound_events e
        where e.processed_at is null and e.received_at < now() - %(age)s
          and not exists (select 1 from public.procrastinate_jobs j
                          where j.queueing_lock = %(prefix)s || e.id and j.status = 'todo')
          and not exists (select 1 from public.procrastinate_jobs j
                          where j.lock = %(prefix)s || e.id and j.status = 'doing')
        order by e.received_at
        limit %(limit)s
        """,
        {"age": older_than, "prefix": job_lock_prefix, "limit": limit},
    )
    return [int(r["id"]) for r in await cur.fetchall()]


async def job_running(conn: Connection, lock: str) -> bool:
    cur = await conn.execute(
        "select 1 from public.procrastinate_jobs where lock = %s and status = 'doing'", (lock,)
    )
    return await cur.fetchone() is not None
