"""The bot-builder document's authentication endpoints, on the same Supabase identities."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, EmailStr, Field

from backend.auth.dependencies import AdminSubject, Session, authenticate, signed_in_user
from backend.auth.subjects import User, is_customer
from backend.context import Context
from backend.workspaces import repository as workspace_repository

router = APIRouter(prefix="/auth", tags=["auth"])

# Unauthenticated callers are limited per IP, which slows password guessing.
rate_limited = [Depends(authenticate)]


class Register(BaseModel):
    email: EmailStr
    password: str = Field(min_length=6, max_length=72)
    full_name: str | None = Field(default=None, max_length=200)


class UserOut(BaseModel):
    id: UUID
    email: str
    full_name: str | None = None
    is_active: bool = True
    is_customer: bool = False
    created_at: datetime | None = None


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    refresh_token: str


class MemberOut(UserOut):
    role: str


def _user_out(user: dict[str, Any]) -> UserOut:
    metadata = user.get("user_metadata") or {}
    return UserOut(
        id=user["id"],
        email=user.get("email") or "",
        full_name=metadata.get("full_name"),
        is_customer=is_customer(user),
        created_at=user.get("created_at"),
    )


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    dependencies=rate_limited,
    summary="Register a user with e-mail and password",
)
async def register(data: Register, context: Context) -> UserOut:
    metadata = {"full_name": data.full_name} if data.full_name else {}
    user = await context.identity.create_user(
        email=data.email, password=data.password, user_metadata=metadata
    )
    return _user_out(user)


@router.post(
    "/token",
    dependencies=rate_limited,
    summary="Sign in with e-mail and password (OAuth2 password flow)",
)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], context: Context
) -> TokenOut:
    """OAuth2 password flow: `username` is the e-mail address."""
    session = await context.identity.sign_in_with_password(
        email=form.username, password=form.password
    )
    return TokenOut.model_validate(session)


@router.get("/me", summary="Get the signed-in user")
async def me(user: Annotated[User, Depends(signed_in_user)], context: Context) -> UserOut:
    # Read from the token alone: its session is looked up here (at most every few seconds).
    await context.db.require_live_session(user.claims)
    claims = user.claims
    return _user_out(
        {
            "id": user.id,
            "email": user.email,
            "user_metadata": claims.get("user_metadata"),
            "app_metadata": claims.get("app_metadata"),
        }
    )


@router.get("/users", summary="List the users of the current workspace")
async def users_of_workspace(subject: AdminSubject, session: Session) -> list[MemberOut]:
    """The users of the caller's workspace."""
    rows = await workspace_repository.members(session, subject.workspace_id)
    return [
        MemberOut(id=r["user_id"], email=r["email"], role=r["role"], created_at=r["created_at"])
        for r in rows
    ]
