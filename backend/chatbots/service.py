"""Chatbot rules: who may change what, which models a bot may use, and keeping the response
cache honest (any change to what a bot would answer makes its cached answers stale)."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from psycopg import errors as pg_errors

from backend.auth.subjects import AuthSubject, User
from backend.billing.prices import CHAT_MODELS
from backend.business import repository as business
from backend.chat.tools import BUILTIN_TOOL_NAMES
from backend.chatbots import repository
from backend.chatbots.schemas import (
    ActionCreate,
    ActionUpdate,
    ChatbotCreate,
    ChatbotUpdate,
    FaqCreate,
    FaqUpdate,
    FormCreate,
    FormUpdate,
    Theme,
)
from backend.connections import service as connections
from backend.connections.schemas import Provider
from backend.db import Connection
from backend.errors import Conflict, NotFound, ValidationFailed
from backend.kit.crypto import SecretBox
from backend.kit.safe_http import SafeHTTPClient, require_fetchable
from backend.knowledge import service as knowledge


class ChatbotNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Chatbot not found")


# Provider model ids that cannot answer a chat completion (embeddings, audio, images, …): a
# key's model list names them too, and a bot set to one would fail at every message.
_NOT_CHAT_MODELS = (
    "embedding",
    "moderation",
    "tts",
    "whisper",
    "transcribe",
    "dall-e",
    "image",
    "realtime",
    "instruct",
    "babbage",
    "davinci",
)


def _is_chat_model(model: str) -> bool:
    return not any(part in model for part in _NOT_CHAT_MODELS)


async def _check_model(conn: Connection, workspace_id: UUID, model: str) -> None:
    """A chat model the workspace's key can use, or one we know when no key is connected yet."""
    connection = await connections.status(conn, workspace_id, Provider.OPENAI)
    models = connection.settings.get("models") if connection else None
    allowed = {m for m in models if _is_chat_model(m)} if models else set(CHAT_MODELS)
    if model not in allowed:
        raise ValidationFailed(
            f"Unknown model '{model}'",
            errors=[
                {"field": "model", "message": "choose one of: " + ", ".join(sorted(allowed)[:20])}
            ],
        )


async def get(conn: Connection, workspace_id: UUID, chatbot_id: UUID) -> dict[str, Any]:
    row = await repository.get_chatbot(conn, workspace_id, chatbot_id)
    if row is None:
        raise ChatbotNotFound()
    return row


