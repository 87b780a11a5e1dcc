"""The bot builder's bots (seed 001's `/bots/`): a bot is one of the workspace's chatbots, and
its WhatsApp settings are its numbers (a primary one, and optionally a marketing one, CHICX
guide §5.1), their credentials and the bot's switch.

A number's access token, app secret and (primary) verify token are a `connections` row per
number, checked with Meta's Graph API before anything is stored: every number of a request is
checked first, with no transaction open, then the chatbot's fields, the bot's settings, its
numbers and their connections are written in one transaction, so a refusal changes nothing.
A number belongs to one bot on the whole platform."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

from psycopg import errors as pg_errors

from backend.auth.subjects import AuthSubject, User
from backend.chatbots import repository as chatbots_repository
from backend.chatbots import service as chatbots
from backend.chatbots.schemas import ChatbotCreate, ChatbotUpdate
from backend.connections import service as connections
from backend.connections.schemas import Provider
from backend.connections.validators import Checked, KeyRefused
from backend.db import Connection, as_login_role
from backend.errors import Conflict, ValidationFailed
from backend.whatsapp import repository
from backend.whatsapp.schemas import WHATSAPP_FIELDS, BotCreate, BotUpdate

if TYPE_CHECKING:
    from backend.context import AppContext

PRIMARY, MARKETING = "primary", "marketing"
WEBHOOK_PATH = "/whatsapp/webhook"


@dataclass(frozen=True)
class _Names:
    """What the request calls a number's fields, for its role."""

    phone_number_id: str
    access_token: str
    app_secret: str
    verify_token: str | None = None

    def of(self, secret: str) -> str | None:
        return {
            "access_token": self.access_token,
            "app_secret": self.app_secret,
            "verify_token": self.verify_token,
        }[secret]


NAMES = {
    PRIMARY: _Names(
        "whatsapp_phone_number_id",
        "whatsapp_access_token",
        "whatsapp_app_secret",
        "whatsapp_verify_token",
    ),
    MARKETING: _Names(
        "whatsapp_marketing_phone_number_id",
        "whatsapp_marketing_access_token",
        "whatsapp_marketing_app_secret",
    ),
}
_SECRETS = ("access_token", "app_secret", "verify_token")


@dataclass
class _Current:
    """A bot's WhatsApp state before the change, its numbers' secrets decrypted."""

    enabled: bool = False
    business_account_id: str | None = None
    verify_token_hash: str | None = None
    numbers: dict[str, str] = field(default_factory=dict)  # role -> phone number id
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)  # role -> secrets


@dataclass
class _Number:
    role: str
    phone_number_id: str
    secrets: dict[str, str]
    changed: bool  # new to this role, or given a secret: Meta is asked, the connection stored
    checked: Checked | None = None


@dataclass
class _Plan:
    enabled: bool
    business_account_id: str | None
    verify_token_hash: str | None
    numbers: dict[str, _Number]  # by role
    check_business_account: bool


def webhook_url(context: AppContext) -> str:
    return f"{context.settings.base_url}{WEBHOOK_PATH}"


def verify_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# -- reading ------------------------------------------------------------------------------------


def _view(
    context: AppContext,
    chatbot: dict[str, Any],
    settings: dict[str, Any] | None,
    numbers: list[dict[str, Any]],
) -> dict[str, Any]:
    by_role = {n["role"]: n for n in numbers}
    view = {
        **chatbot,
        "is_whatsapp_enabled": bool(settings and settings["enabled"]),
        "whatsapp_business_account_id": settings["business_account_id"] if settings else None,
        "whatsapp_verify_token_set": bool(settings and settings["verify_token_hash"]),
        "whatsapp_webhook_url": webhook_url(context),
    }
    for role, prefix in ((PRIMARY, "whatsapp_"), (MARKETING, "whatsapp_marketing_")):
        number = by_role.get(role) or {}
        stored = set(number.get("secret_names") or ())
        view |= {
            f"{prefix}phone_number_id": number.get("phone_number_id"),
            f"{prefix}display_phone_number": number.get("display_phone_number"),
            f"{prefix}verified_name": number.get("verified_name"),
            f"{prefix}access_token_last4": number.get("key_last4"),
            f"{prefix}app_secret_set": "app_secret" in stored,
            f"{prefix}connection_status": number.get("connection_status"),
            f"{prefix}messages_per_second": number.get("messages_per_second"),
        }
    view["whatsapp_quality_rating"] = (by_role.get(PRIMARY) or {}).get("quality_rating")
    return view


