"""SQL for knowledge sources, their pages and chunks, and crawls."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import sql

from backend.cache.repository import vector_literal
from backend.db import Connection, insert_sql, set_sql


async def create_source(conn: Connection, values: dict[str, Any]) -> dict[str, Any]:
    cur = await conn.execute(insert_sql("knowledge_sources", values, returning="*"), values)
    row = await cur.fetchone()
    assert row is not None
    return row


async def get_source(
    conn: Connection, workspace_id: UUID, source_id: UUID
) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select * from public.knowledge_sources where id = %s and workspace_id = %s",
        (source_id, workspace_id),
    )
    return await cur.fetchone()


async def list_sources(
    conn: Connection, workspace_id: UUID, chatbot_id: UUID
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "select * from public.knowledge_sources where workspace_id = %s and chatbot_id = %s"
        " order by created_at, id",
        (workspace_id, chatbot_id),
    )
    return await cur.fetchall()


async def inline_source(conn: Connection, chatbot_id: UUID) -> dict[str, Any] | None:
    """The text source that mirrors the chatbot's own `knowledge_base` column."""
    cur = await conn.execute(
        "select * from public.knowledge_sources where chatbot_id = %s and kind = 'text'"
        " and url is null and title = %s",
        (chatbot_id, INLINE_TITLE),
    )
    return await cur.fetchone()


INLINE_TITLE = "Knowledge base"


async def knowledge_base(conn: Connection, chatbot_id: UUID) -> str | None:
    cur = await conn.execute(
        "select knowledge_base from public.chatbots where id = %s", (chatbot_id,)
    )
    row = await cur.fetchone()
    return row["knowledge_base"] if row else None


async def set_knowledge_base(conn: Connection, chatbot_id: UUID, text: str) -> None:
    await conn.execute(
        "update public.chatbots set knowledge_base = %s where id = %s", (text, chatbot_id)
    )


async def summarised_sources(conn: Connection, chatbot_id: UUID) -> list[dict[str, Any]]:
    """The bot's sources but the one mirroring its own text, oldest first."""
    cur = await conn.execute(
        "select id, kind, title, url, status, pages, last_crawled_at"
        " from public.knowledge_sources where chatbot_id = %s"
        " and not (kind = 'text' and url is null and title = %s)"
        " order by created_at, id",
        (chatbot_id, INLINE_TITLE),
    )
    return await cur.fetchall()


async def summarised_pages(
    conn: Connection, chatbot_id: UUID, per_source: int
) -> list[dict[str, Any]]:
    """The first pages (by URL) of each of the bot's websites."""
    cur = await conn.execute(
        """
        select source_id, url, title from (
          select p.source_id, p.url, p.title,
                 row_number() over (partition by p.source_id order by p.url) as n
          from public.knowledge_pages p
          join public.knowledge_sources s on s.id = p.source_id
          where s.chatbot_id = %s and s.kind = 'website' and p.status in ('fetched', 'unchanged')
        ) listed
        where n <= %s
        order by source_id, url
        """,
        (chatbot_id, per_source),
    )
    return await cur.fetchall()


async def update_source(conn: Connection, source_id: UUID, **changes: Any) -> dict[str, Any] | None:
    query = sql.SQL("update public.knowledge_sources set {} where id = %(_id)s returning *").format(
        set_sql(changes)
    )
    cur = await conn.execute(query, {**changes, "_id": source_id})
    return await cur.fetchone()


async def delete_source(conn: Connection, workspace_id: UUID, source_id: UUID) -> bool:
    cur = await conn.execute(
        "delete from public.knowledge_sources where id = %s and workspace_id = %s",
        (source_id, workspace_id),
    )
    return cur.rowcount > 0