async def list_chatbots(
    conn: Connection, workspace_id: UUID, *, page: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    return await repository.list_chatbots(
        conn, workspace_id, limit=limit, offset=(page - 1) * limit
    )


async def create(
    conn: Connection, subject: AuthSubject[User], data: ChatbotCreate
) -> dict[str, Any]:
    subject.require_admin("change chatbots")
    values = data.model_dump(exclude_none=True)
    if "model" in values:
        await _check_model(conn, subject.workspace_id, values["model"])
    if "theme" in values:
        values["theme"] = data.theme.model_dump() if data.theme else None
    values["created_by"] = subject.principal.id
    row = await repository.create_chatbot(conn, subject.workspace_id, values)
    if row["knowledge_base"]:
        await _index_knowledge_base(conn, row)
        return await get(conn, subject.workspace_id, row["id"])  # with the summary redone
    return row


async def _index_knowledge_base(conn: Connection, bot: dict[str, Any]) -> None:
    """The documented `knowledge_base` text is one more knowledge source of the bot."""
    config = await business.get_ai_config(conn, bot["workspace_id"])
    await knowledge.sync_inline_source(
        conn,
        workspace_id=bot["workspace_id"],
        chatbot_id=bot["id"],
        text=bot["knowledge_base"],
        language=config["language"],
    )


async def update(
    conn: Connection, subject: AuthSubject[User], chatbot_id: UUID, data: ChatbotUpdate
) -> dict[str, Any]:
    subject.require_admin("change chatbots")
    changes = data.model_dump(exclude_unset=True)
    if any(value is None for value in changes.values()):
        nulls = [name for name, value in changes.items() if value is None]
        raise ValidationFailed(
            "These fields cannot be null",
            errors=[{"field": n, "message": "cannot be null"} for n in nulls],
        )
    if not changes:
        return await get(conn, subject.workspace_id, chatbot_id)
    if "model" in changes:
        await _check_model(conn, subject.workspace_id, changes["model"])
    if data.theme is not None:
        # PATCH semantics inside the theme too: the colours sent replace those, the rest stays
        # (replacing the whole theme would drop the avatar of an admin changing a colour).
        current = await get(conn, subject.workspace_id, chatbot_id)
        changes["theme"] = Theme.model_validate(
            {**current["theme"], **data.theme.model_dump(exclude_unset=True)}
        ).model_dump()
    row = await repository.update_chatbot(
        conn,
        subject.workspace_id,
        chatbot_id,
        changes,
    )
    if row is None:
        raise ChatbotNotFound()
    if "knowledge_base" in changes:
        await _index_knowledge_base(conn, row)
        return await get(conn, subject.workspace_id, chatbot_id)  # with the summary redone
    return row


async def delete(conn: Connection, subject: AuthSubject[User], chatbot_id: UUID) -> None:
    subject.require_admin("change chatbots")
    if not await repository.delete_chatbot(conn, subject.workspace_id, chatbot_id):
        raise ChatbotNotFound()


# -- FAQs, forms, actions ---------------------------------------------------------------------


def _action_out(row: dict[str, Any], secrets: SecretBox) -> dict[str, Any]:
    headers = (
        json.loads(secrets.decrypt(row["encrypted_headers"])) if row["encrypted_headers"] else {}
    )
    return {**row, "header_names": sorted(headers)}


async def rotate_action_headers(conn: Connection, secrets: SecretBox) -> int:
    """Re-encrypt every action's headers with the newest key (`voxtro rotate-secrets`, in a
    system transaction); how many actions have headers."""
    rows = await repository.action_headers_for_update(conn)
    for row in rows:
        await repository.store_action_headers(
            conn, row["id"], secrets.rotate(row["encrypted_headers"])
        )
    return len(rows)


# What a PATCH may set to null: an FAQ's category, an action's headers (none at all).
_CLEARABLE = {"faqs": {"category"}, "forms": set[str](), "actions": {"headers"}}


def _child_values(kind: str, values: dict[str, Any], secrets: SecretBox) -> dict[str, Any]:
    if kind == "actions" and values.get("name") in BUILTIN_TOOL_NAMES:
        raise ValidationFailed(
            f"'{values['name']}' is the name of a built-in tool",
            errors=[
                {"field": "name", "message": "reserved: " + ", ".join(sorted(BUILTIN_TOOL_NAMES))}
            ],
        )
    if kind == "actions" and "headers" in values:
        headers = values.pop("headers")
        values["encrypted_headers"] = secrets.encrypt(json.dumps(headers)) if headers else None
    return values


async def list_children(
    conn: Connection, kind: str, workspace_id: UUID, chatbot_id: UUID, secrets: SecretBox
) -> list[dict[str, Any]]:
    await get(conn, workspace_id, chatbot_id)
    rows = await repository.list_children(conn, kind, workspace_id, chatbot_id)
    return [_action_out(r, secrets) for r in rows] if kind == "actions" else rows


async def create_child(
    conn: Connection,
    kind: str,
    subject: AuthSubject[User],
    chatbot_id: UUID,
    data: FaqCreate | FormCreate | ActionCreate,
    secrets: SecretBox,
    http: SafeHTTPClient,
) -> dict[str, Any]:
    subject.require_admin("change chatbots")
    await get(conn, subject.workspace_id, chatbot_id)
    values = _child_values(kind, data.model_dump(), secrets)
    if kind == "actions":
        await require_fetchable(http, values["url_template"], field="url_template")
    try:
        async with conn.transaction():
            row = await repository.create_child(
                conn, kind, subject.workspace_id, chatbot_id, values
            )
    except pg_errors.UniqueViolation as exc:
        raise Conflict(f"This chatbot already has an action named '{values.get('name')}'") from exc
    return _action_out(row, secrets) if kind == "actions" else row


async def update_child(
    conn: Connection,
    kind: str,
    subject: AuthSubject[User],
    chatbot_id: UUID,
    child_id: UUID,
    data: FaqUpdate | FormUpdate | ActionUpdate,
    secrets: SecretBox,
    http: SafeHTTPClient,
) -> dict[str, Any]:
    subject.require_admin("change chatbots")
    sent = data.model_dump(exclude_unset=True)
    # PATCH: a field left out stays; a field sent as null is cleared, which only some may be.
    nulls = [name for name, value in sent.items() if value is None and name not in _CLEARABLE[kind]]
    if nulls:
        raise ValidationFailed(
            "These fields cannot be null",
            errors=[{"field": n, "message": "cannot be null"} for n in nulls],
        )
    changes = _child_values(kind, sent, secrets)
    if kind == "actions" and changes.get("url_template"):
        await require_fetchable(http, changes["url_template"], field="url_template")
    try:
        async with conn.transaction():
            row = await repository.update_child(
                conn, kind, subject.workspace_id, chatbot_id, child_id, changes
            )
    except pg_errors.UniqueViolation as exc:
        raise Conflict(f"This chatbot already has an action named '{changes.get('name')}'") from exc
    except pg_errors.NotNullViolation as exc:
        raise ValidationFailed("A required field was set to null") from exc
    if row is None:
        raise NotFound(f"{kind[:-1].capitalize()} not found")
    return _action_out(row, secrets) if kind == "actions" else row


async def delete_child(
    conn: Connection, kind: str, subject: AuthSubject[User], chatbot_id: UUID, child_id: UUID
) -> None:
    subject.require_admin("change chatbots")
    if not await repository.delete_child(conn, kind, subject.workspace_id, chatbot_id, child_id):
        raise NotFound(f"{kind[:-1].capitalize()} not found")
