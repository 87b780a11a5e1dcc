"""Who is calling: one auth-subject type for every kind of caller."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from uuid import UUID

from backend.db import workspace_claims
from backend.errors import Forbidden


def is_customer(user: dict[str, Any]) -> bool:
    """Whether a user (token claims, or Supabase's User object) is a workspace's customer.

    The mark that counts is in `app_metadata`, which only the service role writes: a customer
    cannot take it off. The documented copy in `user_metadata` (which the portal's frontend
    reads) is editable by its user, so it is heeded only one way: it can make its holder a
    customer (the portal instead of the console, which takes nothing from anyone else), never
    unmake one. Portal access itself is granted by the workspace's customer record.
    """
    app = user.get("app_metadata")
    own = user.get("user_metadata")
    return bool(
        (isinstance(app, dict) and app.get("is_customer"))
        or (isinstance(own, dict) and own.get("is_customer"))
    )


@dataclass(frozen=True, slots=True)
class User:
    """A Supabase Auth user: a workspace admin, or a customer of a workspace (portal)."""

    id: UUID
    email: str
    claims: dict[str, Any] = field(repr=False)

    @property
    def is_customer(self) -> bool:
        return is_customer(self.claims)


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A workspace API key: bound to one workspace, limited to its scopes."""

    id: UUID
    workspace_id: UUID
    scopes: frozenset[str]


@dataclass(frozen=True, slots=True)
class Anonymous:
    """A caller with no credentials: a website visitor, a provider's webhook."""

    ip: str


Principal = User | ApiKey | Anonymous
P = TypeVar("P", User, ApiKey, Anonymous, User | ApiKey)


@dataclass(frozen=True, slots=True)
class AuthSubject(Generic[P]):
    """A principal acting in a workspace (`workspace_id`), with its role there for users."""

    principal: P
    workspace_id: UUID
    role: str | None = None  # owner, admin or agent, for a member user

    @property
    def is_admin(self) -> bool:
        return self.role in {"owner", "admin"}

    def require_admin(self, doing: str) -> None:
        """Refuse (403) unless an owner or admin acts: `doing` says what, for the message."""
        if not self.is_admin:
            raise Forbidden(f"Only owners and admins {doing}")


def rls_claims(principal: Principal) -> dict[str, Any]:
    """The JWT claims a transaction for this principal runs under (see backend.db)."""
    if isinstance(principal, User):
        return principal.claims
    if isinstance(principal, ApiKey):
        return workspace_claims(principal.workspace_id, f"api_key:{principal.id}")
    return {"role": "anon"}
