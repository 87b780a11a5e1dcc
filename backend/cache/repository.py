"""SQL for the response cache."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from backend.conversations import repository as conversations
from backend.db import Connection


def vector_literal(embedding: list[float]) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in embedding) + "]"


async def find_exact(
    conn: Connection, chatbot_id: UUID, version: int, normalized: str
) -> dict[str, Any] | None:
    cur = await conn.execute(
        "update public.response_cache set hits = hits + 1, last_hit_at = now()"
        " where chatbot_id = %s and cache_version = %s and normalized_question = %s"
        " returning id, answer, citations",
        (chatbot_id, version, normalized),
    )
    return await cur.fetchone()


async def find_similar(
    conn: Connection, chatbot_id: UUID, version: int, embedding: list[float], min_similarity: float
) -> dict[str, Any] | None:
    literal = vector_literal(embedding)
    cur = await conn.execute(
        """
        with nearest as (
          select id, 1 - (embedding <=> %(v)s::vector) as similarity
          from public.response_cache
          where chatbot_id = %(bot)s and cache_version = %(version)s and embedding is not null
            and vector_dims(embedding) = %(dims)s
          order by embedding <=> %(v)s::vector limit 1
        )
        update public.response_cache c set hits = hits + 1, last_hit_at = now()
        from nearest where c.id = nearest.id and nearest.similarity >= %(min)s
        returning c.id, c.answer, c.citations, nearest.similarity
        """,
        {
            "v": literal,
            "bot": chatbot_id,
            "version": version,
            "dims": len(embedding),
            "min": min_similarity,
        },
    )
    return await cur.fetchone()


async def store(
    conn: Connection,
    *,
    workspace_id: UUID,
    chatbot_id: UUID,
    version: int,
    question: str,
    normalized: str,
    answer: str,
    citations: list[dict[str, Any]],
    embedding: list[float] | None,
    channel: str,
) -> None:
    await conn.execute(
        """
        insert into public.response_cache (workspace_id, chatbot_id, cache_version, question,
          normalized_question, answer, citations, embedding, channel)
        values (%s, %s, %s, %s, %s, %s, %s, %s::vector, %s)
        on conflict (chatbot_id, cache_version, normalized_question) do nothing
        """,
        (
            workspace_id,
            chatbot_id,
            version,
            question,
            normalized,
            answer,
            json.dumps(citations),
            vector_literal(embedding) if embedding else None,
            channel,
        ),
    )


async def stats(conn: Connection, workspace_id: UUID) -> dict[str, Any]:
    """Live entries (of each bot's current version), hits, and answers served by channel."""
    cur = await conn.execute(
        """
        select c.channel, count(*) as cached, coalesce(sum(c.hits), 0) as hits
        from public.response_cache c join public.chatbots b on b.id = c.chatbot_id
        where c.workspace_id = %s and c.cache_version = b.cache_version
        group by c.channel
        """,
        (workspace_id,),
    )
    entries = await cur.fetchall()
    answers = await conversations.answers_by_channel(conn, workspace_id)
    cur = await conn.execute(
        """
        select c.question as query, c.hits from public.response_cache c
        join public.chatbots b on b.id = c.chatbot_id
        where c.workspace_id = %s and c.cache_version = b.cache_version and c.hits > 0
        order by c.hits desc, c.question limit 10
        """,
        (workspace_id,),
    )
    top = await cur.fetchall()
    return {"entries": entries, "answers": answers, "top": top}
