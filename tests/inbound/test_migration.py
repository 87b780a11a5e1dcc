"""Migration 29 carries Stripe's received events over into the inbox, with their state, and
points the jobs still waiting for them at the inbox's job."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from backend.migrate import MIGRATIONS_DIR, migrate

INBOX = "20261207_29_inbound"


@pytest.fixture
async def scratch_url(database_url: str) -> AsyncIterator[str]:
    """A database of its own, on the test server, dropped afterwards."""
    name = f"vx_{uuid.uuid4().hex[:12]}"
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(f"create database {name}")
    try:
        yield make_conninfo(**{**conninfo_to_dict(database_url), "dbname": name})
    finally:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            await conn.execute(f"drop database {name} with (force)")


async def test_stripe_events_and_their_waiting_jobs_move_to_the_inbox(scratch_url: str) -> None:
    later = sorted(p.stem for p in MIGRATIONS_DIR.glob("*.sql") if p.stem >= INBOX)
    async with await psycopg.AsyncConnection.connect(scratch_url, autocommit=True) as conn:
        # The schema as it was before the inbox: every step after it counts as applied.
        await conn.execute(
            "create table public.schema_migrations ("
            " version text primary key, applied_at timestamptz not null default now())"
        )
        for version in later:
            await conn.execute("insert into public.schema_migrations values (%s)", (version,))
    await migrate(scratch_url)

    async with await psycopg.AsyncConnection.connect(scratch_url, autocommit=True) as conn:
        payload = {"id": "evt_1", "type": "invoice.paid", "data": {"object": {"id": "in_1"}}}
        await conn.execute(
            "insert into public.stripe_events (id, type, payload, processed_at, attempts, error)"
            " values ('evt_1', 'invoice.paid', %s, null, 2, 'ConnectionError()'),"
            " ('evt_2', 'customer.created', '{}', now(), 1, 'ignored: not an event we act on')",
            (json.dumps(payload),),
        )
        await conn.execute(
            "insert into public.procrastinate_jobs"
            " (queue_name, task_name, lock, queueing_lock, args, status)"
            " values ('default', 'billing.process_stripe_event', 'billing.stripe_event:evt_1',"
            " 'billing.stripe_event:evt_1', '{\"event_id\": \"evt_1\"}', 'todo')"
        )
        await conn.execute("delete from public.schema_migrations where version = %s", (INBOX,))
    assert await migrate(scratch_url) == [INBOX]

    async with await psycopg.AsyncConnection.connect(scratch_url, autocommit=True) as conn:
        rows = await (
            await conn.execute(
                "select id, provider, event_id, workspace_id, type, payload,"
                " processed_at is not null, attempts, last_error"
                " from public.inbound_events order by event_id"
            )
        ).fetchall()
        assert [r[1:] for r in rows] == [
            ("stripe", "evt_1", None, "invoice.paid", payload, False, 2, "ConnectionError()"),
            (
                "stripe",
                "evt_2",
                None,
                "customer.created",
                {},
                True,
                1,
                "ignored: not an event we act on",
            ),
        ]
        job = await (
            await conn.execute(
                "select queue_name, task_name, lock, queueing_lock, args, status::text"
                " from public.procrastinate_jobs"
            )
        ).fetchone()
        lock = f"inbound.process:{rows[0][0]}"
        assert job == (
            "inbound",
            "inbound.process",
            lock,
            lock,
            {"inbound_event_id": rows[0][0]},
            "todo",
        )
        gone = await (await conn.execute("select to_regclass('public.stripe_events')")).fetchone()
        assert gone == (None,)
