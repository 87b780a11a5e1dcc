"""Every query on contacts, their channel identities and their last inbound message per channel.

Concurrent find-or-create is decided by unique keys, never by a read before a write: the phone's
unique index (`on conflict do nothing`, then read the winner's row) and the channel identity's
primary key."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg.types.json import Jsonb

from backend.db import Connection, as_login_role, set_sql
from backend.events import repository as events
from backend.events.types import EventType

# The workspace's customer with the contact's phone or e-mail; the phone wins when both match
# different customers.
_CUSTOMER = (
    "(select cu.id from public.customers cu where cu.workspace_id = %(ws)s"
    " and (cu.phone = %(phone)s or cu.email = %(email)s)"
    " order by cu.phone = %(phone)s desc nulls last, cu.created_at limit 1)"
)

# A contact as the API shows it: with its identities and its last inbound time per channel.
_SHOWN = (
    "select p.*,"
    " coalesce((select json_agg(json_build_object('channel', i.channel, 'external_id',"
    " i.external_id, 'profile_name', i.profile_name) order by i.created_at, i.channel)"
    " from public.contact_identities i where i.contact_id = p.id), '[]') as identities,"
    " coalesce((select json_object_agg(l.channel, l.last_inbound_at)"
    " from public.contact_last_inbound l where l.contact_id = p.id), '{}') as last_inbound_at"
    " from page p order by p.created_at desc, p.id"
)


async def insert_by_phone(
    conn: Connection,
    *,
    workspace_id: UUID,
    phone: str,
    first_name: str | None = None,
    last_name: str | None = None,
    email: str | None = None,
    attributes: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The new contact; None when the workspace already has one with this phone (also one
    inserted by a concurrent transaction, once that one commits)."""
    cur = await conn.execute(
        "insert into public.contacts"
        " (workspace_id, phone, first_name, last_name, email, attributes, customer_id)"
        " values (%(ws)s, %(phone)s, %(first_name)s, %(last_name)s, %(email)s, %(attributes)s,"
        f" {_CUSTOMER})"
        " on conflict (workspace_id, phone) where phone is not null do nothing returning *",
        {
            "ws": workspace_id,
            "phone": phone,
            "first_name": first_name,
            "last_name": last_name,
            "email": email,
            "attributes": Jsonb(attributes or {}),
        },
    )
    return await cur.fetchone()


async def by_phone(conn: Connection, *, workspace_id: UUID, phone: str) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select * from public.contacts where workspace_id = %s and phone = %s",
        (workspace_id, phone),
    )
    return await cur.fetchone()


async def by_identity(
    conn: Connection,
    *,
    workspace_id: UUID,
    channel: str,
    external_id: str,
    profile_name: str | None = None,
) -> dict[str, Any] | None:
    """The contact seen under this id on this channel; its profile name updated when it
    changed."""
    cur = await conn.execute(
        "with renamed as (update public.contact_identities set profile_name = %(profile)s"
        " where workspace_id = %(ws)s and channel = %(channel)s and external_id = %(external)s"
        " and %(profile)s::text is not null and profile_name is distinct from %(profile)s)"
        " select c.* from public.contact_identities i"
        " join public.contacts c on c.id = i.contact_id"
        " where i.workspace_id = %(ws)s and i.channel = %(channel)s"
        " and i.external_id = %(external)s",
        {"ws": workspace_id, "channel": channel, "external": external_id, "profile": profile_name},
    )
    return await cur.fetchone()


