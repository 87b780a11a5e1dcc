"""The omnichannel document's Business API: profile, AI configuration, credits and budget."""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal
from typing import Any

from fastapi import APIRouter

from backend.auth.dependencies import AdminSubject, ApiSubject, Session
from backend.billing import service as billing
from backend.business import repository
from backend.business.schemas import (
    AIConfig,
    BudgetUpdate,
    BusinessProfile,
    BusinessProfileUpdate,
    Credits,
)
from backend.errors import NotFound
from backend.kit.schemas import Envelope
from backend.workspaces import repository as workspaces

router = APIRouter(prefix="/api/business", tags=["business"])


def _ai_config_out(row: dict[str, Any]) -> AIConfig:
    return AIConfig(
        customPrompt=row["custom_prompt"],
        tone=row["tone"],
        language=row["language"],
        prohibitedTopics=row["prohibited_topics"],
        fallbackMessage=row["fallback_message"],
    )


@router.get("/me")
async def get_profile(subject: ApiSubject, session: Session) -> Envelope[BusinessProfile]:
    row = await repository.profile(session, subject.workspace_id)
    if row is None:
        raise NotFound("Workspace not found")
    return Envelope(
        data=BusinessProfile(
            id=str(row["id"]),
            name=row["name"],
            email=row["email"],
            phone=row["phone"],
            industry=row["industry"],
            timeZone=row["time_zone"],
            active=row["active"],
            createdAt=row["created_at"].astimezone(UTC).isoformat().replace("+00:00", "Z"),
        )
    )


@router.patch("/me")
async def update_profile(
    data: BusinessProfileUpdate, subject: AdminSubject, session: Session
) -> Envelope[BusinessProfile]:
    subject.require_admin("change the business settings")
    changes = data.model_dump(exclude_unset=True)
    if "timeZone" in changes:
        changes["time_zone"] = changes.pop("timeZone")
    if changes:
        await workspaces.update(session, subject.workspace_id, **changes)
    return await get_profile(subject, session)  # type: ignore[arg-type]


@router.get("/ai-config")
async def get_ai_config(subject: ApiSubject, session: Session) -> Envelope[AIConfig]:
    return Envelope(
        data=_ai_config_out(await repository.get_ai_config(session, subject.workspace_id))
    )


@router.put("/ai-config")
async def put_ai_config(
    data: AIConfig, subject: AdminSubject, session: Session
) -> Envelope[AIConfig]:
    """The prompt, tone, language, prohibited topics and fallback of every bot of the workspace."""
    subject.require_admin("change the business settings")
    row = await repository.save_ai_config(
        session,
        subject.workspace_id,
        {
            "custom_prompt": data.customPrompt,
            "tone": data.tone,
            "language": data.language,
            "prohibited_topics": [t.strip() for t in data.prohibitedTopics if t.strip()],
            "fallback_message": data.fallbackMessage,
        },
    )
    return Envelope(data=_ai_config_out(row))


@router.get("/credits")
async def get_credits(subject: ApiSubject, session: Session) -> Envelope[Credits]:
    return Envelope(
        data=Credits.model_validate(await billing.credits(session, subject.workspace_id))
    )


@router.put("/credits")
async def put_credits(
    data: BudgetUpdate, subject: AdminSubject, session: Session
) -> Envelope[Credits]:
    """Set (or clear, with null) the monthly budget."""
    subject.require_admin("change the business settings")
    budget = Decimal(str(data.monthlyBudget)) if data.monthlyBudget is not None else None
    await billing.set_budget(session, subject.workspace_id, budget)
    return Envelope(
        data=Credits.model_validate(await billing.credits(session, subject.workspace_id))
    )
