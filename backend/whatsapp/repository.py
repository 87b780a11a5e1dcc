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


async def set_pace(conn: Connection, chatbot_id: UUID, role: str, messages_per_second: int) -> bool:
    """The pace of a bot's number (its role's); False when the bot has no such number."""
    cur = await conn.execute(
        "update public.whatsapp_numbers set messages_per_second = %s"
        " where chatbot_id = %s and role = %s",
        (messages_per_second, chatbot_id, role),
    )
    return cur.rowcount > 0


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


# -- sending (part D): claiming an outbox row, the number's pace, the outcome, the history --------

# A claimed row and the time its send may go: the row moves queued -> sending and the number's
# next slot moves on by one send's share of its pace, in one statement, so that every worker
# shares one pace per number. The number's row lock orders concurrent claims; the wait is
# measured on the database's clock, which every worker shares.
_CLAIM = """
with claimed as (
  update public.whatsapp_outbox set status = 'sending', attempts = attempts + 1,
    claimed_at = clock_timestamp()
  where id = %(id)s and status = 'queued'
  returning *
), slot as (
  update public.whatsapp_numbers n
  set next_send_at = greatest(n.next_send_at, clock_timestamp())
    + make_interval(secs => 1.0 / n.messages_per_second)
  from claimed c where n.phone_number_id = c.phone_number_id
  returning n.next_send_at - make_interval(secs => 1.0 / n.messages_per_second) as send_at
)
select claimed.*, greatest(0, extract(epoch from
  (select send_at from slot) - clock_timestamp()))::float8 as wait_seconds,
  (select c.secrets ->> 'access_token' from public.whatsapp_numbers n
   join public.whatsapp_bots b on b.chatbot_id = n.chatbot_id
   join public.connections c on c.workspace_id = n.workspace_id and c.provider = 'whatsapp'
     and c.account = n.phone_number_id
   where n.phone_number_id = claimed.phone_number_id
     and n.workspace_id = claimed.workspace_id) as access_token
from claimed
"""


async def claim_outbox(conn: Connection, outbox_id: UUID) -> dict[str, Any] | None:
    """Claim a queued send and reserve its number's next slot, in one statement; the row, with
    `wait_seconds` until its slot and its number's `access_token` (encrypted; None when the
    number is no longer connected to its workspace's bot). None when the row is not queued (or
    not there)."""
    cur = await conn.execute(_CLAIM, {"id": outbox_id})
    return await cur.fetchone()


async def outbox_row(conn: Connection, outbox_id: UUID) -> dict[str, Any] | None:
    """A send, with how long ago it was claimed (on the database's clock)."""
    cur = await conn.execute(
        "select *, extract(epoch from clock_timestamp() - claimed_at)::float8 as claimed_ago"
        " from public.whatsapp_outbox where id = %s",
        (outbox_id,),
    )
    return await cur.fetchone()


async def outbox_sent(conn: Connection, outbox_id: UUID, wamid: str) -> dict[str, Any] | None:
    """Meta accepted the send (a status webhook may have said so first: its wamid stays); a
    message's first part names the message by its wamid (unless it is named already)."""
    cur = await conn.execute(
        """
        with sent as (
          update public.whatsapp_outbox set status = 'sent', wamid = coalesce(wamid, %(wamid)s),
            sent_at = coalesce(sent_at, clock_timestamp()), error_code = null,
            error_message = null
          where id = %(id)s and status in ('sending', 'sent') returning *
        ), named as (
          update public.messages m set provider_message_id = s.wamid from sent s
          where s.part = 0 and m.id = s.message_id and m.workspace_id = s.workspace_id
            and m.provider_message_id is null
        )
        select * from sent
        """,
        {"wamid": wamid, "id": outbox_id},
    )
    return await cur.fetchone()


async def outbox_requeued(
    conn: Connection, outbox_id: UUID, error_code: str | None, error_message: str
) -> None:
    """A send that certainly did not go out goes back to the queue, with why."""
    await conn.execute(
        "update public.whatsapp_outbox set status = 'queued', error_code = %s, error_message = %s"
        " where id = %s and status = 'sending'",
        (error_code, error_message[:2000], outbox_id),
    )


