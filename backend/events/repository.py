"""Writing and reading domain events. `record` is called by the repository or service that makes
the change, on the same connection, so the event commits (or rolls back) with it."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg.types.json import Jsonb

from backend.db import Connection
from backend.events.types import EventType


async def record(
    conn: Connection,
    *,
    workspace_id: UUID,
    type: EventType,
    subject_id: UUID | None = None,
    payload: dict[str, Any] | None = None,
) -> int:
    """Store one event in the caller's transaction; returns its id (increasing, for readers that
    keep a cursor)."""
    cur = await conn.execute(
        "insert into public.events (workspace_id, type, subject_id, payload)"
        " values (%s, %s, %s, %s) returning id",
        (workspace_id, str(type), subject_id, Jsonb(payload or {})),
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row["id"])


def recording(change: sql.Composable, type: EventType, payload: str) -> sql.Composed:
    """`change` (an insert or update `returning` at least `id` and `workspace_id`) and, in the
    same statement, one event per row it changed, about that row: for changes on a hot path,
    where `record` would be one statement more. The caller ends the statement with its own
    `select`, which may read the changed rows as `changed`. `payload` is a jsonb expression
    over them."""
    return (
        sql.SQL("with changed as (")
        + change
        + sql.SQL(
            "), event as (insert into public.events (workspace_id, type, subject_id, payload)"
            f" select workspace_id, '{type}', id, {payload} from changed)"
        )
    )


async def list_for_subject(conn: Connection, subject_id: UUID) -> list[dict[str, Any]]:
    """The events about one thing, oldest first."""
    cur = await conn.execute(
        "select id, workspace_id, type, subject_id, payload, created_at from public.events"
        " where subject_id = %s order by id",
        (subject_id,),
    )
    return list(await cur.fetchall())


async def list_since(
    conn: Connection, *, after_id: int, types: list[EventType] | None = None, limit: int = 500
) -> list[dict[str, Any]]:
    """Events after a reader's cursor, oldest first, optionally of some kinds only."""
    names = [str(t) for t in types] if types else None
    cur = await conn.execute(
        "select id, workspace_id, type, subject_id, payload, created_at from public.events"
        " where id > %(after)s and (%(names)s::text[] is null or type = any(%(names)s::text[]))"
        " order by id limit %(limit)s",
        {"after": after_id, "names": names, "limit": limit},
    )
    return list(await cur.fetchall())
