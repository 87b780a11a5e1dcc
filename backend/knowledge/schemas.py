from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from backend.kit.schemas import Envelope


class CrawlRequest(BaseModel):
    """`POST /api/chat/crawl` as documented."""

    chatbot_id: UUID
    url: HttpUrl
    max_pages: int = Field(default=10, ge=1)


class CrawlStarted(BaseModel):
    success: bool  # false when the crawl failed: `error` says why, in words
    pages_crawled: int
    content_extracted: int  # characters of text extracted
    crawl_id: UUID
    source_id: UUID
    state: str
    error: str | None = None


class CrawlProgress(BaseModel):
    id: UUID
    chatbot_id: UUID
    source_id: UUID
    state: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    max_pages: int
    pages_found: int
    pages_fetched: int
    pages_unchanged: int
    pages_skipped: int
    pages_failed: int
    bytes: int
    content_extracted: int
    current_url: str | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class Source(BaseModel):
    id: UUID
    chatbot_id: UUID
    kind: str
    title: str
    url: str | None
    max_pages: int
    refresh: str
    status: str
    error: str | None
    pages: int
    chunks: int
    last_crawled_at: datetime | None
    created_at: datetime


class SourceAdded(Envelope[Source]):
    """A source added; or, `duplicate: true`, the one that already held exactly this content."""

    duplicate: bool = False
    message: str | None = None


class TextSourceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=300)
    text: str = Field(min_length=1, max_length=500_000)


class SourceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh: Literal["manual", "daily", "weekly"] | None = None
    max_pages: int | None = Field(default=None, ge=1)