async def outbox_failed(
    conn: Connection,
    outbox_id: UUID,
    error_code: str | None,
    error_message: str,
    *,
    only_claimed_before_seconds: float | None = None,
) -> dict[str, Any] | None:
    """A send that will never go (or whose outcome is unknown past its grace period: only a
    row still `sending` and claimed that long ago)."""
    stale = (
        " and status = 'sending'"
        " and claimed_at < clock_timestamp() - make_interval(secs => %(grace)s)"
        if only_claimed_before_seconds is not None
        else " and status in ('queued', 'sending')"
    )
    cur = await conn.execute(
        "update public.whatsapp_outbox set status = 'failed', error_code = %(code)s,"
        f" error_message = %(message)s where id = %(id)s{stale} returning *",
        {
            "code": error_code,
            "message": error_message[:2000],
            "id": outbox_id,
            "grace": only_claimed_before_seconds,
        },
    )
    return await cur.fetchone()


async def push_number_back(conn: Connection, phone_number_id: str, slots: int) -> None:
    """Meta says the number is over its throughput: its next slot is `slots` of its sends away
    at least. (Not that much more each time: the sends refused together push it back once.)"""
    await conn.execute(
        "update public.whatsapp_numbers set next_send_at = greatest(next_send_at,"
        " clock_timestamp() + make_interval(secs => %s::float8 / messages_per_second))"
        " where phone_number_id = %s",
        (slots, phone_number_id),
    )


async def next_slot(
    conn: Connection, outbox_id: UUID, phone_number_id: str, *, pause_slots: int
) -> float | None:
    """After Meta's throughput error: take the number's next slot for a claimed send, no
    sooner than `pause_slots` of its sends from now (refusals that come together pause the
    number once), and claim the send anew (its grace period counts from now); the seconds
    until the slot. None when the send is no longer claimed (given up meanwhile)."""
    cur = await conn.execute(
        """
        with reclaimed as (
          update public.whatsapp_outbox set claimed_at = clock_timestamp()
          where id = %(outbox)s and status = 'sending'
          returning id
        ), taken as (
          update public.whatsapp_numbers
          set next_send_at = greatest(next_send_at,
              clock_timestamp() + make_interval(secs => %(slots)s::float8 / messages_per_second))
            + make_interval(secs => 1.0 / messages_per_second)
          where phone_number_id = %(number)s and exists (select 1 from reclaimed)
          returning next_send_at - make_interval(secs => 1.0 / messages_per_second) as send_at
        )
        select greatest(0, extract(epoch from send_at - clock_timestamp()))::float8 as wait
        from taken
        """,
        {"outbox": outbox_id, "slots": pause_slots, "number": phone_number_id},
    )
    row = await cur.fetchone()
    return row["wait"] if row else None


async def message_history(
    conn: Connection,
    *,
    chatbot_id: UUID,
    contact_id: UUID | None,
    before_id: UUID | None,
    before_at: Any,
    limit: int,
) -> list[dict[str, Any]]:
    """A bot's WhatsApp messages, both directions, newest first: of one contact when given;
    older than the message `before_id` (or than the time `before_at`) when given."""
    cur = await conn.execute(
        """
        select m.id, m.direction, m.role, m.kind, m.content, m.details, m.status, m.error_code,
               m.error_message, m.provider_message_id as wamid, m.created_at,
               m.status_changed_at, m.agent_id, c.contact_id, p.phone as contact_phone,
               nullif(concat_ws(' ', p.first_name, p.last_name), '') as contact_name,
               c.channel_account as phone_number_id
        from public.messages m
        join public.conversations c on c.id = m.conversation_id
        left join public.contacts p on p.id = c.contact_id
        where c.chatbot_id = %(bot)s and c.channel = 'whatsapp' and m.channel = 'whatsapp'
          and (%(contact)s::uuid is null or c.contact_id = %(contact)s)
          and (%(before_at)s::timestamptz is null or m.created_at < %(before_at)s)
          and (%(before_id)s::uuid is null or (m.created_at, m.id) < (
                select created_at, id from public.messages where id = %(before_id)s))
        order by m.created_at desc, m.id desc
        limit %(limit)s
        """,
        {
            "bot": chatbot_id,
            "contact": contact_id,
            "before_at": before_at,
            "before_id": before_id,
            "limit": limit,
        },
    )
    return await cur.fetchall()


async def message_contact(conn: Connection, message_id: UUID) -> UUID | None:
    """The contact a message's conversation is with."""
    cur = await conn.execute(
        "select c.contact_id from public.messages m"
        " join public.conversations c on c.id = m.conversation_id where m.id = %s",
        (message_id,),
    )
    row = await cur.fetchone()
    return row["contact_id"] if row else None


# -- answering (part F) ---------------------------------------------------------------------------


