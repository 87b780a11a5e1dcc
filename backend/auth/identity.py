"""User administration, wherever the users live: the local auth server (embedded mode, tests)
or Supabase Auth (production, `SUPABASE_URL`), the latter through the official client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

from supabase_auth.errors import AuthError as SupabaseAuthError
from supabase_auth.errors import AuthRetryableError as SupabaseAuthRetryableError

from backend.auth.gotrue.schemas import session_json, user_json
from backend.auth.gotrue.service import AuthApiError, AuthService
from backend.config import Settings
from backend.db import Database
from backend.errors import (
    BadRequest,
    Conflict,
    RateLimited,
    Unauthorized,
    ValidationFailed,
    VoxtroError,
)
from supabase import AsyncClient, AsyncClientOptions, acreate_client


class EmailTaken(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "An account with this e-mail already exists",
            errors=[{"field": "email", "message": "already registered"}],
        )


class WrongCredentials(Unauthorized):
    def __init__(self) -> None:
        super().__init__("Incorrect e-mail or password")  # never says which one


class AuthUnavailable(VoxtroError):
    status_code = 503
    code = "SERVICE_UNAVAILABLE"

    def __init__(self) -> None:
        super().__init__("The sign-in service is unavailable, try again later")


class IdentityProvider(Protocol):
    async def create_user(
        self,
        *,
        email: str,
        password: str | None,
        user_metadata: dict[str, Any],
        app_metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Create a confirmed user; returns Supabase's User object. `EmailTaken` on duplicates.
        `app_metadata` is what its user cannot change (only the service role writes it)."""
        ...

    async def sign_in_with_password(self, *, email: str, password: str) -> dict[str, Any]:
        """A Supabase session (access_token, refresh_token, expires_in, …, user)."""
        ...

    async def send_magic_link(self, *, email: str, redirect_to: str) -> None:
        """E-mail an existing user a sign-in link (never creates one); silent for strangers."""
        ...


def _from_auth_error(exc: AuthApiError) -> VoxtroError:
    if exc.code in {"email_exists", "user_already_exists"}:
        return EmailTaken()
    if exc.code == "invalid_credentials":
        return WrongCredentials()
    if exc.code == "weak_password":
        return ValidationFailed(exc.message, errors=[{"field": "password", "message": exc.message}])
    return BadRequest(exc.message)


def _from_supabase_error(exc: SupabaseAuthError) -> VoxtroError:
    status = int(getattr(exc, "status", 0) or 0)
    # Network failures and 5xx: Supabase is down, not the caller wrong.
    if isinstance(exc, SupabaseAuthRetryableError) or status == 0 or status >= 500:
        return AuthUnavailable()
    if status == 429:
        return RateLimited("Too many requests, try again later")
    return _from_auth_error(AuthApiError(status, exc.code or "", exc.message))


class LocalIdentity:
    def __init__(self, db: Database, auth: AuthService) -> None:
        self._db = db
        self._auth = auth

    async def create_user(
        self,
        *,
        email: str,
        password: str | None,
        user_metadata: dict[str, Any],
        app_metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        try:
            async with self._db.system() as conn:
                user = await self._auth.create_user(
                    conn,
                    email=email,
                    password=password,
                    user_metadata=user_metadata,
                    app_metadata=app_metadata,
                )
        except AuthApiError as exc:
            raise _from_auth_error(exc) from exc
        return user_json(user)

    async def sign_in_with_password(self, *, email: str, password: str) -> dict[str, Any]:
        try:
            async with self._db.system() as conn:
                session = await self._auth.sign_in_with_password(conn, email, password)
        except AuthApiError as exc:
            raise _from_auth_error(exc) from exc
        return session_json(session)

    async def send_magic_link(self, *, email: str, redirect_to: str) -> None:
        from backend.auth.gotrue import repository
        from backend.auth.gotrue.tasks import send_link_email
        from backend.tasks import enqueue

        async with self._db.system() as conn:
            user = await repository.get_user_by_email(conn, email)
            if user is not None:
                await enqueue(
                    conn,
                    send_link_email,
                    user_id=str(user["id"]),
                    link_type="magiclink",
                    redirect_to=redirect_to,
                )


class SupabaseIdentity:
    def __init__(self, settings: Settings) -> None:
        self._url = settings.supabase_url
        self._service_key = settings.supabase_service_role_key
        self._anon_key = settings.supabase_anon_key or settings.supabase_service_role_key

    @asynccontextmanager
    async def _client(self, key: str) -> AsyncIterator[AsyncClient]:
        # The server signs users in on their behalf: it keeps no session of its own, and above
        # all never refreshes one in the background (that would rotate, and so revoke, the
        # refresh token the user was given).
        options = AsyncClientOptions(auto_refresh_token=False, persist_session=False)
        client = await acreate_client(self._url, key, options=options)
        try:
            yield client
        finally:
            await client.auth.close()

    async def create_user(
        self,
        *,
        email: str,
        password: str | None,
        user_metadata: dict[str, Any],
        app_metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "email": email,
            "email_confirm": True,
            "user_metadata": user_metadata,
        }
        if app_metadata:
            attributes["app_metadata"] = app_metadata
        if password is not None:
            attributes["password"] = password
        try:
            async with self._client(self._service_key) as client:
                response = await client.auth.admin.create_user(attributes)  # type: ignore[arg-type]
        except SupabaseAuthError as exc:
            raise _from_supabase_error(exc) from exc
        return response.user.model_dump(mode="json")

    async def sign_in_with_password(self, *, email: str, password: str) -> dict[str, Any]:
        try:
            async with self._client(self._anon_key) as client:
                response = await client.auth.sign_in_with_password(
                    {"email": email, "password": password}
                )
        except SupabaseAuthError as exc:
            error = _from_supabase_error(exc)
            # Whatever Supabase says about the account, the caller learns only this.
            raise (WrongCredentials() if isinstance(error, BadRequest) else error) from exc
        assert response.session is not None
        return response.session.model_dump(mode="json")

    async def send_magic_link(self, *, email: str, redirect_to: str) -> None:
        try:
            async with self._client(self._anon_key) as client:
                await client.auth.sign_in_with_otp(
                    {
                        "email": email,
                        "options": {"should_create_user": False, "email_redirect_to": redirect_to},
                    }
                )
        except SupabaseAuthError as exc:
            error = _from_supabase_error(exc)
            if not isinstance(error, BadRequest):  # an unknown e-mail stays silent
                raise error from exc
