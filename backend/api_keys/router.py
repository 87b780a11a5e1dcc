from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, status

from backend.api_keys import service
from backend.api_keys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from backend.auth.dependencies import AdminSubject, Session
from backend.kit.schemas import Envelope

router = APIRouter(prefix="/api/api-keys", tags=["api keys"])


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create an API key (shown once)")
async def create_api_key(
    data: ApiKeyCreate, subject: AdminSubject, session: Session
) -> Envelope[ApiKeyCreated]:
    return Envelope(data=ApiKeyCreated.model_validate(await service.create(session, subject, data)))


@router.get("", summary="List the workspace's API keys")
async def list_api_keys(subject: AdminSubject, session: Session) -> Envelope[list[ApiKeyOut]]:
    rows = await service.list_keys(session, subject)
    return Envelope(data=[ApiKeyOut.model_validate(r) for r in rows])


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke an API key")
async def revoke_api_key(key_id: UUID, subject: AdminSubject, session: Session) -> None:
    await service.revoke(session, subject, key_id)