async def refresh_counts(conn: Connection, source_id: UUID) -> None:
    await conn.execute(
        """
        update public.knowledge_sources s set
          pages = (select count(*) from public.knowledge_pages p
                   where p.source_id = s.id and p.status in ('fetched', 'unchanged')),
          chunks = (select count(*) from public.knowledge_chunks c where c.source_id = s.id)
        where s.id = %s
        """,
        (source_id,),
    )


# -- pages and chunks -------------------------------------------------------------------------


async def page_validators(
    conn: Connection, source_id: UUID
) -> dict[str, tuple[str | None, str | None, str | None]]:
    cur = await conn.execute(
        "select url, etag, last_modified, content_hash from public.knowledge_pages"
        " where source_id = %s and status in ('fetched', 'unchanged')",
        (source_id,),
    )
    return {
        r["url"]: (r["etag"], r["last_modified"], r["content_hash"]) for r in await cur.fetchall()
    }


async def source_with_content(
    conn: Connection, chatbot_id: UUID, kind: str, content_hash: str
) -> dict[str, Any] | None:
    """A source of `kind` of the bot made of exactly this content (one page of that hash)."""
    cur = await conn.execute(
        "select s.* from public.knowledge_sources s"
        " where s.chatbot_id = %s and s.kind = %s"
        " and exists (select 1 from public.knowledge_pages p"
        "             where p.source_id = s.id and p.content_hash = %s)"
        " and not exists (select 1 from public.knowledge_pages p"
        "                 where p.source_id = s.id and p.content_hash is distinct from %s)"
        " order by s.created_at limit 1",
        (chatbot_id, kind, content_hash, content_hash),
    )
    return await cur.fetchone()


async def upsert_page(conn: Connection, values: dict[str, Any]) -> UUID:
    columns = [c for c in values if c not in {"source_id", "url"}]
    query = sql.SQL("{} ").format(insert_sql("knowledge_pages", values)) + sql.SQL(
        "on conflict (source_id, url) do update set {} returning id"
    ).format(
        sql.SQL(", ").join(
            sql.SQL("{} = excluded.{}").format(sql.Identifier(c), sql.Identifier(c))
            for c in columns
        )
    )
    cur = await conn.execute(query, values)
    row = await cur.fetchone()
    assert row is not None
    return UUID(str(row["id"]))


async def replace_chunks(
    conn: Connection, *, source_id: UUID, page_id: UUID, rows: list[dict[str, Any]]
) -> None:
    """The chunks of one page, replaced by `rows`."""
    await conn.execute(
        "delete from public.knowledge_chunks where source_id = %s and page_id = %s",
        (source_id, page_id),
    )
    if rows:
        async with conn.cursor() as cur:
            await cur.executemany(insert_sql("knowledge_chunks", rows[0]), rows)


async def drop_pages_not_seen(conn: Connection, source_id: UUID, seen: list[str]) -> int:
    """Pages gone from the site since the last crawl go, with their chunks."""
    cur = await conn.execute(
        "delete from public.knowledge_pages where source_id = %s and not (url = any(%s))",
        (source_id, seen),
    )
    return cur.rowcount


async def chunks_without_embedding(
    conn: Connection, source_id: UUID, limit: int
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "select id, title, heading, content from public.knowledge_chunks"
        " where source_id = %s and embedding is null order by id limit %s",
        (source_id, limit),
    )
    return await cur.fetchall()


async def set_embeddings(
    conn: Connection, chatbot_id: UUID, pairs: list[tuple[UUID, list[float]]]
) -> None:
    async with conn.cursor() as cur:
        await cur.executemany(
            "update public.knowledge_chunks set embedding = %s::vector where id = %s",
            [(vector_literal(vector), chunk_id) for chunk_id, vector in pairs],
        )
    # Vectors change what retrieval finds: the bot's cached answers (and the engine's view of
    # its knowledge) move on.
    await conn.execute(
        "update public.chatbots set cache_version = cache_version + 1 where id = %s", (chatbot_id,)
    )


# -- crawls -----------------------------------------------------------------------------------


