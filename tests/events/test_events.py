"""Domain events commit with the change that wrote them, and only then."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from backend.context import AppContext
from backend.events import repository as events
from backend.events.types import EventType
from tests.fixtures.factories import Admin


async def test_an_event_is_stored_with_its_transaction(context: AppContext, admin: Admin) -> None:
    ws = uuid.UUID(admin.workspace_id)
    subject = uuid.uuid4()
    async with context.db.for_workspace(ws, "backend") as conn:
        await events.record(
            conn,
            workspace_id=ws,
            type=EventType.CONTACT_CREATED,
            subject_id=subject,
            payload={"phone": "+14155550100"},
        )
    async with context.db.system() as conn:
        [row] = await events.list_for_subject(conn, subject)
    assert row["type"] == "contact.created"
    assert row["payload"] == {"phone": "+14155550100"}


async def test_a_rolled_back_change_leaves_no_event(context: AppContext, admin: Admin) -> None:
    ws = uuid.UUID(admin.workspace_id)
    subject = uuid.uuid4()
    with pytest.raises(RuntimeError):
        async with context.db.for_workspace(ws, "backend") as conn:
            await events.record(
                conn, workspace_id=ws, type=EventType.CONTACT_CREATED, subject_id=subject
            )
            raise RuntimeError("the change failed")
    async with context.db.system() as conn:
        assert await events.list_for_subject(conn, subject) == []


async def test_members_read_their_events_but_cannot_write_them(
    context: AppContext, admin: Admin, other_admin: Admin
) -> None:
    ws = uuid.UUID(admin.workspace_id)
    async with context.db.for_workspace(ws, "backend") as conn:
        first = await events.record(conn, workspace_id=ws, type=EventType.LEAD_CREATED)

    def claims(who: Admin) -> dict[str, str]:
        return {"sub": who.user_id, "role": "authenticated", "email": who.email}

    async with context.db.as_claims(claims(admin)) as conn:
        assert [e["id"] for e in await events.list_since(conn, after_id=first - 1)] == [first]
    async with context.db.as_claims(claims(other_admin)) as conn:
        assert await events.list_since(conn, after_id=first - 1) == []
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        async with context.db.as_claims(claims(admin)) as conn:
            await events.record(conn, workspace_id=ws, type=EventType.LEAD_CREATED)
