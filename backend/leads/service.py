"""Lead extraction: read a conversation, keep the visitor's contact details as a lead (one per
person and workspace) and as a customer."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

import structlog

from backend.billing import prices
from backend.billing import repository as billing_repository
from backend.billing import service as billing
from backend.business import service as business
from backend.connections import service as connections
from backend.connections.schemas import Provider
from backend.context import AppContext
from backend.conversations import repository as conversations
from backend.errors import NotFound
from backend.integrations.openai.client import OpenAIError
from backend.kit.text import estimate_tokens
from backend.leads import extract, repository

log = structlog.get_logger(__name__)

MODEL = "gpt-4o-mini"


@dataclass
class Extraction:
    conversation_id: UUID
    lead: dict[str, Any] | None


async def extract_conversation(
    context: AppContext, workspace_id: UUID, conversation_id: UUID, principal: str
) -> Extraction:
    async with context.db.for_workspace(workspace_id, principal) as conn:
        conversation = await conversations.workspace_conversation(
            conn, workspace_id, conversation_id
        )
        if conversation is None:
            raise NotFound("Conversation not found")
        messages = await conversations.latest_messages(conn, conversation_id)
        region = await business.default_region(conn, workspace_id)
        key = await _model_key(context, conn, workspace_id)
    parsed = extract.deterministic(messages, region)
    read = parsed
    if key is not None and extract.visitor_text(messages):
        read = extract.merge(await _ask_model(context, workspace_id, key, messages, region), parsed)
    async with context.db.for_workspace(workspace_id, principal) as conn:
        lead = await _keep(conn, workspace_id, conversation, read)
        await conversations.mark_read_for_leads(conn, conversation_id)
    return Extraction(conversation_id, lead)


async def _model_key(context: AppContext, conn: Any, workspace_id: UUID) -> str | None:
    return await connections.usable_key(conn, context.secrets, workspace_id, Provider.OPENAI)


async def _ask_model(
    context: AppContext,
    workspace_id: UUID,
    key: str,
    messages: list[dict[str, Any]],
    region: str | None,
) -> extract.Found:
    request = extract.model_request(messages, MODEL)
    prompt_tokens = sum(estimate_tokens(m["content"]) for m in request["messages"])
    most, _ = prices.cost(
        MODEL, prompt_tokens=prompt_tokens, completion_tokens=request["max_tokens"]
    )
    try:
        # Like every model call, within the workspace's budget: a paused one gets the parsers'
        # reading only.
        async with context.db.for_workspace(workspace_id, "leads") as conn:
            admission = await billing.admit(conn, workspace_id, most)
    except billing.WorkspacePaused:
        log.info("lead_model_skipped_budget", workspace_id=str(workspace_id))
        return extract.Found()
    completion = None
    try:
        completion = await context.openai.complete(key, **request)
    except OpenAIError as exc:
        # The parsers' reading stands; the model is a refinement, not a requirement.
        log.warning("lead_model_failed", workspace_id=str(workspace_id), error=str(exc))
    cost, version = (
        prices.cost(
            MODEL,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
        )
        if completion
        else (Decimal(0), None)
    )
    async with context.db.for_workspace(workspace_id, "leads") as conn:
        if completion is not None:
            tokens = completion.prompt_tokens + completion.completion_tokens
            await billing_repository.add_usage(
                conn,
                [
                    {
                        "workspace_id": workspace_id,
                        "service": "OPENAI_GPT",
                        "channel": "LEADS",
                        "model": MODEL,
                        "prompt_tokens": completion.prompt_tokens,
                        "completion_tokens": completion.completion_tokens,
                        "total_tokens": tokens,
                        "cost": cost,
                        "price_version": version,
                    }
                ],
            )
        await billing.settle(conn, workspace_id, admission, cost)
    return (
        extract.from_model(completion.content, messages, region) if completion else extract.Found()
    )


async def _keep(
    conn: Any, workspace_id: UUID, conversation: dict[str, Any], read: extract.Found
) -> dict[str, Any] | None:
    """What was read, kept as a lead; None when it says nothing about who to contact."""
    if not read.any_contact():
        return None
    return await repository.keep(
        conn,
        workspace_id,
        chatbot_id=conversation["chatbot_id"],
        conversation_id=conversation["id"],
        values={f: getattr(read, f) for f in (*extract.FIELDS, "notes")},
        source="extraction",
    )


async def extract_batch(
    context: AppContext, workspace_id: UUID, chatbot_id: UUID, limit: int, principal: str
) -> tuple[int, list[dict[str, Any]]]:
    """Read the bot's conversations not read yet (oldest first); how many were read, and the
    leads found. They are claimed first, so two batches at once never read one twice."""
    async with context.db.for_workspace(workspace_id, principal) as conn:
        claimed = await conversations.claim_unread_for_leads(conn, workspace_id, chatbot_id, limit)
    leads = []
    for conversation_id in claimed:
        found = await extract_conversation(context, workspace_id, conversation_id, principal)
        if found.lead is not None:
            leads.append(found.lead)
    return len(claimed), leads


async def list_leads(
    context: AppContext,
    workspace_id: UUID,
    chatbot_id: UUID | None,
    limit: int,
    principal: str,
) -> list[dict[str, Any]]:
    async with context.db.for_workspace(workspace_id, principal) as conn:
        return await repository.list_leads(conn, workspace_id, chatbot_id, limit)
