"""A chatbot's knowledge sources as admins manage them: websites and their crawls, pasted text and
uploaded files, each source's re-crawl schedule.

A crawl goes `queued` → `running` → `succeeded` | `failed` | `cancelled`. Small crawls (up to
SYNCHRONOUS_CRAWL_PAGES pages) run before the answer; larger ones, re-crawls and scheduled ones
run as a job (tasks.run_crawl). Cancelling a queued crawl ends it at once; a running one is
asked to stop, and stops after the page it is reading, keeping what it indexed.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from backend.auth.subjects import AuthSubject, User
from backend.business import repository as business
from backend.chatbots import service as chatbots
from backend.config import Settings
from backend.context import AppContext
from backend.db import Connection
from backend.errors import NotFound, ValidationFailed
from backend.knowledge import repository, service, tasks
from backend.knowledge.extract import UNKNOWN_TYPES, Document, ExtractionError, extract, file_type
from backend.knowledge.schemas import CrawlRequest, SourceUpdate

# Up to this many pages the documented call waits for the crawl and answers with its result.
SYNCHRONOUS_CRAWL_PAGES = 10


class CrawlNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Crawl not found")


class SourceNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Knowledge source not found")


def _check_max_pages(settings: Settings, max_pages: int) -> None:
    if max_pages > settings.crawl_max_pages:
        raise ValidationFailed(
            f"max_pages may be at most {settings.crawl_max_pages} on this plan",
            errors=[{"field": "max_pages", "message": f"at most {settings.crawl_max_pages}"}],
        )


# -- crawls -------------------------------------------------------------------------------------


async def crawl_website(
    context: AppContext, subject: AuthSubject[User], data: CrawlRequest
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A new website source and its first crawl (source, crawl). A small crawl has run when
    this returns; a larger one is queued. The source and the crawl are committed before a
    small crawl runs: it writes its progress in transactions of its own."""
    subject.require_admin("add knowledge")
    _check_max_pages(context.settings, data.max_pages)
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
    return source, crawl


async def crawl(conn: Connection, workspace_id: UUID, crawl_id: UUID) -> dict[str, Any]:
    found = await repository.get_crawl(conn, workspace_id, crawl_id)
    if found is None:
        raise CrawlNotFound()
    return found


async def cancel_crawl(
    conn: Connection, subject: AuthSubject[User], crawl_id: UUID
) -> dict[str, Any]:
    """Stop a crawl: what it indexed so far stays. A finished crawl is left as it is."""
    subject.require_admin("cancel crawls")
    found = await crawl(conn, subject.workspace_id, crawl_id)
    if found["state"] == "queued":
        return await _updated_crawl(conn, crawl_id, state="cancelled", cancel_requested=True)
    if found["state"] == "running":
        return await _updated_crawl(conn, crawl_id, cancel_requested=True)
    return found


async def _updated_crawl(conn: Connection, crawl_id: UUID, **changes: Any) -> dict[str, Any]:
    updated = await repository.update_crawl(conn, crawl_id, **changes)
    assert updated is not None  # read in this transaction just before
    return updated


async def recrawl(
    conn: Connection, subject: AuthSubject[User], chatbot_id: UUID, source_id: UUID
) -> dict[str, Any]:
    """Crawl a website source again now, as a job."""
    subject.require_admin("change knowledge")
    found = await source(conn, subject.workspace_id, chatbot_id, source_id)
    if found["kind"] != "website":
        raise ValidationFailed(
            "Only websites are crawled", errors=[{"field": "source_id", "message": "not a website"}]
        )
    return await tasks.start_crawl(conn, found)


# -- sources ------------------------------------------------------------------------------------


async def source(
    conn: Connection, workspace_id: UUID, chatbot_id: UUID, source_id: UUID
) -> dict[str, Any]:
    found = await repository.get_source(conn, workspace_id, source_id)
    if found is None or found["chatbot_id"] != chatbot_id:
        raise SourceNotFound()
    return found


async def list_sources(
    conn: Connection, workspace_id: UUID, chatbot_id: UUID
) -> list[dict[str, Any]]:
    await chatbots.get(conn, workspace_id, chatbot_id)
    return await repository.list_sources(conn, workspace_id, chatbot_id)


