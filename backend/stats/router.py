"""The stats API for dashboards (the CHICX integration guide, section 1): for integrations, a
workspace API key carrying `stats:read` in `X-API-Key`, as the guide says; for the console, an
admin's token, in the workspace it selects. Every channel counts: widget, portal, WhatsApp and
voice."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from backend.auth.dependencies import api_subject
from backend.auth.subjects import ApiKey, AuthSubject, User
from backend.business import service as business
from backend.context import Context
from backend.conversations import repository as conversation_repository
from backend.errors import CHICX_CODES, NotFound
from backend.kit.pagination import Limit, Page
from backend.kit.phones import search_prefixes
from backend.stats import repository

router = APIRouter(prefix="/api/stats", tags=["stats"], dependencies=[Depends(CHICX_CODES)])

StatsSubject = Annotated[AuthSubject[User | ApiKey], Depends(api_subject("stats:read"))]


def _principal(subject: AuthSubject[User | ApiKey]) -> str:
    kind = "api_key" if isinstance(subject.principal, ApiKey) else "user"
    return f"{kind}:{subject.principal.id}"


# How national numbers are read for a workspace with neither a country nor a phone of its own
# (as Bolna connections read them by default).
DEFAULT_COUNTRY = "IN"


def _call_item(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "phone": row["phone"],
        "status": row["status"],
        "duration_seconds": row["duration_seconds"],
        "language": row["language"],
        "started_at": row["started_at"],
        "has_recording": row["recording_url"] is not None,
    }


@router.get("/overview", summary="Get overview totals")
async def overview(subject: StatsSubject, context: Context) -> dict[str, int]:
    async with context.db.for_workspace(subject.workspace_id, _principal(subject)) as conn:
        days = await repository.calendar(conn, subject.workspace_id)
        row = await repository.overview(conn, subject.workspace_id, days)
    return {key: int(value) for key, value in row.items()}


@router.get("/messages-per-day", summary="Get messages per day")
async def messages_per_day(
    subject: StatsSubject, context: Context, days: Annotated[int, Query(ge=1, le=90)] = 30
) -> dict[str, list[dict[str, Any]]]:
    """A row for every day, zeros included, in the workspace's time zone."""
    async with context.db.for_workspace(subject.workspace_id, _principal(subject)) as conn:
        calendar = await repository.calendar(conn, subject.workspace_id)
        rows = await repository.messages_per_day(conn, subject.workspace_id, calendar, days)
    return {"data": [{"date": r["date"].isoformat(), "count": int(r["count"])} for r in rows]}


@router.get("/conversations", summary="List conversations with their figures")
async def conversations(
    subject: StatsSubject,
    context: Context,
    status: Literal["active", "closed", "escalated"] | None = None,
    search: Annotated[
        str | None,
        Query(
            max_length=20,
            description="by phone number: its start, international (+91 98765) or national"
            " in the workspace's country (98765 43210)",
        ),
    ] = None,
    page: Page = 1,
    limit: Limit = 20,
) -> dict[str, Any]:
    async with context.db.for_workspace(subject.workspace_id, _principal(subject)) as conn:
        prefixes: list[str] = []
        if search:
            region = await business.default_region(conn, subject.workspace_id)
            prefixes = search_prefixes(search, region or DEFAULT_COUNTRY)
        rows, total = await conversation_repository.stats_page(
            conn,
            subject.workspace_id,
            status=status,
            phone_prefixes=prefixes,
            limit=limit,
            offset=(page - 1) * limit,
        )
    return {
        "items": [
            {
                "id": str(r["id"]),
                "phone": r["phone"],
                "status": r["status"],
                "channel": r["channel"],
                "message_count": r["message_count"],
                "started_at": r["started_at"],
            }
            for r in rows
        ],
        "total": total,
        "page": page,
        "limit": limit,
    }


@router.get("/calls", summary="List finished calls")
async def calls(
    subject: StatsSubject,
    context: Context,
    status: Literal["resolved", "escalated", "missed", "failed"] | None = None,
    page: Page = 1,
    limit: Limit = 20,
) -> dict[str, Any]:
    """Finished calls, latest first: queued and in-progress calls are listed once over."""
    async with context.db.for_workspace(subject.workspace_id, _principal(subject)) as conn:
        rows, total = await repository.calls(
            conn, subject.workspace_id, status=status, limit=limit, offset=(page - 1) * limit
        )
    return {"items": [_call_item(r) for r in rows], "total": total, "page": page, "limit": limit}


async def _call(subject: AuthSubject[User | ApiKey], context: Any, call_id: UUID) -> dict[str, Any]:
    async with context.db.for_workspace(subject.workspace_id, _principal(subject)) as conn:
        row = await repository.call(conn, subject.workspace_id, call_id)
    if row is None:
        raise NotFound("Call not found")
    return row


@router.get("/calls/{call_id}", summary="Get a call with its transcript")
async def call(call_id: UUID, subject: StatsSubject, context: Context) -> dict[str, Any]:
    row = await _call(subject, context, call_id)
    return {**_call_item(row), "ended_at": row["ended_at"], "transcript": row["transcript"]}


@router.get("/calls/{call_id}/audio", summary="Get the link to a call's recording")
async def call_audio(call_id: UUID, subject: StatsSubject, context: Context) -> dict[str, Any]:
    row = await _call(subject, context, call_id)
    if row["recording_url"] is None:
        raise NotFound("This call has no recording")
    return {
        "call_id": str(row["id"]),
        "audio_url": row["recording_url"],
        "duration_seconds": row["duration_seconds"],
    }