async def create_crawl(conn: Connection, values: dict[str, Any]) -> dict[str, Any]:
    cur = await conn.execute(insert_sql("crawls", values, returning="*"), values)
    row = await cur.fetchone()
    assert row is not None
    return row


async def get_crawl(conn: Connection, workspace_id: UUID, crawl_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select * from public.crawls where id = %s and workspace_id = %s", (crawl_id, workspace_id)
    )
    return await cur.fetchone()


async def update_crawl(conn: Connection, crawl_id: UUID, **changes: Any) -> dict[str, Any] | None:
    query = sql.SQL("update public.crawls set {} where id = %(_id)s returning *").format(
        set_sql(changes)
    )
    cur = await conn.execute(query, {**changes, "_id": crawl_id})
    return await cur.fetchone()


async def cancel_requested(conn: Connection, crawl_id: UUID) -> bool:
    cur = await conn.execute(
        "select cancel_requested from public.crawls where id = %s", (crawl_id,)
    )
    row = await cur.fetchone()
    return bool(row and row["cancel_requested"])


async def crawl_by_id(conn: Connection, crawl_id: UUID) -> dict[str, Any] | None:
    """Any workspace's crawl (for the job that runs it)."""
    cur = await conn.execute("select * from public.crawls where id = %s", (crawl_id,))
    return await cur.fetchone()


async def workspace_language(conn: Connection, workspace_id: UUID) -> str | None:
    """The language the workspace's AI configuration names, if it has one."""
    cur = await conn.execute(
        "select language from public.ai_configs where workspace_id = %s", (workspace_id,)
    )
    row = await cur.fetchone()
    return row["language"] if row else None


async def mark_page_unchanged(conn: Connection, source_id: UUID, url: str) -> None:
    await conn.execute(
        "update public.knowledge_pages set status = 'unchanged', fetched_at = now()"
        " where source_id = %s and url = %s",
        (source_id, url),
    )


async def sources_due(conn: Connection) -> list[dict[str, Any]]:
    """Every workspace's website sources whose daily or weekly re-crawl is due."""
    cur = await conn.execute(
        """
        select s.id, s.workspace_id, s.chatbot_id, s.max_pages from public.knowledge_sources s
        where s.kind = 'website' and s.refresh <> 'manual' and s.status <> 'crawling'
          and (s.last_crawled_at is null or s.last_crawled_at < now() - case s.refresh
                 when 'daily' then interval '1 day' else interval '7 days' end)
        """
    )
    return await cur.fetchall()


# -- embedding --------------------------------------------------------------------------------


async def embedding_target(conn: Connection, source_id: UUID) -> dict[str, Any] | None:
    """A source's workspace and bot, with the workspace's OpenAI key and its status."""
    cur = await conn.execute(
        "select s.workspace_id, s.chatbot_id, o.secrets ->> 'api_key' as encrypted_api_key,"
        " o.status from public.knowledge_sources s"
        " left join public.connections o on o.workspace_id = s.workspace_id"
        " and o.provider = 'openai' and o.account = ''"
        " where s.id = %s",
        (source_id,),
    )
    return await cur.fetchone()


async def record_embedding_usage(
    conn: Connection,
    *,
    workspace_id: UUID,
    chatbot_id: UUID,
    model: str,
    tokens: int,
    cost: Any,
    price_version: Any,
) -> None:
    await conn.execute(
        "insert into public.token_usage (workspace_id, chatbot_id, service, channel, model,"
        " prompt_tokens, total_tokens, cost, price_version)"
        " values (%s, %s, 'OPENAI_EMBEDDING', 'KNOWLEDGE', %s, %s, %s, %s, %s)",
        (workspace_id, chatbot_id, model, tokens, tokens, cost, price_version),
    )


async def clear_error_starting(conn: Connection, source_id: UUID, prefix: str) -> None:
    """Take the source's error off if it starts with `prefix`."""
    await conn.execute(
        "update public.knowledge_sources set error = null where id = %s and error like %s",
        (source_id, f"{prefix}%"),
    )


