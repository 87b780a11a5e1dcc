"""A bot's message templates as Meta lists them for its WhatsApp Business Account (synced with
the primary number's token, every page), and the check of a template send against a synced
definition: the parameters its body and header take (`{{1}}` or `{{name}}` placeholders), the
parameter of a URL button with a dynamic suffix, a quick-reply button's payload. A template
that was never synced is not checked: Meta has the last word then."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

from backend.auth.subjects import AuthSubject, User
from backend.chatbots import service as chatbots
from backend.connections import service as connections
from backend.connections.schemas import Provider
from backend.db import Connection
from backend.errors import Conflict, ProviderUnavailable, ValidationFailed
from backend.integrations.whatsapp.client import GraphError, WhatsAppUnavailable
from backend.whatsapp import repository
from backend.whatsapp.bots import PRIMARY

if TYPE_CHECKING:
    from backend.context import AppContext

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
_MEDIA_HEADERS = {"IMAGE", "VIDEO", "DOCUMENT", "LOCATION"}
# Buttons whose send carries a parameter: a URL's dynamic suffix, a coupon code, an OTP.
_TEXT_BUTTONS = {"URL", "COPY_CODE", "OTP"}
# What a send calls each kind of definition button (`sub_type`); an OTP button is sent as a
# URL button carrying the code.
_SUB_TYPES = {"URL": "URL", "QUICK_REPLY": "QUICK_REPLY", "COPY_CODE": "COPY_CODE", "OTP": "URL"}


class NoBusinessAccount(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "This bot has no WhatsApp Business Account: set whatsapp_business_account_id first",
            errors=[{"field": "whatsapp_business_account_id", "message": "not set"}],
        )


class NoPrimaryNumber(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "This bot has no WhatsApp number to read its templates with",
            errors=[{"field": "whatsapp_phone_number_id", "message": "not set"}],
        )


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def _definition(template: dict[str, Any]) -> dict[str, Any] | None:
    """A template as we keep it (the table's limits), None when Meta's entry lacks its key."""
    name, language = _text(template.get("name"), 512), _text(template.get("language"), 20)
    if name is None or language is None:
        return None
    components = template.get("components")
    return {
        "name": name,
        "language": language,
        "template_id": _text(template.get("id"), 64),
        "category": _text(template.get("category"), 40),
        "status": _text(template.get("status"), 40),
        "parameter_format": _text(template.get("parameter_format"), 20),
        "components": [c for c in components if isinstance(c, dict)]
        if isinstance(components, list)
        else [],
    }


async def _bot_account(
    context: AppContext, subject: AuthSubject[User], bot_id: UUID
) -> tuple[str, str, str]:
    """The bot's business account, its primary number and that number's token."""
    async with context.db.as_claims(subject.principal.claims) as conn:
        await chatbots.get(conn, subject.workspace_id, bot_id)
        settings = await repository.bot_settings(conn, bot_id)
        account = settings["business_account_id"] if settings else None
        if account is None:
            raise NoBusinessAccount()
        numbers = {n["role"]: n for n in await repository.bot_numbers(conn, bot_id)}
        number_id = numbers[PRIMARY]["phone_number_id"] if PRIMARY in numbers else None
        stored = (
            await connections.load(
                conn, context.secrets, subject.workspace_id, Provider.WHATSAPP, number_id
            )
            if number_id
            else None
        )
    if number_id is None or stored is None or not stored.has("access_token"):
        raise NoPrimaryNumber()
    return account, number_id, stored.secret("access_token")


async def sync(context: AppContext, subject: AuthSubject[User], bot_id: UUID) -> dict[str, Any]:
    """Every template of the bot's business account, as Meta lists it now: upserted, and the
    ones Meta no longer lists removed. A token Meta refuses is marked invalid (400)."""
    subject.require_admin("sync WhatsApp templates")
    account, number_id, token = await _bot_account(context, subject, bot_id)
    try:
        listed = await context.whatsapp.client(token).templates(account)
    except WhatsAppUnavailable as exc:
        raise ProviderUnavailable(exc.message) from exc
    except GraphError as exc:
        if exc.retryable or exc.code is None:
            raise ProviderUnavailable(
                f"The WhatsApp Cloud API could not list the templates: {exc.describe()}"
            ) from exc
        if exc.token_refused:
            async with context.db.as_claims(subject.principal.claims) as conn:
                await connections.mark_invalid(
                    conn, subject.workspace_id, Provider.WHATSAPP, exc.describe(), number_id
                )
            raise ValidationFailed(
                f"WhatsApp refused the bot's access token: {exc.describe()}",
                errors=[{"field": "whatsapp_access_token", "message": "refused by Meta"}],
            ) from exc
        raise ValidationFailed(
            f"WhatsApp refused to list this account's templates: {exc.describe()}",
            errors=[{"field": "whatsapp_business_account_id", "message": exc.title}],
        ) from exc
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for template in listed:
        definition = _definition(template)
        if definition is not None:
            found[(definition["name"], definition["language"])] = definition
    async with context.db.as_claims(subject.principal.claims) as conn:
        removed = await repository.save_templates(
            conn, subject.workspace_id, account, list(found.values())
        )
        rows = await repository.list_templates(conn, subject.workspace_id, account)
    return {"synced": len(found), "removed": removed, "templates": rows}


async def list_templates(
    conn: Connection,
    workspace_id: UUID,
    bot_id: UUID,
    *,
    status: str | None = None,
    name: str | None = None,
) -> list[dict[str, Any]]:
    """The synced templates of the bot's business account (none before it has one)."""
    await chatbots.get(conn, workspace_id, bot_id)
    settings = await repository.bot_settings(conn, bot_id)
    if not settings or not settings["business_account_id"]:
        return []
    return await repository.list_templates(
        conn, workspace_id, settings["business_account_id"], status=status, name=name
    )


# -- checking a send ----------------------------------------------------------------------------


def _placeholders(text: Any) -> list[str]:
    """A text's placeholders, each once, in order of first appearance."""
    found = _PLACEHOLDER.findall(text) if isinstance(text, str) else []
    return list(dict.fromkeys(found))


def _upper(value: Any) -> str:
    return value.upper() if isinstance(value, str) else ""


def _parts(definition: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], list[dict]]:
    """The definition's header, body and buttons."""
    header: dict[str, Any] = {}
    body: dict[str, Any] = {}
    buttons: list[dict[str, Any]] = []
    for component in definition.get("components") or []:
        kind = _upper(component.get("type"))
        if kind == "HEADER":
            header = component
        elif kind == "BODY":
            body = component
        elif kind == "BUTTONS":
            buttons = [b for b in component.get("buttons") or [] if isinstance(b, dict)]
    return header, body, buttons


