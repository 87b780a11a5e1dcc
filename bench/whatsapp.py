"""WhatsApp: how fast Meta's webhooks are acknowledged, that each message is kept and applied
once, and how closely sends keep a number's pace.

    python bench/whatsapp.py [--rates 200 500] [--seconds 10] [--sends 2000] [--pace 80]
                             [--inject 100] [--workers 16] [--processes 1]
                             [--web-processes 1] [--async-commit] [--data-dir DIR]

Starts an embedded PostgreSQL with the migrations, seeds (in SQL, as migration 30 lays it out)
one workspace with a chatbot whose WhatsApp number is connected (access token and app secret
encrypted with the key the server gets), and the Graph API fake (tests/fakes/whatsapp.py) for
that number.

Receiving. Meta posts each event on its own, at the rate things happen, whether or not the last
one was answered: the load is open, one POST every 1/rate seconds for `--seconds` at each of
`--rates` (events/s), each a text message from one of 500 contacts with a new wamid, 5 % of them
a second delivery of an earlier message (Meta sends duplicates), signed with the number's app
secret (`X-Hub-Signature-256`). The baseline, measured first on the same stack (uvicorn in its
own process, the same PostgreSQL), is a bare FastAPI endpoint that stores the body. Printed per
rate: p50 and p99 of the acknowledgement as the client saw it, the server's own p99
(`Server-Timing`), the server's CPU per request (ms; one process serves at most about 1000 /
that per second; `--web-processes` runs both servers with that many uvicorn workers), the rate
achieved, how late the client got behind its schedule (a client that falls behind would hide a
slow server), and Voxtro's p50/p99 against the baseline's. Then
SQL checks the inbox kept each distinct message once (duplicates included), a worker in this
process applies every event (the inbox's queue only: answers would call a model), and SQL checks
each message was stored in its conversation exactly once.

Both servers acknowledge only once their transaction is on disk (PostgreSQL's default
`synchronous_commit = on`: Meta's copy is not the only one when the 200 goes back). A disk whose
flushes stall now and then stalls every request in flight with them, the baseline's too, and a
p99 over a few thousand requests is made of those stalls. `--async-commit` runs both with
`synchronous_commit = off`, a diagnostic only (never a setting for a webhook): what is left is
the platform's own time.

Sending. `--sends` messages to as many recipients are queued in the outbox
(`backend.whatsapp.outbox.queue`, one `whatsapp.send` job each) from a number paced at
`--pace`/s; the fake caps that number at the same rate over a sliding second (answering 130429
beyond it, as Meta does: the 130429s a sender that overshoots gets) and fails the first
`--inject` sends with 130429 besides. `--processes` workers, each in its own process (`voxtro
worker`'s loop, the `whatsapp` queue only), work the outbox off, `--workers` jobs at a time
each; their CPU per send is printed too (a worker short of CPU cannot keep the pace). Printed,
from the fake's record of every request: the rate of requests to Meta against the configured
pace (target: within 5 %; a refused request used its slot like any other), the rate Meta
accepted over the same time (lower by the share it refused), the 130429s answered, and, per
outbox id carried in `biz_opaque_callback_data`, that none was accepted twice and none is
missing.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import os
import random
import resource
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import httpx
import psycopg
from cryptography.fernet import Fernet
from fastapi import Request, Response
from psycopg.types.json import Jsonb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.embedded import start_postgres  # noqa: E402
from backend.kit.crypto import SecretBox  # noqa: E402
from backend.migrate import migrate  # noqa: E402
from bench.chat_overhead import serve, wait_ready  # noqa: E402
from bench.webhooks import percentile, server_ms  # noqa: E402
from tests.fakes import whatsapp as meta  # noqa: E402
from tests.fixtures.servers import free_port  # noqa: E402

# Made for each run: no key lives in the repository, not even a benchmark's.
FERNET_KEY = Fernet.generate_key().decode()
ACCESS_TOKEN = "EAAG" + secrets.token_urlsafe(32)
APP_SECRET = secrets.token_hex(16)
VERIFY_TOKEN = secrets.token_urlsafe(16)
PHONE_NUMBER_ID = "106540352242922"
DISPLAY_NUMBER = "15550783881"
CONTACTS = 500
DUPLICATE_SHARE = 0.05
TARGET_PACE_ERROR = 0.05
CONNECTIONS = 64  # Meta's concurrent deliveries to one endpoint (client side)
SEND_TIMEOUT = 600.0  # seconds the sends may take at the most before the run gives up

VOXTRO_WEBHOOK = "/whatsapp/webhook"
ANSWER_TASK = "whatsapp.answer"
BASELINE_WEBHOOK = "/webhook"


def say(line: str) -> None:
    print(line, flush=True)


# -- the baseline: a bare FastAPI endpoint that stores the body ----------------------------------


def baseline_app() -> Any:
    """`uvicorn --factory bench.whatsapp:baseline_app`: chat_overhead's bare FastAPI app (its
    pool, Voxtro's request middleware) with one more endpoint, which keeps the body as it came."""
    from bench import baseline_app as bare

    @bare.app.post(BASELINE_WEBHOOK)
    async def webhook(request: Request) -> Response:
        body = await request.body()
        async with bare.pool.connection() as conn:
            await conn.execute(
                "insert into bench_baseline (visitor_id, message) values ('whatsapp', %s)",
                (body.decode(),),
            )
        return Response(status_code=200)

    return bare.app


