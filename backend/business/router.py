"""The omnichannel document's Business API: profile, AI configuration, credits and budget, and
the budget alerts (an addition: the document sends them as webhooks, which do not exist yet)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from fastapi import APIRouter

from backend.auth.dependencies import AdminSubject, ApiSubject, Session
from backend.billing import alerts as billing_alerts
from backend.billing import service as billing
from backend.business import service
from backend.business.schemas import (
    AIConfig,
    BudgetAlert,
    BudgetUpdate,
    BusinessProfile,
    BusinessProfileUpdate,
    Credits,
)
from backend.db import Connection
from backend.kit.pagination import Limit, Page
from backend.kit.schemas import Envelope, PageEnvelope

router = APIRouter(prefix="/api/business", tags=["business"])


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _ai_config_out(row: dict[str, Any]) -> AIConfig:
    return AIConfig(
        customPrompt=row["custom_prompt"],
        tone=row["tone"],
        language=row["language"],
        prohibitedTopics=row["prohibited_topics"],
        fallbackMessage=row["fallback_message"],
    )


def _profile_out(row: dict[str, Any]) -> BusinessProfile:
    return BusinessProfile(
        id=str(row["id"]),
        name=row["name"],
        email=row["email"],
        phone=row["phone"],
        industry=row["industry"],
        timeZone=row["time_zone"],
        country=row["country"],
        active=row["active"],
        createdAt=_utc(row["created_at"]),
    )


@router.get("/me", summary="Get the business profile")
async def get_profile(subject: ApiSubject, session: Session) -> Envelope[BusinessProfile]:
    return Envelope(data=_profile_out(await service.profile(session, subject.workspace_id)))


@router.patch("/me", summary="Update the business profile")
async def update_profile(
    data: BusinessProfileUpdate, subject: AdminSubject, session: Session
) -> Envelope[BusinessProfile]:
    return Envelope(data=_profile_out(await service.update_profile(session, subject, data)))


@router.get("/ai-config", summary="Get the AI configuration")
async def get_ai_config(subject: ApiSubject, session: Session) -> Envelope[AIConfig]:
    return Envelope(data=_ai_config_out(await service.ai_config(session, subject.workspace_id)))


@router.put("/ai-config", summary="Set the AI configuration")
async def put_ai_config(
    data: AIConfig, subject: AdminSubject, session: Session
) -> Envelope[AIConfig]:
    """The prompt, tone, language, prohibited topics and fallback of every bot of the workspace."""
    return Envelope(data=_ai_config_out(await service.save_ai_config(session, subject, data)))


async def _credits(session: Connection, workspace_id: UUID) -> Credits:
    balance = await billing.balance(session, workspace_id)
    return Credits(
        totalCredits=float(balance.total_credits),
        usedCredits=float(balance.used_credits),
        availableCredits=float(balance.available_credits),
        monthlyBudget=None if balance.monthly_budget is None else float(balance.monthly_budget),
        currentMonthSpend=float(balance.month_spend),
        percentUsed=balance.percent_used,
        isPaused=balance.is_paused,
    )


@router.get("/credits", summary="Get credits, spend and the monthly budget")
async def get_credits(subject: ApiSubject, session: Session) -> Envelope[Credits]:
    return Envelope(data=await _credits(session, subject.workspace_id))


@router.put("/credits", summary="Set or clear the monthly budget")
async def put_credits(
    data: BudgetUpdate, subject: AdminSubject, session: Session
) -> Envelope[Credits]:
    """Set (or clear, with null) the monthly budget."""
    subject.require_admin("change the business settings")
    budget = Decimal(str(data.monthlyBudget)) if data.monthlyBudget is not None else None
    await billing.set_budget(session, subject.workspace_id, budget)
    return Envelope(data=await _credits(session, subject.workspace_id))


@router.get("/alerts", summary="List budget alerts")
async def get_budget_alerts(
    subject: ApiSubject, session: Session, page: Page = 1, limit: Limit = 20
) -> PageEnvelope[BudgetAlert]:
    """The times the month's spend reached 80 % and 100 % of the monthly budget, newest first."""
    rows, total = await billing_alerts.recent(
        session, subject.workspace_id, limit=limit, offset=(page - 1) * limit
    )
    return PageEnvelope.of(
        [
            BudgetAlert(
                threshold=r["threshold"],
                month=r["month"].strftime("%Y-%m"),
                spend=float(r["spend"]),
                budget=float(r["budget"]),
                createdAt=_utc(r["created_at"]),
            )
            for r in rows
        ],
        page=page,
        limit=limit,
        total=total,
    )
