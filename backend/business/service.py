"""Business rules of the workspace's profile that other domains read."""

from __future__ import annotations

from uuid import UUID

from backend.business import repository
from backend.db import Connection
from backend.kit.phones import region_of


def country_in_use(country: str | None, phone: str | None) -> str | None:
    """The workspace's `country` when set, else its phone number's (`+44…` -> `GB`)."""
    return country or region_of(phone)


async def default_region(conn: Connection, workspace_id: UUID) -> str | None:
    """The country a phone number written without a country code is read in, for this
    workspace: its `country`, else the country of its own phone number; None when neither is
    known. Every reader of national numbers (lead extraction, lead keeping, customers, forms,
    phone search, confirmation calls) asks here."""
    row = await repository.phone_country(conn, workspace_id)
    if row is None:
        return None
    return country_in_use(row["country"], row["phone"])
