"""SQL of the inbox. The table is closed to tenants: every statement runs as the login role."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from psycopg.types.json import Jsonb

from backend.db import Connection

# The job applying event `e` waits under its queueing lock (one per event) and runs under its
# lock: the event's own, or its order key's, which it shares with the key's other events (so
# the running job is the one whose arguments name the event). Both are served by Procrastinate's
# unique indexes on `queueing_lock` (todo) and `lock` (doing).
_JOB_WAITING = """exists (select 1 from public.procrastinate_jobs j
  where j.queueing_lock = %(prefix)s || e.id and j.status = 'todo')"""
_JOB_RUNNING = """exists (select 1 from public.procrastinate_jobs j
  where j.lock = coalesce(%(order_prefix)s || e.order_key, %(prefix)s || e.id)
    and j.status = 'doing' and j.args ->> 'inbound_event_id' = e.id::text)"""


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)  # the workspace ids are UUIDs


async def insert_many(
    conn: Connection,
    events: list[dict[str, Any]],
    *,
    task_name: str,
    queue: str,
    job_lock_prefix: str,
    order_lock_prefix: str,
) -> list[dict[str, Any]]:
    """Store deliveries (`provider`, `event_id`, `workspace_id`, `type`, `payload`,
    `order_key`) unless received before, and queue a job for each new one, in one statement:
    the webhooks' hot path, one round trip however many events a delivery carries.

    One row per event: its `event_id`, `provider`, `workspace_id`, row `id`, `order_key` (as
    first stored), whether it is `new`, whether it is `processed`, and whether its job is
    `queued` (waiting or running). An event another transaction is storing right now has no
    row (that one queues its job).

    The jobs are Procrastinate's, made by its own SQL function (what `defer_async` runs), in
    the events' order so that one order key's jobs run in it: each under its queueing lock,
    and under its order key's lock or else its own."""
    cur = await conn.execute(
        f"""
        with incoming as (
          -- One jsonb parameter (dumped by the json module's C encoder) rather than an array
          -- per column: psycopg's list dumpers cost more than the statement.
          select * from jsonb_to_recordset(%(events)s)
            as t(n int, provider text, event_id text, workspace_id uuid, type text,
                 payload jsonb, order_key text)
        ),
        new as (
          insert into public.inbound_events
            (provider, event_id, workspace_id, type, payload, order_key)
          select provider, event_id, workspace_id, type, payload, order_key
          from incoming order by n
          on conflict on constraint inbound_events_once do nothing
          returning id, provider, event_id, workspace_id, order_key
        ),
        jobs as (
          select public.procrastinate_defer_jobs_v1(array_agg(row(
            %(queue)s, %(task)s, 0,
            coalesce(%(order_prefix)s || order_key, %(prefix)s || id),
            %(prefix)s || id, jsonb_build_object('inbound_event_id', id), null
          )::public.procrastinate_job_to_defer_v1 order by id)) as ids
          from new
        )
        select n.id, n.provider, n.event_id, n.workspace_id, n.order_key, true as new,
          false as processed, true as queued
        from new n, jobs
        union all
        select e.id, e.provider, e.event_id, e.workspace_id, e.order_key, false,
          e.processed_at is not null, {_JOB_WAITING} or {_JOB_RUNNING}
        from incoming i
        -- The repeats only, each looked up by the unique index (an equality per column: `is
        -- not distinct from` would make it a scan of the whole inbox).
        cross join lateral (
          select * from public.inbound_events x
          where x.provider = i.provider and x.workspace_id = i.workspace_id
            and x.event_id = i.event_id
          union all
          select * from public.inbound_events x
          where i.workspace_id is null and x.provider = i.provider and x.workspace_id is null
            and x.event_id = i.event_id
        ) e
        where not exists (select 1 from new n where n.provider = i.provider
          and n.workspace_id is not distinct from i.workspace_id and n.event_id = i.event_id)
        """,
        {
            "events": Jsonb([{"n": n, **e} for n, e in enumerate(events)], dumps=_dumps),
            "queue": queue,
            "task": task_name,
            "prefix": job_lock_prefix,
            "order_prefix": order_lock_prefix,
        },
    )
    return await cur.fetchall()


async def lock(conn: Connection, inbound_event_id: int) -> dict[str, Any] | None:
    """The event, locked until the end of the transaction: two runs of its job take turns."""
    cur = await conn.execute(
        "select * from public.inbound_events where id = %s for update", (inbound_event_id,)
    )
    return await cur.fetchone()


async def lock_in_order(conn: Connection, inbound_event_id: int) -> list[dict[str, Any]]:
    """The event and, before it, the unprocessed events of its provider and workspace with its
    order key, oldest first, locked until the end of the transaction (in that order, as any
    other job of the key would lock them). Empty when the event is gone."""
    cur = await conn.execute(
        """
        select e.* from public.inbound_events e
        join public.inbound_events t on t.id = %(id)s
        where e.id = t.id
          or (e.order_key = t.order_key and e.id < t.id and e.processed_at is null
              and e.provider = t.provider and e.workspace_id is not distinct from t.workspace_id)
        order by e.id
        for update of e
        """,
        {"id": inbound_event_id},
    )
    return await cur.fetchall()


async def finish(conn: Connection, inbound_event_id: int, *, error: str | None, done: bool) -> None:
    await conn.execute(
        "update public.inbound_events set attempts = attempts + 1, last_error = %s,"
        " processed_at = case when %s then now() end where id = %s",
        (error, done, inbound_event_id),
    )


async def stale(
    conn: Connection,
    *,
    older_than: timedelta,
    job_lock_prefix: str,
    limit: int,
    order_lock_prefix: str = "",
) -> list[dict[str, Any]]:
    """Events (`id`, `order_key`) still unprocessed `older_than` after they arrived whose job
    is neither waiting nor running: their job ran out of retries, or was lost. In the order
    they were received."""
    cur = await conn.execute(
        f"""
        select e.id, e.order_key from public.inbound_events e
        where e.processed_at is null and e.received_at < now() - %(age)s
          and not {_JOB_WAITING} and not {_JOB_RUNNING}
        order by e.received_at, e.id
        limit %(limit)s
        """,
        {
            "age": older_than,
            "prefix": job_lock_prefix,
            "order_prefix": order_lock_prefix,
            "limit": limit,
        },
    )
    return await cur.fetchall()


async def job_running(conn: Connection, lock: str, *, inbound_event_id: int) -> bool:
    """Whether the event's job runs now, under `lock` (which may be its order key's)."""
    cur = await conn.execute(
        "select 1 from public.procrastinate_jobs where lock = %s and status = 'doing'"
        " and args ->> 'inbound_event_id' = %s",
        (lock, str(inbound_event_id)),
    )
    return await cur.fetchone() is not None
