from __future__ import annotations

from fastapi import APIRouter, status

from backend.auth.dependencies import AdminSubject, Session
from backend.connections import service
from backend.connections.schemas import (
    CommerceConnect,
    CommerceStatus,
    ConnectionStatus,
    OpenAIConnect,
    OpenAIStatus,
    OpenAIValidation,
)
from backend.context import Context

router = APIRouter(tags=["connections"])


def _openai(found: ConnectionStatus | None) -> OpenAIStatus:
    if found is None:
        return OpenAIStatus(connected=False)
    return OpenAIStatus(
        connected=True,
        status=found.status,
        key_last4=found.last4,
        models=found.settings.get("models") or [],
        validated_at=found.validated_at,
        last_error=found.last_error,
    )


def _commerce(found: ConnectionStatus | None) -> CommerceStatus:
    if found is None:
        return CommerceStatus(connected=False)
    return CommerceStatus(
        connected=True,
        base_url=found.settings.get("base_url"),
        key_last4=found.last4,
        updated_at=found.updated_at,
    )


@router.post("/api/openai/connect", summary="Connect an OpenAI key")
async def connect_openai(
    data: OpenAIConnect, subject: AdminSubject, context: Context
) -> OpenAIStatus:
    """Check the key with OpenAI, then store it encrypted for every chatbot of the workspace."""
    return _openai(await service.connect_openai(context, subject, data.api_key))


@router.get("/api/openai/validate", summary="Check the stored OpenAI key with OpenAI")
async def validate_openai(subject: AdminSubject, context: Context) -> OpenAIValidation:
    found, error = await service.validate_openai(context, subject)
    assert found.validated_at is not None  # just checked
    return OpenAIValidation(
        valid=error is None,
        key_last4=found.last4,
        models=found.settings.get("models") or [],
        error=error,
        validated_at=found.validated_at,
    )


@router.get("/api/openai/status", summary="Get the OpenAI connection status")
async def openai_status(subject: AdminSubject, session: Session) -> OpenAIStatus:
    return _openai(await service.openai_status(session, subject))


@router.delete(
    "/api/openai/connect",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Disconnect the OpenAI key",
)
async def disconnect_openai(subject: AdminSubject, session: Session) -> None:
    await service.disconnect_openai(session, subject)


@router.put("/api/connections/commerce", summary="Connect the shop's product and order API")
async def connect_commerce(
    data: CommerceConnect, subject: AdminSubject, context: Context
) -> CommerceStatus:
    """The merchant's product and order API (base URL and key), used by the bot as tools."""
    return _commerce(await service.connect_commerce(context, subject, data))


@router.get("/api/connections/commerce", summary="Get the shop API connection status")
async def commerce_status(subject: AdminSubject, session: Session) -> CommerceStatus:
    return _commerce(await service.commerce_status(session, subject))


@router.delete(
    "/api/connections/commerce",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Disconnect the shop API",
)
async def disconnect_commerce(subject: AdminSubject, session: Session) -> None:
    await service.disconnect_commerce(session, subject)
