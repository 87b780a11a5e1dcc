"""The rules of the local Supabase Auth server: users, passwords, sessions, one-time links.

Behaviour follows Supabase Auth (GoTrue) with e-mail auto-confirmation on, so that the
official Supabase clients work against it unchanged. Passwords are bcrypt hashes, as in
Supabase's own `auth.users.encrypted_password`, so users can move to Supabase as they are.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import bcrypt

from backend.auth.gotrue import repository
from backend.auth.gotrue.errors import AuthApiError
from backend.auth.tokens import TokenService
from backend.db import Connection

MIN_PASSWORD_LENGTH = 6
LINK_TTL_SECONDS = 3600

# Compared against when the e-mail is unknown, so both paths cost one bcrypt check.
_DUMMY_HASH = bcrypt.hashpw(b"not-a-password", bcrypt.gensalt()).decode()


def invalid_credentials() -> AuthApiError:
    return AuthApiError(400, "invalid_credentials", "Invalid login credentials")


@dataclass(frozen=True, slots=True)
class Link:
    """A one-time link issued to a user, with the e-mail OTP that verifies the same way."""

    user: dict[str, Any]
    action_link: str
    hashed_token: str
    email_otp: str
    verification_type: str
    redirect_to: str


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthApiError(
            422,
            "weak_password",
            f"Password should be at least {MIN_PASSWORD_LENGTH} characters.",
            weak_password={"reasons": ["length"]},
        )


async def hash_password(password: str) -> str:
    # bcrypt is deliberately slow: keep it off the event loop.
    return (await asyncio.to_thread(bcrypt.hashpw, password.encode(), bcrypt.gensalt())).decode()


async def password_matches(password: str, password_hash: str | None) -> bool:
    return await asyncio.to_thread(
        bcrypt.checkpw, password.encode(), (password_hash or _DUMMY_HASH).encode()
    )


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _otp_hash(email: str, otp: str) -> str:
    return _sha256(f"{email.lower()}:{otp}")


class AuthService:
    def __init__(self, tokens: TokenService, *, base_url: str, link_secret: str) -> None:
        self.tokens = tokens
        self.base_url = base_url
        self._link_secret = link_secret.encode()

    # -- users --------------------------------------------------------------------------------

    async def create_user(
        self,
        conn: Connection,
        *,
        email: str,
        password: str | None,
        user_metadata: dict[str, Any] | None = None,
        app_metadata: dict[str, Any] | None = None,
        confirmed: bool = True,
        phone: str | None = None,
    ) -> dict[str, Any]:
        if password is not None:
            check_password_strength(password)
        user = await repository.create_user(
            conn,
            email=email,
            password_hash=await hash_password(password) if password is not None else None,
            confirmed=confirmed,
            user_metadata=user_metadata or {},
            app_metadata={"provider": "email", "providers": ["email"], **(app_metadata or {})},
            phone=phone or None,
        )
        if user is None:
            raise AuthApiError(
                422, "email_exists", "A user with this email address has already been registered"
            )
        return user

    async def update_user(
        self,
        conn: Connection,
        user_id: uuid.UUID,
        *,
        email: str | None = None,
        password: str | None = None,
        user_metadata: dict[str, Any] | None = None,
        app_metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        current = await repository.get_user(conn, user_id)
        if current is None:
            raise AuthApiError(404, "user_not_found", "User not found")
        changes: dict[str, Any] = {}
        if email is not None and email.lower() != (current["email"] or ""):
            if await repository.get_user_by_email(conn, email):
                raise AuthApiError(
                    422,
                    "email_exists",
                    "A user with this email address has already been registered",
                )
            changes["email"] = email.lower()
        if password is not None:
            check_password_strength(password)
            changes["encrypted_password"] = await hash_password(password)
        if user_metadata is not None:
            # Supabase merges metadata: keys given replace, keys absent stay.
            changes["raw_user_meta_data"] = {**current["raw_user_meta_data"], **user_metadata}
        if app_metadata is not None:
            changes["raw_app_meta_data"] = {**current["raw_app_meta_data"], **app_metadata}
        if not changes:
            return current
        updated = await repository.update_user(conn, user_id, **changes)
        assert updated is not None
        return updated

    # -- sessions -----------------------------------------------------------------------------

    async def sign_in_with_password(
        self, conn: Connection, email: str, password: str
    ) -> dict[str, Any]:
        user = await repository.get_user_by_email(conn, email)
        ok = await password_matches(password, user["encrypted_password"] if user else None)
        if not user or not ok or not user["encrypted_password"]:
            raise invalid_credentials()
        return await self.start_session(conn, user, method="password")

    async def start_session(
        self, conn: Connection, user: dict[str, Any], *, method: str
    ) -> dict[str, Any]:
        if user.get("banned_until") is not None:
            raise AuthApiError(400, "user_banned", "User is banned")
        session_id = uuid.uuid4()
        await repository.create_session(conn, session_id, user["id"])
        await repository.touch_sign_in(conn, user["id"])
        fresh = await repository.get_user(conn, user["id"])
        assert fresh is not None
        return await self._issue(conn, fresh, session_id=session_id, method=method, parent=None)

    async def refresh(self, conn: Connection, refresh_token: str) -> dict[str, Any]:
        row = await repository.revoke_refresh_token(conn, refresh_token)
        if row is None:
            raise AuthApiError(
                400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found"
            )
        if row["was_revoked"]:
            # A rotated token used again means it leaked: end that whole session.
            await repository.delete_sessions(conn, user_id=row["user_id"], only=row["session_id"])
            raise AuthApiError(
                400, "refresh_token_already_used", "Invalid Refresh Token: Already Used"
            )
        user = await repository.get_user(conn, row["user_id"])
        if user is None:
            raise AuthApiError(400, "user_not_found", "User not found")
        return await self._issue(
            conn, user, session_id=row["session_id"], method="token_refresh", parent=refresh_token
        )

    async def sign_out(self, conn: Connection, claims: dict[str, Any], scope: str) -> None:
        user_id = uuid.UUID(claims["sub"])
        session_id = uuid.UUID(claims["session_id"]) if claims.get("session_id") else None
        if scope == "global" or session_id is None:
            await repository.delete_sessions(conn, user_id=user_id)
        elif scope == "others":
            await repository.delete_sessions(conn, user_id=user_id, keep=session_id)
        else:
            await repository.delete_sessions(conn, user_id=user_id, only=session_id)

    async def _issue(
        self,
        conn: Connection,
        user: dict[str, Any],
        *,
        session_id: uuid.UUID,
        method: str,
        parent: str | None,
    ) -> dict[str, Any]:
        access_token, expires_at = self.tokens.issue_access_token(
            user, session_id=session_id, method=method
        )
        refresh_token = secrets.token_urlsafe(24)
        await repository.add_refresh_token(
            conn, token=refresh_token, user_id=user["id"], session_id=session_id, parent=parent
        )
        return {
            "access_token": access_token,
            "token_type": "bearer",
            "expires_in": self.tokens.ttl_seconds,
            "expires_at": expires_at,
            "refresh_token": refresh_token,
            "user": user,
        }

    # -- one-time links -----------------------------------------------------------------------

    async def issue_link(
        self,
        conn: Connection,
        user: dict[str, Any],
        *,
        link_type: str,
        redirect_to: str | None,
        seed: str | None = None,
    ) -> Link:
        """A new one-time link (and e-mail code) for `user`, replacing any earlier one.

        With a `seed` (a job's id) the link is derived from it and the server secret, so a job
        that runs again after its e-mail was sent re-issues the very same link: the e-mail the
        user already has keeps working, and the provider's idempotency key can stay the same.
        """
        if seed is None:
            token = secrets.token_urlsafe(32)
            otp = f"{secrets.randbelow(1_000_000):06d}"
        else:
            derived = hmac.new(self._link_secret, f"link:{seed}".encode(), hashlib.sha256).digest()
            token = base64.urlsafe_b64encode(derived).decode().rstrip("=")
            otp = f"{int.from_bytes(derived[:8], 'big') % 1_000_000:06d}"
        hashed_token = _sha256(token)
        await repository.add_one_time_tokens(
            conn,
            user_id=user["id"],
            token_type=link_type,
            hashes=[_sha256(hashed_token), _otp_hash(user["email"], otp)],
            relates_to=user["email"],
        )
        redirect = redirect_to or self.base_url
        query = urlencode({"token": hashed_token, "type": link_type, "redirect_to": redirect})
        return Link(
            user=user,
            action_link=f"{self.base_url}/auth/v1/verify?{query}",
            hashed_token=hashed_token,
            email_otp=otp,
            verification_type=link_type,
            redirect_to=redirect,
        )

    async def verify(
        self,
        conn: Connection,
        *,
        token_hash: str | None = None,
        email: str | None = None,
        otp: str | None = None,
    ) -> dict[str, Any]:
        """Use up a link (by its hashed token) or an e-mail OTP and start a session."""
        if token_hash:
            lookup = _sha256(token_hash)
        elif email and otp:
            lookup = _otp_hash(email, otp)
        else:
            raise AuthApiError(400, "validation_failed", "Verify requires a token or a token hash")
        hit = await repository.consume_one_time_token(
            conn, token_hash=lookup, max_age_seconds=LINK_TTL_SECONDS
        )
        if hit is None:
            raise AuthApiError(403, "otp_expired", "Email link is invalid or has expired")
        user = await repository.get_user(conn, hit["user_id"])
        if user is None:
            raise AuthApiError(403, "otp_expired", "Email link is invalid or has expired")
        return await self.start_session(conn, user, method="otp" if otp else hit["token_type"])