# -- the database -----------------------------------------------------------------------------


async def seed(url: str) -> tuple[str, str]:
    """One workspace and chatbot, its WhatsApp number connected; (workspace id, chatbot id).

    Written as migration 30 and tests/fixtures/whatsapp.py lay a connected number out."""
    box = SecretBox(FERNET_KEY)
    secrets_ = {
        "access_token": box.encrypt(ACCESS_TOKEN),
        "app_secret": box.encrypt(APP_SECRET),
        "verify_token": box.encrypt(VERIFY_TOKEN),
    }
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        row = await (
            await conn.execute(
                "insert into public.workspaces (name, slug) values ('Bench', 'bench-whatsapp')"
                " returning id"
            )
        ).fetchone()
        assert row is not None
        workspace_id = row[0]
        row = await (
            await conn.execute(
                "insert into public.chatbots (workspace_id, name) values (%s, 'Bench bot')"
                " returning id",
                (workspace_id,),
            )
        ).fetchone()
        assert row is not None
        chatbot_id = row[0]
        await conn.execute(
            "insert into public.whatsapp_bots (chatbot_id, workspace_id, enabled,"
            " verify_token_hash) values (%s, %s, true, %s)",
            (chatbot_id, workspace_id, hashlib.sha256(VERIFY_TOKEN.encode()).hexdigest()),
        )
        await conn.execute(
            "insert into public.whatsapp_numbers (phone_number_id, workspace_id, chatbot_id,"
            " role, display_phone_number) values (%s, %s, %s, 'primary', %s)",
            (PHONE_NUMBER_ID, workspace_id, chatbot_id, DISPLAY_NUMBER),
        )
        await conn.execute(
            "insert into public.connections (workspace_id, provider, account, secrets,"
            " key_last4, validated_at) values (%s, 'whatsapp', %s, %s, %s, now())",
            (workspace_id, PHONE_NUMBER_ID, Jsonb(secrets_), ACCESS_TOKEN[-4:]),
        )
        await conn.execute("vacuum analyze")
    return str(workspace_id), str(chatbot_id)


# -- the deliveries ---------------------------------------------------------------------------


class Delivery(NamedTuple):
    wamid: str
    body: bytes
    signature: str


