"""Jobs of the knowledge base: crawling a website source, embedding chunks, scheduled
re-crawls.

Embedding is a model call like any other: each batch is admitted against the workspace's budget
and credits before it is sent (billing.admit) and settled after. A workspace that may not spend
(no credits left, budget spent, paused for payment) gets no embeddings: the job stops, the
chunks stay as they are (searchable by their words), and the source's `error` says so, starting
with EMBEDDING_PAUSED. That message is also the mark `resume_paused_embeddings` looks for: every
few minutes it queues the embedding of the marked sources whose workspace may spend again (new
credits, a new month or a higher budget, a paid invoice), and a crawl of a marked source queues
it too. The source's status is left alone (its chunks are ready, only without vectors).
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import UTC, datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from uuid import UUID

import procrastinate
import structlog

from backend.billing import prices
from backend.billing import service as billing
from backend.integrations.openai.client import OpenAIError
from backend.kit.text import max_tokens_of
from backend.knowledge import repository, service, vector_index
from backend.knowledge.crawler import Crawler, CrawlLimits, CrawlPage
from backend.knowledge.extract import ExtractionError, extract
from backend.tasks import PROVIDER_RETRY, app_context, enqueue, task_app

__all__ = [
    "crawl",
    "embed",
    "enqueue",
    "refresh_due",
    "resume_paused_embeddings",
    "run_crawl",
    "run_embedding",
    "start_crawl",
]

if TYPE_CHECKING:
    from backend.context import AppContext

log = structlog.get_logger(__name__)

EMBEDDING_BATCH = 64
_PRINCIPAL = "job:knowledge"
# How the error of a source whose embedding waits for the workspace to be able to spend starts.
EMBEDDING_PAUSED = "Embedding paused"


def _embedding_paused(source: dict[str, Any]) -> bool:
    return (source["error"] or "").startswith(EMBEDDING_PAUSED)


@task_app.task(name="knowledge.crawl", pass_context=True)
async def crawl(context: procrastinate.JobContext, crawl_id: str) -> None:
    await run_crawl(app_context(context), UUID(crawl_id))


async def run_crawl(app: AppContext, crawl_id: UUID) -> dict[str, Any]:
    """Crawl a website source: each page fetched is extracted, chunked and indexed as it
    arrives (so progress is visible and nothing waits for the end); unchanged pages keep their
    chunks; pages gone from the site are dropped, but only after a crawl that reached it."""
    async with app.db.system() as conn:
        found = await repository.crawl_by_id(conn, crawl_id)
    if found is None or found["state"] not in {"queued", "running"}:
        return found or {}
    workspace_id, source_id = found["workspace_id"], found["source_id"]
    async with app.db.for_workspace(workspace_id, _PRINCIPAL) as conn:
        source = await repository.get_source(conn, workspace_id, source_id)
        assert source is not None
        workspace_language = await repository.workspace_language(conn, workspace_id)
        await repository.update_crawl(conn, crawl_id, state="running", started_at=datetime.now(UTC))
        await repository.update_source(conn, source_id, status="crawling", error=None)
        previous = await repository.page_validators(conn, source_id)

    async def cancelled() -> bool:
        async with app.db.for_workspace(workspace_id, _PRINCIPAL) as conn:
            return await repository.cancel_requested(conn, crawl_id)

    crawler = Crawler(
        app.http,
        CrawlLimits(
            max_pages=found["max_pages"],
            max_depth=source["max_depth"],
            delay_seconds=app.settings.crawl_delay_seconds,
        ),
        previous=previous,
        is_cancelled=cancelled,
    )
    seen: list[str] = []
    decisions: list[CrawlPage] = []  # without their bodies: to say why nothing was read
    extracted = read = 0
    state, error = "succeeded", None
    try:
        async with contextlib.aclosing(crawler.crawl(source["url"])) as pages:
            async for page in pages:
                chars, decided = await _store_page(
                    app, workspace_id, found["chatbot_id"], source_id, page, workspace_language
                )
                extracted += chars
                read += decided.status in {"fetched", "unchanged"}
                decisions.append(decided)
                if page.status in {"fetched", "unchanged"}:
                    seen.append(page.url)
                async with app.db.for_workspace(workspace_id, _PRINCIPAL) as conn:
                    await _progress(conn, crawl_id, crawler, extracted)
        if await cancelled():
            state = "cancelled"
        elif not read:
            state, error = "failed", _nothing_read(source["url"], decisions)
    except Exception:  # a crawl ends with a state, whatever happened
        log.exception("crawl_failed", crawl_id=str(crawl_id))
        state = "failed"
        error = (
            "The crawl stopped on an unexpected error; what it had indexed stays. Try again,"
            " and contact support if it happens again."
        )
    async with app.db.for_workspace(workspace_id, _PRINCIPAL) as conn:
        if state == "succeeded" and seen:
            await repository.drop_pages_not_seen(conn, source_id, seen)
        await repository.refresh_counts(conn, source_id)
        counted = await repository.get_source(conn, workspace_id, source_id)
        # A failed re-crawl keeps what the bot learnt before: the source stays ready, and says
        # why its last crawl failed.
        knows = counted is not None and counted["chunks"] > 0
        await repository.update_source(
            conn,
            source_id,
            status="ready" if state != "failed" or knows else "failed",
            error=(f"The last crawl failed: {error}" if knows else error)
            if state == "failed"
            else None,
            last_crawled_at=datetime.now(UTC),
        )
        await _progress(conn, crawl_id, crawler, extracted)
        await service.refresh_summary(conn, found["chatbot_id"])
        finished = await repository.update_crawl(
            conn,
            crawl_id,
            state=state,
            error=error,
            finished_at=datetime.now(UTC),
            current_url=None,
        )
        # (A source whose embedding was paused had its mark cleared above: the job marks it
        # again if the workspace still may not spend.)
        if extracted or _embedding_paused(source):
            await enqueue(conn, embed, source_id=str(source_id))
    log.info(
        "crawl_finished", crawl_id=str(crawl_id), state=state, pages=len(seen), chars=extracted
    )
    return finished or {}


def _nothing_read(start_url: str, decisions: list[CrawlPage]) -> str:
    """Why a crawl read no page, in words: the start page's fate says it best (a site that
    does not answer, a 404, robots.txt), then what became of the other pages."""
    host = urlsplit(start_url).hostname or start_url
    start = next((d for d in decisions if d.depth == 0), None)
    if start is None:
        return f"No page of {host} could be read."
    if start.unreachable is not None:
        return start.unreachable.sentence(host)
    others = [d for d in decisions if d is not start and d.status in {"failed", "skipped"}]
    tail = {0: "", 1: " The other page found failed too."}.get(
        len(others), f" The {len(others)} other pages found failed too."
    )
    if start.http_status is not None and start.status == "failed":
        return (
            f"{start.url} answered {_http_status(start.http_status)}: check that the address is"
            f" right and the page is public.{tail}"
        )
    return f"Nothing could be read at {start.url}: {_reason_in_words(start.reason)}.{tail}"


def _http_status(code: int) -> str:
    try:
        return f"HTTP {code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"HTTP {code}"


_REASONS = {
    "robots.txt": "the site's robots.txt does not allow crawling it",
    "not html/pdf/text": "it is not HTML, PDF or text",
    "too large": "it is too large",
    "too many redirects": "it redirects too many times",
    "redirected off-site": "it redirects to another site",
    "not an http(s) URL": "it is not an http(s) address",
    "timeout": "it did not answer in time",
    "no text": "no text was found in it",
    "binary content": "it is not text",
}


def _reason_in_words(reason: str | None) -> str:
    if reason is None:
        return "no text was found in it"
    if reason.startswith("refused: "):
        return f"it is not fetched for safety ({reason.removeprefix('refused: ')})"
    return _REASONS.get(reason, reason)


async def _store_page(
    app: AppContext,
    workspace_id: UUID,
    chatbot_id: UUID,
    source_id: UUID,
    page: CrawlPage,
    language: str | None,
) -> tuple[int, CrawlPage]:
    """Record one page's outcome; index it when it was fetched. Returns the characters of text
    it yielded and the page as decided (a fetched page without text is skipped), body left
    out."""
    status, reason, document = page.status, page.reason, None
    if status == "fetched":
        try:
            document = extract(page.body, content_type=page.content_type or "", url=page.url)
        except ExtractionError as exc:
            status, reason = "skipped", str(exc)
    decided = replace(page, body=b"", status=status, reason=reason)
    async with app.db.for_workspace(workspace_id, _PRINCIPAL) as conn:
        if status == "unchanged":  # keep its chunks; only note that it is still there
            await repository.mark_page_unchanged(conn, source_id, page.url)
            return 0, decided
        page_id = await repository.upsert_page(
            conn,
            {
                "workspace_id": workspace_id,
                "source_id": source_id,
                "url": page.url,
                "title": document.title if document else "",
                "etag": page.etag,
                "last_modified": page.last_modified,
                "content_hash": page.content_hash,
                "status": status,
                "reason": reason,
                "http_status": page.http_status,
                "bytes": len(page.body),
            },
        )
        if document is None:
            return 0, decided
        await service.index_document(
            conn,
            workspace_id=workspace_id,
            chatbot_id=chatbot_id,
            source_id=source_id,
            page_id=page_id,
            document=document,
            language=language,
        )
        return len(document.text), decided


async def _progress(conn: Any, crawl_id: UUID, crawler: Crawler, extracted: int) -> None:
    stats = crawler.stats
    await repository.update_crawl(
        conn,
        crawl_id,
        pages_found=stats.found,
        pages_fetched=stats.fetched,
        pages_unchanged=stats.unchanged,
        pages_skipped=stats.skipped,
        pages_failed=stats.failed,
        bytes=stats.bytes,
        current_url=stats.current_url,
        content_extracted=extracted,
    )


@task_app.task(name="knowledge.embed", retry=PROVIDER_RETRY, pass_context=True)
async def embed(context: procrastinate.JobContext, source_id: str) -> None:
    await run_embedding(app_context(context), UUID(source_id))


async def run_embedding(app: AppContext, source_id: UUID) -> str:
    """Embed a source's chunks that have none yet, in batches, with the workspace's key (no
    key: the chunks stay searchable by their words). Each batch is admitted against the
    workspace's budget and credits first, and commits on its own, so a retry resumes where the
    last one stopped. Returns what happened: "done", "paused" (the workspace may not spend: the
    source says so) or "no key"."""
    async with app.db.system() as conn:
        row = await repository.embedding_target(conn, source_id)
    if row is None or not row["encrypted_api_key"] or row["status"] != "valid":
        return "no key"
    workspace_id, chatbot_id = row["workspace_id"], row["chatbot_id"]
    api_key = app.secrets.decrypt(row["encrypted_api_key"])
    model = prices.DEFAULT_EMBEDDING_MODEL
    while True:
        admission: billing.Admission | None = None
        async with app.db.for_workspace(workspace_id, _PRINCIPAL) as conn:
            chunks = await repository.chunks_without_embedding(conn, source_id, EMBEDDING_BATCH)
            if not chunks:
                await _clear_pause(conn, source_id)
                await enqueue(conn, index_vectors, chatbot_id=str(chatbot_id))
                return "done"
            texts = [
                " ".join(x for x in (c["title"], c["heading"], c["content"]) if x) for c in chunks
            ]
            # What the batch may cost at most: no tokenizer counts more tokens than this.
            most, _ = prices.cost(
                model, prompt_tokens=sum(map(max_tokens_of, texts)), completion_tokens=0
            )
            try:
                admission = await billing.admit(conn, workspace_id, most)
            except billing.BudgetHeld:
                pass  # calls in flight hold the rest: wait for room below, outside this transaction
            except billing.WorkspacePaused as paused:
                await _pause(conn, source_id, paused)
                return "paused"
        if admission is None:
            try:
                admission = await billing.wait_for_room(app.db, workspace_id, most, _PRINCIPAL)
            except billing.WorkspacePaused as paused:
                async with app.db.for_workspace(workspace_id, _PRINCIPAL) as conn:
                    await _pause(conn, source_id, paused)
                return "paused"
        try:
            vectors, tokens = await app.openai.embed(api_key, texts, model=model)
        except Exception as exc:
            if isinstance(exc, OpenAIError):
                log.warning("knowledge_embedding_failed", source_id=str(source_id), error=str(exc))
            async with app.db.for_workspace(workspace_id, _PRINCIPAL) as conn:
                await billing.release(conn, admission)  # nothing was spent
            raise
        cost, version = prices.cost(model, prompt_tokens=tokens, completion_tokens=0)
        async with app.db.for_workspace(workspace_id, _PRINCIPAL) as conn:
            await repository.set_embeddings(
                conn, chatbot_id, [(c["id"], v) for c, v in zip(chunks, vectors, strict=True)]
            )
            await repository.record_embedding_usage(
                conn,
                workspace_id=workspace_id,
                chatbot_id=chatbot_id,
                model=model,
                tokens=tokens,
                cost=cost,
                price_version=version,
            )
            await billing.settle(conn, workspace_id, admission, cost)


async def _pause(conn: Any, source_id: UUID, paused: billing.WorkspacePaused) -> None:
    """Say on the source why its chunks wait for their vectors (this mark is what
    `resume_paused_embeddings` looks for)."""
    await repository.update_source(
        conn,
        source_id,
        error=f"{EMBEDDING_PAUSED}: {paused}. The chunks not embedded yet are searchable by their"
        " words only, and are embedded as soon as the workspace can spend again.",
    )
    log.info("knowledge_embedding_paused", source_id=str(source_id), reason=paused.reason)


async def _clear_pause(conn: Any, source_id: UUID) -> None:
    await repository.clear_error_starting(conn, source_id, EMBEDDING_PAUSED)


@task_app.periodic(cron="*/10 * * * *")
@task_app.task(
    name="knowledge.resume_paused_embeddings",
    queueing_lock="knowledge.resume_paused_embeddings",
    pass_context=True,
)
async def resume_paused_embeddings_job(context: procrastinate.JobContext, timestamp: int) -> None:
    await resume_paused_embeddings(app_context(context))


async def resume_paused_embeddings(app: AppContext) -> list[UUID]:
    """Queue the embedding of the sources it was paused for whose workspace may spend again;
    their mark is taken off in the same transaction (the job puts it back if it is refused
    again), so a source is queued once. Returns the sources queued."""
    async with app.db.system() as conn:
        marked = await repository.sources_with_error_starting(conn, EMBEDDING_PAUSED)
    resumed = []
    for source in marked:
        async with app.db.for_workspace(source["workspace_id"], _PRINCIPAL) as conn:
            if (await billing.balance(conn, source["workspace_id"])).is_paused:
                continue
            await _clear_pause(conn, source["id"])
            await enqueue(conn, embed, source_id=str(source["id"]))
        resumed.append(source["id"])
    if resumed:
        log.info("knowledge_embedding_resumed", sources=len(resumed))
    return resumed


@task_app.task(name="knowledge.index_vectors", pass_context=True)
async def index_vectors(context: procrastinate.JobContext, chatbot_id: str) -> None:
    """Give a bot that has grown large its own vector index (see vector_index.py)."""
    app = app_context(context)
    outcome = await vector_index.ensure(
        app.db, UUID(chatbot_id), min_chunks=app.settings.vector_index_min_chunks
    )
    log.info("vector_index_checked", chatbot_id=chatbot_id, outcome=outcome)


@task_app.periodic(cron="41 4 * * *")
@task_app.task(
    name="knowledge.drop_orphan_vector_indexes",
    queueing_lock="knowledge.drop_orphan_vector_indexes",
    pass_context=True,
)
async def drop_orphan_vector_indexes(context: procrastinate.JobContext, timestamp: int) -> None:
    """Deleted bots leave their vector indexes behind (an index cannot be dropped in the
    deleting transaction without locking every bot's chunks): drop them nightly."""
    dropped = await vector_index.drop_orphans(app_context(context).db)
    if dropped:
        log.info("vector_indexes_dropped", indexes=dropped)


@task_app.periodic(cron="17 * * * *")
@task_app.task(
    name="knowledge.refresh_due", queueing_lock="knowledge.refresh_due", pass_context=True
)
async def refresh_due(context: procrastinate.JobContext, timestamp: int) -> None:
    """Start the daily and weekly re-crawls that are due."""
    app = app_context(context)
    async with app.db.system() as conn:
        due = await repository.sources_due(conn)
    for source in due:
        async with app.db.for_workspace(source["workspace_id"], _PRINCIPAL) as conn:
            await start_crawl(conn, source)


async def start_crawl(conn: Any, source: dict[str, Any], *, queue: bool = True) -> dict[str, Any]:
    """A crawl of `source`, queued as a job in the caller's transaction (or left for the caller
    to run at once, for small crawls)."""
    crawl_row = await repository.create_crawl(
        conn,
        {
            "workspace_id": source["workspace_id"],
            "chatbot_id": source["chatbot_id"],
            "source_id": source["id"],
            "max_pages": source["max_pages"],
        },
    )
    if queue:
        await enqueue(conn, crawl, crawl_id=str(crawl_row["id"]))
    return crawl_row
