"""SQL of leads (under the caller's workspace claims). What extraction reads of conversations
and messages is conversations/repository.py's."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import sql

from backend.business import service as business
from backend.customers import repository as customers
from backend.db import Connection, insert_sql
from backend.events import repository as events
from backend.events.types import EventType
from backend.kit.phones import to_e164, valid_e164

LEAD_COLUMNS = "id, conversation_id, chatbot_id, name, email, phone, company, notes, created_at"


async def same_person(
    conn: Connection, workspace_id: UUID, email: str | None, phone: str | None
) -> dict[str, Any] | None:
    """The workspace's lead with this e-mail or phone, if any (the oldest)."""
    if not email and not phone:
        return None
    cur = await conn.execute(
        f"select {LEAD_COLUMNS} from public.leads where workspace_id = %s"
        " and ((%s::text is not null and lower(email) = %s) or (%s::text is not null and phone = %s))"
        " order by created_at, id limit 1",
        (workspace_id, email, email, phone, phone),
    )
    return await cur.fetchone()


async def insert(conn: Connection, values: dict[str, Any]) -> dict[str, Any]:
    """A new lead, and its `lead.created` event in the same statement."""
    cur = await conn.execute(
        events.recording(
            insert_sql("leads", values, returning=f"workspace_id, {LEAD_COLUMNS}"),
            EventType.LEAD_CREATED,
            "jsonb_build_object('conversation_id', conversation_id, 'chatbot_id', chatbot_id)",
        )
        + sql.SQL(f" select {LEAD_COLUMNS} from changed"),
        values,
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def fill(conn: Connection, lead_id: UUID, values: dict[str, Any]) -> dict[str, Any]:
    """Fill the lead's empty fields from `values` (what was known stays)."""
    assignments = sql.SQL(", ").join(
        sql.SQL("{0} = coalesce({0}, {1})").format(sql.Identifier(k), sql.Placeholder(k))
        for k in values
    )
    cur = await conn.execute(
        sql.SQL("update public.leads set {} where id = %(_id)s returning " + LEAD_COLUMNS).format(
            assignments
        ),
        {**values, "_id": lead_id},
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def list_leads(
    conn: Connection, workspace_id: UUID, chatbot_id: UUID | None, limit: int
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f"select {LEAD_COLUMNS} from public.leads where workspace_id = %s"
        " and (%s::uuid is null or chatbot_id = %s) order by created_at desc, id limit %s",
        (workspace_id, chatbot_id, chatbot_id, limit),
    )
    return await cur.fetchall()


async def keep(
    conn: Connection,
    workspace_id: UUID,
    *,
    chatbot_id: UUID | None,
    conversation_id: UUID | None,
    values: dict[str, Any],
    source: str,
) -> dict[str, Any]:
    """The workspace's lead for this person (one by e-mail or phone: a lead found before is
    completed, not repeated), and the customer they are."""
    region = None
    if values.get("phone") and not str(values["phone"]).strip().startswith("+"):
        region = await business.default_region(conn, workspace_id)
    values = _normalized(values, region)
    customer_id = None
    # A customer's phone is who they are (orders, WhatsApp): only a number in E.164 is one.
    e164 = values["phone"] if str(values.get("phone") or "").startswith("+") else None
    if values.get("email") or e164:
        customer_id = await customers.upsert_contact(
            conn,
            workspace_id,
            name=values.get("name"),
            email=values.get("email"),
            phone=e164,
            company=values.get("company"),
        )
    existing = await same_person(conn, workspace_id, values.get("email"), values.get("phone"))
    if existing is not None:
        return await fill(conn, existing["id"], {**values, "customer_id": customer_id})
    return await insert(
        conn,
        {
            **values,
            "workspace_id": workspace_id,
            "chatbot_id": chatbot_id,
            "conversation_id": conversation_id,
            "customer_id": customer_id,
            "source": source,
        },
    )


def _normalized(values: dict[str, Any], region: str | None) -> dict[str, Any]:
    """E-mail lower-cased and phone in E.164 (a national number read in the workspace's
    country), as customers and de-duplication need them. A phone that is not a valid number so
    read is kept as written, for a person to call: the visitor gave it, and the lead may have
    nothing else."""
    values = dict(values)
    if values.get("email"):
        values["email"] = str(values["email"]).strip().lower()
    if values.get("phone"):
        written = " ".join(str(values["phone"]).split())
        values["phone"] = valid_e164(written, region) or _as_written(written)
    return values


def _as_written(phone: str) -> str | None:
    """A phone that is not a valid number: with its country code, in E.164 as before (it may be
    a new range); without one, as the visitor wrote it (no `+`, so never taken for E.164)."""
    if phone.startswith("+"):
        try:
            return to_e164(phone)
        except ValueError:
            return None
    return phone if 7 <= sum(c.isdigit() for c in phone) <= 15 else None