async def question(conn: Connection, message_id: UUID) -> dict[str, Any] | None:
    """An inbound WhatsApp message with what its answer job decides on: its conversation's bot,
    status, contact and number, whether the bot's WhatsApp is on, and whether it was answered
    (call it as the login role: a job names no workspace)."""
    cur = await conn.execute(
        "select m.id, m.workspace_id, m.conversation_id, m.role, m.kind, m.content, m.details,"
        " c.chatbot_id, c.status as conversation_status, c.contact_id, c.channel_account,"
        " c.visitor_id as wa_id, p.phone, coalesce(b.enabled, false) as enabled,"
        " exists (select 1 from public.messages a where a.reply_to = m.id) as answered"
        " from public.messages m"
        " join public.conversations c on c.id = m.conversation_id"
        " left join public.contacts p on p.id = c.contact_id"
        " left join public.whatsapp_bots b on b.chatbot_id = c.chatbot_id"
        " where m.id = %s and m.channel = 'whatsapp'",
        (message_id,),
    )
    return await cur.fetchone()


async def history_before(conn: Connection, message_id: UUID, *, limit: int) -> list[dict[str, Any]]:
    """The last `limit` messages of a question's conversation before it, oldest first, as the
    model reads them. Meta dates a message when it was written (to the second), we date an
    answer when it was stored: so an answer counts where its question is, and of the messages
    dated with the question only those answered already came before it (a contact's messages
    are answered in order). Messages that came in later are left out."""
    cur = await conn.execute(
        """
        with q as (select id, conversation_id, created_at from public.messages where id = %s),
        turns as (
          select m.role, m.content, m.created_at, m.id,
                 coalesce(r.created_at, m.created_at) as turn_at,
                 coalesce(a.created_at, case when m.reply_to is not null then m.created_at end)
                   as answered_at,
                 m.reply_to is not null as is_answer
          from q join public.messages m on m.conversation_id = q.conversation_id
          left join public.messages r on r.id = m.reply_to
          left join public.messages a on a.reply_to = m.id
          where m.id <> q.id and m.role <> 'system'
        ),
        before as (
          select t.* from turns t, q
          where t.turn_at < q.created_at or (t.turn_at = q.created_at and t.answered_at is not null)
          order by turn_at desc, answered_at desc nulls last, is_answer desc, created_at desc,
                   id desc
          limit %s
        )
        select case when role = 'agent' then 'assistant' else role end as role, content
        from before
        order by turn_at, answered_at nulls first, is_answer, created_at, id
        """,
        (message_id, limit),
    )
    return list(await cur.fetchall())


# -- commerce notifications (part E) --------------------------------------------------------------


async def notification_bots(conn: Connection, workspace_id: UUID) -> list[UUID]:
    """The workspace's bots that can send: WhatsApp enabled, with a primary number."""
    cur = await conn.execute(
        "select b.chatbot_id from public.whatsapp_bots b"
        " where b.workspace_id = %s and b.enabled and exists (select 1"
        "   from public.whatsapp_numbers n where n.chatbot_id = b.chatbot_id and n.role = 'primary')"
        " order by b.created_at, b.chatbot_id",
        (workspace_id,),
    )
    return [row["chatbot_id"] for row in await cur.fetchall()]


async def lock_recipient(conn: Connection, workspace_id: UUID, recipient: str, kind: str) -> None:
    """Until the transaction ends, no other transaction passes this point for the same
    workspace, recipient and kind (their counts of recent sends cannot both be stale)."""
    await conn.execute(
        "select pg_advisory_xact_lock(hashtextextended(%s, 0))",
        (f"whatsapp.{kind}:{workspace_id}:{recipient}",),
    )


async def recent_sends(
    conn: Connection, workspace_id: UUID, recipient: str, kind: str, within_seconds: int
) -> tuple[int, float | None]:
    """How many sends of `kind` to `recipient` were queued within the last `within_seconds`
    (Meta's refusals aside: nothing reached the person), and how many seconds until the oldest
    of them leaves that span."""
    # The clock, not the transaction's start: a send committed while this one waited for
    # the lock may be newer than that.
    cur = await conn.execute(
        "select count(*) as n, extract(epoch from min(created_at)"
        "   + make_interval(secs => %(span)s) - clock_timestamp())::float8 as frees_in"
        " from public.whatsapp_outbox where workspace_id = %(ws)s and recipient = %(to)s"
        " and kind = %(kind)s and status <> 'failed'"
        " and created_at > clock_timestamp() - make_interval(secs => %(span)s)",
        {"ws": workspace_id, "to": recipient, "kind": kind, "span": within_seconds},
    )
    row = await cur.fetchone()
    assert row is not None
    return row["n"], row["frees_in"]