async def insert_with_identity(
    conn: Connection,
    *,
    workspace_id: UUID,
    channel: str,
    external_id: str,
    profile_name: str | None,
) -> dict[str, Any] | None:
    """A new contact known only by this channel identity; None when the identity exists
    already (the contact foreign key is deferred so that the identity row, whose key decides
    between concurrent callers, goes first)."""
    cur = await conn.execute(
        "with identity as (insert into public.contact_identities"
        " (workspace_id, channel, external_id, contact_id, profile_name)"
        " values (%(ws)s, %(channel)s, %(external)s, gen_random_uuid(), %(profile)s)"
        " on conflict do nothing returning contact_id)"
        " insert into public.contacts (id, workspace_id, first_name)"
        " select contact_id, %(ws)s, %(profile)s from identity returning *",
        {"ws": workspace_id, "channel": channel, "external": external_id, "profile": profile_name},
    )
    return await cur.fetchone()


async def add_identity(
    conn: Connection,
    *,
    workspace_id: UUID,
    contact_id: UUID,
    channel: str,
    external_id: str,
    profile_name: str | None,
) -> None:
    await conn.execute(
        "insert into public.contact_identities"
        " (workspace_id, channel, external_id, contact_id, profile_name)"
        " values (%s, %s, %s, %s, %s) on conflict do nothing",
        (workspace_id, channel, external_id, contact_id, profile_name),
    )


async def update(
    conn: Connection, *, workspace_id: UUID, contact_id: UUID, changes: dict[str, Any]
) -> dict[str, Any] | None:
    values = {k: Jsonb(v) if k == "attributes" else v for k, v in changes.items()}
    cur = await conn.execute(
        sql.SQL(
            "update public.contacts set {} where id = %(id)s and workspace_id = %(ws)s returning *"
        ).format(set_sql(values)),
        {**values, "id": contact_id, "ws": workspace_id},
    )
    return await cur.fetchone()


async def relink_customer(
    conn: Connection, *, workspace_id: UUID, contact_id: UUID
) -> dict[str, Any] | None:
    """Point the contact at the customer with its (new) phone or e-mail, or at none."""
    cur = await conn.execute(
        "update public.contacts c set customer_id = (select cu.id from public.customers cu"
        " where cu.workspace_id = c.workspace_id and (cu.phone = c.phone or cu.email = c.email)"
        " order by cu.phone = c.phone desc nulls last, cu.created_at limit 1)"
        " where c.id = %s and c.workspace_id = %s returning *",
        (contact_id, workspace_id),
    )
    return await cur.fetchone()


async def set_consent(
    conn: Connection, *, workspace_id: UUID, contact_id: UUID, opted_in: bool, source: str
) -> dict[str, Any] | None:
    """The contact with its new consent; None when it had this consent already (or does not
    exist). A contact never asked has none yet: a STOP before any opt-in is a withdrawal to
    record (marketing checks it). A concurrent change waits for this row, then finds nothing
    left to change."""
    cur = await conn.execute(
        "update public.contacts set marketing_opt_in = %(opted_in)s,"
        " opt_in_changed_at = now(), opt_in_source = %(source)s"
        " where id = %(id)s and workspace_id = %(ws)s"
        " and (marketing_opt_in <> %(opted_in)s or opt_in_changed_at is null)"
        " returning *",
        {"opted_in": opted_in, "source": source, "id": contact_id, "ws": workspace_id},
    )
    return await cur.fetchone()


async def get(conn: Connection, *, workspace_id: UUID, contact_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select * from public.contacts where id = %s and workspace_id = %s",
        (contact_id, workspace_id),
    )
    return await cur.fetchone()


async def shown(conn: Connection, *, workspace_id: UUID, contact_id: UUID) -> dict[str, Any] | None:
    """One contact with its identities and last inbound times."""
    cur = await conn.execute(
        "with page as (select * from public.contacts where id = %s and workspace_id = %s) "
        + _SHOWN,
        (contact_id, workspace_id),
    )
    return await cur.fetchone()


