"""Latency of the dashboard stats API over a large shared dataset.

    python bench/stats.py [--workspaces 50] [--conversations 100000] [--messages 1000000]
                          [--calls 20000] [--requests 200] [--data-dir DIR]

Starts an embedded PostgreSQL, applies the migrations and seeds, inside the database (set-based
INSERT … SELECT), `--workspaces` workspaces sharing `--conversations` conversations over the
last 90 days (widget, WhatsApp with phone numbers, portal; all three statuses), `--messages`
messages and `--calls` calls, and rolls up the finished days as the worker does. Voxtro runs
under uvicorn in its own process, as in production. Each stats endpoint is then asked `--requests` times by one client and by 8 concurrent ones,
each request for a random workspace with that workspace's `stats:read` key, and the p50/p95/p99
latency seen by the client is printed next to `GET /healthz` on the same stack (the baseline:
HTTP, auth-free routing and a response, no query). Target (issue 7): p95 <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import secrets
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.api_keys.service import KEY_PREFIX, hash_key  # noqa: E402
from backend.db import Database  # noqa: E402
from backend.embedded import start_postgres  # noqa: E402
from backend.migrate import migrate  # noqa: E402
from backend.stats.tasks import roll_up_finished_days  # noqa: E402
from bench.chat_overhead import serve, wait_ready  # noqa: E402
from tests.fixtures.servers import free_port  # noqa: E402

TARGET_P95_MS = 50.0
CLIENTS = (1, 8)


def say(line: str) -> None:
    print(line, flush=True)


SEED = """
insert into public.workspaces (id, name, slug, time_zone)
select gen_random_uuid(), 'Bench ' || n, 'bench-stats-' || n,
       (array['UTC', 'Asia/Kolkata', 'America/New_York'])[1 + n %% 3]
from generate_series(1, %(workspaces)s) n;

insert into public.chatbots (workspace_id, name)
select id, 'Bot' from public.workspaces where slug like 'bench-stats-%%';

with ws as (
  select w.id as workspace_id, b.id as chatbot_id, row_number() over (order by w.id) - 1 as n
  from public.workspaces w join public.chatbots b on b.workspace_id = w.id
  where w.slug like 'bench-stats-%%'
)
insert into public.conversations (workspace_id, chatbot_id, visitor_id, channel, status, phone,
  message_count, started_at, last_message_at, order_lookups)
select ws.workspace_id, ws.chatbot_id, 'v' || i,
       (array['widget', 'whatsapp', 'portal'])[1 + i %% 3],
       (array['active', 'closed', 'closed', 'escalated'])[1 + i %% 4],
       case when i %% 3 = 1 then '9198' || lpad(i::text, 8, '0') end,
       %(per)s, t, t + interval '20 minutes', (i %% 7 = 0)::int
from generate_series(0, %(conversations)s - 1) i
join ws on ws.n = i %% %(workspaces)s,
lateral (select now() - (random() * interval '90 days') as t) started;

insert into public.messages (workspace_id, conversation_id, role, content, created_at)
select c.workspace_id, c.id, (array['user', 'assistant'])[1 + k %% 2], 'message ' || k,
       c.started_at + k * interval '1 minute'
from public.conversations c cross join generate_series(0, %(per)s - 1) k
where c.visitor_id like 'v%%';

with ws as (
  select id as workspace_id, row_number() over (order by id) - 1 as n
  from public.workspaces where slug like 'bench-stats-%%'
)
insert into public.calls (workspace_id, provider, provider_call_id, direction, status, phone,
  duration_seconds, language, started_at, ended_at, transcript, recording_url)
select ws.workspace_id, 'vapi', 'call-' || i, (array['inbound', 'outbound'])[1 + i %% 2],
       (array['resolved', 'escalated', 'missed', 'failed'])[1 + i %% 4],
       '9198' || lpad(i::text, 8, '0'), 30 + i %% 300, 'en', t, t + interval '3 minutes',
       'Customer: hello', case when i %% 4 < 2 then 'https://storage.example/' || i || '.mp3' end
from generate_series(0, %(calls)s - 1) i
join ws on ws.n = i %% %(workspaces)s,
lateral (select now() - (random() * interval '90 days') as t) started;
"""


async def seed(url: str, args: argparse.Namespace) -> dict[str, str]:
    """The dataset, and one `stats:read` key per workspace (workspace id -> key)."""
    started = time.perf_counter()
    per = max(1, args.messages // args.conversations)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        params = {
            "workspaces": args.workspaces,
            "conversations": args.conversations,
            "per": per,
            "calls": args.calls,
        }
        for statement in filter(str.strip, SEED.split(";\n")):
            await conn.execute(
                statement, {k: v for k, v in params.items() if f"%({k})s" in statement}
            )
        await conn.execute("vacuum analyze")
        cur = await conn.execute(
            "select id from public.workspaces where slug like 'bench-stats-%' order by id"
        )
        keys = {}
        for (workspace_id,) in await cur.fetchall():
            key = KEY_PREFIX + secrets.token_urlsafe(32)
            await conn.execute(
                "insert into public.api_keys (workspace_id, name, prefix, key_hash, scopes)"
                " values (%s, 'bench', %s, %s, '{stats:read}')",
                (workspace_id, key[:14], hash_key(key)),
            )
            keys[str(workspace_id)] = key
        counts = await (
            await conn.execute(
                "select (select count(*) from public.conversations) as c,"
                " (select count(*) from public.messages) as m, (select count(*) from public.calls) as k"
            )
        ).fetchone()
    assert counts is not None
    say(
        f"Seeded {counts[0]:,} conversations, {counts[1]:,} messages and {counts[2]:,} calls over"
        f" {len(keys)} workspaces in {time.perf_counter() - started:.0f} s"
    )
    return keys


async def roll_up(url: str) -> None:
    """What the worker's `stats.roll_up_messages` job has done by the time anyone looks: the
    finished days' counts (the first rollup reads every message once)."""
    started = time.perf_counter()
    db = Database(url, min_size=1, max_size=1)
    await db.open()
    try:
        workspaces = await roll_up_finished_days(db)
    finally:
        await db.close()
    say(
        f"Rolled up the finished days of {workspaces} workspaces in {time.perf_counter() - started:.1f} s"
    )


