"""Workspace API keys: issued once, stored as a SHA-256 hash, prefixed so scanners spot leaks.

The keys carry 256 bits of randomness, so a fast hash is enough (no salt or stretching is
needed against guessing), and lookups by hash stay a single index probe per request.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any
from uuid import UUID

from backend.api_keys import repository
from backend.api_keys.schemas import ApiKeyCreate
from backend.auth.subjects import ApiKey, AuthSubject, User
from backend.db import Connection, Database
from backend.errors import NotFound, Unauthorized

KEY_PREFIX = "vx_live_"
_SHOWN_PREFIX_LENGTH = len(KEY_PREFIX) + 6


def looks_like_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def authenticate(db: Database, key: str) -> ApiKey:
    async with db.system() as conn:
        row = await repository.find_live_by_hash(conn, hash_key(key))
        if row is None:
            raise Unauthorized("Invalid or revoked API key")
        if row["stale"]:  # record use at most once a minute: no write on every request
            await repository.mark_used(conn, row["id"])
    return ApiKey(id=row["id"], workspace_id=row["workspace_id"], scopes=frozenset(row["scopes"]))


async def create(
    conn: Connection, subject: AuthSubject[User], data: ApiKeyCreate
) -> dict[str, Any]:
    subject.require_admin("manage API keys")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = await repository.create(
        conn,
        workspace_id=subject.workspace_id,
        name=data.name,
        prefix=key[:_SHOWN_PREFIX_LENGTH],
        key_hash=hash_key(key),
        scopes=sorted(set(data.scopes)),
        created_by=subject.principal.id,
    )
    return {**row, "key": key}


async def list_keys(conn: Connection, subject: AuthSubject[User]) -> list[dict[str, Any]]:
    subject.require_admin("manage API keys")
    return await repository.list_for_workspace(conn, subject.workspace_id)


async def revoke(conn: Connection, subject: AuthSubject[User], key_id: UUID) -> None:
    subject.require_admin("manage API keys")
    if not await repository.revoke(conn, subject.workspace_id, key_id):
        raise NotFound("API key not found")