def _takes_parameter(button: dict[str, Any]) -> bool:
    kind = _upper(button.get("type"))
    if kind == "URL":
        return bool(_placeholders(button.get("url")))
    return kind in _TEXT_BUTTONS or kind == "QUICK_REPLY"


def _check_parameters(
    problems: list[str], where: str, expected: list[str], parameters: list[Any]
) -> None:
    """Positional placeholders take that many parameters; named ones, each by its name."""
    if expected and not all(p.isdigit() for p in expected):
        names = [p.get("parameter_name") for p in parameters if isinstance(p, dict)]
        missing = [n for n in expected if n not in names]
        unknown = [n for n in names if n not in expected]
        if missing:
            problems.append(f"the {where} needs the parameters {', '.join(missing)}")
        if unknown:
            problems.append(f"the {where} has no parameter {', '.join(map(str, unknown))}")
        return
    if len(parameters) != len(expected):
        problems.append(f"the {where} takes {len(expected)} parameters, {len(parameters)} given")


def problems(definition: dict[str, Any], components: Sequence[Mapping[str, Any]]) -> list[str]:
    """What does not fit the definition in a send's components (none: it fits)."""
    header, body, buttons = _parts(definition)
    found: list[str] = []
    sent: dict[str, list[Any]] = {"HEADER": [], "BODY": []}
    sent_buttons: dict[int, Mapping[str, Any]] = {}
    for component in components:
        kind = _upper(component.get("type"))
        parameters = component.get("parameters")
        parameters = parameters if isinstance(parameters, list) else []
        if kind in sent:
            sent[kind] = parameters
        elif kind == "BUTTON":
            try:
                index = int(component.get("index", -1))
            except (TypeError, ValueError):
                index = -1
            if not 0 <= index < len(buttons):
                found.append(f"the template has no button {component.get('index')}")
            else:
                sent_buttons[index] = component
        else:
            found.append(f"a template send has no '{component.get('type')}' component")
    header_format = _upper(header.get("format")) or ("TEXT" if header else "")
    if header_format in _MEDIA_HEADERS:
        media = header_format.lower()
        if (
            len(sent["HEADER"]) != 1
            or not isinstance(sent["HEADER"][0], dict)
            or (_upper(sent["HEADER"][0].get("type")) != header_format)
        ):
            found.append(f"the header takes one {media} parameter")
    else:
        _check_parameters(found, "header", _placeholders(header.get("text")), sent["HEADER"])
    _check_parameters(found, "body", _placeholders(body.get("text")), sent["BODY"])
    for index, button in enumerate(buttons):
        kind = _upper(button.get("type"))
        sent_button = sent_buttons.get(index)
        if sent_button is None:
            if kind == "URL" and _takes_parameter(button):
                found.append(f"button {index} (a URL with a dynamic suffix) needs its parameter")
            elif kind in {"COPY_CODE", "OTP"}:
                found.append(f"button {index} ({kind.lower()}) needs its code")
            continue
        if _upper(sent_button.get("sub_type")) != _SUB_TYPES.get(kind, kind):
            found.append(f"button {index} is a {kind.lower()} button")
            continue
        parameters = sent_button.get("parameters")
        parameters = parameters if isinstance(parameters, list) else []
        first = parameters[0] if parameters and isinstance(parameters[0], dict) else {}
        if not _takes_parameter(button):
            found.append(f"button {index} takes no parameter")
        elif kind == "QUICK_REPLY" and not (
            _upper(first.get("type")) == "PAYLOAD" and first.get("payload")
        ):
            found.append(f"button {index} (a quick reply) takes a payload")
        elif kind != "QUICK_REPLY" and len(parameters) != 1:
            found.append(f"button {index} takes one parameter")
    return found


