"""Request bodies and response shapes of the Supabase Auth subset (providers.md §8)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, EmailStr, Field


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def user_json(row: dict[str, Any]) -> dict[str, Any]:
    """An `auth.users` row as Supabase Auth's User object."""
    created = _iso(row["created_at"])
    identity = {
        "identity_id": str(row["id"]),
        "id": str(row["id"]),
        "user_id": str(row["id"]),
        "identity_data": {"email": row["email"], "sub": str(row["id"]), "email_verified": True},
        "provider": "email",
        "created_at": created,
        "last_sign_in_at": _iso(row["last_sign_in_at"]),
        "updated_at": _iso(row["updated_at"]),
    }
    return {
        "id": str(row["id"]),
        "aud": row["aud"] or "authenticated",
        "role": row["role"] or "authenticated",
        "email": row["email"],
        "email_confirmed_at": _iso(row["email_confirmed_at"]),
        "phone": row["phone"] or "",
        "phone_confirmed_at": _iso(row["phone_confirmed_at"]),
        "confirmed_at": _iso(row["email_confirmed_at"]),
        "last_sign_in_at": _iso(row["last_sign_in_at"]),
        "app_metadata": row["raw_app_meta_data"] or {},
        "user_metadata": row["raw_user_meta_data"] or {},
        "identities": [identity],
        "created_at": created,
        "updated_at": _iso(row["updated_at"]),
        "is_anonymous": row["is_anonymous"],
        "banned_until": _iso(row["banned_until"]),
    }


def session_json(session: dict[str, Any]) -> dict[str, Any]:
    return {**session, "user": user_json(session["user"])}


# supabase-py sends `"data": null` when the caller gives no metadata: that means none.
Metadata = Annotated[dict[str, Any], BeforeValidator(lambda value: {} if value is None else value)]


class _Body(BaseModel):
    # Supabase clients send extra fields (gotrue_meta_security, code_challenge …): accept them.
    model_config = ConfigDict(extra="ignore")


class SignUp(_Body):
    email: EmailStr
    password: str = Field(max_length=72)  # bcrypt reads 72 bytes at most
    data: Metadata = Field(default_factory=dict)


class PasswordGrant(_Body):
    email: EmailStr
    password: str


class RefreshGrant(_Body):
    refresh_token: str


class OtpRequest(_Body):
    email: EmailStr
    data: Metadata = Field(default_factory=dict)
    create_user: bool = True


class VerifyRequest(_Body):
    type: Literal["signup", "invite", "magiclink", "recovery", "email"]
    token_hash: str | None = None
    email: EmailStr | None = None
    token: str | None = None


class UserUpdate(_Body):
    email: EmailStr | None = None
    password: str | None = Field(default=None, max_length=72)
    data: dict[str, Any] | None = None


class AdminUserCreate(_Body):
    email: EmailStr
    password: str | None = Field(default=None, max_length=72)
    phone: str | None = None
    email_confirm: bool = False
    user_metadata: dict[str, Any] = Field(default_factory=dict)
    app_metadata: dict[str, Any] = Field(default_factory=dict)


class AdminUserUpdate(_Body):
    email: EmailStr | None = None
    password: str | None = Field(default=None, max_length=72)
    user_metadata: dict[str, Any] | None = None
    app_metadata: dict[str, Any] | None = None


class GenerateLink(_Body):
    type: Literal["signup", "invite", "magiclink", "recovery"]
    email: EmailStr
    password: str | None = Field(default=None, max_length=72)
    data: Metadata = Field(default_factory=dict)
    redirect_to: str | None = None
