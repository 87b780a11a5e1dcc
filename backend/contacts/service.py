"""The rules of contacts, for the API and the channels: one contact per phone number and per
channel identity in a workspace, consent changes that are events, and WhatsApp's 24-hour window.

Every function takes the caller's connection and never commits; events are written in the same
transaction as the change they report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from backend.business import service as business
from backend.contacts import repository
from backend.contacts.schemas import Channel
from backend.db import Connection
from backend.errors import NotFound, ValidationFailed
from backend.events.types import EventType
from backend.kit import phones

# WhatsApp lets a business write freely (outside templates) for 24 hours after the person's
# last message.
WINDOW = timedelta(hours=24)

# Channels whose external id is the phone number's international digits.
_PHONE_CHANNELS = frozenset({"whatsapp"})


class ContactNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Contact not found")


class InvalidPhone(ValidationFailed):
    def __init__(self, reason: str) -> None:
        super().__init__("Invalid phone number", errors=[{"field": "phone", "message": reason}])


async def normalise_phone(*, conn: Connection, workspace_id: UUID, phone: str) -> str:
    """The number in E.164; a national number is read in the workspace's country."""
    region = (
        None
        if phone.lstrip().startswith("+")
        else await business.default_region(conn, workspace_id)
    )
    try:
        return phones.to_e164(phone, region)
    except ValueError as exc:
        raise InvalidPhone(str(exc)) from None


async def _created(conn: Connection, contact: dict[str, Any], source: str) -> None:
    await repository.record_event(
        conn,
        workspace_id=contact["workspace_id"],
        type=EventType.CONTACT_CREATED,
        contact_id=contact["id"],
        payload={"phone": contact["phone"], "source": source},
    )


async def find_or_create_by_phone(
    *,
    conn: Connection,
    workspace_id: UUID,
    phone: str,
    first_name: str | None = None,
    last_name: str | None = None,
    email: str | None = None,
    attributes: dict[str, Any] | None = None,
    marketing_opt_in: bool = False,
    source: str = "api",
) -> tuple[dict[str, Any], bool]:
    """The workspace's contact with this phone, created with these fields (and consent, from
    `source`) when there is none; and whether it was created. The fields never change an
    existing contact."""
    e164 = await normalise_phone(conn=conn, workspace_id=workspace_id, phone=phone)
    contact = await repository.insert_by_phone(
        conn,
        workspace_id=workspace_id,
        phone=e164,
        first_name=first_name,
        last_name=last_name,
        email=email.lower() if email else None,
        attributes=attributes,
    )
    if contact is not None:
        await _created(conn, contact, source)
        if marketing_opt_in:
            contact = await set_consent(
                conn=conn,
                workspace_id=workspace_id,
                contact_id=contact["id"],
                opted_in=True,
                source=source,
            )
        return contact, True
    existing = await repository.by_phone(conn, workspace_id=workspace_id, phone=e164)
    assert existing is not None  # the row that won the phone's unique index
    return existing, False


def _phone_of(channel: Channel, external_id: str) -> str | None:
    if channel not in _PHONE_CHANNELS or external_id != phones.digits(external_id):
        return None
    try:
        return phones.to_e164(f"+{external_id}")
    except ValueError:
        return None


