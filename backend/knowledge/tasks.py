"""Jobs of the knowledge base: crawling a website source, embedding chunks, scheduled
re-crawls."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import procrastinate
import structlog

from backend.billing import prices
from backend.billing import service as billing
from backend.integrations.openai.client import OpenAIError
from backend.knowledge import repository, service, vector_index
from backend.knowledge.crawler import Crawler, CrawlLimits, CrawlPage
from backend.knowledge.extract import ExtractionError, extract
from backend.tasks import PROVIDER_RETRY, app_context, enqueue, task_app

__all__ = ["crawl", "embed", "enqueue", "refresh_due", "run_crawl", "start_crawl"]

if TYPE_CHECKING:
    from backend.context import AppContext

log = structlog.get_logger(__name__)

EMBEDDING_BATCH = 64
_PRINCIPAL = "job:knowledge"


@task_app.task(name="knowledge.crawl", pass_context=True)
async def crawl(context: procrastinate.JobContext, crawl_id: str) -> None:
    await run_crawl(app_context(context), UUID(crawl_id))


async def run_crawl(app: AppContext, crawl_id: UUID) -> dict[str, Any]:
    """Crawl a website source: each page fetched is extracted, chunked and indexed as it
    arrives (so progress is visible and nothing waits for the end); unchanged pages keep their
    chunks; pages gone from the site are dropped, but only after a crawl that reached it."""
    async with app.db.system() as conn:
        found = await (
            await conn.execute("select * from public.crawls where id = %s", (crawl_id,))
        ).fetchone()
    if found is None or found["state"] not in {"queued", "running"}:
        return found or {}
    workspace_id, source_id = found["workspace_id"], found["source_id"]
    async with app.db.for_workspace(workspace_id, _PRINCIPAL) as conn:
        source = await repository.get_source(conn, workspace_id, source_id)
        assert source is not None
        config = await (
            await conn.execute(
                "select language from public.ai_configs where workspace_id = %s", (workspace_id,)
            )
        ).fetchone()
        await repository.update_crawl(conn, crawl_id, state="running", started_at=datetime.now(UTC))
        await repository.update_source(conn, source_id, status="crawling", error=None)
        previous = await repository.page_validators(conn, source_id)
    workspace_language = config["language"] if config else None

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
    extracted = 0
    state, error = "succeeded", None
    try:
        async with contextlib.aclosing(crawler.crawl(source["url"])) as pages:
            async for page in pages:
                extracted += await _store_page(
                    app, workspace_id, found["chatbot_id"], source_id, page, workspace_language
                )
                if page.status in {"fetched", "unchanged"}:
                    seen.append(page.url)
                async with app.db.for_workspace(workspace_id, _PRINCIPAL) as conn:
                    await _progress(conn, crawl_id, crawler, extracted)
        if await cancelled():
            state = "cancelled"
    except Exception as exc:  # a crawl ends with a state, whatever happened
        log.exception("crawl_failed", crawl_id=str(crawl_id))
        state, error = "failed", str(exc)[:500]
    async with app.db.for_workspace(workspace_id, _PRINCIPAL) as conn:
        if state == "succeeded" and seen:
            await repository.drop_pages_not_seen(conn, source_id, seen)
        await repository.refresh_counts(conn, source_id)
        reached = bool(seen) or state != "succeeded"
        await repository.update_source(
            conn,
            source_id,
            status="ready" if reached else "failed",
            error=error or (None if reached else "the site could not be crawled"),
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
        if extracted:
            await enqueue(conn, embed, source_id=str(source_id))
    log.info(
        "crawl_finished", crawl_id=str(crawl_id), state=state, pages=len(seen), chars=extracted
    )
    return finished or {}


async def _store_page(
    app: AppContext,
    workspace_id: UUID,
    chatbot_id: UUID,
    source_id: UUID,
    page: CrawlPage,
    language: str | None,
) -> int:
    """Record one page's outcome; index it when it was fetched. Returns the characters of text
    it yielded."""
    status, reason, document = page.status, page.reason, None
    if status == "fetched":
        try:
            document = extract(page.body, content_type=page.content_type or "", url=page.url)
        except ExtractionError as exc:
            status, reason = "skipped", str(exc)
    async with app.db.for_workspace(workspace_id, _PRINCIPAL) as conn:
        if status == "unchanged":  # keep its chunks; only note that it is still there
            await conn.execute(
                "update public.knowledge_pages set status = 'unchanged', fetched_at = now()"
                " where source_id = %s and url = %s",
                (source_id, page.url),
            )
            return 0
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
            return 0
        await service.index_document(
            conn,
            workspace_id=workspace_id,
            chatbot_id=chatbot_id,
            source_id=source_id,
            page_id=page_id,
            document=document,
            language=language,
        )
        return len(document.text)


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
    """Embed a source's chunks that have none yet, in batches, with the workspace's key (no
    key: the chunks stay searchable by their words). Each batch commits on its own, so a
    retry resumes where the last one stopped."""
    app = app_context(context)
    async with app.db.system() as conn:
        row = await (
            await conn.execute(
                "select s.workspace_id, s.chatbot_id, o.encrypted_api_key, o.status"
                " from public.knowledge_sources s"
                " left join public.openai_connections o on o.workspace_id = s.workspace_id"
                " where s.id = %s",
                (UUID(source_id),),
            )
        ).fetchone()
    if row is None or not row["encrypted_api_key"] or row["status"] != "valid":
        return
    api_key = app.secrets.decrypt(row["encrypted_api_key"])
    model = prices.DEFAULT_EMBEDDING_MODEL
    while True:
        async with app.db.for_workspace(row["workspace_id"], _PRINCIPAL) as conn:
            chunks = await repository.chunks_without_embedding(
                conn, UUID(source_id), EMBEDDING_BATCH
            )
        if not chunks:
            async with app.db.system() as conn:
                await enqueue(conn, index_vectors, chatbot_id=str(row["chatbot_id"]))
            return
        texts = [" ".join(x for x in (c["title"], c["heading"], c["content"]) if x) for c in chunks]
        try:
            vectors, tokens = await app.openai.embed(api_key, texts, model=model)
        except OpenAIError as exc:
            log.warning("knowledge_embedding_failed", source_id=source_id, error=str(exc))
            raise
        cost, version = prices.cost(model, prompt_tokens=tokens, completion_tokens=0)
        async with app.db.for_workspace(row["workspace_id"], _PRINCIPAL) as conn:
            await repository.set_embeddings(
                conn,
                row["chatbot_id"],
                [(c["id"], v) for c, v in zip(chunks, vectors, strict=True)],
            )
            await conn.execute(
                "insert into public.token_usage (workspace_id, chatbot_id, service, channel, model,"
                " prompt_tokens, total_tokens, cost, price_version)"
                " values (%s, %s, 'OPENAI_EMBEDDING', 'KNOWLEDGE', %s, %s, %s, %s, %s)",
                (row["workspace_id"], row["chatbot_id"], model, tokens, tokens, cost, version),
            )
            await billing.settle(conn, row["workspace_id"], billing.Admission(None), cost)


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
        due = await (
            await conn.execute(
                """
            select s.id, s.workspace_id, s.chatbot_id, s.max_pages from public.knowledge_sources s
            where s.kind = 'website' and s.refresh <> 'manual' and s.status <> 'crawling'
              and (s.last_crawled_at is null or s.last_crawled_at < now() - case s.refresh
                     when 'daily' then interval '1 day' else interval '7 days' end)
            """
            )
        ).fetchall()
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
