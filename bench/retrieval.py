"""Hybrid retrieval over a large shared knowledge table.

    python bench/retrieval.py [--chunks 1000000] [--bots 1000] [--dims 1536] [--queries 200]
                              [--seconds 30] [--recall-queries 50] [--data-dir DIR]

Starts an embedded PostgreSQL, applies the migrations and loads `--chunks` generated chunks over
`--bots` chatbots (Zipf-sized; text and clustered unit vectors from bench/retrieval_data.py) with
COPY, building the full-text and btree indexes after the load, and then, with the product's own
code, the vector index of every bot over the size limit (bench/retrieval_load.py); it prints the
time of each phase. With `--dims` other than 1536 the `embedding` column of this private database
is altered to that size, so the real code path still runs. `--data-dir` keeps the loaded database
for another run of the same shape (the default is a temporary one, deleted at the end).

Then, for a large and a small bot, it runs the real `backend.knowledge.service.search` through
`Database.for_workspace` (under RLS, as the chat engine does) for `--queries` questions, or
`--seconds`, whichever ends first, at 1 and at 8 concurrent clients, each on a fresh pool of the
app's kind, and prints p50/p95/p99 latency and queries/s next to baselines measured in the same
run on the same questions: the full-text half alone (`embedding=None`) and the vector half alone
(`search_vector`). It shows the plan and time of each statement search() runs and of the vector
statement inside its function, and measures recall@10 of the vector candidates against exact
search for a large, a middle-sized (the smallest with its own index) and a small bot. Timings are
printed, never asserted.

Targets (issue 4): p95 <= 50 ms at 8 clients; recall@10 >= 0.95.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.cache.repository import vector_literal  # noqa: E402
from backend.db import Connection, Database  # noqa: E402
from backend.embedded import start_postgres  # noqa: E402
from backend.knowledge import repository, service  # noqa: E402
from backend.migrate import migrate  # noqa: E402
from bench.retrieval_data import Bot, Model, Question, Shape  # noqa: E402
from bench.retrieval_load import VECTOR_INDEX_MIN_CHUNKS, load  # noqa: E402

TARGET_P95_MS = 50.0
TARGET_RECALL = 0.95
CLIENTS = (1, 8)
LANGUAGE = "en"
HYBRID = "hybrid search()"
BASELINE = "baseline: text only"

Job = Callable[[Connection, Question], Awaitable[object]]


def say(line: str) -> None:
    print(line, flush=True)


# -- latency ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Latency:
    n: int
    p50: float
    p95: float
    p99: float
    qps: float


def percentile(ordered: list[float], share: float) -> float:
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def unprepared(url: str, size: int = 2) -> Database:
    """A pool whose connections never prepare statements, so every query gets a plan made for
    its own parameters and settings (the app's pool prepares a query on its 5th use)."""
    db = Database(url, min_size=1, max_size=size)
    db.pool.kwargs["prepare_threshold"] = None
    return db


async def measure(
    db: Database,
    bot: Bot,
    job: Job,
    questions: list[Question],
    clients: int,
    seconds: float,
) -> Latency:
    """Each client runs the next question in its own transaction (under RLS for the bot's
    workspace) until none are left or `seconds` have passed."""
    pending = iter(questions)
    elapsed: list[float] = []
    started = time.perf_counter()
    deadline = started + seconds

    async def client() -> None:
        for question in pending:
            began = time.perf_counter()
            async with db.for_workspace(bot.workspace_id, "bench") as conn:
                await job(conn, question)
            elapsed.append(time.perf_counter() - began)
            if time.perf_counter() > deadline:
                return

    await asyncio.gather(*(client() for _ in range(clients)))
    wall = time.perf_counter() - started
    ordered = sorted(s * 1000 for s in elapsed)
    return Latency(
        len(ordered),
        percentile(ordered, 0.5),
        percentile(ordered, 0.95),
        percentile(ordered, 0.99),
        len(ordered) / wall,
    )


def workloads(bot: Bot) -> dict[str, Job]:
    def hybrid(conn: Connection, q: Question) -> Awaitable[object]:
        return service.search(
            conn, bot.chatbot_id, q.text, language=LANGUAGE, embedding=q.embedding, k=4
        )

    def text_only(conn: Connection, q: Question) -> Awaitable[object]:
        return service.search(conn, bot.chatbot_id, q.text, language=LANGUAGE, embedding=None, k=4)

    def vector_only(conn: Connection, q: Question) -> Awaitable[object]:
        return repository.search_vector(conn, bot.chatbot_id, q.embedding, limit=service.CANDIDATES)

    return {BASELINE: text_only, "baseline: vector only": vector_only, HYBRID: hybrid}


# -- plans --------------------------------------------------------------------------------------


class Explaining:
    """A connection that runs EXPLAIN ANALYZE before each query `search()` sends, and keeps a
    one-line summary of each (the set_config calls pass straight through)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.lines: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    async def execute(self, query: Any, params: Any = None) -> Any:
        text = query if isinstance(query, str) else query.as_string(self._conn)
        if text.lstrip().lower().startswith("select") and "set_config" not in text:
            cur = await self._conn.execute(
                f"explain (analyze, buffers, format json) {text}", params
            )
            row = await cur.fetchone()
            assert row is not None
            self.lines.append(_plan_line(_statement_name(text), next(iter(row.values()))[0]))
        return await self._conn.execute(query, params)


def _statement_name(text: str) -> str:
    if "ts_rank_cd" in text:
        return "full-text candidates"
    if "count(*)" in text:
        return "embedded_count"
    if "<=>" in text:
        return "vector candidates"
    return text.split()[1]


def _plan_nodes(node: dict[str, Any]) -> list[str]:
    label = node["Node Type"]
    if "Index Name" in node:
        label += f" ({node['Index Name']})"
    if node.get("Rows Removed by Filter"):
        label += f" [filter removed {node['Rows Removed by Filter']:,}]"
    return [label] + [n for child in node.get("Plans", []) for n in _plan_nodes(child)]


def _plan_line(name: str, plan: dict[str, Any]) -> str:
    top = plan["Plan"]
    buffers = top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0)
    return (
        f"    {name:<21} {plan['Execution Time']:>8.1f} ms  {top['Actual Rows']:>4} rows"
        f"  {buffers:>7,} buffers  {' > '.join(_plan_nodes(top))}"
    )


async def show_plans(db: Database, bot: Bot, question: Question) -> None:
    """EXPLAIN ANALYZE of each statement of one search (after running it once, so the pages it
    reads are in memory as they are under load)."""
    async with db.for_workspace(bot.workspace_id, "bench") as conn:
        await workloads(bot)[HYBRID](conn, question)
    for label, embedding in (("hybrid", question.embedding), ("text only", None)):
        async with db.for_workspace(bot.workspace_id, "bench") as conn:
            explaining = Explaining(conn)
            await service.search(
                cast(Connection, explaining),
                bot.chatbot_id,
                question.text,
                language=LANGUAGE,
                embedding=embedding,
            )
        say(f"  search() {label}, statement by statement (EXPLAIN ANALYZE):")
        for line in explaining.lines:
            say(line)
    async with db.system() as conn:
        await conn.execute(
            "select set_config('hnsw.ef_search', %s, true)", (str(repository.HNSW_EF_SEARCH),)
        )
        cur = await conn.execute(
            f"explain (analyze, buffers, format json) {_VECTOR_SQL}",
            _vector_params(bot, question, service.CANDIDATES),
        )
        row = await cur.fetchone()
        assert row is not None
    say("  inside search_vector() (the statement its function runs):")
    say(_plan_line("vector candidates", next(iter(row.values()))[0]))


# -- recall -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recall:
    recall: float  # mean recall@10 against exact search
    rows: float  # mean rows returned (of CANDIDATES)
    short: float  # share of questions answered with fewer than 10 rows
    ms: float  # mean latency of the approximate search


# What search_knowledge_vectors() runs (the bot as a literal); `+ 0` makes it exact.
_VECTOR_SQL = """
select id from public.knowledge_chunks
where chatbot_id = %(bot)s::uuid and embedding is not null
order by embedding <=> %(v)s::vector limit %(limit)s
"""
_EXACT_SQL = _VECTOR_SQL.replace(
    "order by embedding <=> %(v)s::vector", "order by (embedding <=> %(v)s::vector) + 0"
)


def _vector_params(bot: Bot, question: Question, limit: int) -> dict[str, Any]:
    # Interpolated client-side, so the server sees the bot's id as the literal it is there.
    return {"bot": str(bot.chatbot_id), "v": vector_literal(question.embedding), "limit": limit}


async def exact_top10(db: Database, bot: Bot, questions: list[Question]) -> list[list[Any]]:
    found = []
    for question in questions:
        async with db.system() as conn:
            cur = await conn.execute(_EXACT_SQL, _vector_params(bot, question, 10))
            found.append([r["id"] for r in await cur.fetchall()])
    return found


async def recall(
    db: Database, bot: Bot, questions: list[Question], truth: list[list[Any]]
) -> Recall:
    recalls, rows, short, seconds = [], [], 0, 0.0
    for question, exact in zip(questions, truth, strict=True):
        started = time.perf_counter()
        async with db.for_workspace(bot.workspace_id, "bench") as conn:
            found = await repository.search_vector(
                conn, bot.chatbot_id, question.embedding, limit=service.CANDIDATES
            )
        seconds += time.perf_counter() - started
        approximate = [r["id"] for r in found]
        recalls.append(len(set(approximate[:10]) & set(exact)) / max(1, len(exact)))
        rows.append(len(approximate))
        short += len(approximate) < min(10, bot.size)
    n = len(questions)
    return Recall(sum(recalls) / n, sum(rows) / n, short / n, seconds / n * 1000)


# -- the run ------------------------------------------------------------------------------------


def target_bots(model: Model) -> dict[str, Bot]:
    """The largest bot, the smallest one with its own vector index, and a median one."""
    sizes = model.sizes
    above = [r for r, s in enumerate(sizes) if s > VECTOR_INDEX_MIN_CHUNKS]
    chosen = {"large": 0}
    if above and above[-1] != 0:
        chosen["middle"] = above[-1]
    chosen["small"] = len(sizes) // 2
    return {label: model.bot(rank) for label, rank in chosen.items()}


def uses_hnsw(bot: Bot) -> bool:
    return bot.size > VECTOR_INDEX_MIN_CHUNKS


def describe(bot: Bot) -> str:
    return (
        f"bot #{bot.rank} ({bot.size:,} chunks, {len(bot.topics)} topics;"
        f" {'its own HNSW index' if uses_hnsw(bot) else 'searched exactly'})"
    )


async def prepare(args: argparse.Namespace, shape: Shape, model: Model) -> tuple[str, dict]:
    data_dir = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="vxr"))
    if not args.data_dir:
        # Registered before the server starts, so it runs after pgserver has stopped it.
        atexit.register(shutil.rmtree, data_dir, True)
    marker = data_dir / "retrieval_shape.json"
    url = start_postgres(data_dir)
    await migrate(url)
    phases: dict[str, float] = {}
    if marker.exists() and json.loads(marker.read_text()) == asdict(shape):
        say(f"Reusing the loaded database in {data_dir}")
    else:
        say(f"Loading into {data_dir}:")
        db = Database(url, min_size=1, max_size=2)
        await db.open()
        try:
            phases = (await load(url, db, model, say)).seconds
        finally:
            await db.close()
        marker.write_text(json.dumps(asdict(shape)))
    return url, phases


def latency_line(name: str, clients: int, r: Latency, baseline: Latency | None) -> str:
    ratio = f"{r.p50 / baseline.p50:>7.1f}x" if baseline else f"{'':>8}"
    return (
        f"  {name:<34} {clients:>7} {r.n:>5} {r.p50:>8.1f} {r.p95:>8.1f} {r.p99:>8.1f}"
        f" {r.qps:>7.1f} {ratio}"
    )


async def run_latency(
    url: str, bot: Bot, questions: list[Question], warm_up: list[Question], seconds: float
) -> dict[tuple[str, int], Latency]:
    """Each workload and client count on a fresh pool of the app's kind (so no workload inherits
    another's cached plans), after a short warm-up."""
    results: dict[tuple[str, int], Latency] = {}
    say(
        f"  {'workload':<34} {'clients':>7} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
        f" {'q/s':>7} {'p50/text':>8}"
    )
    runs = [(name, job, clients) for name, job in workloads(bot).items() for clients in CLIENTS]
    for name, job, clients in runs:
        db = Database(url, min_size=clients, max_size=clients)
        await db.open()
        try:
            await measure(db, bot, job, warm_up[: 2 * clients], clients, seconds)
            found = await measure(db, bot, job, questions, clients, seconds)
        finally:
            await db.close()
        results[name, clients] = found
        baseline = results.get((BASELINE, clients)) if name != BASELINE else None
        say(latency_line(name, clients, found, baseline))
    return results


async def run_recall(db: Database, bot: Bot, questions: list[Question]) -> Recall:
    truth = await exact_top10(db, bot, questions)
    found = await recall(db, bot, questions, truth)
    say(
        f"  recall@10 {found.recall:.3f}, {found.rows:.1f} rows, {found.short:.0%} of questions"
        f" under 10 rows, {found.ms:.1f} ms per search"
    )
    return found


def print_summary(
    shape: Shape,
    phases: dict[str, float],
    latencies: dict[str, dict[tuple[str, int], Latency]],
    recalls: dict[str, tuple[Bot, Recall]],
    bots: dict[str, Bot],
) -> None:
    say(
        f"\nSummary: {shape.chunks:,} chunks x {shape.dims} dims over {shape.bots:,} bots"
        f" (targets: p95 <= {TARGET_P95_MS:.0f} ms at {max(CLIENTS)} clients,"
        f" recall@10 >= {TARGET_RECALL})"
    )
    for name, seconds in phases.items():
        say(f"  load: {name:<48} {seconds:>8.1f} s")
    say(
        f"  {'bot':<22} {'workload':<34} {'clients':>7} {'n':>5} {'p50':>7} {'p95':>7}"
        f" {'p99':>7} {'q/s':>7}"
    )
    for label, results in latencies.items():
        bot = bots[label]
        for (name, clients), r in results.items():
            say(
                f"  {label + f' #{bot.rank} ({bot.size:,})':<22} {name:<34} {clients:>7} {r.n:>5}"
                f" {r.p50:>7.1f} {r.p95:>7.1f} {r.p99:>7.1f} {r.qps:>7.1f}"
            )
        hybrid = results[HYBRID, max(CLIENTS)]
        verdict = "met" if hybrid.p95 <= TARGET_P95_MS else "NOT met"
        say(f"  {'':<22} -> hybrid p95 at {max(CLIENTS)} clients {hybrid.p95:.1f} ms: {verdict}")
    for label, (bot, found) in recalls.items():
        verdict = "met" if found.recall >= TARGET_RECALL else "NOT met"
        say(
            f"  recall@10 {label} #{bot.rank} ({bot.size:,}): {found.recall:.3f} ({verdict};"
            f" {found.short:.0%} of questions < 10 rows;"
            f" {'own HNSW index' if uses_hnsw(bot) else 'exact search'})"
        )


async def examine(
    url: str, args: argparse.Namespace, model: Model, label: str, bot: Bot
) -> tuple[dict[tuple[str, int], Latency] | None, Recall]:
    questions = [model.question(bot, n) for n in range(args.queries)]
    warm_up = [model.question(bot, args.queries + n) for n in range(2 * max(CLIENTS))]
    say(f"\n{label.capitalize()} {describe(bot)}")
    say(f"  e.g. {questions[0].text!r} (specific), {questions[1].text!r} (general)")
    db = unprepared(url)
    await db.open()
    try:
        await show_plans(db, bot, questions[0])
        latency = None
        if label != "middle":
            latency = await run_latency(url, bot, questions, warm_up, args.seconds)
        say("  vector candidates against exact search:")
        found = await run_recall(db, bot, questions[: args.recall_queries])
    finally:
        await db.close()
    return latency, found


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--bots", type=int, default=1000)
    parser.add_argument("--dims", type=int, default=1536)
    parser.add_argument("--queries", type=int, default=200, help="per workload and concurrency")
    parser.add_argument(
        "--seconds", type=float, default=30.0, help="cap per workload and concurrency"
    )
    parser.add_argument("--recall-queries", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data-dir", help="keep (and reuse) the loaded database here")
    args = parser.parse_args()

    shape = Shape(args.chunks, args.bots, args.dims, args.seed)
    say(
        f"Retrieval benchmark: {shape.chunks:,} chunks x {shape.dims} dims over {shape.bots:,}"
        f" chatbots (seed {shape.seed})"
    )
    started = time.perf_counter()
    model = Model(shape)
    url, phases = await prepare(args, shape, model)
    bots = target_bots(model)
    latencies, recalls = {}, {}
    for label, bot in bots.items():
        latency, found = await examine(url, args, model, label, bot)
        if latency is not None:
            latencies[label] = latency
        recalls[label] = (bot, found)
    print_summary(shape, phases, latencies, recalls, bots)
    say(f"\nTotal run time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    asyncio.run(main())
