"""A visitor's form submission: checked against the form's fields, stored, and made a lead."""

from __future__ import annotations

import datetime as dt
from typing import Any

from email_validator import EmailNotValidError, validate_email
from fastapi import Request

from backend.auth.dependencies import limit_visitor
from backend.business import service as business
from backend.context import AppContext
from backend.conversations import repository as conversations
from backend.errors import NotFound, ValidationFailed
from backend.kit.phones import to_e164
from backend.leads import repository as leads
from backend.widget import repository, service
from backend.widget.schemas import FormSubmitIn, FormSubmitOut

MAX_TEXT = 5000
# Field names (or labels) whose value is a lead's name or company, whatever the field's type.
_NAME_FIELDS = frozenset({"name", "full_name", "fullname", "your_name"})
_COMPANY_FIELDS = frozenset({"company", "company_name", "organisation", "organization"})


def check(
    fields: list[dict[str, Any]], data: dict[str, Any], region: str | None = None
) -> tuple[dict[str, Any], list[dict]]:
    """The submission with each value in its canonical form (trimmed text, lower-case e-mail,
    E.164 phone: a national number read in `region`, the workspace's country; ISO date,
    number, boolean), and the errors, one per field at fault."""
    errors: list[dict[str, str]] = []
    clean: dict[str, Any] = {}
    known = {field["name"] for field in fields}
    for name in data:
        if name not in known:
            errors.append(
                {"field": f"submitted_data.{name}", "message": "not a field of this form"}
            )
    for field in fields:
        name, raw = field["name"], data.get(field["name"])
        empty = raw is None or (isinstance(raw, str) and not raw.strip()) or raw is False
        if empty:
            if field.get("required"):
                errors.append({"field": f"submitted_data.{name}", "message": "is required"})
            continue
        try:
            clean[name] = _value(field, raw, region)
        except ValueError as exc:
            errors.append({"field": f"submitted_data.{name}", "message": str(exc)})
    return clean, errors


def _value(field: dict[str, Any], raw: Any, region: str | None) -> Any:
    kind = field.get("type", "text")
    if kind == "checkbox":
        if not isinstance(raw, bool):
            raise ValueError("must be true or false")
        return raw
    if kind == "number":
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise ValueError("must be a number")
        try:
            return float(raw) if not isinstance(raw, int) else raw
        except ValueError:
            raise ValueError("must be a number") from None
    if not isinstance(raw, str):
        raise ValueError("must be text")
    text = raw.strip()
    if len(text) > MAX_TEXT:
        raise ValueError(f"must be at most {MAX_TEXT} characters")
    if kind == "email":
        try:
            return validate_email(text, check_deliverability=False).normalized.lower()
        except EmailNotValidError:
            raise ValueError("must be an e-mail address") from None
    if kind == "phone":
        return to_e164(text, region)
    if kind == "date":
        try:
            return dt.date.fromisoformat(text).isoformat()
        except ValueError:
            raise ValueError("must be a date (YYYY-MM-DD)") from None
    if kind == "select" and text not in (field.get("options") or []):
        raise ValueError("must be one of the options")
    return text


def lead_of(fields: list[dict[str, Any]], clean: dict[str, Any]) -> dict[str, Any] | None:
    """Name, e-mail, phone and company from the submission (by field type, or by name), the
    rest as notes; None when it says nothing about who to contact."""
    lead: dict[str, Any] = {}
    notes = []
    for field in fields:
        name = field["name"]
        if name not in clean:
            continue
        value = clean[name]
        key = name.lower()
        if field.get("type") == "email" and "email" not in lead:
            lead["email"] = value
        elif field.get("type") == "phone" and "phone" not in lead:
            lead["phone"] = value
        elif key in _NAME_FIELDS and "name" not in lead:
            lead["name"] = value
        elif key in _COMPANY_FIELDS and "company" not in lead:
            lead["company"] = value
        else:
            notes.append(f"{field.get('label') or name}: {value}")
    if not lead.keys() & {"email", "phone"}:
        return None
    if notes:
        lead["notes"] = "\n".join(notes)
    return lead


async def submit(context: AppContext, request: Request, data: FormSubmitIn) -> FormSubmitOut:
    """Check a submission from the form's page, store it against the visitor's conversation,
    and keep a lead when it says how to reach them."""
    async with context.db.system() as conn:
        form = await repository.active_form(conn, data.form_id)
        region = None
        if form is not None and any(f.get("type") == "phone" for f in form["fields"]):
            region = await business.default_region(conn, form["workspace_id"])
    if form is None:
        raise NotFound("Form not found")
    service.check_origin(request, form["allowed_domains"])
    await limit_visitor(context, request, form["chatbot_id"], data.visitor_id)
    clean, errors = check(form["fields"], data.submitted_data, region)
    if errors:
        raise ValidationFailed("Some fields need another look", errors=errors)
    lead = lead_of(form["fields"], clean)
    async with context.db.for_workspace(form["workspace_id"], "widget") as conn:
        if data.conversation_id is not None and not await conversations.conversation_of(
            conn, data.conversation_id, form["chatbot_id"], data.visitor_id
        ):
            raise NotFound("Conversation not found")
        lead_id = None
        if lead is not None:
            kept = await leads.keep(
                conn,
                form["workspace_id"],
                chatbot_id=form["chatbot_id"],
                conversation_id=data.conversation_id,
                values=lead,
                source="form",
            )
            lead_id = kept["id"]
        submission_id = await repository.add_submission(
            conn,
            {
                "workspace_id": form["workspace_id"],
                "chatbot_id": form["chatbot_id"],
                "form_id": form["id"],
                "conversation_id": data.conversation_id,
                "visitor_id": data.visitor_id,
                "submitted_data": clean,
                "lead_id": lead_id,
            },
        )
    return FormSubmitOut(
        submission_id=submission_id, lead_id=lead_id, message=form["submit_message"]
    )
