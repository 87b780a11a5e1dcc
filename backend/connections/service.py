"""Every tenant credential, one lifecycle: validated with the provider before it is saved
(`validators.py`), encrypted at rest (rotated with `rotate`), shown as its last four characters
only, marked invalid when the provider refuses it at use time, and described by one status
shape (`ConnectionStatus`). No transaction is open while a provider answers."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

from backend.auth.subjects import AuthSubject, User
from backend.connections import repository
from backend.connections.schemas import CommerceConnect, ConnectionStatus, Provider
from backend.connections.validators import VALIDATORS, Checked, KeyRefused
from backend.db import Connection, Database
from backend.errors import NotFound, ProviderUnavailable
from backend.kit.crypto import SecretBox

if TYPE_CHECKING:  # the context builds the engine, which reads connections
    from backend.context import AppContext

ROTATION_BATCH = 200


class NoOpenAIKey(NotFound):
    def __init__(self) -> None:
        super().__init__("No OpenAI key is connected to this workspace")


@dataclass(frozen=True)
class Webhook:
    """How a provider's deliveries prove they are its: `credential` is what a delivery presents
    (a header secret, the token in its URL), found again by its hash; `secrets` are stored
    encrypted, `settings` readable. Issued once; a reconnect keeps it unless renewed."""

    credential: str
    secrets: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def hash(self) -> str:
        return credential_hash(self.credential)


@dataclass(frozen=True)
class Saved:
    status: ConnectionStatus
    checked: Checked
    webhook_issued: bool  # the webhook credential given is the one stored now


@dataclass(frozen=True)
class Stored:
    """A stored connection for use: its status, and its secrets decrypted when asked for
    (a ciphertext that cannot be decrypted fails where it is used)."""

    status: ConnectionStatus
    _secrets: Mapping[str, str]
    _box: SecretBox

    def secret(self, name: str) -> str:
        return self._box.decrypt(self._secrets[name])

    def has(self, name: str) -> bool:
        return name in self._secrets

    def secrets(self) -> dict[str, str]:
        return {name: self.secret(name) for name in self._secrets}

    @property
    def settings(self) -> dict[str, Any]:
        return self.status.settings


def credential_hash(credential: str) -> str:
    return hashlib.sha256(credential.encode()).hexdigest()


def to_status(row: Mapping[str, Any]) -> ConnectionStatus:
    return ConnectionStatus(
        provider=row["provider"],
        account=row["account"],
        status=row["status"],
        last4=row["key_last4"],
        validated_at=row["validated_at"],
        last_error=row["last_error"],
        settings=row["settings"],
        secrets_set=frozenset(row["secrets"]),
        updated_at=row["updated_at"],
    )


# -- the lifecycle ------------------------------------------------------------------------------


async def save(
    context: AppContext,
    subject: AuthSubject[User],
    provider: Provider,
    secrets: dict[str, str],
    *,
    settings: dict[str, Any] | None = None,
    account: str = "",
    webhook: Webhook | None = None,
    renew_webhook: bool = False,
) -> Saved:
    """Check the credentials with the provider, then store them, valid as of now. A refusal
    (`KeyRefused`, 400) or an outage (502) saves nothing."""
    subject.require_admin("manage provider keys")
    settings = dict(settings or {})
    checked = await check(context, provider, secrets, settings)
    async with context.db.as_claims(subject.principal.claims) as conn:
        return await store(
            conn,
            context.secrets,
            subject,
            provider,
            secrets,
            checked,
            settings=settings,
            account=account,
            webhook=webhook,
            renew_webhook=renew_webhook,
        )


async def check(
    context: AppContext, provider: Provider, secrets: dict[str, str], settings: dict[str, Any]
) -> Checked:
    """The provider's word on the credentials (`save`'s first half, for a caller that checks
    several before storing them all in one transaction): `KeyRefused` or 502 otherwise."""
    validator = VALIDATORS[provider]
    try:
        return await validator.check(context, secrets, settings)
    except ProviderUnavailable as exc:
        if not validator.unchecked:
            raise
        raise ProviderUnavailable(
            f"{exc.message}{validator.unchecked}, so it was not saved."
        ) from exc


async def store(
    conn: Connection,
    box: SecretBox,
    subject: AuthSubject[User],
    provider: Provider,
    secrets: dict[str, str],
    checked: Checked,
    *,
    settings: dict[str, Any] | None = None,
    account: str = "",
    webhook: Webhook | None = None,
    renew_webhook: bool = False,
) -> Saved:
    """Store credentials `check` accepted, in the caller's transaction (`save`'s second half)."""
    subject.require_admin("manage provider keys")
    row = await repository.save(
        conn,
        subject.workspace_id,
        provider,
        account=account,
        secrets={name: box.encrypt(value) for name, value in secrets.items()},
        key_last4=secrets[VALIDATORS[provider].main][-4:],
        settings={**(settings or {}), **checked.settings},
        webhook_hash=webhook.hash if webhook else None,
        webhook_secrets={n: box.encrypt(v) for n, v in webhook.secrets.items()}
        if webhook
        else None,
        webhook_settings=webhook.settings if webhook else None,
        renew_webhook=renew_webhook,
    )
    issued = webhook is not None and row["webhook_hash"] == webhook.hash
    return Saved(status=to_status(row), checked=checked, webhook_issued=issued)


async def recheck(
    context: AppContext, subject: AuthSubject[User], provider: Provider, account: str = ""
) -> tuple[ConnectionStatus, KeyRefused | None] | None:
    """Ask the provider about the stored key again and record its answer: the status, and the
    refusal when it refused (the key is then invalid). None: nothing is connected. An outage
    says nothing about the key: 502, and the status stays as it was."""
    validator = VALIDATORS[provider]
    async with context.db.as_claims(subject.principal.claims) as conn:
        stored = await load(conn, context.secrets, subject.workspace_id, provider, account)
    if stored is None:
        return None
    refused: KeyRefused | None = None
    checked = Checked()
    try:
        checked = await validator.check(context, stored.secrets(), stored.settings)
    except KeyRefused as exc:
        refused = exc
    except ProviderUnavailable as exc:
        raise ProviderUnavailable(f"{exc.message}{validator.unchecked}.") from exc
    async with context.db.as_claims(subject.principal.claims) as conn:
        row = await repository.record_check(
            conn,
            subject.workspace_id,
            provider,
            valid=refused is None,
            error=refused.message if refused else None,
            settings=checked.settings,
            account=account,
        )
    return (to_status(row), refused) if row is not None else None


async def status(
    conn: Connection, workspace_id: UUID, provider: Provider, account: str = ""
) -> ConnectionStatus | None:
    row = await repository.get(conn, workspace_id, provider, account)
    return to_status(row) if row else None


async def load(
    conn: Connection, box: SecretBox, workspace_id: UUID, provider: Provider, account: str = ""
) -> Stored | None:
    """The connection with its secrets, for use (decrypted when asked for)."""
    row = await repository.get(conn, workspace_id, provider, account)
    return Stored(to_status(row), row["secrets"], box) if row else None


async def usable_key(
    conn: Connection, box: SecretBox, workspace_id: UUID, provider: Provider, name: str = "api_key"
) -> str | None:
    """The workspace's key when it is connected and was not refused, else None."""
    stored = await load(conn, box, workspace_id, provider)
    if stored is None or stored.status.status != "valid" or not stored.has(name):
        return None
    return stored.secret(name)