def deliveries(count: int, rng: random.Random) -> list[Delivery]:
    """`count` POSTs as Meta makes them: one text message each, some a second time."""
    made: list[Delivery] = []
    for n in range(count):
        if made and rng.random() < DUPLICATE_SHARE:
            made.append(rng.choice(made))  # the same bytes again: a redelivery
            continue
        wa_id = f"9198{rng.randrange(CONTACTS):08d}"
        message = meta.text_message(wa_id, f"Where is my order ORD-{n}?")
        change = meta.message_change(PHONE_NUMBER_ID, DISPLAY_NUMBER, wa_id, "Bench", [message])
        body = meta.encode(meta.webhook_body([change]))
        made.append(Delivery(message["id"], body, meta.sign(body, APP_SECRET)))
    return made


class Figures(NamedTuple):
    p50: float
    p99: float
    server_p99: float
    achieved: float  # events per second actually sent
    late_p99: float  # ms the client's own loop started a POST after its scheduled time
    failed: int  # answers that were not 2xx
    cpu_ms: float = math.nan  # the server process's CPU per request (its own, from /proc)


def process_cpu(pid: int) -> float:
    """Seconds of CPU a process and its children (uvicorn's workers) have used (Linux: /proc),
    NaN elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        children = [
            int(child)
            for task in Path(f"/proc/{pid}/task").iterdir()
            for child in (task / "children").read_text().split()
        ]
    except OSError:
        return math.nan
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(process_cpu(child) for child in children)


class Connections:
    """Keep-alive HTTP/1.1 connections to one server, as a load generator needs them: a POST
    costs this process a write and a read, a fraction of an httpx request, so the client
    does not become what is measured. At most `size` requests are in flight; the others wait
    for a free connection."""

    def __init__(self, base: str, size: int) -> None:
        address = urlsplit(base)
        self.host, self.port = address.hostname or "127.0.0.1", address.port or 80
        self.size = size
        self.free: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter] | None]
        self.free = asyncio.Queue()
        for _ in range(size):
            self.free.put_nowait(None)  # opened on first use

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, float]:
        """The status and the server's own time (`Server-Timing: app;dur=`) of one POST."""
        connection = await self.free.get()
        try:
            if connection is None:
                connection = await asyncio.open_connection(self.host, self.port)
            reader, writer = connection
            head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            writer.write(
                f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{head}"
                f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            await writer.drain()
            lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            fields = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
            await reader.readexactly(int(fields.get("content-length", "0")))
            timing = server_ms(
                httpx.Response(200, headers={"server-timing": fields.get("server-timing", "")})
            )
            if fields.get("connection", "").lower() == "close":
                writer.close()
                connection = None
            return int(lines[0].split()[1]), timing
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            connection = None
            raise
        finally:
            self.free.put_nowait(connection)

    async def aclose(self) -> None:
        for _ in range(self.size):
            connection = await self.free.get()
            if connection is not None:
                connection[1].close()


async def open_load(
    connections: Connections, path: str, batch: list[Delivery], rate: float
) -> Figures:
    """POST each delivery at its scheduled time (one every 1/rate s), whatever the answers.

    A POST's latency runs from its scheduled time: one that waits for a free connection
    because the server is behind waits as Meta's would."""
    times: list[float] = []
    server: list[float] = []
    late: list[float] = []
    failed = 0

    async def post(delivery: Delivery, due: float) -> None:
        nonlocal failed
        late.append((time.perf_counter() - due) * 1000)
        try:
            status, timing = await connections.post(
                path,
                delivery.body,
                {"Content-Type": "application/json", "X-Hub-Signature-256": delivery.signature},
            )
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            failed += 1
            return
        times.append((time.perf_counter() - due) * 1000)
        server.append(timing)
        if not 200 <= status < 300:
            failed += 1

    start = time.perf_counter() + 0.05
    tasks = []
    for i, delivery in enumerate(batch):
        due = start + i / rate
        wait = due - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        tasks.append(asyncio.create_task(post(delivery, due)))
    sent_in = time.perf_counter() - start
    await asyncio.gather(*tasks)
    took = time.perf_counter() - start
    ordered = sorted(times) or [math.nan]
    return Figures(
        percentile(ordered, 0.5),
        percentile(ordered, 0.99),
        percentile(sorted(s for s in server if not math.isnan(s)) or [math.nan], 0.99),
        len(batch) / max(took, sent_in),
        percentile(sorted(late), 0.99),
        failed,
    )


async def load(
    base: str, path: str, rates: list[int], seconds: float, rng: random.Random, pid: int
) -> dict[int, tuple[Figures, list[Delivery]]]:
    results = {}
    connections = Connections(base, CONNECTIONS)
    try:
        await open_load(connections, path, deliveries(200, rng), 100)  # warm up: pool, caches
        for rate in rates:
            batch = deliveries(int(rate * seconds), rng)
            before = process_cpu(pid)
            figures = await open_load(connections, path, batch, rate)
            cpu_ms = (process_cpu(pid) - before) / len(batch) * 1000
            results[rate] = (figures._replace(cpu_ms=cpu_ms), batch)
    finally:
        await connections.aclose()
    return results


def show(label: str, rate: int, figures: Figures, baseline: Figures | None) -> None:
    vs = (
        f" {figures.p50 / baseline.p50:>8.1f}x {figures.p99 / baseline.p99:>8.1f}x"
        if baseline
        else f" {'-':>9} {'-':>9}"
    )
    say(
        f"  {label:<28} {rate:>6} {figures.achieved:>8.0f} {figures.p50:>7.1f} {figures.p99:>7.1f}"
        f" {figures.server_p99:>10.1f} {figures.cpu_ms:>7.2f} {figures.late_p99:>8.1f}"
        f" {figures.failed:>6}{vs}"
    )


# -- processing: the inbox's jobs, then what they stored ----------------------------------------


def settings(url: str, graph_url: str, key: str = FERNET_KEY) -> Any:
    from backend.config import Settings

    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        supabase_jwt_secret=secrets.token_urlsafe(48),
        encryption_keys=key,
        whatsapp_api_url=graph_url,
        log_level="WARNING",
    )