async def sources_with_error_starting(conn: Connection, prefix: str) -> list[dict[str, Any]]:
    """Every workspace's sources whose error starts with `prefix`."""
    cur = await conn.execute(
        "select id, workspace_id from public.knowledge_sources where error like %s",
        (f"{prefix}%",),
    )
    return await cur.fetchall()


async def lock_document(conn: Connection, chatbot_id: UUID, digest: str) -> None:
    """Hold a lock on (bot, text) to the end of the transaction."""
    await conn.execute(
        "select pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{chatbot_id}:{digest}",)
    )


# -- retrieval --------------------------------------------------------------------------------


async def search_text(
    conn: Connection,
    chatbot_id: UUID,
    *,
    expression: str,
    ts_config: str,
    limit: int,
    ranked: int,
    skip: list[UUID] | None = None,
) -> list[dict[str, Any]]:
    """Full-text candidates, best first, for a tsquery `expression` of plain words, each
    stemmed in the bot's language or taken as written; at most `ranked` matches are ranked."""
    cur = await conn.execute(
        "select * from public.search_knowledge_text(%(bot)s,"
        " to_tsquery(%(cfg)s::regconfig, %(q)s) || to_tsquery('simple', %(q)s),"
        " %(limit)s, %(ranked)s, %(skip)s)",
        {
            "bot": chatbot_id,
            "cfg": ts_config,
            "q": expression,
            "limit": limit,
            "ranked": ranked,
            "skip": skip or [],
        },
    )
    return await cur.fetchall()


# HNSW candidates looked at per search: at least the candidates we keep (pgvector's default,
# 40, is fewer). On a bot's own index, recall@10 0.992 at 50 and 1.000 at 100, for 30% more
# time per search (bench/retrieval, a 133k-chunk bot).
HNSW_EF_SEARCH = 40


async def search_vector(
    conn: Connection, chatbot_id: UUID, embedding: list[float], *, limit: int
) -> list[dict[str, Any]]:
    """Nearest chunks of one bot by cosine distance: through the bot's own HNSW index when it
    has one (backend/knowledge/vector_index.py), exactly otherwise."""
    await conn.execute(
        "select set_config('hnsw.ef_search', %s, true)", (str(max(limit, HNSW_EF_SEARCH)),)
    )
    cur = await conn.execute(
        "select * from public.search_knowledge_vectors(%s, %s::vector, %s)",
        (chatbot_id, vector_literal(embedding), limit),
    )
    return await cur.fetchall()


async def extent(conn: Connection, chatbot_id: UUID) -> dict[str, bool]:
    cur = await conn.execute(
        "select exists (select 1 from public.knowledge_chunks where chatbot_id = %(bot)s) as chunks,"
        " exists (select 1 from public.knowledge_chunks where chatbot_id = %(bot)s"
        "         and embedding is not null) as vectors",
        {"bot": chatbot_id},
    )
    row = await cur.fetchone()
    assert row is not None
    return {"chunks": bool(row["chunks"]), "vectors": bool(row["vectors"])}


async def term_counts(
    conn: Connection, chatbot_id: UUID, *, ts_config: str, expressions: list[str], cap: int
) -> tuple[int, list[int]]:
    """The bot's chunks, and how many of them hold each expression, each counted up to `cap`."""
    cur = await conn.execute(
        "select public.knowledge_term_counts(%s, %s::regconfig, %s, %s) as counts",
        (chatbot_id, ts_config, expressions, cap),
    )
    row = await cur.fetchone()
    counts = (row or {}).get("counts") or [0] * (len(expressions) + 1)
    return counts[0], counts[1:]