async def page(
    conn: Connection,
    *,
    workspace_id: UUID,
    text: str | None,
    phone_prefixes: list[str],
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """Newest first, with identities and last inbound times; searched by name or e-mail
    (`text`) or by the start of the phone's international digits (`phone_prefixes`)."""
    where = "workspace_id = %(ws)s"
    params: dict[str, Any] = {"ws": workspace_id, "limit": limit, "offset": offset}
    if text:
        where += (
            " and (concat_ws(' ', first_name, last_name) ilike %(like)s or email ilike %(like)s"
            " or ltrim(phone, '+') like any(%(prefixes)s::text[]))"
        )
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params |= {"like": f"%{escaped}%", "prefixes": [f"{p}%" for p in phone_prefixes]}
    cur = await conn.execute(
        f"with page as (select *, count(*) over () as total from public.contacts where {where}"
        " order by created_at desc, id limit %(limit)s offset %(offset)s) " + _SHOWN,
        params,
    )
    rows = list(await cur.fetchall())
    if rows:
        return rows, int(rows[0]["total"])
    if offset == 0:
        return [], 0
    cur = await conn.execute(f"select count(*) as total from public.contacts where {where}", params)
    row = await cur.fetchone()
    return [], int(row["total"]) if row else 0


async def record_inbound(
    conn: Connection, *, workspace_id: UUID, contact_id: UUID, channel: str, at: datetime
) -> None:
    # A message delivered late never moves the time back; a message written after the window
    # was closed (Meta's 131047) opens it again.
    await conn.execute(
        "insert into public.contact_last_inbound (contact_id, channel, workspace_id,"
        " last_inbound_at) values (%s, %s, %s, %s) on conflict (contact_id, channel) do update"
        " set last_inbound_at = greatest(contact_last_inbound.last_inbound_at,"
        " excluded.last_inbound_at),"
        " window_closed_at = case when excluded.last_inbound_at"
        " > contact_last_inbound.window_closed_at then null"
        " else contact_last_inbound.window_closed_at end",
        (contact_id, channel, workspace_id, at),
    )


async def close_window(
    conn: Connection, *, workspace_id: UUID, contact_id: UUID, channel: str, at: datetime
) -> None:
    """The provider said at `at` that the contact's window on `channel` is closed, whatever
    their last message says. (A contact who never wrote has no window to close.)"""
    await conn.execute(
        "update public.contact_last_inbound set window_closed_at = greatest(window_closed_at, %s)"
        " where workspace_id = %s and contact_id = %s and channel = %s",
        (at, workspace_id, contact_id, channel),
    )


async def wrote_since(
    conn: Connection, *, workspace_id: UUID, channel: str, contact_ids: list[UUID], since: datetime
) -> set[UUID]:
    """Those of `contact_ids` whose last inbound message on `channel` is after `since`."""
    cur = await conn.execute(
        "select contact_id from public.contact_last_inbound where workspace_id = %s"
        " and channel = %s and contact_id = any(%s) and last_inbound_at > %s",
        (workspace_id, channel, contact_ids, since),
    )
    return {row["contact_id"] for row in await cur.fetchall()}


async def window_open(
    conn: Connection, *, workspace_id: UUID, contact_id: UUID, channel: str, since: datetime
) -> bool:
    """Whether the contact wrote on `channel` after `since`, and no provider closed the
    window after that message (WhatsApp's 131047)."""
    cur = await conn.execute(
        "select 1 from public.contact_last_inbound where workspace_id = %s and contact_id = %s"
        " and channel = %s and last_inbound_at > %s"
        " and (window_closed_at is null or window_closed_at < last_inbound_at)",
        (workspace_id, contact_id, channel, since),
    )
    return await cur.fetchone() is not None


async def record_event(
    conn: Connection,
    *,
    workspace_id: UUID,
    type: EventType,
    contact_id: UUID,
    payload: dict[str, Any],
) -> None:
    # Events are the backend's to write (members only read them), and a member's request
    # changes contacts too: written as the login role, in the change's transaction.
    async with as_login_role(conn):
        await events.record(
            conn, workspace_id=workspace_id, type=type, subject_id=contact_id, payload=payload
        )
