from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class ChannelStats(BaseModel):
    hitRate: int
    cached: int


class TopQuery(BaseModel):
    query: str
    hits: int


class CacheStats(BaseModel):
    totalCached: int
    totalHits: int
    hitRate: int
    byChannel: dict[str, ChannelStats]
    topQueries: list[TopQuery]


class CacheWarm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queries: list[str] = Field(min_length=1, max_length=100)
    # Which bot to warm; may be left out when the workspace has exactly one.
    chatbotId: UUID | None = None


class CacheWarmQueued(BaseModel):
    chatbotId: UUID
    queued: int