async def term_matches(
    conn: Connection, chatbot_id: UUID, ids: list[Any], *, ts_config: str, expressions: list[str]
) -> dict[Any, tuple[list[bool], list[bool]]]:
    """For each chunk of `ids`: which expressions its text holds, and which its title or
    heading."""
    cur = await conn.execute(
        "select * from public.knowledge_term_matches(%s, %s, %s::regconfig, %s)",
        (chatbot_id, ids, ts_config, expressions),
    )
    return {row["id"]: (row["in_text"], row["in_title"]) for row in await cur.fetchall()}


async def page_titles(conn: Connection, chatbot_id: UUID, limit: int) -> list[str]:
    """Titles of the bot's first pages (what its knowledge is about, to tell a visitor)."""
    cur = await conn.execute(
        "select p.title from public.knowledge_pages p"
        " join public.knowledge_sources s on s.id = p.source_id"
        " where s.chatbot_id = %s and p.status in ('fetched', 'unchanged') and p.title <> ''"
        " order by s.created_at, p.url limit %s",
        (chatbot_id, limit),
    )
    return [row["title"] for row in await cur.fetchall()]


# -- bots' own vector indexes (see vector_index.py); on an autocommit connection ---------------


async def try_lock(conn: Connection, name: str) -> bool:
    """A session-level advisory lock on `name`, if no other session holds it."""
    cur = await conn.execute("select pg_try_advisory_lock(hashtext(%s)) as ok", (name,))
    row = await cur.fetchone()
    return bool(row and row["ok"])


async def unlock(conn: Connection, name: str) -> None:
    await conn.execute("select pg_advisory_unlock(hashtext(%s))", (name,))


async def embedded_chunks(conn: Connection, chatbot_id: UUID, *, up_to: int) -> int:
    """How many of the bot's chunks have an embedding, counted up to `up_to`."""
    cur = await conn.execute(
        "select count(*) as n from (select 1 from public.knowledge_chunks"
        " where chatbot_id = %s and embedding is not null limit %s) c",
        (chatbot_id, up_to),
    )
    row = await cur.fetchone()
    return int(row["n"]) if row else 0


async def index_valid(conn: Connection, name: str) -> bool | None:
    """Whether the index is valid; None when there is none."""
    cur = await conn.execute(
        "select i.indisvalid as valid from pg_index i join pg_class c on c.oid = i.indexrelid"
        " where c.relname = %s and c.relnamespace = 'public'::regnamespace",
        (name,),
    )
    row = await cur.fetchone()
    return None if row is None else bool(row["valid"])


async def drop_index(conn: Connection, name: str) -> None:
    await conn.execute(
        sql.SQL("drop index concurrently if exists public.{}").format(sql.Identifier(name))
    )


async def create_vector_index(conn: Connection, name: str, chatbot_id: UUID) -> None:
    """An HNSW index of the bot's own chunks (in whichever schema holds pgvector)."""
    cur = await conn.execute(
        "select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace"
        " where e.extname = 'vector'"
    )
    home = await cur.fetchone()
    assert home is not None
    await conn.execute(
        sql.SQL(
            "create index concurrently if not exists {} on public.knowledge_chunks"
            " using hnsw (embedding {}.vector_cosine_ops) where chatbot_id = {}"
        ).format(
            sql.Identifier(name), sql.Identifier(home["nspname"]), sql.Literal(str(chatbot_id))
        )
    )


async def orphan_vector_indexes(conn: Connection, prefix: str) -> list[str]:
    """The names of the bots' indexes (`prefix` + a bot's id) whose bot no longer exists."""
    cur = await conn.execute(
        "select c.relname from pg_class c where c.relkind = 'i'"
        " and c.relnamespace = 'public'::regnamespace and starts_with(c.relname, %s)"
        " and not exists (select 1 from public.chatbots b"
        "   where replace(b.id::text, '-', '') = substr(c.relname, %s))",
        (prefix, len(prefix) + 1),
    )
    return [row["relname"] for row in await cur.fetchall()]
