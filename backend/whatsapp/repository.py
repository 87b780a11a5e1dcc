"""Every read and write of the WhatsApp tables (migration 30): bots' settings, numbers, the
outbox, templates and the workspace's notification settings. Each part of the package keeps its
SQL here, under its own heading."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from psycopg import sql

from backend.db import Connection

# -- numbers: the routing of Meta's webhooks ------------------------------------------------------


async def numbers_by_ids(conn: Connection, phone_number_ids: list[str]) -> list[dict[str, Any]]:
    """The numbers with these ids, whoever's they are, with their connection's secrets (still
    encrypted): a webhook is routed, and its signature checked, before any workspace is known
    (call it as the login role)."""
    cur = await conn.execute(
        "select n.*, b.enabled, c.secrets, c.status as connection_status"
        " from public.whatsapp_numbers n"
        " join public.whatsapp_bots b on b.chatbot_id = n.chatbot_id"
        " left join public.connections c on c.workspace_id = n.workspace_id"
        "   and c.provider = 'whatsapp' and c.account = n.phone_number_id"
        " where n.phone_number_id = any(%s)",
        (phone_number_ids,),
    )
    return list(await cur.fetchall())


async def bot_numbers(conn: Connection, chatbot_id: UUID) -> list[dict[str, Any]]:
    """A bot's numbers (primary first), under the caller's claims."""
    cur = await conn.execute(
        "select * from public.whatsapp_numbers where chatbot_id = %s order by role desc",
        (chatbot_id,),
    )
    return list(await cur.fetchall())


# -- outbox ---------------------------------------------------------------------------------------


async def insert_outbox(conn: Connection, rows: list[dict[str, Any]]) -> list[UUID]:
    """A message's parts, queued, in one statement; their ids in part order."""
    cur = await conn.execute(
        "insert into public.whatsapp_outbox"
        " (workspace_id, message_id, part, phone_number_id, recipient, payload, kind)"
        " select workspace_id, message_id, part, phone_number_id, recipient, payload, kind"
        " from jsonb_to_recordset(%s::jsonb) as r(workspace_id uuid, message_id uuid,"
        " part smallint, phone_number_id text, recipient text, payload jsonb, kind text)"
        " order by part returning id",
        (json.dumps(rows, default=str),),
    )
    return [row["id"] for row in await cur.fetchall()]


async def bot_settings(conn: Connection, chatbot_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select * from public.whatsapp_bots where chatbot_id = %s", (chatbot_id,)
    )
    return await cur.fetchone()


# -- bots and numbers (part B) --------------------------------------------------------------------


async def number_owners(conn: Connection, phone_number_ids: list[str]) -> dict[str, UUID]:
    """The bot each of these numbers belongs to, whoever's it is (call as the login role: a
    number belongs to one bot on the whole platform)."""
    cur = await conn.execute(
        "select phone_number_id, chatbot_id from public.whatsapp_numbers"
        " where phone_number_id = any(%s)",
        (phone_number_ids,),
    )
    return {row["phone_number_id"]: row["chatbot_id"] for row in await cur.fetchall()}


async def bots_settings(conn: Connection, chatbot_ids: list[UUID]) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "select * from public.whatsapp_bots where chatbot_id = any(%s)", (chatbot_ids,)
    )
    return list(await cur.fetchall())


async def numbers_with_connections(
    conn: Connection, chatbot_ids: list[UUID]
) -> list[dict[str, Any]]:
    """These bots' numbers with what may be shown of their connections: the token's last four,
    the status, and the names of the secrets stored (never their values)."""
    cur = await conn.execute(
        "select n.*, c.key_last4, c.status as connection_status,"
        " array(select jsonb_object_keys(coalesce(c.secrets, '{}'))) as secret_names"
        " from public.whatsapp_numbers n"
        " left join public.connections c on c.workspace_id = n.workspace_id"
        "   and c.provider = 'whatsapp' and c.account = n.phone_number_id"
        " where n.chatbot_id = any(%s) order by n.role desc",
        (chatbot_ids,),
    )
    return list(await cur.fetchall())


async def save_bot_settings(
    conn: Connection,
    *,
    chatbot_id: UUID,
    workspace_id: UUID,
    enabled: bool,
    business_account_id: str | None,
    verify_token_hash: str | None,
) -> None:
    await conn.execute(
        "insert into public.whatsapp_bots"
        " (chatbot_id, workspace_id, enabled, business_account_id, verify_token_hash)"
        " values (%s, %s, %s, %s, %s) on conflict (chatbot_id) do update set"
        " enabled = excluded.enabled, business_account_id = excluded.business_account_id,"
        " verify_token_hash = excluded.verify_token_hash",
        (chatbot_id, workspace_id, enabled, business_account_id, verify_token_hash),
    )


