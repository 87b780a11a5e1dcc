"""Platform overhead of a chat message, model time excluded.

    python bench/chat_overhead.py [--concurrency 50 200] [--messages 5] [--think 3] [--prepaid]

Starts an embedded PostgreSQL, the OpenAI fake answering with zero latency, Voxtro under uvicorn
(one process, as on a 2-core web instance), and a bare FastAPI endpoint doing one insert on the
same stack as the baseline. For each concurrency level, that many conversations send their
messages one after another, first paced like people typing (`--think` seconds apart), then flat
out. It prints p50/p99 of the server-side time per message less the time spent waiting on the
model (both servers report it in `Server-Timing`) and messages per second, for Voxtro and the
baseline, with the ratios. What Voxtro adds is its overhead: loading the bot, conversation and
history, the cache and FAQ checks, the budget admission, calling the (instant) model and the
embeddings, and storing the messages, usage and cache entries.

With `--prepaid` the workspace is prepaid, with ample credits, as every workspace is once Stripe
billing is on: each model call is then admitted against its credits (a hold on the account,
given back when the answer is settled), the path every billed message takes. Without it the
workspace is unmetered (no budget, no credits) and admission is a single read.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.auth.tokens import TokenService  # noqa: E402
from backend.config import Settings  # noqa: E402
from backend.embedded import start_postgres  # noqa: E402
from backend.migrate import migrate  # noqa: E402
from tests.fakes.openai import FakeOpenAI  # noqa: E402
from tests.fixtures.servers import free_port  # noqa: E402

# Made for each run: no key lives in the repository, not even a benchmark's.
SECRET = secrets.token_urlsafe(48)
FERNET_KEY = Fernet.generate_key().decode()

Body = Callable[[int, int, str | None], dict[str, object]]


def serve(
    target: str, port: int, env: dict[str, str], *, factory: bool = False, workers: int = 1
) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        target,
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        "--timeout-keep-alive",
        "120",
    ]
    if factory:
        command.append("--factory")
    if workers > 1:
        command += ["--workers", str(workers)]
    return subprocess.Popen(command, cwd=ROOT, env={**os.environ, "LOG_LEVEL": "WARNING", **env})


async def wait_ready(url: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(200):
            try:
                await client.get(url)
                return
            except httpx.HTTPError:
                await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


async def seed(base: str, fake: FakeOpenAI) -> str:
    settings = Settings(_env_file=None, supabase_jwt_secret=SECRET)  # type: ignore[call-arg]
    anon = TokenService(settings).issue_api_role_key("anon")
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        session = (
            await c.post(
                "/auth/v1/signup",
                headers={"apikey": anon},
                json={"email": "bench@example.com", "password": "bench-password"},
            )
        ).json()
        headers = {"Authorization": f"Bearer {session['access_token']}"}
        connected = await c.post("/api/openai/connect", headers=headers, json={"api_key": fake.key})
        connected.raise_for_status()
        bot = await c.post(
            "/api/chatbots",
            headers=headers,
            json={
                "name": "Bench",
                "system_prompt": "You are a helpful assistant.",
                "max_tokens": 100,
            },
        )
        return str(bot.json()["data"]["id"])


async def make_prepaid(database_url: str, chatbot_id: str, credits: str = "1000000") -> None:
    """Make the bot's workspace prepaid with credits it cannot use up in a run."""
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await conn.execute(
            """
            insert into public.billing_accounts (workspace_id, billing_mode, total_credits)
            select workspace_id, 'prepaid', %(credits)s from public.chatbots where id = %(bot)s
            on conflict (workspace_id) do update
              set billing_mode = 'prepaid', total_credits = excluded.total_credits
            """,
            {"bot": chatbot_id, "credits": credits},
        )


async def billed(database_url: str, chatbot_id: str) -> str:
    """What the run charged to the credits, and that every hold was given back."""
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute(
            "select a.used_credits, a.month_spend, a.held, a.is_paused,"
            " (select count(*) from public.billing_reservations r"
            "  where r.workspace_id = a.workspace_id) as reservations"
            " from public.billing_accounts a"
            " join public.chatbots b on b.workspace_id = a.workspace_id where b.id = %s",
            (chatbot_id,),
        )
        row = await cur.fetchone()
    assert row is not None
    used, spend, held, paused, reservations = row
    return (
        f"credits used: ${used} (month's spend ${spend}), held after the run: ${held}"
        f" in {reservations} reservations, paused: {paused}"
    )


def overhead_ms(response: httpx.Response) -> float:
    """The server's own time for the request, less the time it waited on the model (ms)."""
    parts = {}
    for part in response.headers["server-timing"].split(","):
        name, _, value = part.partition(";dur=")
        parts[name.strip()] = float(value)
    return parts["app"] - parts.get("provider", 0.0)


