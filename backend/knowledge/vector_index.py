"""HNSW indexes of large bots' own chunks.

All bots share `knowledge_chunks`. One HNSW index over every bot would have to be filtered by bot
while it is walked: a large bot's nearest chunks are found only by walking far, recall drops, and
a bot's small share of the graph makes it slower still. So vector search never uses a shared
index: a bot up to `settings.vector_index_min_chunks` embedded chunks is searched exactly (its rows by the
chatbot index, then sorted by distance: a few milliseconds at that size), and a larger one gets a
partial HNSW index `WHERE chatbot_id = '<its id>'`, built here without blocking writes (CREATE INDEX
CONCURRENTLY). The search states the bot's id as a literal, so the planner picks the bot's own
index once it is valid and the exact scan until then.
"""

from __future__ import annotations

from uuid import UUID

import structlog

from backend.db import Connection, Database
from backend.knowledge import repository

log = structlog.get_logger(__name__)

PREFIX = "knowledge_chunks_vectors_"


def index_name(chatbot_id: UUID) -> str:
    return f"{PREFIX}{chatbot_id.hex}"  # 57 characters: within PostgreSQL's 63


async def ensure(db: Database, chatbot_id: UUID, *, min_chunks: int) -> str:
    """Build the bot's own index if it is large enough and has none (or an invalid one, left by
    a build that died); what was done: "built", "present", "small" or "busy" (another worker
    is building it)."""
    name = index_name(chatbot_id)
    async with db.autocommit() as conn:  # CREATE INDEX CONCURRENTLY cannot run in a transaction
        if not await repository.try_lock(conn, name):
            return "busy"
        try:
            return await _ensure(conn, chatbot_id, name, min_chunks)
        finally:
            await repository.unlock(conn, name)


async def _ensure(conn: Connection, chatbot_id: UUID, name: str, min_chunks: int) -> str:
    if await repository.embedded_chunks(conn, chatbot_id, up_to=min_chunks + 1) <= min_chunks:
        return "small"
    valid = await repository.index_valid(conn, name)
    if valid:
        return "present"
    if valid is not None:
        await repository.drop_index(conn, name)
    await repository.create_vector_index(conn, name, chatbot_id)
    log.info("vector_index_built", chatbot_id=str(chatbot_id), chunks=f">{min_chunks}")
    return "built"


async def drop_orphans(db: Database) -> list[str]:
    """Drop the indexes of bots that no longer exist; their names."""
    async with db.autocommit() as conn:
        names = await repository.orphan_vector_indexes(conn, PREFIX)
        for name in names:
            await repository.drop_index(conn, name)
    return names
