"""SQL of the public widget. The chatbot id is public: a bot and what it shows visitors are read
as the login role before the workspace is known; the rest runs under the workspace's claims."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from backend.db import Connection, insert_sql
from backend.seed import DEMO_EMAIL


async def public_bot(conn: Connection, chatbot_id: UUID) -> dict[str, Any] | None:
    """An active bot with the forms and FAQs its widget offers."""
    cur = await conn.execute(
        """
        select b.id, b.workspace_id, b.name, b.theme, b.first_message, b.placeholder_text,
               b.allowed_domains,
               coalesce((select json_agg(json_build_object(
                           'id', f.id, 'name', f.name, 'title', f.title,
                           'description', f.description, 'fields', f.fields,
                           'submit_message', f.submit_message) order by f.created_at, f.id)
                         from public.chatbot_forms f
                         where f.chatbot_id = b.id and f.is_active), '[]') as forms,
               coalesce((select json_agg(json_build_object(
                           'id', q.id, 'question', q.question, 'answer', q.answer,
                           'category', q.category) order by q.created_at, q.id)
                         from public.chatbot_faqs q
                         where q.chatbot_id = b.id and q.is_active), '[]') as faqs
        from public.chatbots b
        where b.id = %s and b.is_active
        """,
        (chatbot_id,),
    )
    return await cur.fetchone()


async def bot_access(conn: Connection, chatbot_id: UUID) -> dict[str, Any] | None:
    """What deciding a visitor's request needs of an active bot: its workspace and sites."""
    cur = await conn.execute(
        "select id, workspace_id, allowed_domains, theme ->> 'avatar' as avatar"
        " from public.chatbots where id = %s and is_active",
        (chatbot_id,),
    )
    return await cur.fetchone()


async def bot_workspace(conn: Connection, chatbot_id: UUID) -> UUID | None:
    """The workspace of a bot, active or not, when the claims may see it."""
    cur = await conn.execute(
        "select workspace_id from public.chatbots where id = %s", (chatbot_id,)
    )
    row = await cur.fetchone()
    return row["workspace_id"] if row else None


async def active_form(conn: Connection, form_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select f.*, b.allowed_domains from public.chatbot_forms f"
        " join public.chatbots b on b.id = f.chatbot_id"
        " where f.id = %s and f.is_active and b.is_active",
        (form_id,),
    )
    return await cur.fetchone()


async def add_submission(conn: Connection, values: dict[str, Any]) -> UUID:
    values = {**values, "submitted_data": json.dumps(values["submitted_data"])}
    cur = await conn.execute(insert_sql("form_submissions", values, returning="id"), values)
    row = await cur.fetchone()
    assert row is not None
    return UUID(str(row["id"]))


async def demo_bot(conn: Connection) -> dict[str, Any] | None:
    """The first active chatbot of the demo account's workspace (see backend/seed.py)."""
    cur = await conn.execute(
        """
        select b.id, b.name from public.chatbots b
        join public.workspaces w on w.id = b.workspace_id
        join auth.users u on u.id = w.created_by
        where u.email = %s and b.is_active
        order by b.created_at, b.id limit 1
        """,
        (DEMO_EMAIL,),
    )
    return await cur.fetchone()


# -- the identity verification secret ----------------------------------------------------------


async def identity_secret(conn: Connection, workspace_id: UUID) -> str | None:
    """The workspace's identity secret, encrypted."""
    cur = await conn.execute(
        "select encrypted_identity_secret from public.widget_settings where workspace_id = %s",
        (workspace_id,),
    )
    row = await cur.fetchone()
    return row["encrypted_identity_secret"] if row else None


async def store_identity_secret(conn: Connection, workspace_id: UUID, encrypted: str) -> None:
    await conn.execute(
        "insert into public.widget_settings (workspace_id, encrypted_identity_secret)"
        " values (%s, %s) on conflict (workspace_id)"
        " do update set encrypted_identity_secret = excluded.encrypted_identity_secret",
        (workspace_id, encrypted),
    )


async def identity_secrets_for_update(conn: Connection) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "select workspace_id, encrypted_identity_secret from public.widget_settings"
        " where encrypted_identity_secret is not null for update"
    )
    return await cur.fetchall()
