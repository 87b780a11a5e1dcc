"""Who a chat is with: the customer behind a verified widget visitor or a portal sign-in."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from backend.auth.subjects import User
from backend.context import AppContext
from backend.conversations.schemas import VerifiedUser
from backend.customers import repository


async def for_verified_user(context: AppContext, workspace_id: UUID, user: VerifiedUser) -> UUID:
    """A visitor the host page vouched for becomes (or already is) a customer."""
    async with context.db.system() as conn:
        return await repository.upsert_identified(
            conn, workspace_id, user.id, user.name, user.email
        )


async def of_portal_user(context: AppContext, user: User) -> dict[str, Any] | None:
    """The customer record of a signed-in portal customer (read under their own claims)."""
    if not user.is_customer:
        return None
    async with context.db.as_claims(user.claims) as conn:
        return await repository.me(conn, user.id)
