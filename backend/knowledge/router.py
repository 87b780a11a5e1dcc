"""The knowledge base API: `POST /api/chat/crawl` as documented, crawl progress and
cancellation, and a chatbot's sources (websites, pasted text, uploaded files)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, File, Form, Response, UploadFile, status

from backend.auth.dependencies import AdminSubject, Session
from backend.context import Context
from backend.kit.schemas import Envelope
from backend.knowledge import sources
from backend.knowledge.schemas import (
    CrawlProgress,
    CrawlRequest,
    CrawlStarted,
    Source,
    SourceAdded,
    SourceUpdate,
    TextSourceCreate,
)

router = APIRouter(tags=["knowledge"])


@router.post("/api/chat/crawl", summary="Crawl a website into a chatbot's knowledge")
async def crawl_website(
    data: CrawlRequest, subject: AdminSubject, context: Context
) -> CrawlStarted:
    """Add a website to a chatbot's knowledge. Small crawls (up to 10 pages) finish before the
    answer; larger ones run as a job whose progress `GET /api/chat/crawl/{crawl_id}` reports.
    A crawl that read no page is `success: false`, `state: "failed"`, with the reason in
    `error` (and on the source)."""
    source, crawl = await sources.crawl_website(context, subject, data)
    return CrawlStarted(
        success=crawl["state"] in {"queued", "running", "succeeded"},
        pages_crawled=crawl["pages_fetched"] + crawl["pages_unchanged"],
        content_extracted=crawl["content_extracted"],
        crawl_id=crawl["id"],
        source_id=source["id"],
        state=crawl["state"],
        error=crawl["error"],
    )


@router.get("/api/chat/crawl/{crawl_id}", summary="Get a crawl's progress")
async def crawl_progress(crawl_id: UUID, subject: AdminSubject, session: Session) -> CrawlProgress:
    return CrawlProgress.model_validate(
        await sources.crawl(session, subject.workspace_id, crawl_id)
    )


@router.post("/api/chat/crawl/{crawl_id}/cancel", summary="Cancel a crawl")
async def cancel_crawl(crawl_id: UUID, subject: AdminSubject, session: Session) -> CrawlProgress:
    """Stop a crawl: what it indexed so far stays."""
    return CrawlProgress.model_validate(await sources.cancel_crawl(session, subject, crawl_id))


# -- a chatbot's sources ----------------------------------------------------------------------

sources_router = APIRouter(prefix="/api/chatbots/{chatbot_id}/knowledge", tags=["knowledge"])


def _added(source: dict[str, Any], duplicate: bool, response: Response) -> SourceAdded:
    """201 and the new source; or 200, `duplicate: true` and the source that already holds
    exactly this text."""
    if not duplicate:
        return SourceAdded(data=Source.model_validate(source))
    response.status_code = status.HTTP_200_OK
    return SourceAdded(
        data=Source.model_validate(source),
        duplicate=True,
        message=f"This content is already in the knowledge base as"
        f' "{source["title"]}": nothing was added',
    )


@sources_router.get("", summary="List a chatbot's knowledge sources")
async def list_sources(
    chatbot_id: UUID, subject: AdminSubject, session: Session
) -> Envelope[list[Source]]:
    rows = await sources.list_sources(session, subject.workspace_id, chatbot_id)
    return Envelope(data=[Source.model_validate(r) for r in rows])


@sources_router.post(
    "/text", status_code=status.HTTP_201_CREATED, summary="Add pasted text to a chatbot's knowledge"
)
async def add_text(
    chatbot_id: UUID,
    data: TextSourceCreate,
    subject: AdminSubject,
    context: Context,
    response: Response,
) -> SourceAdded:
    """Pasted text (Markdown headings help it chunk well)."""
    source, duplicate = await sources.add_text(
        context, subject, chatbot_id, title=data.title, text=data.text
    )
    return _added(source, duplicate, response)


@sources_router.post(
    "/files", status_code=status.HTTP_201_CREATED, summary="Upload a file to a chatbot's knowledge"
)
async def add_file(
    chatbot_id: UUID,
    subject: AdminSubject,
    context: Context,
    response: Response,
    file: Annotated[UploadFile, File(description="PDF, HTML, Markdown or plain text")],
    title: Annotated[str | None, Form(max_length=300)] = None,
) -> SourceAdded:
    """A PDF, HTML, Markdown or text file. Its type is read from its content type, or, when
    that says nothing (`application/octet-stream`, curl's default), from its name and its
    content."""
    source, duplicate = await sources.add_file(
        context,
        subject,
        chatbot_id,
        await file.read(),
        filename=file.filename,
        declared=file.content_type,
        title=title,
    )
    return _added(source, duplicate, response)


@sources_router.patch("/{source_id}", summary="Change a website source's re-crawl schedule")
async def update_source(
    chatbot_id: UUID,
    source_id: UUID,
    data: SourceUpdate,
    subject: AdminSubject,
    session: Session,
    context: Context,
) -> Envelope[Source]:
    """How often a website is crawled again (`manual`, `daily`, `weekly`), and how far."""
    source = await sources.update_source(
        session, context.settings, subject, chatbot_id, source_id, data
    )
    return Envelope(data=Source.model_validate(source))


@sources_router.post(
    "/{source_id}/recrawl",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Re-crawl a website source now",
)
async def recrawl(
    chatbot_id: UUID, source_id: UUID, subject: AdminSubject, session: Session
) -> CrawlProgress:
    """Crawl again now: unchanged pages are skipped, changed ones re-indexed, gone ones dropped."""
    return CrawlProgress.model_validate(
        await sources.recrawl(session, subject, chatbot_id, source_id)
    )


@sources_router.delete(
    "/{source_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a knowledge source"
)
async def delete_source(
    chatbot_id: UUID, source_id: UUID, subject: AdminSubject, session: Session
) -> None:
    await sources.delete_source(session, subject, chatbot_id, source_id)
