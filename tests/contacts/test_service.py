"""What the channels will call: find-or-create by phone and by channel identity (also from two
transactions at once), the last inbound message per channel and the 24-hour window, consent, and
the customer link; each change's events written once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import psycopg
import pytest

from backend.contacts import service
from backend.context import AppContext
from backend.db import Connection
from backend.events import repository as events
from tests.fixtures.factories import PASSWORD, Admin, unique_email


def workspace(admin: Admin) -> UUID:
    return UUID(admin.workspace_id)


async def in_workspace(
    context: AppContext, admin: Admin, work: Callable[[Connection], Awaitable[Any]]
) -> Any:
    """`work` in one transaction of the workspace's backend principal (as a channel's job)."""
    async with context.db.for_workspace(workspace(admin), "job:test") as conn:
        return await work(conn)


async def event_types(context: AppContext, contact_id: UUID) -> list[str]:
    async with context.db.system() as conn:
        return [e["type"] for e in await events.list_for_subject(conn, contact_id)]


async def count(context: AppContext, table: str) -> int:
    async with context.db.system() as conn:
        row = await (await conn.execute(f"select count(*) as n from public.{table}")).fetchone()
    assert row is not None
    return int(row["n"])


async def at_once(
    context: AppContext, admin: Admin, work: Callable[[Connection], Awaitable[Any]]
) -> list[Any]:
    """`work` in two transactions that overlap: the first holds its change uncommitted while
    the second runs into it, then commits."""
    first_done = asyncio.Event()
    release = asyncio.Event()

    async def first() -> Any:
        async with context.db.for_workspace(workspace(admin), "job:a") as conn:
            result = await work(conn)
            first_done.set()
            await release.wait()
            return result

    async def second() -> Any:
        await first_done.wait()
        async with context.db.for_workspace(workspace(admin), "job:b") as conn:
            return await work(conn)

    async def let_go() -> None:
        await first_done.wait()
        await asyncio.sleep(0.3)  # the second is waiting on the first's row by now
        release.set()

    results = await asyncio.gather(first(), second(), let_go())
    return results[:2]


async def test_two_simultaneous_creations_by_phone_give_one_contact(context, admin):
    async def work(conn: Connection) -> tuple[dict[str, Any], bool]:
        return await service.find_or_create_by_phone(
            conn=conn, workspace_id=workspace(admin), phone="+919876543210", source="whatsapp"
        )

    (a, a_created), (b, b_created) = await at_once(context, admin, work)
    assert a["id"] == b["id"]
    assert (a_created, b_created) == (True, False)
    assert await count(context, "contacts") == 1
    assert await event_types(context, a["id"]) == ["contact.created"]


async def test_two_simultaneous_visitors_with_one_id_give_one_contact(context, admin):
    async def work(conn: Connection) -> tuple[dict[str, Any], bool]:
        return await service.find_or_create_by_identity(
            conn=conn, workspace_id=workspace(admin), channel="widget", external_id="visitor-1"
        )

    (a, a_created), (b, b_created) = await at_once(context, admin, work)
    assert a["id"] == b["id"] and (a_created, b_created) == (True, False)
    assert a["phone"] is None
    assert (await count(context, "contacts"), await count(context, "contact_identities")) == (1, 1)
    assert await event_types(context, a["id"]) == ["contact.created"]


async def test_a_whatsapp_id_lands_on_the_contact_with_that_phone(context, admin, client):
    created = await client.post(
        "/flows/contacts/", headers=admin.headers, json={"phone": "+91 98765 43210"}
    )
    assert created.status_code == 201, created.text

    async def seen(conn: Connection) -> tuple[dict[str, Any], bool]:
        return await service.find_or_create_by_identity(
            conn=conn,
            workspace_id=workspace(admin),
            channel="whatsapp",
            external_id="919876543210",
            profile_name="Asha",
        )

    async def wrote(conn: Connection) -> None:
        await service.record_inbound(
            conn=conn,
            workspace_id=workspace(admin),
            contact_id=contact["id"],
            channel="whatsapp",
            at=datetime(2026, 12, 7, 9, 30, tzinfo=UTC),
        )

    contact, was_created = await in_workspace(context, admin, seen)
    assert str(contact["id"]) == created.json()["data"]["id"] and not was_created
    again, _ = await in_workspace(context, admin, seen)
    assert again["id"] == contact["id"]
    await in_workspace(context, admin, wrote)
    listed = (await client.get("/flows/contacts/", headers=admin.headers)).json()["data"]
    assert listed[0]["identities"] == [
        {"channel": "whatsapp", "external_id": "919876543210", "profile_name": "Asha"}
    ]
    assert listed[0]["last_inbound_at"] == {"whatsapp": "2026-12-07T09:30:00Z"}
    assert await event_types(context, contact["id"]) == ["contact.created"]


async def test_a_new_whatsapp_id_creates_a_contact_with_its_phone_and_name(context, admin):
    async def seen(conn: Connection) -> tuple[dict[str, Any], bool]:
        return await service.find_or_create_by_identity(
            conn=conn,
            workspace_id=workspace(admin),
            channel="whatsapp",
            external_id="447911123456",
            profile_name="Tom",
        )

    (a, a_created), (b, b_created) = await at_once(context, admin, seen)
    assert a["id"] == b["id"] and (a_created, b_created) == (True, False)
    assert (a["phone"], a["first_name"]) == ("+447911123456", "Tom")
    assert (await count(context, "contacts"), await count(context, "contact_identities")) == (1, 1)
    assert await event_types(context, a["id"]) == ["contact.created"]


async def test_the_24_hour_window_per_channel_for_one_contact_and_for_many(context, admin):
    now = datetime.now(UTC)

    async def work(conn: Connection) -> dict[str, Any]:
        ws = workspace(admin)
        recent, _ = await service.find_or_create_by_phone(
            conn=conn, workspace_id=ws, phone="+919876543210"
        )
        stale, _ = await service.find_or_create_by_phone(
            conn=conn, workspace_id=ws, phone="+919812345678"
        )
        silent, _ = await service.find_or_create_by_phone(
            conn=conn, workspace_id=ws, phone="+14155550100"
        )
        for contact, hours in ((recent, 23), (stale, 25)):
            await service.record_inbound(
                conn=conn,
                workspace_id=ws,
                contact_id=contact["id"],
                channel="whatsapp",
                at=now - timedelta(hours=hours),
            )
        # A message delivered late does not move the time back.
        await service.record_inbound(
            conn=conn,
            workspace_id=ws,
            contact_id=recent["id"],
            channel="whatsapp",
            at=now - timedelta(hours=30),
        )
        ids = [recent["id"], stale["id"], silent["id"]]
        return {
            "ids": ids,
            "bulk": await service.in_window(
                conn=conn, workspace_id=ws, channel="whatsapp", contact_ids=ids, at=now
            ),
            "recent": await service.is_in_window(
                conn=conn, workspace_id=ws, channel="whatsapp", contact_id=recent["id"], at=now
            ),
            "stale": await service.is_in_window(
                conn=conn, workspace_id=ws, channel="whatsapp", contact_id=stale["id"], at=now
            ),
            "other_channel": await service.is_in_window(
                conn=conn, workspace_id=ws, channel="widget", contact_id=recent["id"], at=now
            ),
            "two_hours_later": await service.is_in_window(
                conn=conn,
                workspace_id=ws,
                channel="whatsapp",
                contact_id=recent["id"],
                at=now + timedelta(hours=2),
            ),
        }

    found = await in_workspace(context, admin, work)
    recent_id = found["ids"][0]
    assert found["bulk"] == {recent_id}
    assert (found["recent"], found["stale"], found["other_channel"]) == (True, False, False)
    assert found["two_hours_later"] is False


async def test_consent_changes_are_events_only_when_they_change(context, admin):
    async def work(conn: Connection) -> list[dict[str, Any]]:
        ws = workspace(admin)
        contact, _ = await service.find_or_create_by_phone(
            conn=conn, workspace_id=ws, phone="+919876543210"
        )
        states = []
        for opted_in, source in ((True, "whatsapp"), (True, "api"), (False, "STOP"), (False, "x")):
            states.append(
                await service.set_consent(
                    conn=conn,
                    workspace_id=ws,
                    contact_id=contact["id"],
                    opted_in=opted_in,
                    source=source,
                )
            )
        return states

    opted_in, again, opted_out, still_out = await in_workspace(context, admin, work)
    assert (opted_in["marketing_opt_in"], opted_in["opt_in_source"]) == (True, "whatsapp")
    assert again["opt_in_source"] == "whatsapp"  # unchanged: nothing recorded
    assert (opted_out["marketing_opt_in"], opted_out["opt_in_source"]) == (False, "STOP")
    assert still_out["opt_in_changed_at"] == opted_out["opt_in_changed_at"]
    assert await event_types(context, opted_in["id"]) == [
        "contact.created",
        "contact.opted_in",
        "contact.opted_out",
    ]


async def test_a_new_phone_or_email_links_the_customer_that_has_it(
    context, admin, client: httpx.AsyncClient
):
    email = unique_email("cust")
    customer = await client.post(
        "/api/customers", headers=admin.headers, json={"email": email, "password": PASSWORD}
    )
    assert customer.status_code == 201, customer.text
    customer_id = UUID(customer.json()["customer_id"])

    async def work(conn: Connection) -> list[dict[str, Any]]:
        ws = workspace(admin)
        contact, _ = await service.find_or_create_by_identity(
            conn=conn, workspace_id=ws, channel="widget", external_id="visitor-7"
        )
        linked = await service.update(
            conn=conn, workspace_id=ws, contact_id=contact["id"], changes={"email": email.upper()}
        )
        unlinked = await service.update(
            conn=conn,
            workspace_id=ws,
            contact_id=contact["id"],
            changes={"email": None, "phone": "+14155550100"},
        )
        return [contact, linked, unlinked]

    contact, linked, unlinked = await in_workspace(context, admin, work)
    assert contact["customer_id"] is None
    assert (linked["email"], linked["customer_id"]) == (email.lower(), customer_id)
    assert (unlinked["phone"], unlinked["customer_id"]) == ("+14155550100", None)


async def test_another_workspace_sees_and_writes_none_of_it_even_in_sql(
    context, admin, other_admin
):
    async def work(conn: Connection) -> dict[str, Any]:
        contact, _ = await service.find_or_create_by_identity(
            conn=conn,
            workspace_id=workspace(admin),
            channel="whatsapp",
            external_id="919876543210",
            profile_name="  " + "A" * 300,
        )
        await service.record_inbound(
            conn=conn,
            workspace_id=workspace(admin),
            contact_id=contact["id"],
            channel="whatsapp",
            at=datetime.now(UTC),
        )
        return contact

    contact = await in_workspace(context, admin, work)
    assert contact["first_name"] == "A" * 100  # a profile name fits the name
    claims = {"sub": other_admin.user_id, "role": "authenticated", "email": other_admin.email}
    async with context.db.as_claims(claims) as conn:
        for table in ("contacts", "contact_identities", "contact_last_inbound"):
            rows = await (await conn.execute(f"select * from public.{table}")).fetchall()
            assert rows == [], table
        changed = await conn.execute(
            "update public.contacts set first_name = 'pwned' where id = %s", (contact["id"],)
        )
        assert changed.rowcount == 0
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        async with context.db.as_claims(claims) as conn:
            await service.find_or_create_by_phone(
                conn=conn, workspace_id=workspace(admin), phone="+14155550100"
            )
