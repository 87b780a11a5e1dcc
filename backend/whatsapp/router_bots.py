"""The bot builder's `/bots/` (seed 001), the workspace's WhatsApp settings and a bot's
templates. Admin routes; the ones that ask Meta open their own short transactions (none is
open while Meta answers)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, status

from backend.auth.dependencies import AdminSubject, Session
from backend.context import Context
from backend.whatsapp import bots, settings, templates
from backend.whatsapp.schemas import (
    Bot,
    BotCreate,
    BotUpdate,
    Template,
    TemplateSync,
    WhatsAppSettings,
    WhatsAppSettingsUpdate,
)

router = APIRouter()

BotId = Annotated[UUID, Query(description="The bot (chatbot) whose WhatsApp account is meant")]


@router.post(
    "/bots/", status_code=status.HTTP_201_CREATED, summary="Create a bot", tags=["whatsapp"]
)
async def create_bot(data: BotCreate, subject: AdminSubject, context: Context) -> Bot:
    """A chatbot, with its WhatsApp number(s) when given: tokens are checked with Meta first."""
    return Bot.model_validate(await bots.create(context, subject, data))


@router.get("/bots/", summary="List bots", tags=["whatsapp"])
async def list_bots(
    subject: AdminSubject,
    session: Session,
    context: Context,
    skip: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
) -> list[Bot]:
    rows = await bots.list_bots(context, session, subject.workspace_id, skip=skip, limit=limit)
    return [Bot.model_validate(r) for r in rows]


@router.get("/bots/{bot_id}", summary="Get a bot", tags=["whatsapp"])
async def get_bot(bot_id: UUID, subject: AdminSubject, session: Session, context: Context) -> Bot:
    return Bot.model_validate(await bots.get(context, session, subject.workspace_id, bot_id))


@router.put("/bots/{bot_id}", summary="Update a bot", tags=["whatsapp"])
async def update_bot(bot_id: UUID, data: BotUpdate, subject: AdminSubject, context: Context) -> Bot:
    """Changes what is given: a secret left out keeps the stored one;
    `whatsapp_marketing_phone_number_id: null` removes the marketing number."""
    return Bot.model_validate(await bots.update(context, subject, bot_id, data))


@router.delete(
    "/bots/{bot_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a bot",
    tags=["whatsapp"],
)
async def delete_bot(bot_id: UUID, subject: AdminSubject, session: Session) -> None:
    await bots.delete(session, subject, bot_id)


@router.get("/api/whatsapp/settings", summary="Get the WhatsApp settings", tags=["whatsapp"])
async def get_settings(subject: AdminSubject, session: Session) -> WhatsAppSettings:
    return await settings.load(session, subject.workspace_id)


@router.put("/api/whatsapp/settings", summary="Change the WhatsApp settings", tags=["whatsapp"])
async def update_settings(
    data: WhatsAppSettingsUpdate, subject: AdminSubject, session: Session
) -> WhatsAppSettings:
    return await settings.update(session, subject, data)


@router.post(
    "/whatsapp/templates/sync", summary="Sync a bot's templates from Meta", tags=["whatsapp"]
)
async def sync_templates(bot_id: BotId, subject: AdminSubject, context: Context) -> TemplateSync:
    """Every page of the bot's WhatsApp Business Account's templates, read with its primary
    number's token; templates Meta no longer lists are removed."""
    return TemplateSync.model_validate(await templates.sync(context, subject, bot_id))


@router.get("/whatsapp/templates", summary="List a bot's synced templates", tags=["whatsapp"])
async def list_templates(
    bot_id: BotId,
    subject: AdminSubject,
    session: Session,
    status: Annotated[str | None, Query(max_length=40)] = None,
    name: Annotated[str | None, Query(max_length=512)] = None,
) -> list[Template]:
    rows = await templates.list_templates(
        session, subject.workspace_id, bot_id, status=status, name=name
    )
    return [Template.model_validate(r) for r in rows]
