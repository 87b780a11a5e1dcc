"""Workspace rules: personal workspaces, selection, members and their roles."""

from __future__ import annotations

import re
import secrets
from typing import Any
from uuid import UUID

from psycopg import errors as pg_errors

from backend.auth.subjects import ApiKey, AuthSubject, User
from backend.billing import credits_repository as credits
from backend.config import Settings
from backend.db import Connection
from backend.errors import Conflict, Forbidden, NotFound
from backend.workspaces import repository
from backend.workspaces.schemas import WorkspaceCreate, WorkspaceUpdate


class WorkspaceNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Workspace not found")


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40].strip("-")
    return slug or "workspace"


async def _free_slug(conn: Connection, wanted: str) -> str:
    if not await repository.slug_taken(conn, wanted):
        return wanted
    while True:
        candidate = f"{wanted[:40]}-{secrets.token_hex(3)}"
        if not await repository.slug_taken(conn, candidate):
            return candidate


async def resolve(
    conn: Connection, user: User, requested: UUID | None, settings: Settings
) -> AuthSubject[User]:
    """The workspace a user's request acts in: the one named by `X-Workspace-Id`, or their
    first one. An admin gets a personal workspace on first use."""
    if requested is not None:
        row = await repository.membership(conn, requested, user.id)
        if row is None:
            raise WorkspaceNotFound()
        return AuthSubject(principal=user, workspace_id=row["id"], role=row["role"])
    rows = await repository.memberships(conn, user.id)
    if rows:
        return AuthSubject(principal=user, workspace_id=rows[0]["id"], role=rows[0]["role"])
    owner = user.email.split("@")[0] if user.email else "My"
    workspace_id = await repository.create(
        conn, name=f"{owner}'s workspace", slug=await _free_slug(conn, slugify(owner))
    )
    await credits.open_account(conn, workspace_id, settings)
    return AuthSubject(principal=user, workspace_id=workspace_id, role="owner")


async def current(conn: Connection, subject: AuthSubject[User | ApiKey]) -> dict[str, Any]:
    row = await repository.get(conn, subject.workspace_id)
    if row is None:
        raise WorkspaceNotFound()
    if isinstance(subject.principal, ApiKey):
        return {
            **row,
            "principal": "api_key",
            "role": None,
            "scopes": sorted(subject.principal.scopes),
        }
    return {**row, "principal": "user", "role": subject.role, "scopes": []}


async def list_for(conn: Connection, user: User, settings: Settings) -> list[dict[str, Any]]:
    """The user's workspaces; on first use, the personal workspace appears."""
    rows = await repository.memberships(conn, user.id)
    if not rows:
        await resolve(conn, user, None, settings)
        rows = await repository.memberships(conn, user.id)
    return rows


async def get(conn: Connection, user: User, workspace_id: UUID) -> dict[str, Any]:
    row = await repository.membership(conn, workspace_id, user.id)
    if row is None:
        raise WorkspaceNotFound()
    return row


async def create(
    conn: Connection, user: User, data: WorkspaceCreate, settings: Settings
) -> dict[str, Any]:
    if data.slug and await repository.slug_taken(conn, data.slug):
        raise Conflict("This slug is taken", errors=[{"field": "slug", "message": "taken"}])
    slug = data.slug or await _free_slug(conn, slugify(data.name))
    workspace_id = await repository.create(conn, name=data.name, slug=slug)
    await credits.open_account(conn, workspace_id, settings)
    return await get(conn, user, workspace_id)


async def update(
    conn: Connection, user: User, workspace_id: UUID, data: WorkspaceUpdate
) -> dict[str, Any]:
    current = await get(conn, user, workspace_id)
    _require_admin(current["role"])
    changes = data.model_dump(exclude_none=True)
    if changes.get("slug") not in (None, current["slug"]) and await repository.slug_taken(
        conn, changes["slug"]
    ):
        raise Conflict("This slug is taken", errors=[{"field": "slug", "message": "taken"}])
    if changes:
        await repository.update(conn, workspace_id, **changes)
    return await get(conn, user, workspace_id)


async def delete(conn: Connection, user: User, workspace_id: UUID) -> None:
    current = await get(conn, user, workspace_id)
    if current["role"] != "owner":
        raise Forbidden("Only an owner can delete the workspace")
    await repository.delete(conn, workspace_id)


# -- members ----------------------------------------------------------------------------------


async def members(conn: Connection, user: User, workspace_id: UUID) -> list[dict[str, Any]]:
    await get(conn, user, workspace_id)
    return await repository.members(conn, workspace_id)


async def add_member(
    conn: Connection, user: User, workspace_id: UUID, email: str, role: str
) -> dict[str, Any]:
    current = await get(conn, user, workspace_id)
    _require_admin(current["role"])
    if role == "owner" and current["role"] != "owner":
        raise Forbidden("Only an owner can add another owner")
    try:
        async with conn.transaction():
            member_id = await repository.add_member(conn, workspace_id, email, role)
    except pg_errors.UniqueViolation as exc:
        raise Conflict("This user is already a member") from exc
    if member_id is None:
        raise NotFound(
            "No user has this e-mail address; ask them to sign up first",
            errors=[{"field": "email", "message": "no such user"}],
        )
    return _member(await repository.members(conn, workspace_id), member_id)


async def change_role(
    conn: Connection, user: User, workspace_id: UUID, member_id: UUID, role: str
) -> dict[str, Any]:
    current = await get(conn, user, workspace_id)
    _require_admin(current["role"])
    target_role = await repository.member_role(conn, workspace_id, member_id)
    if target_role is None:
        raise NotFound("Member not found")
    if "owner" in (role, target_role) and current["role"] != "owner":
        raise Forbidden("Only an owner can grant or take away the owner role")
    if target_role == "owner" and role != "owner":
        await _keep_an_owner(conn, workspace_id)
    await repository.set_member_role(conn, workspace_id, member_id, role)
    return _member(await repository.members(conn, workspace_id), member_id)


async def remove_member(conn: Connection, user: User, workspace_id: UUID, member_id: UUID) -> None:
    current = await get(conn, user, workspace_id)
    target_role = await repository.member_role(conn, workspace_id, member_id)
    if target_role is None:
        raise NotFound("Member not found")
    leaving = member_id == user.id
    if not leaving:
        _require_admin(current["role"])
        if target_role == "owner" and current["role"] != "owner":
            raise Forbidden("Only an owner can remove an owner")
    if target_role == "owner":
        await _keep_an_owner(conn, workspace_id)
    await repository.remove_member(conn, workspace_id, member_id)


def _require_admin(role: str) -> None:
    if role not in {"owner", "admin"}:
        raise Forbidden("Only owners and admins can do this")


async def _keep_an_owner(conn: Connection, workspace_id: UUID) -> None:
    if await repository.owner_count(conn, workspace_id) <= 1:
        raise Conflict("A workspace needs at least one owner")


def _member(rows: list[dict[str, Any]], member_id: UUID) -> dict[str, Any]:
    return next(r for r in rows if r["user_id"] == member_id)
