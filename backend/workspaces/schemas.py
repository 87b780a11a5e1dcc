from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, EmailStr, Field

MemberRole = Literal["owner", "admin", "agent"]
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"


class Workspace(BaseModel):
    id: UUID
    name: str
    slug: str
    role: MemberRole
    created_at: datetime
    updated_at: datetime


class CurrentWorkspace(BaseModel):
    """The workspace a request acts in, and who acts: an admin (with a role) or an API key."""

    id: UUID
    name: str
    slug: str
    principal: Literal["user", "api_key"]
    role: MemberRole | None
    scopes: list[str]
    created_at: datetime
    updated_at: datetime


class WorkspaceCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    slug: str | None = Field(default=None, pattern=SLUG_PATTERN)


class WorkspaceUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    slug: str | None = Field(default=None, pattern=SLUG_PATTERN)


class Member(BaseModel):
    user_id: UUID
    email: str
    role: MemberRole
    created_at: datetime


class MemberAdd(BaseModel):
    email: EmailStr
    role: MemberRole = "agent"


class MemberUpdate(BaseModel):
    role: MemberRole
