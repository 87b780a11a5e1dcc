"""The send API's messages in Meta's wire format (providers.md §4), checked against Meta's
limits before anything is stored or sent; and a bot's message history."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel
from pydantic import ValidationError as PydanticError

from backend.chatbots import repository as chatbots
from backend.contacts import repository as contacts_repository
from backend.contacts import service as contacts
from backend.db import Connection
from backend.errors import ValidationFailed
from backend.whatsapp import repository, sender
from backend.whatsapp.schemas import (
    ButtonAction,
    ListAction,
    SendInteractive,
    SendMedia,
    SendTemplate,
    SendText,
)

# -- what the send API sends --------------------------------------------------------------------


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed("Invalid request data", errors=[{"field": field, "message": message}])


def text(data: SendText) -> dict[str, Any]:
    return {"type": "text", "text": {"body": data.text, "preview_url": data.preview_url}}


def _parameter(value: str | int | float, name: str | None = None) -> dict[str, Any]:
    parameter: dict[str, Any] = {"type": "text", "text": str(value)}
    if name is not None:
        parameter["parameter_name"] = name
    return parameter


def template(data: SendTemplate) -> dict[str, Any]:
    """Meta's components as given, or built from `parameters` (the body's) and `buttons`."""
    if data.components is not None and (data.parameters is not None or data.buttons):
        raise _invalid("components", "give either components or parameters/buttons, not both")
    components: list[dict[str, Any]] = list(data.components or [])
    if isinstance(data.parameters, dict):
        components.append(
            {
                "type": "body",
                "parameters": [_parameter(v, k) for k, v in data.parameters.items()],
            }
        )
    elif data.parameters:
        components.append({"type": "body", "parameters": [_parameter(v) for v in data.parameters]})
    for position, button in enumerate(data.buttons or []):
        field = f"buttons.{position}"
        if button.type == "quick_reply":
            if button.payload is None:
                raise _invalid(f"{field}.payload", "a quick reply button needs its payload")
            parameter: dict[str, Any] = {"type": "payload", "payload": button.payload}
        elif button.type == "copy_code":
            if button.text is None:
                raise _invalid(f"{field}.text", "a copy code button needs its code")
            parameter = {"type": "coupon_code", "coupon_code": button.text}
        else:
            if button.text is None:
                raise _invalid(f"{field}.text", "a URL button needs the URL's suffix")
            parameter = {"type": "text", "text": button.text}
        components.append(
            {
                "type": "button",
                "sub_type": button.type,
                "index": button.index if button.index is not None else position,
                "parameters": [parameter],
            }
        )
    body: dict[str, Any] = {"name": data.template_name, "language": {"code": data.language_code}}
    if components:
        body["components"] = components
    return {"type": "template", "template": body}


def media(data: SendMedia) -> dict[str, Any]:
    if (data.link is None) == (data.media_id is None):
        raise _invalid("link", "give exactly one of link and media_id")
    if data.caption is not None and data.media_type in ("audio", "sticker"):
        raise _invalid("caption", f"{data.media_type} messages have no caption")
    if data.filename is not None and data.media_type != "document":
        raise _invalid("filename", "only documents have a file name")
    part: dict[str, Any] = {"link": data.link} if data.link else {"id": data.media_id}
    if data.caption is not None:
        part["caption"] = data.caption
    if data.filename is not None:
        part["filename"] = data.filename
    return {"type": data.media_type, data.media_type: part}


def _action(kind: type[BaseModel], action: dict[str, Any]) -> dict[str, Any]:
    try:
        checked = kind.model_validate(action)
    except PydanticError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in ("action", *problem["loc"]))
        raise _invalid(where, str(problem["msg"])) from None
    return checked.model_dump(exclude_none=True)


def interactive(data: SendInteractive) -> dict[str, Any]:
    part: dict[str, Any] = {"type": data.type, "body": {"text": data.body.text}}
    if data.header is not None:
        header = data.header
        if header.type == "text":
            if header.text is None:
                raise _invalid("header.text", "a text header needs its text")
        else:
            if data.type == "list":
                raise _invalid("header.type", "a list's header is text")
            found = getattr(header, header.type)
            if found is None or (found.link is None) == (found.id is None):
                raise _invalid(f"header.{header.type}", "give exactly one of link and id")
        part["header"] = header.model_dump(exclude_none=True)
    if data.footer is not None:
        part["footer"] = {"text": data.footer.text}
    part["action"] = _action(ButtonAction if data.type == "button" else ListAction, data.action)
    return {"type": "interactive", "interactive": part}


# -- the history ----------------------------------------------------------------------------------


def _cursor(before: str | None) -> tuple[UUID | None, datetime | None]:
    """`before`: one of our message ids, or a time (ISO 8601)."""
    if before is None:
        return None, None
    try:
        return UUID(before), None
    except ValueError:
        pass
    try:
        at = datetime.fromisoformat(before.replace("Z", "+00:00"))
    except ValueError:
        raise _invalid("before", "must be a message id or an ISO 8601 time") from None
    if at.tzinfo is None:
        raise _invalid("before", "a time needs its time zone (Z for UTC)")
    return None, at


async def _contact_id(conn: Connection, workspace_id: UUID, contact: str) -> UUID | None:
    """A contact id, or the contact with this phone (any format); None: nobody has it."""
    try:
        return UUID(contact)
    except ValueError:
        pass
    try:
        e164 = await contacts.normalise_phone(
            conn=conn, workspace_id=workspace_id, phone=sender.international(contact)
        )
    except contacts.InvalidPhone as exc:
        raise _invalid("contact", exc.errors[0]["message"]) from None
    found = await contacts_repository.by_phone(conn, workspace_id=workspace_id, phone=e164)
    return found["id"] if found else None


async def history(
    conn: Connection,
    *,
    workspace_id: UUID,
    chatbot_id: UUID,
    limit: int,
    contact: str | None,
    before: str | None,
) -> dict[str, Any]:
    """The bot's WhatsApp messages, newest first, a page of `limit`; and the cursor of the next
    page."""
    if not await chatbots.chatbot_ids(conn, workspace_id, only=chatbot_id):
        raise sender.BotNotFound()
    before_id, before_at = _cursor(before)
    contact_id = None
    if contact is not None:
        contact_id = await _contact_id(conn, workspace_id, contact)
        if contact_id is None:
            return {"messages": [], "next_before": None}
    rows = await repository.message_history(
        conn,
        chatbot_id=chatbot_id,
        contact_id=contact_id,
        before_id=before_id,
        before_at=before_at,
        limit=limit,
    )
    shown = [
        {
            **row,
            "contact": {
                "id": row["contact_id"],
                "phone": row["contact_phone"],
                "name": row["contact_name"],
            },
        }
        for row in rows
    ]
    return {
        "messages": shown,
        "next_before": rows[-1]["id"] if len(rows) == limit else None,
    }