@asynccontextmanager
async def worker_context(url: str, graph_url: str, key: str = FERNET_KEY) -> AsyncIterator[Any]:
    from backend.context import AppContext
    from backend.logging import configure_logging
    from backend.tasks import task_app

    configure_logging(level="WARNING", json=False)
    context = AppContext.build(settings(url, graph_url, key))
    await context.db.open()
    await task_app.open_async(pool=context.db.pool)
    try:
        yield context
    finally:
        await task_app.close_async()
        await context.aclose()


async def scalar(url: str, query: str, params: Any = None) -> Any:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        row = await (await conn.execute(query, params)).fetchone()
    return row[0] if row else None


async def received_once(url: str, context: Any, sent: list[Delivery]) -> bool:
    """The inbox kept each distinct message once; applied, each is one message in our tables."""
    from backend.inbound.service import QUEUE
    from backend.tasks import run_worker

    distinct = sorted({d.wamid for d in sent})
    kept = await scalar(
        url,
        "select count(*) from public.inbound_events where provider = 'whatsapp'"
        " and event_id = any(%s)",
        ([f"message:{w}" for w in distinct],),
    )
    say(f"\n  inbox: {len(sent)} deliveries, {len(distinct)} distinct messages, {kept} kept")
    began = time.perf_counter()
    # The inbox's queue only: the answers the messages ask for would call a model. A pass stops
    # at its first fetch that finds nothing, which may be while a contact's later messages wait
    # for its earlier ones (the inbox's order key): pass again until none is due.
    for _ in range(100):
        await run_worker(context, concurrency=4, wait=False, queues=[QUEUE])
        due = await scalar(
            url,
            "select count(*) from public.procrastinate_jobs where queue_name = %s"
            " and status = 'todo' and (scheduled_at is null or scheduled_at <= now())",
            (QUEUE,),
        )
        if not due:
            break
    took = time.perf_counter() - began
    applied = await scalar(
        url,
        "select count(*) from public.inbound_events where provider = 'whatsapp'"
        " and event_id = any(%s) and processed_at is not null",
        ([f"message:{w}" for w in distinct],),
    )
    stored = await scalar(
        url,
        "select count(*) from public.messages where provider_message_id = any(%s)",
        (distinct,),
    )
    once = await scalar(
        url,
        "select count(distinct provider_message_id) from public.messages"
        " where provider_message_id = any(%s)",
        (distinct,),
    )
    say(
        f"  applied {applied} events in {took:.1f} s ({took / max(applied, 1) * 1000:.1f} ms"
        f" each, 4 jobs at a time, warm-up included); messages stored: {stored} rows for {once} of"
        f" {len(distinct)} wamids"
    )
    return kept == applied == stored == once == len(distinct)