async def delete_numbers(conn: Connection, chatbot_id: UUID, phone_number_ids: list[str]) -> None:
    """(Migration 31's trigger deletes each number's connection with it.)"""
    await conn.execute(
        "delete from public.whatsapp_numbers where chatbot_id = %s and phone_number_id = any(%s)",
        (chatbot_id, phone_number_ids),
    )


async def save_number(
    conn: Connection,
    *,
    phone_number_id: str,
    workspace_id: UUID,
    chatbot_id: UUID,
    role: str,
    display_phone_number: str | None,
    verified_name: str | None,
    quality_rating: str | None,
    messages_per_second: int,
) -> None:
    """Add a bot's number, or refresh what Meta says of it. Another bot's number is a unique
    violation (the primary key), whoever's bot it is."""
    cur = await conn.execute(
        "update public.whatsapp_numbers set display_phone_number = %s, verified_name = %s,"
        " quality_rating = %s where phone_number_id = %s and chatbot_id = %s and role = %s",
        (display_phone_number, verified_name, quality_rating, phone_number_id, chatbot_id, role),
    )
    if cur.rowcount:
        return
    await conn.execute(
        "insert into public.whatsapp_numbers (phone_number_id, workspace_id, chatbot_id, role,"
        " display_phone_number, verified_name, quality_rating, messages_per_second)"
        " values (%s, %s, %s, %s, %s, %s, %s, %s)",
        (
            phone_number_id,
            workspace_id,
            chatbot_id,
            role,
            display_phone_number,
            verified_name,
            quality_rating,
            messages_per_second,
        ),
    )


async def enabled_bot(conn: Connection, workspace_id: UUID, chatbot_id: UUID) -> bool:
    """Whether the chatbot is one of the workspace's, with WhatsApp switched on."""
    cur = await conn.execute(
        "select 1 from public.whatsapp_bots where workspace_id = %s and chatbot_id = %s"
        " and enabled",
        (workspace_id, chatbot_id),
    )
    return await cur.fetchone() is not None


# -- workspace settings (part B) ------------------------------------------------------------------


async def workspace_settings(conn: Connection, workspace_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select * from public.whatsapp_settings where workspace_id = %s", (workspace_id,)
    )
    return await cur.fetchone()


async def save_workspace_settings(
    conn: Connection, workspace_id: UUID, changes: dict[str, Any]
) -> dict[str, Any]:
    """Insert the workspace's row (the defaults for what `changes` leaves out) or change it."""
    values = {"workspace_id": workspace_id, **changes}
    cur = await conn.execute(
        sql.SQL(
            "insert into public.whatsapp_settings as s ({}) values ({})"
            " on conflict (workspace_id) do update set {} returning *"
        ).format(
            sql.SQL(", ").join(sql.Identifier(k) for k in values),
            sql.SQL(", ").join(sql.Placeholder(k) for k in values),
            sql.SQL(", ").join(
                sql.SQL("{} = excluded.{}").format(sql.Identifier(k), sql.Identifier(k))
                for k in values
            ),
        ),
        values,
    )
    row = await cur.fetchone()
    assert row is not None
    return row


# -- templates (part B) ---------------------------------------------------------------------------


async def save_templates(
    conn: Connection, workspace_id: UUID, business_account_id: str, templates: list[dict[str, Any]]
) -> int:
    """Upsert the account's templates as Meta listed them and delete the ones it no longer
    lists, in two statements; how many were deleted."""
    await conn.execute(
        "insert into public.whatsapp_templates as t (workspace_id, business_account_id, name,"
        " language, template_id, category, status, parameter_format, components, synced_at)"
        " select %(ws)s, %(waba)s, r.name, r.language, r.template_id, r.category, r.status,"
        "  r.parameter_format, r.components, now()"
        " from jsonb_to_recordset(%(rows)s::jsonb) as r(name text, language text,"
        "  template_id text, category text, status text, parameter_format text, components jsonb)"
        " on conflict (workspace_id, business_account_id, name, language) do update set"
        " template_id = excluded.template_id, category = excluded.category,"
        " status = excluded.status, parameter_format = excluded.parameter_format,"
        " components = excluded.components, synced_at = excluded.synced_at",
        {"ws": workspace_id, "waba": business_account_id, "rows": json.dumps(templates)},
    )
    cur = await conn.execute(
        "delete from public.whatsapp_templates t where workspace_id = %(ws)s"
        " and business_account_id = %(waba)s and not exists (select 1"
        "  from jsonb_to_recordset(%(rows)s::jsonb) as r(name text, language text)"
        "  where r.name = t.name and r.language = t.language)",
        {"ws": workspace_id, "waba": business_account_id, "rows": json.dumps(templates)},
    )
    return cur.rowcount