async def run(
    url: str, body: Body, conversations: int, messages: int, think: float
) -> tuple[float, float, float]:
    """p50 and p99 overhead (ms) and messages per second."""
    overheads: list[float] = []
    limits = httpx.Limits(max_connections=conversations, max_keepalive_connections=conversations)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:

        async def conversation(n: int) -> None:
            conversation_id = None
            await asyncio.sleep(random.uniform(0, think))  # visitors arrive spread out
            for i in range(messages):
                response = await client.post(url, json=body(n, i, conversation_id))
                response.raise_for_status()
                overheads.append(overhead_ms(response))
                conversation_id = response.json().get("conversation_id")
                await asyncio.sleep(random.uniform(0.5 * think, 1.5 * think))

        started = time.perf_counter()
        await asyncio.gather(*(conversation(n) for n in range(conversations)))
        elapsed = time.perf_counter() - started
    ordered = sorted(overheads)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered), p99, len(ordered) / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--messages", type=int, default=5, help="messages per conversation")
    parser.add_argument(
        "--think", type=float, default=3.0, help="seconds between a visitor's messages"
    )
    parser.add_argument(
        "--prepaid",
        action="store_true",
        help="make the workspace prepaid with ample credits (the path every billed call takes)",
    )
    args = parser.parse_args()

    database_url = start_postgres(Path(tempfile.mkdtemp(prefix="vxb")))
    await migrate(database_url)
    with FakeOpenAI() as fake:
        port, baseline_port = free_port(), free_port()
        voxtro = serve(
            "backend.app:create_app",
            port,
            {
                "DATABASE_URL": database_url,
                "SUPABASE_JWT_SECRET": SECRET,
                "ENCRYPTION_KEYS": FERNET_KEY,
                "OPENAI_BASE_URL": fake.base_url,
                "PUBLIC_URL": f"http://127.0.0.1:{port}",
                "RATE_LIMIT_ANONYMOUS": "10000000/minute",
                "RATE_LIMIT_AUTHENTICATED": "10000000/minute",
                "RATE_LIMIT_CHAT_VISITOR": "10000000/minute",
                "RATE_LIMIT_BOT_ADDRESS": "10000000/minute",
                "DB_POOL_MAX": "20",
            },
            factory=True,
        )
        baseline = serve("bench.baseline_app:app", baseline_port, {"DATABASE_URL": database_url})
        try:
            base, bare = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{baseline_port}"
            await wait_ready(f"{base}/healthz")
            await wait_ready(f"{bare}/docs")
            chatbot_id = await seed(base, fake)
            if args.prepaid:
                await make_prepaid(database_url, chatbot_id)

            def chat_body(n: int, i: int, conversation_id: str | None) -> dict[str, object]:
                return {
                    "chatbot_id": chatbot_id,
                    "visitor_id": f"visitor-{n}",
                    "conversation_id": conversation_id,
                    "message": f"Question {i} from visitor {n}?",
                }

            def insert_body(n: int, i: int, _: str | None) -> dict[str, object]:
                return {"visitor_id": f"visitor-{n}", "message": f"Question {i} from visitor {n}?"}

            await run(f"{base}/api/chat/message", chat_body, 10, 2, 0)  # warm-up
            await run(f"{bare}/insert", insert_body, 10, 2, 0)

            billing = "prepaid, ample credits" if args.prepaid else "unmetered"
            print(
                f"Server-side time per message, model time excluded (ms), and throughput"
                f" (workspace {billing}):"
            )
            print(f"{'conversations':>13} {'load':>8} {'':>9} {'p50':>8} {'p99':>8} {'msg/s':>8}")
            for conversations in args.concurrency:
                for load, think in (("paced", args.think), ("flat-out", 0.0)):
                    ours = await run(
                        f"{base}/api/chat/message", chat_body, conversations, args.messages, think
                    )
                    theirs = await run(
                        f"{bare}/insert", insert_body, conversations, args.messages, think
                    )
                    for label, (p50, p99, rate) in (("voxtro", ours), ("baseline", theirs)):
                        print(
                            f"{conversations:>13} {load:>8} {label:>9} {p50:>8.1f} {p99:>8.1f} {rate:>8.0f}"
                        )
                    print(
                        f"{conversations:>13} {load:>8} {'ratio':>9} {ours[0] / theirs[0]:>7.1f}x"
                        f" {ours[1] / theirs[1]:>7.1f}x {ours[2] / theirs[2]:>7.2f}x"
                    )
            print(
                f"\nmodel calls answered by the fake: {len(fake.chat_requests)}"
                f" (+{len(fake.embedding_requests)} embeddings), with zero latency"
            )
            if args.prepaid:
                print(await billed(database_url, chatbot_id))
        finally:
            for process in (voxtro, baseline):
                process.terminate()
                process.wait(timeout=10)


if __name__ == "__main__":
    asyncio.run(main())