# -- sending: the outbox worked off at the number's pace ------------------------------------------


async def queue_sends(context: Any, workspace_id: str, count: int) -> None:
    """`count` text messages to as many recipients, queued as the channel queues them.

    The outbox's `message_id` names our `messages` row; nothing in the outbox requires the row
    (no foreign key), so these stand-alone sends carry fresh ids."""
    from backend.whatsapp import outbox

    async with context.db.system() as conn:
        for n in range(count):
            recipient = f"9199{n:08d}"
            await outbox.queue(
                conn,
                workspace_id=uuid.UUID(workspace_id),
                message_id=uuid.uuid4(),
                phone_number_id=PHONE_NUMBER_ID,
                recipient=recipient,
                payloads=[
                    {"to": recipient, "type": "text", "text": {"body": f"Your code is {n:06d}"}}
                ],
                kind="api",
            )


async def outbox_counts(url: str) -> Counter[str]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        rows = await (
            await conn.execute("select status, count(*) from public.whatsapp_outbox group by 1")
        ).fetchall()
    return Counter({status: count for status, count in rows})


def start_send_worker(url: str, graph_url: str, workers: int) -> subprocess.Popen[bytes]:
    """The sender in its own process, as `voxtro worker` runs it (in this one it would share
    the interpreter with the fake standing for Meta)."""
    return subprocess.Popen(
        [sys.executable, __file__, "--send-worker", str(workers)],
        cwd=ROOT,
        env={
            **os.environ,
            "BENCH_DATABASE_URL": url,
            "BENCH_GRAPH_URL": graph_url,
            "BENCH_ENCRYPTION_KEY": FERNET_KEY,
        },
    )


