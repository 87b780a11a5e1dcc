from __future__ import annotations

from typing import Any
from uuid import UUID

from backend.db import Connection

DEFAULT_AI_CONFIG: dict[str, Any] = {
    "custom_prompt": "",
    "tone": "friendly",
    "language": "en",
    "prohibited_topics": [],
    "fallback_message": "Sorry, I can't answer that right now. Let me connect you with a human.",
}


async def get_ai_config(conn: Connection, workspace_id: UUID) -> dict[str, Any]:
    cur = await conn.execute(
        "select * from public.ai_configs where workspace_id = %s", (workspace_id,)
    )
    return await cur.fetchone() or DEFAULT_AI_CONFIG


async def save_ai_config(
    conn: Connection, workspace_id: UUID, values: dict[str, Any]
) -> dict[str, Any]:
    cur = await conn.execute(
        """
        insert into public.ai_configs
          (workspace_id, custom_prompt, tone, language, prohibited_topics, fallback_message)
        values (%(ws)s, %(custom_prompt)s, %(tone)s, %(language)s, %(prohibited_topics)s,
                %(fallback_message)s)
        on conflict (workspace_id) do update set
          custom_prompt = excluded.custom_prompt, tone = excluded.tone,
          language = excluded.language, prohibited_topics = excluded.prohibited_topics,
          fallback_message = excluded.fallback_message
        returning *
        """,
        {"ws": workspace_id, **values},
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def profile(conn: Connection, workspace_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select id, name, email, phone, industry, time_zone, country, created_at"
        " from public.workspaces"
        " where id = %s",
        (workspace_id,),
    )
    return await cur.fetchone()


async def phone_country(conn: Connection, workspace_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select country, phone from public.workspaces where id = %s", (workspace_id,)
    )
    return await cur.fetchone()


async def known_time_zone(conn: Connection, name: str) -> bool:
    cur = await conn.execute(
        "select exists (select 1 from pg_timezone_names where name = %s) as known", (name,)
    )
    row = await cur.fetchone()
    return bool(row and row["known"])
