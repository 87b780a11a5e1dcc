"""SQL of e-mails. Rows are written under a backend principal's claims (the policies let no
member write them) and read by owners and admins under their own; `locate` and
`contact_target` run as the login role, before the workspace is known or to read auth.users."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import sql

from backend.db import Connection, insert_sql

_SUMMARY = (
    "id, kind, to_email, from_name, subject, status, provider_id, error, attempts, chatbot_id,"
    " created_at, sent_at"
)


async def insert(conn: Connection, values: dict[str, Any]) -> dict[str, Any] | None:
    """The new e-mail; None when its idempotency key was used before in the workspace."""
    query = insert_sql("emails", values) + sql.SQL(
        " on conflict (workspace_id, idempotency_key) do nothing returning *"
    )
    cur = await conn.execute(query, values)
    return await cur.fetchone()


async def by_idempotency_key(
    conn: Connection, workspace_id: UUID, key: str
) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select * from public.emails where workspace_id = %s and idempotency_key = %s",
        (workspace_id, key),
    )
    return await cur.fetchone()


async def get(conn: Connection, workspace_id: UUID, email_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select * from public.emails where id = %s and workspace_id = %s",
        (email_id, workspace_id),
    )
    return await cur.fetchone()


_FILTER = (
    "workspace_id = %(ws)s"
    " and (%(status)s::text is null or status = %(status)s)"
    " and (%(kind)s::text is null or kind = %(kind)s)"
)


async def page(
    conn: Connection,
    workspace_id: UUID,
    *,
    status: str | None,
    kind: str | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """The workspace's e-mails, newest first, and how many match in all."""
    params = {"ws": workspace_id, "status": status, "kind": kind}
    cur = await conn.execute(
        f"select {_SUMMARY}, count(*) over () as total from public.emails where {_FILTER}"
        " order by created_at desc, id desc limit %(limit)s offset %(offset)s",
        {**params, "limit": limit, "offset": offset},
    )
    rows = await cur.fetchall()
    if rows:
        return rows, int(rows[0]["total"])
    # Past the last page the window function has no row to count on.
    cur = await conn.execute(f"select count(*) as n from public.emails where {_FILTER}", params)
    counted = await cur.fetchone()
    return [], int(counted["n"]) if counted else 0


# -- the delivery job ---------------------------------------------------------------------------


async def locate(conn: Connection, email_id: UUID) -> UUID | None:
    """The workspace an e-mail belongs to (as the login role: the job knows only the id)."""
    cur = await conn.execute("select workspace_id from public.emails where id = %s", (email_id,))
    row = await cur.fetchone()
    return row["workspace_id"] if row else None


async def start_attempt(conn: Connection, email_id: UUID) -> dict[str, Any] | None:
    """Count an attempt at a queued e-mail and return it; None when it is no longer queued
    (sent, failed or kept in the outbox by an earlier run of the job)."""
    cur = await conn.execute(
        "update public.emails set attempts = attempts + 1"
        " where id = %s and status = 'queued' returning *",
        (email_id,),
    )
    return await cur.fetchone()


async def finish(
    conn: Connection,
    email_id: UUID,
    *,
    status: str,
    provider_id: str | None = None,
    error: str | None = None,
) -> None:
    """Record how a queued e-mail ended: `sent` (with the provider's id), `failed` or `outbox`."""
    await conn.execute(
        "update public.emails set status = %s, provider_id = %s, error = %s,"
        " sent_at = case when %s = 'sent' then now() end"
        " where id = %s and status = 'queued'",
        (status, provider_id, error[:1000] if error else None, status, email_id),
    )


async def note_error(conn: Connection, email_id: UUID, error: str) -> None:
    """An attempt failed and another will follow: the e-mail stays queued, with the reason."""
    await conn.execute(
        "update public.emails set error = %s where id = %s and status = 'queued'",
        (error[:1000], email_id),
    )


# -- the contact form ---------------------------------------------------------------------------


async def contact_target(conn: Connection, chatbot_id: UUID) -> dict[str, Any] | None:
    """The bot's name, and where its workspace's contact-form messages go (`email`): the
    business e-mail, else the first owner's (auth.users is the login role's to read)."""
    cur = await conn.execute(
        """
        select b.name as chatbot_name,
               coalesce(
                 nullif(btrim(w.email), ''),
                 (select u.email::text from public.workspace_members m
                  join auth.users u on u.id = m.user_id
                  where m.workspace_id = w.id and m.role = 'owner' and u.email is not null
                  order by m.created_at, m.user_id limit 1)
               ) as email
        from public.chatbots b join public.workspaces w on w.id = b.workspace_id
        where b.id = %s
        """,
        (chatbot_id,),
    )
    return await cur.fetchone()