async def find_or_create_by_identity(
    *,
    conn: Connection,
    workspace_id: UUID,
    channel: Channel,
    external_id: str,
    profile_name: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """The contact seen under `external_id` on `channel` (a WhatsApp id, a widget visitor id),
    created when new, and whether it was. A WhatsApp id is the phone's digits: it finds (or
    creates) the contact with that phone, and the id is remembered for it. A new contact is
    named after the channel's profile name."""
    # A provider's profile name is whatever its user typed: it names the contact, so it fits
    # the name's column.
    profile_name = (profile_name.strip()[:100] or None) if profile_name else None
    identity: dict[str, Any] = {
        "workspace_id": workspace_id,
        "channel": channel,
        "external_id": external_id,
        "profile_name": profile_name,
    }
    contact = await repository.by_identity(conn, **identity)
    if contact is not None:
        return contact, False
    phone = _phone_of(channel, external_id)
    if phone is not None:
        contact, created = await find_or_create_by_phone(
            conn=conn,
            workspace_id=workspace_id,
            phone=phone,
            first_name=profile_name,
            source=channel,
        )
        await repository.add_identity(conn, contact_id=contact["id"], **identity)
        return contact, created
    contact = await repository.insert_with_identity(conn, **identity)
    if contact is not None:
        await _created(conn, contact, channel)
        return contact, True
    # A concurrent caller created it first (and has committed: the insert waited for it).
    existing = await repository.by_identity(conn, **identity)
    assert existing is not None
    return existing, False


async def update(
    *, conn: Connection, workspace_id: UUID, contact_id: UUID, changes: dict[str, Any]
) -> dict[str, Any]:
    """Change a contact's fields (`phone` is normalised); a new phone or e-mail links it to
    the customer that has it."""
    changes = dict(changes)
    if changes.get("phone") is not None:
        changes["phone"] = await normalise_phone(
            conn=conn, workspace_id=workspace_id, phone=changes["phone"]
        )
    if changes.get("email") is not None:
        changes["email"] = changes["email"].lower()
    contact = (
        await repository.update(
            conn, workspace_id=workspace_id, contact_id=contact_id, changes=changes
        )
        if changes
        else await repository.get(conn, workspace_id=workspace_id, contact_id=contact_id)
    )
    if contact is None:
        raise ContactNotFound()
    if "phone" in changes or "email" in changes:
        contact = await repository.relink_customer(
            conn, workspace_id=workspace_id, contact_id=contact_id
        )
        assert contact is not None
    return contact


async def set_consent(
    *, conn: Connection, workspace_id: UUID, contact_id: UUID, opted_in: bool, source: str
) -> dict[str, Any]:
    """Record marketing consent given or withdrawn, and where (`api`, `whatsapp`, a keyword
    like STOP); an event only when it changes."""
    contact = await repository.set_consent(
        conn, workspace_id=workspace_id, contact_id=contact_id, opted_in=opted_in, source=source
    )
    if contact is None:
        unchanged = await repository.get(conn, workspace_id=workspace_id, contact_id=contact_id)
        if unchanged is None:
            raise ContactNotFound()
        return unchanged
    await repository.record_event(
        conn,
        workspace_id=workspace_id,
        type=EventType.CONTACT_OPTED_IN if opted_in else EventType.CONTACT_OPTED_OUT,
        contact_id=contact_id,
        payload={"source": source},
    )
    return contact


async def record_inbound(
    *, conn: Connection, workspace_id: UUID, contact_id: UUID, channel: Channel, at: datetime
) -> None:
    """The contact wrote on `channel` at `at` (the provider's time of the message)."""
    await repository.record_inbound(
        conn, workspace_id=workspace_id, contact_id=contact_id, channel=channel, at=at
    )


async def in_window(
    *,
    conn: Connection,
    workspace_id: UUID,
    channel: Channel,
    contact_ids: list[UUID],
    at: datetime | None = None,
) -> set[UUID]:
    """Those of `contact_ids` that wrote on `channel` within the 24 hours before `at` (now)."""
    if not contact_ids:
        return set()
    since = (at or datetime.now(UTC)) - WINDOW
    return await repository.wrote_since(
        conn, workspace_id=workspace_id, channel=channel, contact_ids=contact_ids, since=since
    )


async def is_in_window(
    *,
    conn: Connection,
    workspace_id: UUID,
    channel: Channel,
    contact_id: UUID,
    at: datetime | None = None,
) -> bool:
    """Whether the contact wrote on `channel` within the 24 hours before `at` (now)."""
    found = await in_window(
        conn=conn, workspace_id=workspace_id, channel=channel, contact_ids=[contact_id], at=at
    )
    return contact_id in found


async def shown(*, conn: Connection, workspace_id: UUID, contact_id: UUID) -> dict[str, Any]:
    """The contact with its identities and last inbound times, as the API answers it."""
    contact = await repository.shown(conn, workspace_id=workspace_id, contact_id=contact_id)
    if contact is None:
        raise ContactNotFound()
    return contact


async def search(
    *, conn: Connection, workspace_id: UUID, search: str | None, page: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """A page of the workspace's contacts, newest first; `search` matches a name, an e-mail,
    or the start of a phone number (national numbers read in the workspace's country)."""
    text = search.strip() if search else None
    prefixes: list[str] = []
    if text:
        region = None if text.startswith("+") else await business.default_region(conn, workspace_id)
        prefixes = phones.search_prefixes(text, region)
    return await repository.page(
        conn,
        workspace_id=workspace_id,
        text=text,
        phone_prefixes=prefixes,
        limit=limit,
        offset=(page - 1) * limit,
    )
