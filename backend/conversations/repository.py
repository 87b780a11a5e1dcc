"""Every read and write of conversations and their messages. Each change that is a domain event
(a conversation started or closed, a message stored, a delivery status moved) writes its event
in the same statement, so the chat path pays no extra round trip for it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from psycopg import sql

from backend.conversations.schemas import VerifiedUser
from backend.db import Connection
from backend.events import repository as events
from backend.events.types import EventType

DeliveryStatus = Literal["queued", "sent", "delivered", "read", "failed"]


async def conversation(
    conn: Connection, conversation_id: UUID, chatbot_id: UUID
) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select * from public.conversations where id = %s and chatbot_id = %s",
        (conversation_id, chatbot_id),
    )
    return await cur.fetchone()


async def history(conn: Connection, conversation_id: UUID, *, limit: int) -> list[dict[str, Any]]:
    """The last `limit` messages, oldest first, as the model reads them: an agent speaks for
    the workspace (an assistant's turn); system notes are not part of the dialogue."""
    cur = await conn.execute(
        "select case when role = 'agent' then 'assistant' else role end as role, content"
        " from (select role, content, created_at from public.messages"
        " where conversation_id = %s and role <> 'system' order by created_at desc limit %s) m"
        " order by created_at",
        (conversation_id, limit),
    )
    return await cur.fetchall()


async def create_conversation(
    conn: Connection,
    *,
    conversation_id: UUID,
    workspace_id: UUID,
    chatbot_id: UUID,
    visitor_id: str,
    channel: str,
    is_preview: bool,
    user: VerifiedUser | None = None,
    customer_id: UUID | None = None,
) -> None:
    await conn.execute(
        events.recording(
            sql.SQL(
                "insert into public.conversations (id, workspace_id, chatbot_id, visitor_id,"
                " channel, is_preview, user_id, user_name, user_email, customer_id)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " returning id, workspace_id, chatbot_id, channel, customer_id"
            ),
            EventType.CONVERSATION_CREATED,
            "jsonb_build_object('chatbot_id', chatbot_id, 'channel', channel,"
            " 'customer_id', customer_id)",
        )
        + sql.SQL(" select 1"),
        (
            conversation_id,
            workspace_id,
            chatbot_id,
            visitor_id,
            channel,
            is_preview,
            user.id if user else None,
            user.name if user else None,
            user.email if user else None,
            customer_id,
        ),
    )


async def open_contact_conversation(
    conn: Connection,
    *,
    workspace_id: UUID,
    chatbot_id: UUID,
    contact_id: UUID,
    channel: str,
    channel_account: str | None,
    visitor_id: str,
    phone: str | None = None,
    customer_id: UUID | None = None,
) -> tuple[dict[str, Any], bool]:
    """The bot's open (not closed) conversation with a contact on one of a channel's accounts
    (a WhatsApp number), started when there is none; and whether it was. Concurrent callers
    get the same one: the open conversation's unique index decides. `phone` (the contact's
    digits, what the stats show and search) and `customer_id` are set on a new one."""
    cur = await conn.execute(
        events.recording(
            sql.SQL(
                "insert into public.conversations (workspace_id, chatbot_id, visitor_id, channel,"
                " contact_id, channel_account, phone, customer_id) values (%(ws)s, %(bot)s,"
                " %(visitor)s, %(channel)s, %(contact)s, %(account)s, %(phone)s, %(customer)s)"
                " on conflict (chatbot_id, contact_id, channel, coalesce(channel_account, ''))"
                " where contact_id is not null and status <> 'closed' do nothing"
                " returning id, workspace_id, chatbot_id, channel, customer_id"
            ),
            EventType.CONVERSATION_CREATED,
            "jsonb_build_object('chatbot_id', chatbot_id, 'channel', channel,"
            " 'customer_id', customer_id)",
        )
        + sql.SQL(" select id from changed"),
        {
            "ws": workspace_id,
            "bot": chatbot_id,
            "visitor": visitor_id,
            "channel": channel,
            "contact": contact_id,
            "account": channel_account,
            "phone": phone,
            "customer": customer_id,
        },
    )
    created = await cur.fetchone() is not None
    cur = await conn.execute(
        "select * from public.conversations where chatbot_id = %s and contact_id = %s"
        " and channel = %s and coalesce(channel_account, '') = coalesce(%s, '')"
        " and status <> 'closed'",
        (chatbot_id, contact_id, channel, channel_account),
    )
    row = await cur.fetchone()
    assert row is not None  # ours, or the concurrent caller's that won the index
    return row, created


async def identify_conversation(
    conn: Connection, conversation_id: UUID, user: VerifiedUser | None, customer_id: UUID | None
) -> None:
    """A visitor who signed in on the host page mid-conversation: the conversation is theirs
    from now on (a conversation never changes hands once identified)."""
    await conn.execute(
        "update public.conversations set user_id = coalesce(user_id, %s),"
        " user_name = coalesce(%s, user_name), user_email = coalesce(%s, user_email),"
        " customer_id = coalesce(customer_id, %s)"
        " where id = %s and (user_id is null or user_id = %s)"
        " and (customer_id is null or customer_id = %s)",
        (
            user.id if user else None,
            user.name if user else None,
            user.email if user else None,
            customer_id,
            conversation_id,
            user.id if user else None,
            customer_id,
        ),
    )


def _message_insert(messages: list[dict[str, Any]]) -> tuple[sql.Composed, dict[str, Any]]:
    """One insert of messages given as dicts of columns (a column a message leaves out takes
    its default). A message takes its conversation's channel unless it names one."""
    rows = [
        {
            **message,
            "actions": json.dumps(message.get("actions", [])),
            "citations": json.dumps(message.get("citations", [])),
        }
        for message in messages
    ]
    names = list(dict.fromkeys(name for row in rows for name in row))
    ordered = len(rows) > 1 and "created_at" not in names
    if ordered:
        names.append("created_at")
    params: dict[str, Any] = {}
    tuples: list[sql.Composable] = []
    for n, row in enumerate(rows):
        exprs: list[sql.Composable] = []
        for name in names:
            if name in row:
                params[f"{name}_{n}"] = row[name]
                exprs.append(sql.Placeholder(f"{name}_{n}"))
            elif ordered and name == "created_at":
                # Readers order a conversation by time: each message of one insert strictly
                # after the one before it, even within the clock's microsecond.
                exprs.append(sql.SQL(f"clock_timestamp() + interval '{n} microseconds'"))
            else:
                exprs.append(sql.SQL("default"))
        if "channel" not in names:
            params[f"conversation_id_{n}"] = row["conversation_id"]
            exprs.append(
                sql.SQL("(select channel from public.conversations where id = {})").format(
                    sql.Placeholder(f"conversation_id_{n}")
                )
            )
        tuples.append(sql.SQL("({})").format(sql.SQL(", ").join(exprs)))
    columns = [sql.Identifier(name) for name in names]
    if "channel" not in names:
        columns.append(sql.Identifier("channel"))
    query = sql.SQL("insert into public.messages ({}) values {}").format(
        sql.SQL(", ").join(columns), sql.SQL(", ").join(tuples)
    )
    return query, params


_MESSAGE_RETURNING = " returning id, workspace_id, conversation_id, role, direction, channel"
_MESSAGE_PAYLOAD = (
    "jsonb_build_object('conversation_id', conversation_id, 'role', role,"
    " 'direction', direction, 'channel', channel)"
)


async def add_message(conn: Connection, message: dict[str, Any]) -> None:
    await add_messages(conn, [message])


async def add_messages(conn: Connection, messages: list[dict[str, Any]]) -> None:
    """Messages (a turn's question and answer) in one statement, with their events."""
    insert, values = _message_insert(messages)
    await conn.execute(
        events.recording(
            insert + sql.SQL(_MESSAGE_RETURNING), EventType.MESSAGE_CREATED, _MESSAGE_PAYLOAD
        )
        + sql.SQL(" select 1"),
        values,
    )


async def add_message_once(conn: Connection, message: dict[str, Any]) -> bool:
    """Store a message a provider delivered, once per (workspace, channel, provider's message
    id): True when it is new, False when the provider delivered it before (nothing changes)."""
    if not message.get("provider_message_id") or not message.get("channel"):
        raise ValueError("a provider's message needs its channel and provider_message_id")
    insert, values = _message_insert([message])
    cur = await conn.execute(
        events.recording(
            insert
            + sql.SQL(
                " on conflict (workspace_id, channel, provider_message_id)"
                " where provider_message_id is not null do nothing" + _MESSAGE_RETURNING
            ),
            EventType.MESSAGE_CREATED,
            _MESSAGE_PAYLOAD,
        )
        + sql.SQL(" select count(*) as n from changed"),
        values,
    )
    row = await cur.fetchone()
    return bool(row and row["n"])


# Delivery moves forward only: queued -> sent -> delivered -> read, skipping steps as providers
# do (a `read` may come first). `failed` ends a delivery that had not arrived (from queued or
# sent only: a message delivered or read was delivered, whatever a late report says), and
# nothing moves a failed message. A report that would not move a status changes nothing.
_FORWARD = "array['queued', 'sent', 'delivered', 'read']"


async def advance_status(
    conn: Connection,
    *,
    workspace_id: UUID,
    status: DeliveryStatus,
    message_id: UUID | None = None,
    channel: str | None = None,
    provider_message_id: str | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
) -> bool:
    """Move a message's delivery status forward (the message by its id, or by its channel and
    the provider's id); True when it moved. One statement whose condition is re-checked on the
    row it locks, so of two reports racing the later-in-order one wins whatever their order."""
    if message_id is not None:
        which = "id = %(id)s and workspace_id = %(ws)s"
    elif channel and provider_message_id:
        which = (
            "workspace_id = %(ws)s and channel = %(channel)s"
            " and provider_message_id = %(provider_id)s"
        )
    else:
        raise ValueError("advance_status needs message_id, or channel and provider_message_id")
    cur = await conn.execute(
        events.recording(
            sql.SQL(
                "update public.messages set status = %(status)s, status_changed_at = now(),"
                " error_code = case when %(status)s::text = 'failed' then %(code)s end,"
                " error_message = case when %(status)s::text = 'failed' then %(error)s end"
                f" where {which} and case when %(status)s::text = 'failed'"
                " then status in ('queued', 'sent')"
                f" else array_position({_FORWARD}, status)"
                f" < array_position({_FORWARD}, %(status)s::text) end"
                " returning id, workspace_id, conversation_id, status, error_code"
            ),
            EventType.MESSAGE_STATUS_CHANGED,
            "jsonb_build_object('conversation_id', conversation_id, 'status', status,"
            " 'error_code', error_code)",
        )
        + sql.SQL(" select count(*) as n from changed"),
        {
            "id": message_id,
            "ws": workspace_id,
            "channel": channel,
            "provider_id": provider_message_id,
            "status": status,
            "code": error_code,
            "error": error_message,
        },
    )
    row = await cur.fetchone()
    return bool(row and row["n"])


async def latest_message_at(conn: Connection, conversation_id: UUID) -> datetime | None:
    cur = await conn.execute(
        "select max(created_at) as at from public.messages where conversation_id = %s",
        (conversation_id,),
    )
    row = await cur.fetchone()
    return row["at"] if row else None


async def message(conn: Connection, message_id: UUID) -> dict[str, Any] | None:
    cur = await conn.execute("select * from public.messages where id = %s", (message_id,))
    return await cur.fetchone()


# -- the conversation API ---------------------------------------------------------------------


async def workspace_conversation(
    conn: Connection, workspace_id: UUID, conversation_id: UUID
) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select id, chatbot_id, workspace_id, status from public.conversations"
        " where id = %s and workspace_id = %s",
        (conversation_id, workspace_id),
    )
    return await cur.fetchone()