async def check_send(
    conn: Connection,
    *,
    workspace_id: UUID,
    business_account_id: str | None,
    name: str,
    language: str,
    components: Sequence[Mapping[str, Any]],
    field: str = "components",
) -> None:
    """Refuse (400 naming `field`) a template send that does not fit the synced definition of
    the template in that language; nothing is checked when none is synced."""
    if not business_account_id:
        return
    definition = await repository.template(conn, workspace_id, business_account_id, name, language)
    if definition is None:
        return
    status = _upper(definition.get("status"))
    if status and status != "APPROVED":
        raise ValidationFailed(
            f"The template '{name}' ({language}) is {status.lower()}, not approved by Meta",
            errors=[{"field": "template_name", "message": f"status {status}"}],
        )
    found = problems(definition, components)
    if found:
        raise ValidationFailed(
            f"The send does not fit the template '{name}' ({language}): " + "; ".join(found),
            errors=[{"field": field, "message": p} for p in found],
        )


def template_components(
    definition: dict[str, Any],
    *,
    body: Sequence[str] | Mapping[str, str] = (),
    header: Sequence[str] | Mapping[str, str] = (),
    buttons: Mapping[int, str] | None = None,
) -> list[dict[str, Any]]:
    """A send's components from plain values: the body's (and a text header's) parameters,
    positional (a list) or named (a mapping), and a value per button index (a URL's suffix,
    a code, a quick reply's payload). What the definition does not take is left out, for
    `check_send` to name."""
    _, _, defined_buttons = _parts(definition)
    components: list[dict[str, Any]] = []
    for kind, values in (("header", header), ("body", body)):
        if isinstance(values, Mapping):
            parameters = [
                {"type": "text", "parameter_name": k, "text": v} for k, v in values.items()
            ]
        else:
            parameters = [{"type": "text", "text": v} for v in values]
        if parameters:
            components.append({"type": kind, "parameters": parameters})
    for index, value in sorted((buttons or {}).items()):
        button = defined_buttons[index] if 0 <= index < len(defined_buttons) else {}
        kind = _upper(button.get("type")) or "URL"
        parameter = (
            {"type": "payload", "payload": value}
            if kind == "QUICK_REPLY"
            else {"type": "coupon_code", "coupon_code": value}
            if kind == "COPY_CODE"
            else {"type": "text", "text": value}
        )
        components.append(
            {
                "type": "button",
                "sub_type": _SUB_TYPES.get(kind, kind).lower(),
                "index": str(index),
                "parameters": [parameter],
            }
        )
    return components
