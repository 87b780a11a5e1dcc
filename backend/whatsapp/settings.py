"""A workspace's WhatsApp settings: which bot sends its commerce notifications, the names and
language of the templates they use, and the words that opt a contact out of marketing or back
in (besides STOP and START). Defaults until the workspace changes them (migration 30)."""

from __future__ import annotations

from uuid import UUID

from backend.auth.subjects import AuthSubject, User
from backend.db import Connection
from backend.errors import ValidationFailed
from backend.whatsapp import repository
from backend.whatsapp.schemas import WhatsAppSettings, WhatsAppSettingsUpdate


async def load(conn: Connection, workspace_id: UUID) -> WhatsAppSettings:
    row = await repository.workspace_settings(conn, workspace_id)
    return WhatsAppSettings.model_validate(row) if row else WhatsAppSettings()


async def update(
    conn: Connection, subject: AuthSubject[User], data: WhatsAppSettingsUpdate
) -> WhatsAppSettings:
    """Change what is given; `notification_chatbot_id: null` lets the workspace's only
    WhatsApp bot send again."""
    subject.require_admin("change WhatsApp settings")
    changes = data.model_dump(exclude_unset=True)
    nulls = [n for n, v in changes.items() if v is None and n != "notification_chatbot_id"]
    if nulls:
        raise ValidationFailed(
            "These fields cannot be null",
            errors=[{"field": n, "message": "cannot be null"} for n in nulls],
        )
    bot = changes.get("notification_chatbot_id")
    if bot is not None and not await repository.enabled_bot(conn, subject.workspace_id, bot):
        raise ValidationFailed(
            "The notification bot must be one of this workspace's bots with WhatsApp enabled",
            errors=[
                {
                    "field": "notification_chatbot_id",
                    "message": "not a WhatsApp-enabled bot of this workspace",
                }
            ],
        )
    if not changes:
        return await load(conn, subject.workspace_id)
    row = await repository.save_workspace_settings(conn, subject.workspace_id, changes)
    return WhatsAppSettings.model_validate(row)