async def _views(
    context: AppContext, conn: Connection, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    ids = [r["id"] for r in rows]
    settings = {s["chatbot_id"]: s for s in await repository.bots_settings(conn, ids)}
    numbers: dict[UUID, list[dict[str, Any]]] = {}
    for number in await repository.numbers_with_connections(conn, ids):
        numbers.setdefault(number["chatbot_id"], []).append(number)
    return [_view(context, r, settings.get(r["id"]), numbers.get(r["id"], [])) for r in rows]


async def get(
    context: AppContext, conn: Connection, workspace_id: UUID, chatbot_id: UUID
) -> dict[str, Any]:
    row = await chatbots.get(conn, workspace_id, chatbot_id)
    return (await _views(context, conn, [row]))[0]


async def list_bots(
    context: AppContext, conn: Connection, workspace_id: UUID, *, skip: int, limit: int
) -> list[dict[str, Any]]:
    rows, _ = await chatbots_repository.list_chatbots(conn, workspace_id, limit=limit, offset=skip)
    return await _views(context, conn, rows)


async def delete(conn: Connection, subject: AuthSubject[User], chatbot_id: UUID) -> None:
    """The chatbot, and with it (cascade, and migration 31's trigger) its numbers and their
    connections: the same as deleting it through /api/chatbots."""
    await chatbots.delete(conn, subject, chatbot_id)


# -- writing ------------------------------------------------------------------------------------


async def create(
    context: AppContext, subject: AuthSubject[User], data: BotCreate
) -> dict[str, Any]:
    subject.require_admin("change chatbots")
    given = data.model_dump(exclude_unset=True, include=set(WHATSAPP_FIELDS))
    chatbot = ChatbotCreate.model_validate(
        data.model_dump(exclude_unset=True, exclude=set(WHATSAPP_FIELDS))
    )
    plan = await _prepare(context, subject, None, _Current(), given)
    async with context.db.as_claims(subject.principal.claims) as conn:
        row = await chatbots.create(conn, subject, chatbot)
        await _write(context, conn, subject, row["id"], _Current(), plan, given)
        return await get(context, conn, subject.workspace_id, row["id"])


async def update(
    context: AppContext, subject: AuthSubject[User], chatbot_id: UUID, data: BotUpdate
) -> dict[str, Any]:
    subject.require_admin("change chatbots")
    given = data.model_dump(exclude_unset=True, include=set(WHATSAPP_FIELDS))
    changes = ChatbotUpdate.model_validate(
        data.model_dump(exclude_unset=True, exclude=set(WHATSAPP_FIELDS))
    )
    async with context.db.as_claims(subject.principal.claims) as conn:
        await chatbots.get(conn, subject.workspace_id, chatbot_id)
        current = await _current(context, conn, subject.workspace_id, chatbot_id)
    plan = await _prepare(context, subject, chatbot_id, current, given)
    async with context.db.as_claims(subject.principal.claims) as conn:
        await chatbots.update(conn, subject, chatbot_id, changes)
        await _write(context, conn, subject, chatbot_id, current, plan, given)
        return await get(context, conn, subject.workspace_id, chatbot_id)


async def _current(
    context: AppContext, conn: Connection, workspace_id: UUID, chatbot_id: UUID
) -> _Current:
    current = _Current()
    for settings in await repository.bots_settings(conn, [chatbot_id]):
        current.enabled = settings["enabled"]
        current.business_account_id = settings["business_account_id"]
        current.verify_token_hash = settings["verify_token_hash"]
    for number in await repository.bot_numbers(conn, chatbot_id):
        role, number_id = number["role"], number["phone_number_id"]
        current.numbers[role] = number_id
        stored = await connections.load(
            conn, context.secrets, workspace_id, Provider.WHATSAPP, number_id
        )
        current.secrets[role] = stored.secrets() if stored else {}
    return current


def _plan(current: _Current, given: dict[str, Any]) -> _Plan:
    """What the bot's WhatsApp settings become: what was given over what is stored. A token
    left out keeps the role's stored one (also when the role's number changes); a marketing
    number without its own token or app secret uses the primary's (one Meta app, one
    system-user token, is the common setup). Every problem at once, as a 400."""
    errors: list[dict[str, str]] = []

    def problem(name: str, message: str) -> None:
        errors.append({"field": name, "message": message})

    for name, value in given.items():
        if value is None and name not in {
            NAMES[PRIMARY].phone_number_id,
            NAMES[MARKETING].phone_number_id,
            "whatsapp_business_account_id",
        }:
            problem(name, "cannot be null (leave it out to keep what is stored)")
    numbers: dict[str, _Number] = {}
    for role in (PRIMARY, MARKETING):
        names = NAMES[role]
        old_id = current.numbers.get(role)
        new_id = given.get(names.phone_number_id, old_id)
        given_secrets = {
            secret: given[key]
            for secret in _SECRETS
            if (key := names.of(secret)) and given.get(key) is not None
        }
        if new_id is None:
            for secret in given_secrets:
                problem(names.of(secret) or secret, f"needs {names.phone_number_id}")
            continue
        secrets = {**current.secrets.get(role, {}), **given_secrets}
        if role == MARKETING and PRIMARY in numbers:
            for secret in ("access_token", "app_secret"):
                if secret not in secrets and secret in numbers[PRIMARY].secrets:
                    secrets[secret] = numbers[PRIMARY].secrets[secret]
        if role == MARKETING:
            secrets.pop("verify_token", None)
        if "access_token" not in secrets:
            problem(names.access_token, f"required with {names.phone_number_id}")
        changed = new_id != old_id or bool(given_secrets)
        numbers[role] = _Number(role, new_id, secrets, changed)

    primary, marketing = numbers.get(PRIMARY), numbers.get(MARKETING)
    if marketing and not primary:
        problem(NAMES[PRIMARY].phone_number_id, "a marketing number needs a primary number")
    if marketing and primary and marketing.phone_number_id == primary.phone_number_id:
        problem(NAMES[MARKETING].phone_number_id, "must differ from whatsapp_phone_number_id")

    business_account_id = given.get("whatsapp_business_account_id", current.business_account_id)
    check_business_account = bool(
        business_account_id
        and (business_account_id != current.business_account_id or (primary and primary.changed))
    )
    if business_account_id and not primary:
        problem(NAMES[PRIMARY].phone_number_id, "needed to check whatsapp_business_account_id")

    token = given.get("whatsapp_verify_token")
    token_hash = verify_token_hash(token) if token else current.verify_token_hash
    if primary is None:
        token_hash = None  # the verify token was a secret of the primary number's connection

    enabled = given.get("is_whatsapp_enabled")
    enabled = current.enabled if enabled is None else enabled
    if enabled:
        if primary is None:
            problem(NAMES[PRIMARY].phone_number_id, "required to enable WhatsApp")
        else:
            if "app_secret" not in primary.secrets:
                problem(NAMES[PRIMARY].app_secret, "required to enable WhatsApp")
            if token_hash is None:
                problem("whatsapp_verify_token", "required to enable WhatsApp")
        if marketing and "app_secret" not in marketing.secrets:
            problem(NAMES[MARKETING].app_secret, "required to enable WhatsApp")
    if errors:
        raise ValidationFailed("Invalid WhatsApp settings", errors=errors)
    return _Plan(enabled, business_account_id, token_hash, numbers, check_business_account)


class NumberTaken(Conflict):
    def __init__(self, name: str) -> None:
        # Whose it is stays unsaid: it may be another workspace's.
        super().__init__(
            "This WhatsApp number is already connected to another bot",
            errors=[{"field": name, "message": "already connected to another bot"}],
        )


async def _prepare(
    context: AppContext,
    subject: AuthSubject[User],
    chatbot_id: UUID | None,
    current: _Current,
    given: dict[str, Any],
) -> _Plan:
    """The plan, its numbers free, and Meta's word on each changed number (no transaction is
    open meanwhile): a refused token or unknown number is a 400 naming its field."""
    plan = _plan(current, given)
    new = {n.phone_number_id: n.role for n in plan.numbers.values() if n.changed}
    if new:
        async with (
            context.db.as_claims(subject.principal.claims) as conn,
            as_login_role(conn),
        ):
            owners = await repository.number_owners(conn, list(new))
        for number_id, owner in owners.items():
            if owner != chatbot_id:
                raise NumberTaken(NAMES[new[number_id]].phone_number_id)
    for number in plan.numbers.values():
        check_account = number.role == PRIMARY and plan.check_business_account
        if not (number.changed or check_account):
            continue
        settings: dict[str, Any] = {"phone_number_id": number.phone_number_id}
        if check_account:
            settings["business_account_id"] = plan.business_account_id
        try:
            number.checked = await connections.check(
                context, Provider.WHATSAPP, number.secrets, settings
            )
        except KeyRefused as exc:
            names = NAMES[number.role]
            renamed = {
                "access_token": names.access_token,
                "phone_number_id": names.phone_number_id,
                "business_account_id": "whatsapp_business_account_id",
            }
            raise KeyRefused(
                exc.message,
                errors=[{**e, "field": renamed.get(e["field"], e["field"])} for e in exc.errors],
            ) from exc
        number.changed = True  # checked again: stored again, with what Meta said now
    return plan


async def _write(
    context: AppContext,
    conn: Connection,
    subject: AuthSubject[User],
    chatbot_id: UUID,
    current: _Current,
    plan: _Plan,
    given: dict[str, Any],
) -> None:
    if not given:
        return  # nothing of WhatsApp was asked to change
    await repository.save_bot_settings(
        conn,
        chatbot_id=chatbot_id,
        workspace_id=subject.workspace_id,
        enabled=plan.enabled,
        business_account_id=plan.business_account_id,
        verify_token_hash=plan.verify_token_hash,
    )
    kept = {(n.phone_number_id, n.role) for n in plan.numbers.values()}
    gone = [i for role, i in current.numbers.items() if (i, role) not in kept]
    if gone:
        await repository.delete_numbers(conn, chatbot_id, gone)
    for number in plan.numbers.values():
        if number.checked is None:
            continue
        meta = number.checked.settings
        try:
            async with conn.transaction():
                await repository.save_number(
                    conn,
                    phone_number_id=number.phone_number_id,
                    workspace_id=subject.workspace_id,
                    chatbot_id=chatbot_id,
                    role=number.role,
                    display_phone_number=meta.get("display_phone_number"),
                    verified_name=meta.get("verified_name"),
                    quality_rating=meta.get("quality_rating"),
                    messages_per_second=context.settings.whatsapp_messages_per_second,
                )
        except pg_errors.UniqueViolation as exc:  # taken since it was checked
            raise NumberTaken(NAMES[number.role].phone_number_id) from exc
        await connections.store(
            conn,
            context.secrets,
            subject,
            Provider.WHATSAPP,
            number.secrets,
            number.checked,
            settings={"role": number.role},
            account=number.phone_number_id,
        )
    for role, prefix in ((PRIMARY, "whatsapp_"), (MARKETING, "whatsapp_marketing_")):
        pace = given.get(f"{prefix}messages_per_second")
        if pace is not None and not await repository.set_pace(conn, chatbot_id, role, pace):
            field = f"{prefix}messages_per_second"
            raise ValidationFailed(
                "No such number to pace",
                errors=[{"field": field, "message": f"the bot has no {role} number"}],
            )
