"""A bot's WhatsApp numbers as the senders and the webhook use them: which number a message goes
from (the marketing number for marketing, falling back to the primary as the CHICX guide's
two-number setup says), and its credentials, decrypted only here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from backend.db import Connection
from backend.kit.crypto import SecretBox
from backend.whatsapp import repository


@dataclass(frozen=True)
class Number:
    phone_number_id: str
    workspace_id: UUID
    chatbot_id: UUID
    role: str  # primary | marketing
    enabled: bool  # the bot's WhatsApp is switched on
    messages_per_second: int
    display_phone_number: str | None
    # Ciphertexts, decrypted when used: a webhook needs only the app secret (a send takes its
    # token with its claim: `access_token` below).
    _secrets: dict[str, str] = field(repr=False)
    _box: SecretBox = field(repr=False)

    @property
    def app_secret(self) -> str | None:
        secret = self._secrets.get("app_secret")
        return self._box.decrypt(secret) if secret is not None else None


def _number(row: dict[str, Any], box: SecretBox) -> Number | None:
    secrets = row.get("secrets") or {}
    if "access_token" not in secrets:
        return None  # its connection is gone: the number cannot be used
    return Number(
        phone_number_id=row["phone_number_id"],
        workspace_id=row["workspace_id"],
        chatbot_id=row["chatbot_id"],
        role=row["role"],
        enabled=row["enabled"],
        messages_per_second=row["messages_per_second"],
        display_phone_number=row["display_phone_number"],
        _secrets=secrets,
        _box=box,
    )


def access_token(box: SecretBox, ciphertext: str) -> str:
    """A number's access token as a claimed send carries it (`repository.claim_outbox`)."""
    return box.decrypt(ciphertext)


async def by_ids(conn: Connection, box: SecretBox, phone_number_ids: list[str]) -> list[Number]:
    """The numbers with these ids, whoever's they are (a webhook names only its numbers)."""
    if not phone_number_ids:
        return []
    rows = await repository.numbers_by_ids(conn, phone_number_ids)
    return [n for n in (_number(r, box) for r in rows) if n is not None]


async def for_bot(
    conn: Connection, box: SecretBox, chatbot_id: UUID, *, marketing: bool = False
) -> Number | None:
    """The number a bot sends from: its primary, or for marketing its marketing number when it
    has one (else the primary). None when the bot has no usable number."""
    rows = await repository.bot_numbers(conn, chatbot_id)
    ids = [r["phone_number_id"] for r in rows]
    numbers = {n.role: n for n in await by_ids(conn, box, ids)}
    if marketing and "marketing" in numbers:
        return numbers["marketing"]
    return numbers.get("primary")
