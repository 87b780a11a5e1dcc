"""The knowledge base API: `POST /api/chat/crawl` as documented, crawl progress and
cancellation, and a chatbot's sources (websites, pasted text, uploaded files)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit
from uuid import UUID

from fastapi import APIRouter, File, Form, Response, UploadFile, status

from backend.auth.dependencies import AdminSubject
from backend.auth.subjects import AuthSubject, User
from backend.business import repository as business
from backend.chatbots import service as chatbots
from backend.context import AppContext, Context
from backend.errors import NotFound, ValidationFailed
from backend.kit.schemas import Envelope
from backend.knowledge import repository, service, tasks
from backend.knowledge.extract import (
    UNKNOWN_TYPES,
    Document,
    ExtractionError,
    extract,
    file_type,
)
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

# Up to this many pages the documented call waits for the crawl and answers with its result.
SYNCHRONOUS_CRAWL_PAGES = 10


class CrawlNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Crawl not found")


class SourceNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Knowledge source not found")


def _check_max_pages(context: AppContext, max_pages: int) -> None:
    if max_pages > context.settings.crawl_max_pages:
        raise ValidationFailed(
            f"max_pages may be at most {context.settings.crawl_max_pages} on this plan",
            errors=[
                {"field": "max_pages", "message": f"at most {context.settings.crawl_max_pages}"}
            ],
        )


@router.post("/api/chat/crawl", summary="Crawl a website into a chatbot's knowledge")
async def crawl_website(
    data: CrawlRequest, subject: AdminSubject, context: Context
) -> CrawlStarted:
    """Add a website to a chatbot's knowledge. Small crawls (up to 10 pages) finish before the
    answer; larger ones run as a job whose progress `GET /api/chat/crawl/{crawl_id}` reports.
    A crawl that read no page is `success: false`, `state: "failed"`, with the reason in
    `error` (and on the source)."""
    subject.require_admin("add knowledge")
    _check_max_pages(context, data.max_pages)
    url = str(data.url)
    small = data.max_pages <= SYNCHRONOUS_CRAWL_PAGES
    async with context.db.as_claims(subject.principal.claims) as conn:
        await chatbots.get(conn, subject.workspace_id, data.chatbot_id)
        source = await repository.create_source(
            conn,
            {
                "workspace_id": subject.workspace_id,
                "chatbot_id": data.chatbot_id,
                "kind": "website",
                "title": urlsplit(url).hostname or url,
                "url": url,
                "max_pages": data.max_pages,
            },
        )
        crawl = await tasks.start_crawl(conn, source, queue=not small)
    if small:
        crawl = await tasks.run_crawl(context, crawl["id"])
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
async def crawl_progress(crawl_id: UUID, subject: AdminSubject, context: Context) -> CrawlProgress:
    async with context.db.as_claims(subject.principal.claims) as conn:
        crawl = await repository.get_crawl(conn, subject.workspace_id, crawl_id)
    if crawl is None:
        raise CrawlNotFound()
    return CrawlProgress.model_validate(crawl)


@router.post("/api/chat/crawl/{crawl_id}/cancel", summary="Cancel a crawl")
async def cancel_crawl(crawl_id: UUID, subject: AdminSubject, context: Context) -> CrawlProgress:
    """Stop a crawl: what it indexed so far stays."""
    subject.require_admin("cancel crawls")
    async with context.db.as_claims(subject.principal.claims) as conn:
        crawl = await repository.get_crawl(conn, subject.workspace_id, crawl_id)
        if crawl is None:
            raise CrawlNotFound()
        if crawl["state"] == "queued":
            crawl = await repository.update_crawl(
                conn, crawl_id, state="cancelled", cancel_requested=True
            )
        elif crawl["state"] == "running":
            crawl = await repository.update_crawl(conn, crawl_id, cancel_requested=True)
    return CrawlProgress.model_validate(crawl)


# -- a chatbot's sources ----------------------------------------------------------------------

sources_router = APIRouter(prefix="/api/chatbots/{chatbot_id}/knowledge", tags=["knowledge"])


async def _source(
    context: AppContext, subject: AuthSubject[User], chatbot_id: UUID, source_id: UUID
) -> dict:  # type: ignore[type-arg]
    async with context.db.as_claims(subject.principal.claims) as conn:
        source = await repository.get_source(conn, subject.workspace_id, source_id)
    if source is None or source["chatbot_id"] != chatbot_id:
        raise SourceNotFound()
    return source


@sources_router.get("", summary="List a chatbot's knowledge sources")
async def list_sources(
    chatbot_id: UUID, subject: AdminSubject, context: Context
) -> Envelope[list[Source]]:
    async with context.db.as_claims(subject.principal.claims) as conn:
        await chatbots.get(conn, subject.workspace_id, chatbot_id)
        rows = await repository.list_sources(conn, subject.workspace_id, chatbot_id)
    return Envelope(data=[Source.model_validate(r) for r in rows])


async def _add_document(
    context: AppContext,
    subject: AuthSubject[User],
    chatbot_id: UUID,
    kind: str,
    document: Document,
    response: Response,
) -> SourceAdded:
    """A new source of this document, 201; or, when the bot has a source of this kind with
    exactly this text already, that one, 200 and `duplicate: true` (so sending the same file
    again, or retrying an upload, adds nothing)."""
    async with context.db.as_claims(subject.principal.claims) as conn:
        await chatbots.get(conn, subject.workspace_id, chatbot_id)
        existing = await service.same_document(conn, chatbot_id, kind, document)
        if existing is not None:
            response.status_code = status.HTTP_200_OK
            return SourceAdded(
                data=Source.model_validate(existing),
                duplicate=True,
                message=f"This content is already in the knowledge base as"
                f' "{existing["title"]}": nothing was added',
            )
        config = await business.get_ai_config(conn, subject.workspace_id)
        source = await service.add_text_source(
            conn,
            workspace_id=subject.workspace_id,
            chatbot_id=chatbot_id,
            kind=kind,
            title=document.title,
            documents=[document],
            language=config["language"],
        )
        await service.refresh_summary(conn, chatbot_id)
        await tasks.enqueue(conn, tasks.embed, source_id=str(source["id"]))
    return SourceAdded(data=Source.model_validate(source))


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
    subject.require_admin("add knowledge")
    document = Document(
        url=None, title=data.title, text=data.text, language=None, content_type="text/markdown"
    )
    return await _add_document(context, subject, chatbot_id, "text", document, response)


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
    subject.require_admin("add knowledge")
    body = await file.read()
    content_type = file_type(body, filename=file.filename, declared=file.content_type)
    if content_type is None:
        declared = (file.content_type or "").split(";")[0].strip().lower()
        message = (
            f"Files of type '{declared}' cannot be read"
            if declared not in UNKNOWN_TYPES
            else f"'{file.filename or 'The file'}' is neither PDF, HTML, Markdown nor text"
        )
        raise ValidationFailed(
            f"{message}: use PDF, HTML, Markdown or plain text",
            errors=[{"field": "file", "message": "use PDF, HTML, Markdown or plain text"}],
        )
    try:
        document = extract(body, content_type=content_type)
    except ExtractionError as exc:
        raise ValidationFailed(
            f"No text could be read from the file: {exc}",
            errors=[{"field": "file", "message": str(exc)}],
        ) from exc
    named = Document(
        url=None,
        title=title or document.title or (file.filename or "Upload"),
        text=document.text,
        language=document.language,
        content_type=document.content_type,
    )
    return await _add_document(context, subject, chatbot_id, "file", named, response)


@sources_router.patch("/{source_id}", summary="Change a website source's re-crawl schedule")
async def update_source(
    chatbot_id: UUID, source_id: UUID, data: SourceUpdate, subject: AdminSubject, context: Context
) -> Envelope[Source]:
    """How often a website is crawled again (`manual`, `daily`, `weekly`), and how far."""
    subject.require_admin("change knowledge")
    source = await _source(context, subject, chatbot_id, source_id)
    changes = data.model_dump(exclude_none=True)
    if changes.get("max_pages") is not None:
        _check_max_pages(context, changes["max_pages"])
    if changes and source["kind"] != "website":
        raise ValidationFailed(
            "Only websites are crawled again",
            errors=[{"field": next(iter(changes)), "message": "websites only"}],
        )
    if changes:
        async with context.db.as_claims(subject.principal.claims) as conn:
            source = await repository.update_source(conn, source_id, **changes) or source
    return Envelope(data=Source.model_validate(source))


@sources_router.post(
    "/{source_id}/recrawl",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Re-crawl a website source now",
)
async def recrawl(
    chatbot_id: UUID, source_id: UUID, subject: AdminSubject, context: Context
) -> CrawlProgress:
    """Crawl again now: unchanged pages are skipped, changed ones re-indexed, gone ones dropped."""
    subject.require_admin("change knowledge")
    source = await _source(context, subject, chatbot_id, source_id)
    if source["kind"] != "website":
        raise ValidationFailed(
            "Only websites are crawled", errors=[{"field": "source_id", "message": "not a website"}]
        )
    async with context.db.as_claims(subject.principal.claims) as conn:
        crawl = await tasks.start_crawl(conn, source)
    return CrawlProgress.model_validate(crawl)


@sources_router.delete(
    "/{source_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a knowledge source"
)
async def delete_source(
    chatbot_id: UUID, source_id: UUID, subject: AdminSubject, context: Context
) -> None:
    subject.require_admin("change knowledge")
    await _source(context, subject, chatbot_id, source_id)
    async with context.db.as_claims(subject.principal.claims) as conn:
        await repository.delete_source(conn, subject.workspace_id, source_id)
        await service.refresh_summary(conn, chatbot_id)
