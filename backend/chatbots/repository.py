"""SQL for chatbots and their FAQs, forms and actions (under RLS, filtered by workspace)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg.types.json import Jsonb

from backend.db import Connection, insert_sql, set_sql

# The child tables share one shape: (id, workspace_id, chatbot_id, …).
CHILD_TABLES = {"faqs": "chatbot_faqs", "forms": "chatbot_forms", "actions": "chatbot_actions"}
_JSON_COLUMNS = {"theme", "fields", "parameters"}


def _values(row: dict[str, Any]) -> dict[str, Any]:
    return {k: Jsonb(v) if k in _JSON_COLUMNS else v for k, v in row.items()}


async def list_chatbots(
    conn: Connection, workspace_id: UUID, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    cur = await conn.execute(
        "select *, count(*) over () as total from public.chatbots where workspace_id = %s"
        " order by created_at, id limit %s offset %s",
        (workspace_id, limit, offset),
    )
    rows = await cur.fetchall()
    if rows or offset == 0:
        return rows, int(rows[0]["total"]) if rows else 0
    count = await (
        await conn.execute(
            "select count(*) as n from public.chatbots where workspace_id = %s", (workspace_id,)
        )
    ).fetchone()
    return rows, int(count["n"]) if count else 0


async def chatbot_ids(conn: Connection, workspace_id: UUID, only: UUID | None = None) -> list[UUID]:
    """The workspace's chatbots' ids (just `only`, when given and the workspace's)."""
    cur = await conn.execute(
        "select id from public.chatbots where workspace_id = %s and (%s::uuid is null or id = %s)",
        (workspace_id, only, only),
    )
    return [row["id"] for row in await cur.fetchall()]


async def get_chatbot(
    conn: Connection, workspace_id: UUID, chatbot_id: UUID
) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select * from public.chatbots where id = %s and workspace_id = %s",
        (chatbot_id, workspace_id),
    )
    return await cur.fetchone()


async def create_chatbot(
    conn: Connection, workspace_id: UUID, values: dict[str, Any]
) -> dict[str, Any]:
    row_values = _values({"workspace_id": workspace_id, **values})
    cur = await conn.execute(insert_sql("chatbots", row_values, returning="*"), row_values)
    row = await cur.fetchone()
    assert row is not None
    return row


async def update_chatbot(
    conn: Connection, workspace_id: UUID, chatbot_id: UUID, changes: dict[str, Any]
) -> dict[str, Any] | None:
    # (A trigger moves the bot's cache version on when what it answers changes.)
    query = sql.SQL(
        "update public.chatbots set {} where id = %(_id)s and workspace_id = %(_ws)s returning *"
    ).format(set_sql(changes))
    cur = await conn.execute(query, {**_values(changes), "_id": chatbot_id, "_ws": workspace_id})
    return await cur.fetchone()


async def delete_chatbot(conn: Connection, workspace_id: UUID, chatbot_id: UUID) -> bool:
    cur = await conn.execute(
        "delete from public.chatbots where id = %s and workspace_id = %s",
        (chatbot_id, workspace_id),
    )
    return cur.rowcount > 0


# -- FAQs, forms, actions ---------------------------------------------------------------------


async def list_children(
    conn: Connection, kind: str, workspace_id: UUID, chatbot_id: UUID
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f"select * from public.{CHILD_TABLES[kind]} where workspace_id = %s and chatbot_id = %s"
        " order by created_at, id",
        (workspace_id, chatbot_id),
    )
    return await cur.fetchall()


async def create_child(
    conn: Connection, kind: str, workspace_id: UUID, chatbot_id: UUID, values: dict[str, Any]
) -> dict[str, Any]:
    row_values = _values({"workspace_id": workspace_id, "chatbot_id": chatbot_id, **values})
    cur = await conn.execute(insert_sql(CHILD_TABLES[kind], row_values, returning="*"), row_values)
    row = await cur.fetchone()
    assert row is not None
    return row


async def update_child(
    conn: Connection,
    kind: str,
    workspace_id: UUID,
    chatbot_id: UUID,
    child_id: UUID,
    changes: dict[str, Any],
) -> dict[str, Any] | None:
    table = sql.Identifier("public", CHILD_TABLES[kind])
    where = sql.SQL("id = %(_id)s and workspace_id = %(_ws)s and chatbot_id = %(_bot)s")
    keys = {"_id": child_id, "_ws": workspace_id, "_bot": chatbot_id}
    if changes:
        query = sql.SQL("update {} set {} where {} returning *").format(
            table, set_sql(changes), where
        )
    else:
        query = sql.SQL("select * from {} where {}").format(table, where)
    cur = await conn.execute(query, {**_values(changes), **keys})
    return await cur.fetchone()


async def delete_child(
    conn: Connection, kind: str, workspace_id: UUID, chatbot_id: UUID, child_id: UUID
) -> bool:
    cur = await conn.execute(
        f"delete from public.{CHILD_TABLES[kind]}"
        " where id = %s and workspace_id = %s and chatbot_id = %s",
        (child_id, workspace_id, chatbot_id),
    )
    return cur.rowcount > 0


async def action_headers_for_update(conn: Connection) -> list[dict[str, Any]]:
    """Every action's encrypted headers, locked (the key rotation, in a system transaction)."""
    cur = await conn.execute(
        "select id, encrypted_headers from public.chatbot_actions"
        " where encrypted_headers is not null for update"
    )
    return await cur.fetchall()


async def store_action_headers(conn: Connection, action_id: UUID, encrypted: str) -> None:
    await conn.execute(
        "update public.chatbot_actions set encrypted_headers = %s where id = %s",
        (encrypted, action_id),
    )
