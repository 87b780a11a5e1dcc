"""Tenants' provider keys: validated with the provider before they are saved, encrypted at
rest, never returned (only their last four characters)."""

from __future__ import annotations

from typing import Any

from backend.auth.subjects import AuthSubject, User
from backend.connections import repository
from backend.connections.schemas import CommerceConnect
from backend.context import AppContext
from backend.db import Connection
from backend.errors import NotFound, ProviderUnavailable, ValidationFailed
from backend.integrations.openai.client import InvalidKey, OpenAIError
from backend.kit.safe_http import require_fetchable


class NoOpenAIKey(NotFound):
    def __init__(self) -> None:
        super().__init__("No OpenAI key is connected to this workspace")


def _last4(secret: str) -> str:
    return secret[-4:]


async def connect_openai(
    context: AppContext, subject: AuthSubject[User], api_key: str
) -> dict[str, Any]:
    """Check the key with OpenAI first (no transaction is open while it answers), then save."""
    subject.require_admin("manage provider keys")
    api_key = api_key.strip()
    try:
        models = await context.openai.list_models(api_key)
    except InvalidKey as exc:
        raise ValidationFailed(
            "OpenAI refused this key", errors=[{"field": "api_key", "message": "invalid key"}]
        ) from exc
    except OpenAIError as exc:
        raise ProviderUnavailable(f"{exc} The key was not checked, so it was not saved.") from exc
    async with context.db.as_claims(subject.principal.claims) as conn:
        return await repository.save_openai(
            conn,
            subject.workspace_id,
            encrypted_api_key=context.secrets.encrypt(api_key),
            key_last4=_last4(api_key),
            models=models,
        )


async def validate_openai(context: AppContext, subject: AuthSubject[User]) -> dict[str, Any]:
    async with context.db.as_claims(subject.principal.claims) as conn:
        row = await repository.get_openai(conn, subject.workspace_id)
    if row is None:
        raise NoOpenAIKey()
    try:
        models: list[str] | None = await context.openai.list_models(
            context.secrets.decrypt(row["encrypted_api_key"])
        )
        error = None
    except InvalidKey:
        models, error = None, "OpenAI refused this key"
    except OpenAIError as exc:
        raise ProviderUnavailable(f"{exc} The key was not checked.") from exc
    async with context.db.as_claims(subject.principal.claims) as conn:
        checked = await repository.record_openai_check(
            conn, subject.workspace_id, valid=error is None, models=models, error=error
        )
    if checked is None:  # disconnected meanwhile
        raise NoOpenAIKey()
    return {**checked, "valid": error is None, "error": error}


async def openai_status(conn: Connection, subject: AuthSubject[User]) -> dict[str, Any]:
    row = await repository.get_openai(conn, subject.workspace_id)
    if row is None:
        return {"connected": False}
    return {**row, "connected": True}


async def disconnect_openai(conn: Connection, subject: AuthSubject[User]) -> None:
    subject.require_admin("manage provider keys")
    if not await repository.delete_openai(conn, subject.workspace_id):
        raise NoOpenAIKey()


async def connect_commerce(
    conn: Connection, context: AppContext, subject: AuthSubject[User], data: CommerceConnect
) -> dict[str, Any]:
    subject.require_admin("manage provider keys")
    base_url = str(data.base_url).rstrip("/")
    await require_fetchable(context.http, base_url, field="base_url")
    row = await repository.save_commerce(
        conn,
        subject.workspace_id,
        base_url=base_url,
        encrypted_api_key=context.secrets.encrypt(data.api_key),
        key_last4=_last4(data.api_key),
    )
    return {**row, "connected": True}


async def commerce_status(conn: Connection, subject: AuthSubject[User]) -> dict[str, Any]:
    row = await repository.get_commerce(conn, subject.workspace_id)
    return {**row, "connected": True} if row else {"connected": False}


async def disconnect_commerce(conn: Connection, subject: AuthSubject[User]) -> None:
    subject.require_admin("manage provider keys")
    if not await repository.delete_commerce(conn, subject.workspace_id):
        raise NotFound("No commerce API is connected to this workspace")