def percentile(ordered: list[float], share: float) -> float:
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


async def measure(
    client: httpx.AsyncClient, path: str, keys: list[str], requests: int, clients: int
) -> tuple[float, float, float]:
    rng = random.Random(7)
    jobs = iter(range(requests))
    times: list[float] = []

    async def worker() -> None:
        for _ in jobs:
            headers = {"X-API-Key": rng.choice(keys)} if keys else {}
            began = time.perf_counter()
            response = await client.get(path, headers=headers)
            times.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, (path, response.status_code, response.text)

    await asyncio.gather(*(worker() for _ in range(clients)))
    ordered = sorted(times)
    return percentile(ordered, 0.5), percentile(ordered, 0.95), percentile(ordered, 0.99)


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--workspaces", type=int, default=50)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--data-dir", help="a folder for the database (default: a temporary one)")
    args = parser.parse_args()

    data_dir = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="vxs"))
    url = start_postgres(data_dir)
    await migrate(url)
    keys = await seed(url, args)
    await roll_up(url)
    port = free_port()
    server = serve(
        "backend.app:create_app",
        port,
        {
            "DATABASE_URL": url,
            "SUPABASE_JWT_SECRET": secrets.token_urlsafe(48),
            "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "PUBLIC_URL": f"http://127.0.0.1:{port}",
            "RATE_LIMIT_AUTHENTICATED": "10000000/minute",
            "RATE_LIMIT_ANONYMOUS": "10000000/minute",
        },
        factory=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        await wait_ready(f"{base}/healthz")
        some_call = None
        async with await psycopg.AsyncConnection.connect(url) as conn:
            row = await (
                await conn.execute(
                    "select id, workspace_id from public.calls where recording_url is not null"
                    " limit 1"
                )
            ).fetchone()
            assert row is not None
            some_call = (str(row[0]), keys[str(row[1])])
        endpoints = [
            ("baseline: GET /healthz", "/healthz", []),
            ("overview", "/api/stats/overview", list(keys.values())),
            ("messages-per-day?days=90", "/api/stats/messages-per-day?days=90", list(keys.values())),
            ("messages-per-day?days=7", "/api/stats/messages-per-day?days=7", list(keys.values())),
            ("conversations", "/api/stats/conversations", list(keys.values())),
            ("conversations?status=escalated&page=5",
             "/api/stats/conversations?status=escalated&page=5", list(keys.values())),
            ("conversations?search=9198000", "/api/stats/conversations?search=9198000",
             list(keys.values())),
            ("calls", "/api/stats/calls", list(keys.values())),
            ("calls?status=missed", "/api/stats/calls?status=missed", list(keys.values())),
            ("calls/{id}", f"/api/stats/calls/{some_call[0]}", [some_call[1]]),
            ("calls/{id}/audio", f"/api/stats/calls/{some_call[0]}/audio", [some_call[1]]),
        ]  # fmt: skip
        results = {}
        limits = httpx.Limits(max_connections=max(CLIENTS), max_keepalive_connections=max(CLIENTS))
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
            for _, path, chosen in endpoints:  # warm up: plans, caches, connections
                for _ in range(3):
                    await client.get(path, headers={"X-API-Key": chosen[0]} if chosen else {})
            say(f"\n  {'endpoint':<40} {'clients':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
            for label, path, chosen in endpoints:
                for clients in CLIENTS:
                    p50, p95, p99 = await measure(client, path, chosen, args.requests, clients)
                    results[label, clients] = p95
                    say(f"  {label:<40} {clients:>7} {p50:>8.1f} {p95:>8.1f} {p99:>8.1f}")
        worst = max(v for (label, _), v in results.items() if not label.startswith("baseline"))
        verdict = "met" if worst <= TARGET_P95_MS else "NOT met"
        say(
            f"\nSlowest stats endpoint p95: {worst:.1f} ms (target {TARGET_P95_MS:.0f} ms: {verdict})"
        )
        say(json.dumps({f"{k[0]} @{k[1]}": round(v, 1) for k, v in results.items()}))
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    asyncio.run(main())
