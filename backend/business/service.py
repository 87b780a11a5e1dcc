"""Business rules: the workspace's profile (some of which other domains read) and its AI
configuration."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from backend.auth.subjects import AuthSubject, User
from backend.billing import service as billing
from backend.business import repository
from backend.business.schemas import AIConfig, BusinessProfileUpdate
from backend.db import Connection
from backend.errors import NotFound, ValidationFailed
from backend.kit.phones import region_of
from backend.workspaces import repository as workspaces


class WorkspaceNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Workspace not found")


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


async def profile(conn: Connection, workspace_id: UUID) -> dict[str, Any]:
    """The workspace's profile, with the country in use and whether it is active (not paused
    for want of credits, budget or payment)."""
    row = await repository.profile(conn, workspace_id)
    if row is None:
        raise WorkspaceNotFound()
    balance = await billing.balance(conn, workspace_id)
    return {
        **row,
        "country": country_in_use(row["country"], row["phone"]),
        "active": not balance.is_paused,
    }


async def update_profile(
    conn: Connection, subject: AuthSubject[User], data: BusinessProfileUpdate
) -> dict[str, Any]:
    subject.require_admin("change the business settings")
    changes = data.model_dump(exclude_unset=True)
    if "timeZone" in changes:
        changes["time_zone"] = changes.pop("timeZone")
        # Python's zone list and PostgreSQL's differ; the days are counted by PostgreSQL.
        if not await repository.known_time_zone(conn, changes["time_zone"]):
            raise ValidationFailed(
                "Unknown time zone",
                errors=[{"field": "timeZone", "message": "not a time zone the database knows"}],
            )
    if changes:
        await workspaces.update(conn, subject.workspace_id, **changes)
    return await profile(conn, subject.workspace_id)


async def ai_config(conn: Connection, workspace_id: UUID) -> dict[str, Any]:
    """The workspace's AI configuration, or the defaults until it saves one."""
    return await repository.get_ai_config(conn, workspace_id)


async def save_ai_config(
    conn: Connection, subject: AuthSubject[User], data: AIConfig
) -> dict[str, Any]:
    subject.require_admin("change the business settings")
    return await repository.save_ai_config(
        conn,
        subject.workspace_id,
        {
            "custom_prompt": data.customPrompt,
            "tone": data.tone,
            "language": data.language,
            "prohibited_topics": [t.strip() for t in data.prohibitedTopics if t.strip()],
            "fallback_message": data.fallbackMessage,
        },
    )