async def mark_invalid(
    conn: Connection, workspace_id: UUID, provider: Provider, error: str, account: str = ""
) -> None:
    """The provider refused the stored key while it was being used: it stays invalid until an
    admin connects again (or a recheck finds it accepted)."""
    await repository.mark_invalid(conn, workspace_id, provider, error, account)


async def set_secret(
    conn: Connection,
    box: SecretBox,
    subject: AuthSubject[User],
    provider: Provider,
    name: str,
    value: str,
    account: str = "",
) -> ConnectionStatus | None:
    """Store one more secret of a connection (a webhook secret the admin copies from the
    provider's dashboard); None when nothing is connected."""
    subject.require_admin("manage provider webhooks")
    row = await repository.set_secret(
        conn, subject.workspace_id, provider, name, box.encrypt(value), account
    )
    return to_status(row) if row else None


async def delete(
    conn: Connection, subject: AuthSubject[User], provider: Provider, account: str = ""
) -> bool:
    subject.require_admin("manage provider keys")
    return await repository.delete(conn, subject.workspace_id, provider, account)


async def valid_workspaces(conn: Connection, provider: Provider) -> list[UUID]:
    return await repository.valid_workspaces(conn, provider)


async def rotate(db: Database, box: SecretBox) -> int:
    """Re-encrypt every stored secret with the newest of `box`'s keys (`voxtro rotate-secrets`,
    after a new key was put first in ENCRYPTION_KEYS); how many connections were rewritten.
    Each batch commits on its own: an interrupted rotation can simply run again."""
    count, after = 0, None
    while True:
        async with db.system() as conn:
            rows = await repository.secrets_after(conn, after, ROTATION_BATCH)
            for row in rows:
                rotated = {name: box.rotate(value) for name, value in row["secrets"].items()}
                await repository.replace_secrets(conn, row["id"], rotated)
        if not rows:
            return count
        count += len(rows)
        after = rows[-1]["id"]


# -- OpenAI and the commerce API (their routes are this package's) ------------------------------


async def connect_openai(
    context: AppContext, subject: AuthSubject[User], api_key: str
) -> ConnectionStatus:
    saved = await save(context, subject, Provider.OPENAI, {"api_key": api_key.strip()})
    return saved.status


async def validate_openai(
    context: AppContext, subject: AuthSubject[User]
) -> tuple[ConnectionStatus, str | None]:
    """The status after OpenAI looked at the stored key again, and why it refused it."""
    checked = await recheck(context, subject, Provider.OPENAI)
    if checked is None:
        raise NoOpenAIKey()
    status, refused = checked
    return status, refused.message if refused else None


async def openai_status(conn: Connection, subject: AuthSubject[User]) -> ConnectionStatus | None:
    return await status(conn, subject.workspace_id, Provider.OPENAI)


async def disconnect_openai(conn: Connection, subject: AuthSubject[User]) -> None:
    if not await delete(conn, subject, Provider.OPENAI):
        raise NoOpenAIKey()


async def connect_commerce(
    context: AppContext, subject: AuthSubject[User], data: CommerceConnect
) -> ConnectionStatus:
    saved = await save(
        context,
        subject,
        Provider.COMMERCE,
        {"api_key": data.api_key},
        settings={"base_url": str(data.base_url).rstrip("/")},
    )
    return saved.status


async def commerce_status(conn: Connection, subject: AuthSubject[User]) -> ConnectionStatus | None:
    return await status(conn, subject.workspace_id, Provider.COMMERCE)


async def disconnect_commerce(conn: Connection, subject: AuthSubject[User]) -> None:
    if not await delete(conn, subject, Provider.COMMERCE):
        raise NotFound("No commerce API is connected to this workspace")
