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

from typing import Any
from uuid import UUID

import structlog
from psycopg import sql

from backend.db import Database

log = structlog.get_logger(__name__)

PREFIX = "knowledge_chunks_vectors_"


def index_name(chatbot_id: UUID) -> str:
    return f"{PREFIX}{chatbot_id.hex}"  # 57 characters: within PostgreSQL's 63


async def ensure(db: Database, chatbot_id: UUID, *, min_chunks: int) -> str:
    """Build the bot's own index if it is large enough and has none (or an invalid one, left by
    a build that died); what was done: "built", "present", "small" or "busy" (another worker
    is building it)."""
    name = index_name(chatbot_id)
    async with db.pool.connection() as conn:
        await conn.set_autocommit(True)  # CREATE INDEX CONCURRENTLY cannot run in a transaction
        try:
            lock = await (
                await conn.execute("select pg_try_advisory_lock(hashtext(%s)) as ok", (name,))
            ).fetchone()
            if not (lock and lock["ok"]):
                return "busy"
            try:
                return await _ensure(conn, chatbot_id, name, min_chunks)
            finally:
                await conn.execute("select pg_advisory_unlock(hashtext(%s))", (name,))
        finally:
            await conn.set_autocommit(False)


async def _ensure(conn: Any, chatbot_id: UUID, name: str, min_chunks: int) -> str:
    embedded = await (
        await conn.execute(
            "select count(*) as n from (select 1 from public.knowledge_chunks"
            " where chatbot_id = %s and embedding is not null limit %s) c",
            (chatbot_id, min_chunks + 1),
        )
    ).fetchone()
    if embedded["n"] <= min_chunks:
        return "small"
    state = await (
        await conn.execute(
            "select i.indisvalid as valid from pg_index i join pg_class c on c.oid = i.indexrelid"
            " where c.relname = %s and c.relnamespace = 'public'::regnamespace",
            (name,),
        )
    ).fetchone()
    if state is not None and state["valid"]:
        return "present"
    if state is not None:
        await conn.execute(
            sql.SQL("drop index concurrently if exists public.{}").format(sql.Identifier(name))
        )
    home = await (
        await conn.execute(
            "select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace"
            " where e.extname = 'vector'"
        )
    ).fetchone()
    await conn.execute(
        sql.SQL(
            "create index concurrently if not exists {} on public.knowledge_chunks"
            " using hnsw (embedding {}.vector_cosine_ops) where chatbot_id = {}"
        ).format(
            sql.Identifier(name), sql.Identifier(home["nspname"]), sql.Literal(str(chatbot_id))
        )
    )
    log.info("vector_index_built", chatbot_id=str(chatbot_id), chunks=f">{min_chunks}")
    return "built"


async def drop_orphans(db: Database) -> list[str]:
    """Drop the indexes of bots that no longer exist; their names."""
    async with db.pool.connection() as conn:
        await conn.set_autocommit(True)
        try:
            rows = await (
                await conn.execute(
                    "select c.relname from pg_class c where c.relkind = 'i'"
                    " and c.relnamespace = 'public'::regnamespace and starts_with(c.relname, %s)"
                    " and not exists (select 1 from public.chatbots b"
                    "   where replace(b.id::text, '-', '') = substr(c.relname, %s))",
                    (PREFIX, len(PREFIX) + 1),
                )
            ).fetchall()
            for row in rows:
                await conn.execute(
                    sql.SQL("drop index concurrently if exists public.{}").format(
                        sql.Identifier(row["relname"])
                    )
                )
        finally:
            await conn.set_autocommit(False)
    return [row["relname"] for row in rows]