async def list_templates(
    conn: Connection,
    workspace_id: UUID,
    business_account_id: str,
    *,
    status: str | None = None,
    name: str | None = None,
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "select * from public.whatsapp_templates where workspace_id = %s"
        " and business_account_id = %s and (%s::text is null or status = upper(%s))"
        " and (%s::text is null or name = %s) order by name, language",
        (workspace_id, business_account_id, status, status, name, name),
    )
    return list(await cur.fetchall())


async def template(
    conn: Connection, workspace_id: UUID, business_account_id: str, name: str, language: str
) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select * from public.whatsapp_templates where workspace_id = %s"
        " and business_account_id = %s and name = %s and language = %s",
        (workspace_id, business_account_id, name, language),
    )
    return await cur.fetchone()


# -- receiving (part C): the webhook's handshake, the inbox handler, statuses --------------------


async def verify_token_known(conn: Connection, token_hash: str) -> bool:
    """Whether some bot's webhook verify token has this hash (call it as the login role: the
    handshake names no workspace)."""
    cur = await conn.execute(
        "select 1 from public.whatsapp_bots where verify_token_hash = %s limit 1", (token_hash,)
    )
    return await cur.fetchone() is not None


async def receiving_number(
    conn: Connection, workspace_id: UUID, phone_number_id: str
) -> dict[str, Any] | None:
    """The workspace's number a message came to: its bot and whether the bot's WhatsApp is on."""
    cur = await conn.execute(
        "select n.phone_number_id, n.chatbot_id, b.enabled from public.whatsapp_numbers n"
        " join public.whatsapp_bots b on b.chatbot_id = n.chatbot_id"
        " where n.phone_number_id = %s and n.workspace_id = %s",
        (phone_number_id, workspace_id),
    )
    return await cur.fetchone()


async def keywords(conn: Connection, workspace_id: UUID) -> dict[str, list[str]]:
    """The workspace's own opt-out and opt-in words (none without a settings row)."""
    cur = await conn.execute(
        "select opt_out_words, opt_in_words from public.whatsapp_settings where workspace_id = %s",
        (workspace_id,),
    )
    row = await cur.fetchone()
    return {
        "opt_out": list(row["opt_out_words"]) if row else [],
        "opt_in": list(row["opt_in_words"]) if row else [],
    }


async def outbox_for_status(
    conn: Connection, workspace_id: UUID, *, wamid: str, outbox_id: UUID | None
) -> dict[str, Any] | None:
    """The send a status is about: by Meta's id, else by ours (`biz_opaque_callback_data`),
    which a send whose answer was lost has not recorded Meta's id for."""
    cur = await conn.execute(
        "select * from public.whatsapp_outbox where workspace_id = %(ws)s"
        " and (wamid = %(wamid)s or id = %(id)s)"
        " order by wamid is not distinct from %(wamid)s desc limit 1",
        {"ws": workspace_id, "wamid": wamid, "id": outbox_id},
    )
    return await cur.fetchone()


async def settle_outbox(conn: Connection, outbox_id: UUID, wamid: str) -> bool:
    """A send Meta reports on that had not recorded its outcome: Meta's id noted, and the row
    sent (a row still `sending` lost its answer; one back in `queued` went out all the same,
    and must not go again). Part 0's id becomes its message's provider id. True when it
    changed."""
    cur = await conn.execute(
        "with settled as (update public.whatsapp_outbox set wamid = coalesce(wamid, %(wamid)s),"
        " status = case when status in ('queued', 'sending') then 'sent' else status end,"
        " sent_at = case when status in ('queued', 'sending') then now() else sent_at end"
        " where id = %(id)s and (wamid is null or status in ('queued', 'sending'))"
        " returning message_id, part, wamid),"
        " message as (update public.messages m set provider_message_id = s.wamid"
        " from settled s where m.id = s.message_id and s.part = 0"
        " and m.provider_message_id is null)"
        " select count(*) as n from settled",
        {"id": outbox_id, "wamid": wamid},
    )
    row = await cur.fetchone()
    return bool(row and row["n"])