async def add_text(
    context: AppContext, subject: AuthSubject[User], chatbot_id: UUID, *, title: str, text: str
) -> tuple[dict[str, Any], bool]:
    """Pasted text (Markdown headings help it chunk well); see `_add_document`."""
    subject.require_admin("add knowledge")
    document = Document(
        url=None, title=title, text=text, language=None, content_type="text/markdown"
    )
    return await _add_document(context, subject, chatbot_id, "text", document)


async def add_file(
    context: AppContext,
    subject: AuthSubject[User],
    chatbot_id: UUID,
    body: bytes,
    *,
    filename: str | None,
    declared: str | None,
    title: str | None,
) -> tuple[dict[str, Any], bool]:
    """An uploaded file's text; see `_add_document`."""
    subject.require_admin("add knowledge")
    document = _file_document(body, filename=filename, declared=declared, title=title)
    return await _add_document(context, subject, chatbot_id, "file", document)


def _file_document(
    body: bytes, *, filename: str | None, declared: str | None, title: str | None
) -> Document:
    """The text of an uploaded file. Its type is read from its content type, or, when that says
    nothing (`application/octet-stream`, curl's default), from its name and its content."""
    content_type = file_type(body, filename=filename, declared=declared)
    if content_type is None:
        declared_type = (declared or "").split(";")[0].strip().lower()
        message = (
            f"Files of type '{declared_type}' cannot be read"
            if declared_type not in UNKNOWN_TYPES
            else f"'{filename or 'The file'}' is neither PDF, HTML, Markdown nor text"
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
    return Document(
        url=None,
        title=title or document.title or (filename or "Upload"),
        text=document.text,
        language=document.language,
        content_type=document.content_type,
    )


async def _add_document(
    context: AppContext,
    subject: AuthSubject[User],
    chatbot_id: UUID,
    kind: str,
    document: Document,
) -> tuple[dict[str, Any], bool]:
    """A new source of this document, indexed at once and queued for embedding; or, when the
    bot has a source of this kind with exactly this text already, that one (so sending the same
    file again, or retrying an upload, adds nothing). The source, and whether it was there."""
    async with context.db.as_claims(subject.principal.claims) as conn:
        await chatbots.get(conn, subject.workspace_id, chatbot_id)
        existing = await service.same_document(conn, chatbot_id, kind, document)
        if existing is not None:
            return existing, True
        config = await business.get_ai_config(conn, subject.workspace_id)
        added = await service.add_text_source(
            conn,
            workspace_id=subject.workspace_id,
            chatbot_id=chatbot_id,
            kind=kind,
            title=document.title,
            documents=[document],
            language=config["language"],
        )
        await service.refresh_summary(conn, chatbot_id)
        await tasks.enqueue(conn, tasks.embed, source_id=str(added["id"]))
    return added, False


async def update_source(
    conn: Connection,
    settings: Settings,
    subject: AuthSubject[User],
    chatbot_id: UUID,
    source_id: UUID,
    data: SourceUpdate,
) -> dict[str, Any]:
    """How often a website is crawled again, and how far; other sources have no schedule."""
    subject.require_admin("change knowledge")
    found = await source(conn, subject.workspace_id, chatbot_id, source_id)
    changes = data.model_dump(exclude_none=True)
    if changes.get("max_pages") is not None:
        _check_max_pages(settings, changes["max_pages"])
    if changes and found["kind"] != "website":
        raise ValidationFailed(
            "Only websites are crawled again",
            errors=[{"field": next(iter(changes)), "message": "websites only"}],
        )
    if not changes:
        return found
    return await repository.update_source(conn, source_id, **changes) or found


async def delete_source(
    conn: Connection, subject: AuthSubject[User], chatbot_id: UUID, source_id: UUID
) -> None:
    subject.require_admin("change knowledge")
    await source(conn, subject.workspace_id, chatbot_id, source_id)
    await repository.delete_source(conn, subject.workspace_id, source_id)
    await service.refresh_summary(conn, chatbot_id)
