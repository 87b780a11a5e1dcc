"""WhatsApp's 24-hour window: a business may write freely (text, media, interactive) only within
24 hours of the contact's last message on WhatsApp; outside it only a template goes. Meta's
131047 closes the window whatever our clock says, until the contact writes again."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from backend.contacts import repository as contacts
from backend.contacts.service import WINDOW
from backend.db import Connection
from backend.errors import Conflict

CHANNEL = "whatsapp"
# Meta's types that need the window; templates do not.
FREE_FORM = frozenset({"text", "image", "document", "audio", "video", "sticker", "interactive"})


class WindowClosed(Conflict):
    code = "WHATSAPP_WINDOW_CLOSED"

    def __init__(self) -> None:
        super().__init__(
            "The contact has not written on WhatsApp in the last 24 hours (or Meta closed the"
            " conversation window): only a template message can be sent now"
            " (POST /whatsapp/send/template)"
        )


async def is_open(conn: Connection, *, workspace_id: UUID, contact_id: UUID) -> bool:
    return await contacts.window_open(
        conn,
        workspace_id=workspace_id,
        contact_id=contact_id,
        channel=CHANNEL,
        since=datetime.now(UTC) - WINDOW,
    )


async def require_open(
    conn: Connection, *, workspace_id: UUID, contact_id: UUID, kind: str
) -> None:
    """Refuse (409) a free-form message outside the window."""
    if kind in FREE_FORM and not await is_open(
        conn, workspace_id=workspace_id, contact_id=contact_id
    ):
        raise WindowClosed()


async def close(conn: Connection, *, workspace_id: UUID, contact_id: UUID) -> None:
    """Meta refused a message with 131047: the window is closed now."""
    await contacts.close_window(
        conn,
        workspace_id=workspace_id,
        contact_id=contact_id,
        channel=CHANNEL,
        at=datetime.now(UTC),
    )
