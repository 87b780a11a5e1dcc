"""Identity verification: the host page vouches for its signed-in user.

The workspace's servers compute `user_hash = HMAC-SHA256(secret, user_id)` (hex) with the
workspace's widget identity secret and print it into the page next to the user id; the widget
passes both along with each message. Only a matching hash makes the visitor that user: anyone can
claim a user id, but nobody without the secret can sign one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any
from uuid import UUID

import structlog

from backend.context import AppContext
from backend.conversations.schemas import VerifiedUser
from backend.db import Connection
from backend.kit.crypto import SecretBox
from backend.widget import repository
from backend.widget.schemas import VisitorIdentity

log = structlog.get_logger(__name__)

SECRET_BYTES = 32


def sign(secret: str, user_id: str) -> str:
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def new_secret() -> str:
    return f"vx_whs_{secrets.token_urlsafe(SECRET_BYTES)}"


async def secret(conn: Connection, box: SecretBox, workspace_id: UUID) -> str | None:
    encrypted = await repository.identity_secret(conn, workspace_id)
    return box.decrypt(encrypted) if encrypted else None


async def store_secret(conn: Connection, box: SecretBox, workspace_id: UUID, value: str) -> None:
    await repository.store_identity_secret(conn, workspace_id, box.encrypt(value))


async def rotate_secrets(conn: Connection, box: SecretBox) -> int:
    """Re-encrypt every workspace's identity secret with the newest key (`voxtro
    rotate-secrets`, in a system transaction); how many there were."""
    rows = await repository.identity_secrets_for_update(conn)
    for row in rows:
        await repository.store_identity_secret(
            conn, row["workspace_id"], box.rotate(row["encrypted_identity_secret"])
        )
    return len(rows)


async def verify(
    conn: Connection,
    box: SecretBox,
    workspace_id: UUID,
    claimed: dict[str, Any],
) -> VerifiedUser | None:
    """The user the host page vouched for, or None: a visitor whose user id comes without a
    matching hash is anonymous (logged, so an integration mistake can be found)."""
    user_id, user_hash = claimed.get("user_id"), claimed.get("user_hash")
    if not user_id:
        return None
    key = await secret(conn, box, workspace_id) if user_hash else None
    # As bytes: compare_digest refuses str with anything but ASCII in it.
    expected = sign(key, user_id).encode() if key is not None else b""
    if key is None or not hmac.compare_digest(expected, str(user_hash).lower().encode()):
        log.warning(
            "widget_identity_unverified", workspace_id=str(workspace_id), hash=bool(user_hash)
        )
        return None
    return VerifiedUser(id=user_id, name=claimed.get("user_name"), email=claimed.get("user_email"))


async def verified_user(
    context: AppContext, workspace_id: UUID, claimed: VisitorIdentity
) -> VerifiedUser | None:
    """`verify` in a transaction of its own, skipped for visitors who claim nothing."""
    if not claimed.user_id:
        return None
    async with context.db.system() as conn:
        return await verify(
            conn, context.secrets, workspace_id, claimed.model_dump(exclude_none=True)
        )
