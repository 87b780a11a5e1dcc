"""The omnichannel document's Analytics API: the dashboard's figures and the cost breakdown, for
admins and for integrations with an API key carrying the `api` scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from backend.analytics import service
from backend.analytics.schemas import CostBreakdown, Dashboard
from backend.auth.dependencies import ApiSubject, Session
from backend.kit.schemas import Envelope

router = APIRouter(prefix="/api/analytics", tags=["analytics"])


@router.get("/dashboard", summary="Get the dashboard's figures")
async def get_dashboard(subject: ApiSubject, session: Session) -> Envelope[Dashboard]:
    return Envelope(data=await service.dashboard(session, subject.workspace_id))


@router.get("/costs", summary="Get the cost breakdown of a period")
async def get_costs(
    subject: ApiSubject,
    session: Session,
    start_date: Annotated[str | None, Query(alias="startDate")] = None,
    end_date: Annotated[str | None, Query(alias="endDate")] = None,
    group_by: Annotated[str | None, Query(alias="groupBy")] = None,
) -> Envelope[CostBreakdown]:
    """What the workspace spent from `startDate` to `endDate` (both included, in its time zone;
    by default this month), by `service`, `channel` or `day`. The parameters are checked by the
    service, so that invalid ones get the document's 400."""
    return Envelope(
        data=await service.cost_breakdown(
            session,
            subject.workspace_id,
            start_date=start_date,
            end_date=end_date,
            group_by=group_by,
        )
    )