async def _page(
    conn: Connection, query: str, count: str, params: dict[str, Any]
) -> tuple[list[dict[str, Any]], int]:
    """A page of `query` (which selects `count(*) over () as total`) and the total; `count`
    counts them when the page is past the end."""
    cur = await conn.execute(query, params)
    rows = await cur.fetchall()
    if rows or params["offset"] == 0:
        return rows, int(rows[0]["total"]) if rows else 0
    cur = await conn.execute(count, params)
    counted = await cur.fetchone()
    return [], int(counted["n"]) if counted else 0


async def workspace_page(
    conn: Connection,
    workspace_id: UUID,
    *,
    status: str | None,
    channel: str | None,
    customer_id: UUID | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """The workspace's conversations (builder previews left out), latest activity first."""
    where = (
        "workspace_id = %(ws)s and not is_preview"
        " and (%(status)s::text is null or status = %(status)s)"
        " and (%(channel)s::text is null or channel = %(channel)s)"
        " and (%(customer)s::uuid is null or customer_id = %(customer)s)"
    )
    return await _page(
        conn,
        f"select *, count(*) over () as total from public.conversations where {where}"
        " order by last_message_at desc, id limit %(limit)s offset %(offset)s",
        f"select count(*) as n from public.conversations where {where}",
        {
            "ws": workspace_id,
            "status": status,
            "channel": channel,
            "customer": customer_id,
            "limit": limit,
            "offset": offset,
        },
    )


async def messages_page(
    conn: Connection, conversation_id: UUID, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """A conversation's messages, oldest first."""
    return await _page(
        conn,
        "select id, role, content, channel, status, created_at, cost, cached_response,"
        " count(*) over () as total from public.messages where conversation_id = %(id)s"
        " order by created_at, id limit %(limit)s offset %(offset)s",
        "select count(*) as n from public.messages where conversation_id = %(id)s",
        {"id": conversation_id, "limit": limit, "offset": offset},
    )


async def close_conversation(
    conn: Connection,
    *,
    workspace_id: UUID,
    conversation_id: UUID,
    reason: str,
    summary: str | None,
) -> dict[str, Any] | None:
    """Close an open conversation of the workspace; None when it is not one (absent, another
    workspace's, or closed already: the caller tells which)."""
    cur = await conn.execute(
        events.recording(
            sql.SQL(
                "update public.conversations set status = 'closed', closed_at = now(),"
                " close_reason = %(reason)s, summary = coalesce(%(summary)s, summary)"
                " where id = %(id)s and workspace_id = %(ws)s and status <> 'closed'"
                " returning *"
            ),
            EventType.CONVERSATION_CLOSED,
            "jsonb_build_object('reason', close_reason, 'channel', channel)",
        )
        + sql.SQL(" select * from changed"),
        {"reason": reason, "summary": summary, "id": conversation_id, "ws": workspace_id},
    )
    return await cur.fetchone()


# -- lead extraction --------------------------------------------------------------------------


async def latest_messages(
    conn: Connection, conversation_id: UUID, limit: int = 200
) -> list[dict[str, Any]]:
    """The last `limit` messages' role and content, oldest first."""
    cur = await conn.execute(
        "select role, content from (select role, content, created_at, id from public.messages"
        " where conversation_id = %s order by created_at desc, id desc limit %s) m"
        " order by created_at, id",
        (conversation_id, limit),
    )
    return await cur.fetchall()


async def claim_unread_for_leads(
    conn: Connection, workspace_id: UUID, chatbot_id: UUID, limit: int
) -> list[UUID]:
    """Mark up to `limit` of the bot's conversations not read for leads read, oldest first,
    skipping those another batch holds; their ids."""
    cur = await conn.execute(
        """
        update public.conversations set leads_extracted_at = now()
        where id in (
          select id from public.conversations
          where workspace_id = %s and chatbot_id = %s and leads_extracted_at is null
            and not is_preview and message_count > 0
          order by last_message_at, id limit %s
          for update skip locked
        )
        returning id, last_message_at
        """,
        (workspace_id, chatbot_id, limit),
    )
    rows = sorted(await cur.fetchall(), key=lambda r: (r["last_message_at"], r["id"]))
    return [r["id"] for r in rows]


async def mark_read_for_leads(conn: Connection, conversation_id: UUID) -> None:
    await conn.execute(
        "update public.conversations set leads_extracted_at = now() where id = %s",
        (conversation_id,),
    )


# -- the widget's history ---------------------------------------------------------------------


async def visitor_messages(
    conn: Connection,
    chatbot_id: UUID,
    conversation_id: UUID,
    visitor_id: str,
    limit: int,
    user_id: str | None = None,
) -> list[dict[str, Any]] | None:
    """The latest messages of a visitor's own conversation, oldest first; None when the
    conversation is not this visitor's (or not this bot's)."""
    cur = await conn.execute(
        "select user_id from public.conversations"
        " where id = %s and chatbot_id = %s and visitor_id = %s and not is_preview",
        (conversation_id, chatbot_id, visitor_id),
    )
    found = await cur.fetchone()
    # A signed-in user's conversation is theirs, not the browser's: whoever uses it next (same
    # visitor id, signed out or someone else) does not get it back.
    if found is None or (found["user_id"] is not None and found["user_id"] != user_id):
        return None
    cur = await conn.execute(
        """
        select id, role, content, citations, created_at from (
          select * from public.messages where conversation_id = %s
          order by created_at desc, id desc limit %s
        ) latest order by created_at, id
        """,
        (conversation_id, limit),
    )
    return await cur.fetchall()


async def conversation_of(
    conn: Connection, conversation_id: UUID, chatbot_id: UUID, visitor_id: str
) -> bool:
    cur = await conn.execute(
        "select 1 from public.conversations where id = %s and chatbot_id = %s and visitor_id = %s",
        (conversation_id, chatbot_id, visitor_id),
    )
    return await cur.fetchone() is not None


# -- figures: stats, analytics, cache ---------------------------------------------------------
# Each query names the workspace and runs on an index that starts with it (see
# migrations/20261124_10_calls.sql and 20261125_18_stats_rollups.sql). The stats' statements
# that also read their own tables (rollups, calls) take these parts, so each stays one statement.

# Messages of the workspace's days from `recent_from` on, counted from the messages themselves:
# the days not rolled up yet (normally today, and yesterday for a few minutes after midnight).
RECENT_MESSAGE_DAYS = """
  select (m.created_at at time zone %(tz)s)::date as day, count(*) as n
  from public.messages m join public.conversations c on c.id = m.conversation_id
  where m.workspace_id = %(ws)s and m.created_at >= %(recent_from)s::timestamp at time zone %(tz)s
    and not c.is_preview
  group by 1
"""

# The overview's figures of conversations and messages (columns of its one select).
OVERVIEW_FIGURES = f"""
  (select count(*) from public.conversations
    where workspace_id = %(ws)s and not is_preview) as total_conversations,
  (select coalesce(sum(order_lookups), 0) from public.conversations
    where workspace_id = %(ws)s and order_lookups > 0) as orders_tracked,
  (select coalesce(sum(n), 0) from ({RECENT_MESSAGE_DAYS}) today) as messages_today
"""

# A workspace's messages per day of its calendar, after the day `after` (from the first, when
# None) through `through`: what the stats roll up.
MESSAGE_DAYS_THROUGH = """
  select %(ws)s, (m.created_at at time zone %(tz)s)::date, count(*)
  from public.messages m join public.conversations c on c.id = m.conversation_id
  where m.workspace_id = %(ws)s and not c.is_preview
    and (%(after)s::date is null
         or m.created_at >= (%(after)s::date + 1)::timestamp at time zone %(tz)s)
    and m.created_at < (%(through)s::date + 1)::timestamp at time zone %(tz)s
  group by 2
"""


def stats_filter(
    workspace_id: UUID, *, status: str | None, phone_prefixes: list[str]
) -> tuple[str, dict[str, Any]]:
    """The `where` of a workspace's conversation list in the stats, and its parameters. A phone
    search is the starts of numbers it may mean (`phone_prefixes`), each matched with `^@`:
    leakproof, so even under RLS it becomes a range of `conversations_phone_idx` (`like` and
    `strpos` are not, and read every conversation of the workspace; see
    migrations/20261125_19_calls_per_workspace.sql)."""
    where = (
        "workspace_id = %(ws)s and not is_preview"
        " and (%(status)s::text is null or status = %(status)s)"
    )
    params: dict[str, Any] = {"ws": workspace_id, "status": status}
    if phone_prefixes:
        params.update({f"phone{n}": prefix for n, prefix in enumerate(phone_prefixes)})
        where += (
            " and ("
            + " or ".join(f"phone ^@ %(phone{n})s::text" for n in range(len(phone_prefixes)))
            + ")"
        )
    return where, params


async def stats_page(
    conn: Connection,
    workspace_id: UUID,
    *,
    status: str | None,
    phone_prefixes: list[str],
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    where, params = stats_filter(workspace_id, status=status, phone_prefixes=phone_prefixes)
    cur = await conn.execute(
        f"select id, phone, status, channel, message_count, started_at from public.conversations"
        f" where {where} order by started_at desc, id limit %(limit)s offset %(offset)s",
        {**params, "limit": limit, "offset": offset},
    )
    rows = await cur.fetchall()
    total = await conn.execute(
        f"select count(*) as n from public.conversations where {where}", params
    )
    counted = await total.fetchone()
    return rows, int(counted["n"]) if counted else 0


async def analytics_figures(conn: Connection, workspace_id: UUID) -> dict[str, Any]:
    """Counts by status, and the mean length in minutes from the first message to the close
    (or to the last message, for a conversation still open)."""
    cur = await conn.execute(
        """
        select count(*) as total,
               count(*) filter (where status = 'active') as active,
               count(*) filter (where status = 'closed') as closed,
               coalesce(avg(extract(epoch from coalesce(closed_at, last_message_at) - started_at)),
                        0) / 60 as avg_minutes
        from public.conversations where workspace_id = %s and not is_preview
        """,
        (workspace_id,),
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def answers_by_channel(conn: Connection, workspace_id: UUID) -> list[dict[str, Any]]:
    """The bots' answers per channel (as the cache names channels), and how many came from the
    response cache."""
    cur = await conn.execute(
        """
        select case v.channel when 'widget' then 'CHAT' when 'api' then 'API' else upper(v.channel) end
                 as channel,
               count(*) as answers, count(*) filter (where m.cached_response) as from_cache
        from public.messages m join public.conversations v on v.id = m.conversation_id
        where m.workspace_id = %s and m.role = 'assistant' and not v.is_preview
        group by 1
        """,
        (workspace_id,),
    )
    return await cur.fetchall()


async def touch_conversation(
    conn: Connection,
    conversation_id: UUID,
    *,
    added: int,
    escalate: bool,
    order_lookups: int = 0,
) -> None:
    await conn.execute(
        "update public.conversations set message_count = message_count + %s,"
        " last_message_at = now(), order_lookups = order_lookups + %s,"
        " status = case when %s then 'escalated' else status end"
        " where id = %s",
        (added, order_lookups, escalate, conversation_id),
    )


# -- a customer's conversations (the customers API and the portal) ------------------------------


async def customer_conversations(
    conn: Connection, customer_id: UUID, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """A customer's conversations, latest first, previews left out; and how many there are."""
    cur = await conn.execute(
        "select *, count(*) over () as total from public.conversations"
        " where customer_id = %s and not is_preview"
        " order by last_message_at desc, id limit %s offset %s",
        (customer_id, limit, offset),
    )
    rows = await cur.fetchall()
    if rows or offset == 0:
        return rows, int(rows[0]["total"]) if rows else 0
    cur = await conn.execute(
        "select count(*) as n from public.conversations where customer_id = %s and not is_preview",
        (customer_id,),
    )
    counted = await cur.fetchone()
    return [], int(counted["n"]) if counted else 0


async def conversation_visible(conn: Connection, conversation_id: UUID) -> bool:
    """Whether the caller's policies show them this conversation (a portal customer sees only
    their own)."""
    cur = await conn.execute("select 1 from public.conversations where id = %s", (conversation_id,))
    return await cur.fetchone() is not None


async def transcript(conn: Connection, conversation_id: UUID) -> list[dict[str, Any]]:
    """Every message of a conversation, oldest first."""
    cur = await conn.execute(
        "select id, role, content, created_at from public.messages"
        " where conversation_id = %s order by created_at, id",
        (conversation_id,),
    )
    return await cur.fetchall()