async def pacing(
    url: str, context: Any, fake: meta.FakeGraph, workspace_id: str, args: argparse.Namespace
) -> bool:
    await scalar(
        url,
        "update public.whatsapp_numbers set messages_per_second = %s where phone_number_id = %s"
        " returning 1",
        (args.pace, PHONE_NUMBER_ID),
    )
    fake.max_per_second = args.pace
    fake.fail_next(args.inject, code=130429)
    await queue_sends(context, workspace_id, args.sends)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        # The answers the received messages asked for were never run (no model here); a worker
        # would have done them by now, and thousands of waiting jobs slow every job's fetch.
        await conn.execute(
            "delete from procrastinate_jobs where status = 'todo' and task_name = %s",
            (ANSWER_TASK,),
        )
        # The queue's planner statistics as autovacuum leaves them within its minute: with
        # those of the empty table seeded above, Procrastinate's fetch of a job (an anti-join on
        # the jobs' locks) scans every queued job, ~0.4 s each at 2,000: fetching sets the pace.
        await conn.execute("analyze procrastinate_jobs")
    injected = f", failing the first {args.inject} with 130429 besides" if args.inject else ""
    say(
        f"\nSending: {args.sends} messages queued; pace {args.pace}/s, the fake capping the"
        f" number at {args.pace}/s{injected}; {args.workers} jobs at a time"
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    workers = [start_send_worker(url, fake.url, args.workers) for _ in range(args.processes)]
    try:
        deadline = time.monotonic() + SEND_TIMEOUT
        while time.monotonic() < deadline and all(w.poll() is None for w in workers):
            await asyncio.sleep(0.5)
            counts = await outbox_counts(url)
            if counts["queued"] + counts["sending"] == 0:
                break
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    counts = await outbox_counts(url)
    accepted = [s for s in fake.accepted if s["number"] == PHONE_NUMBER_ID]
    carried = Counter(str(s["body"].get("biz_opaque_callback_data")) for s in accepted)
    refused = Counter(s.get("code") for s in fake.sent if not s.get("wamid"))
    duplicates = sum(n - 1 for n in carried.values() if n > 1)
    lost = args.sends - len(carried)
    # The pace is the rate of requests to Meta, from the first to the last: a refused request
    # took its slot as much as an accepted one (the sender cannot tell beforehand, and Meta's
    # 130429 asks it to slow down, not to send more). What the recipients got is the rate
    # accepted over the same time, lower by the share Meta refused.
    requests = sorted(s["at"] for s in fake.sent if s["number"] == PHONE_NUMBER_ID)
    span = requests[-1] - requests[0] if len(requests) > 1 else float("nan")
    rate = (len(requests) - 1) / span if span == span and span > 0 else float("nan")
    received = len(accepted) / span if span == span and span > 0 else float("nan")
    off = abs(rate / args.pace - 1) if rate == rate else float("inf")
    say(
        f"  {len(requests)} requests to Meta in {span:.1f} s: {rate:.1f}/s against {args.pace}/s"
        f" configured ({rate / args.pace:.1%}; target within {TARGET_PACE_ERROR:.0%}:"
        f" {'met' if off <= TARGET_PACE_ERROR else 'NOT met'}); {len(accepted)} accepted,"
        f" {received:.1f}/s"
    )
    say(
        f"  refused by the fake: {dict(refused) or 'none'}; outbox: {dict(counts)};"
        f" duplicates: {duplicates}; lost: {lost}"
    )
    say(
        f"  the worker processes' CPU: {cpu:.1f} s, {cpu / max(len(fake.sent), 1) * 1000:.1f} ms"
        " per send (start-up included)"
    )
    return off <= TARGET_PACE_ERROR and duplicates == 0 and lost == 0


# -- the run ----------------------------------------------------------------------------------


async def measure_server(
    start: Callable[[int], Any],
    path: str,
    args: argparse.Namespace,
    rng: random.Random,
) -> dict[int, tuple[Figures, list[Delivery]]]:
    port = free_port()
    process = start(port)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(f"{base}/healthz")
        return await load(base, path, args.rates, args.seconds, rng, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rates", type=int, nargs="+", default=[200, 500])
    parser.add_argument("--seconds", type=float, default=10.0, help="per rate")
    parser.add_argument("--sends", type=int, default=2000)
    parser.add_argument("--pace", type=int, default=80, help="the number's messages per second")
    parser.add_argument(
        "--inject", type=int, default=100, help="sends failed with 130429 first, besides the cap's"
    )
    parser.add_argument("--workers", type=int, default=16, help="send jobs at a time, per process")
    parser.add_argument("--processes", type=int, default=1, help="worker processes")
    parser.add_argument(
        "--web-processes", type=int, default=1, help="uvicorn workers, for both servers"
    )
    parser.add_argument(
        "--async-commit",
        action="store_true",
        help="diagnostic: both servers without waiting for the disk (synchronous_commit = off)",
    )
    parser.add_argument("--data-dir", help="a folder for the database (default: a temporary one)")
    args = parser.parse_args()
    rng = random.Random(7)

    data_dir = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="vxwa"))
    url = start_postgres(data_dir)
    await migrate(url)
    if args.async_commit:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await conn.execute("alter system set synchronous_commit = off")
            await conn.execute("select pg_reload_conf()")
    workspace_id, _ = await seed(url)
    say("Seeded one workspace with a chatbot and its connected WhatsApp number")

    with meta.FakeGraph() as fake:
        fake.add_number(PHONE_NUMBER_ID, ACCESS_TOKEN, display_phone_number=DISPLAY_NUMBER)
        env = {
            "DATABASE_URL": url,
            "SUPABASE_JWT_SECRET": secrets.token_urlsafe(48),
            "ENCRYPTION_KEYS": FERNET_KEY,
            "WHATSAPP_API_URL": fake.url,
            "RATE_LIMIT_AUTHENTICATED": "10000000/minute",
            "RATE_LIMIT_ANONYMOUS": "10000000/minute",
        }
        say(
            f"\nReceiving: open load, {args.seconds:.0f} s per rate, {DUPLICATE_SHARE:.0%}"
            " redeliveries"
        )
        say(
            f"  {'endpoint':<28} {'rate/s':>6} {'achieved':>8} {'p50 ms':>7} {'p99 ms':>7}"
            f" {'server p99':>10} {'cpu/req':>7} {'late p99':>8} {'failed':>6} {'p50 x base':>9}"
            f" {'p99 x base':>9}"
        )
        baseline = await measure_server(
            lambda port: serve(
                "bench.whatsapp:baseline_app",
                port,
                {"DATABASE_URL": url},
                factory=True,
                workers=args.web_processes,
            ),
            BASELINE_WEBHOOK,
            args,
            rng,
        )
        for rate, (figures, _) in baseline.items():
            show("baseline: stores the body", rate, figures, None)
        voxtro = await measure_server(
            lambda port: serve(
                "backend.app:create_app",
                port,
                {**env, "PUBLIC_URL": f"http://127.0.0.1:{port}"},
                factory=True,
                workers=args.web_processes,
            ),
            VOXTRO_WEBHOOK,
            args,
            rng,
        )
        # One worker context for the run: Procrastinate keeps the first pool it is given.
        async with worker_context(url, fake.url) as context:
            for rate, (figures, _) in voxtro.items():
                show(f"Voxtro: POST {VOXTRO_WEBHOOK}", rate, figures, baseline[rate][0])
            sent = [d for _, batch in voxtro.values() for d in batch]
            once = await received_once(url, context, sent)
            say(f"  processed exactly once: {'yes' if once else 'NO'}")
            paced = await pacing(url, context, fake, workspace_id, args)

    summary: dict[str, Any] = {}
    for rate, (figures, _) in baseline.items():
        summary[f"baseline @{rate}/s p50, p99 ms"] = [round(figures.p50, 1), round(figures.p99, 1)]
    for rate, (figures, _) in voxtro.items():
        summary[f"voxtro @{rate}/s p50, p99 ms"] = [round(figures.p50, 1), round(figures.p99, 1)]
        summary[f"voxtro @{rate}/s p99 x baseline"] = round(figures.p99 / baseline[rate][0].p99, 1)
    summary["processed exactly once"] = once
    summary["pacing within 5 %, no duplicate, none lost"] = paced
    say("\n" + json.dumps(summary))


async def send_worker(concurrency: int) -> None:
    """`--send-worker N`: the `whatsapp.send` jobs, N at a time, until terminated."""
    from backend.tasks import run_worker
    from backend.whatsapp.outbox import QUEUE

    async with worker_context(
        os.environ["BENCH_DATABASE_URL"],
        os.environ["BENCH_GRAPH_URL"],
        os.environ["BENCH_ENCRYPTION_KEY"],
    ) as context:
        await run_worker(
            context, concurrency=concurrency, wait=True, handle_signals=True, queues=[QUEUE]
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--send-worker"]:
        asyncio.run(send_worker(int(sys.argv[2])))
    else:
        asyncio.run(main())
