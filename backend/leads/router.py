"""Lead extraction (the bot-builder document's section 8): from one conversation, from a bot's
conversations not read yet, and the list of leads. Admins, or API keys with the `api` scope."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query

from backend.auth.dependencies import ApiSubject
from backend.context import Context
from backend.leads import service

router = APIRouter(prefix="/api/leads", tags=["leads"])


def _lead_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "conversation_id": str(row["conversation_id"]) if row["conversation_id"] else None,
        "chatbot_id": str(row["chatbot_id"]) if row["chatbot_id"] else None,
        "name": row["name"],
        "email": row["email"],
        "phone": row["phone"],
        "company": row["company"],
        "notes": row["notes"],
        "created_at": row["created_at"].isoformat(),
    }


def _principal(subject: Any) -> str:
    return f"leads:{subject.principal.id}"


@router.post("/extract", summary="Extract a lead from one conversation")
async def extract_one(
    subject: ApiSubject, context: Context, conversation_id: UUID
) -> dict[str, Any]:
    found = await service.extract_conversation(
        context, subject.workspace_id, conversation_id, _principal(subject)
    )
    lead = found.lead
    return {
        "success": True,
        "leads_found": 1 if lead else 0,
        "lead_id": str(lead["id"]) if lead else None,
        "lead_info": {k: lead[k] for k in ("name", "email", "phone", "company", "notes")}
        if lead
        else None,
    }


@router.post("/extract-batch", summary="Extract leads from conversations not read yet")
async def extract_batch(
    subject: ApiSubject,
    context: Context,
    chatbot_id: UUID,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """Conversations not read yet, oldest first: running it twice reads none twice."""
    processed, leads = await service.extract_batch(
        context, subject.workspace_id, chatbot_id, limit, _principal(subject)
    )
    return {
        "success": True,
        "leads_extracted": len(leads),
        "conversations_processed": processed,
        "leads": [_lead_json(lead) for lead in leads],
    }


@router.get("", summary="List leads")
async def list_leads(
    subject: ApiSubject,
    context: Context,
    chatbot_id: UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    rows = await service.list_leads(
        context, subject.workspace_id, chatbot_id, limit, _principal(subject)
    )
    return {"leads": [_lead_json(r) for r in rows]}
