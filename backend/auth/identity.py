"""User administration, wherever the users live: the local auth server (embedded mode, tests)
or Supabase Auth (production, `SUPABASE_URL`), the latter through the official client."""

from __future__ import annotations

from typing import Any, Protocol

from supabase_auth.errors import AuthApiError as SupabaseAuthApiError
from supabase_auth.errors import AuthError as SupabaseAuthError

from backend.auth.gotrue.schemas import session_json, user_json
from backend.auth.gotrue.service import AuthApiError, AuthService
from backend.config import Settings
from backend.db import Database
from backend.errors import BadRequest, Conflict, Unauthorized, ValidationFailed, VoxtroError
from supabase import acreate_client


class EmailTaken(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "An account with this e-mail already exists",
            errors=[{"field": "email", "message": "already registered"}],
        )


class WrongCredentials(Unauthorized):
    def __init__(self) -> None:
        super().__init__("Incorrect e-mail or password")  # never says which one


class IdentityProvider(Protocol):
    async def create_user(
        self, *, email: str, password: str | None, user_metadata: dict[str, Any]
    ) -> dict[str, Any]:
        """Create a confirmed user; returns Supabase's User object. `EmailTaken` on duplicates."""
        ...

    async def sign_in_with_password(self, *, email: str, password: str) -> dict[str, Any]:
        """A Supabase session (access_token, refresh_token, expires_in, …, user)."""
        ...


def _from_auth_error(exc: AuthApiError) -> VoxtroError:
    if exc.code in {"email_exists", "user_already_exists"}:
        return EmailTaken()
    if exc.code == "invalid_credentials":
        return WrongCredentials()
    if exc.code == "weak_password":
        return ValidationFailed(exc.message, errors=[{"field": "password", "message": exc.message}])
    return BadRequest(exc.message)


class LocalIdentity:
    def __init__(self, db: Database, auth: AuthService) -> None:
        self._db = db
        self._auth = auth

    async def create_user(
        self, *, email: str, password: str | None, user_metadata: dict[str, Any]
    ) -> dict[str, Any]:
        try:
            async with self._db.system() as conn:
                user = await self._auth.create_user(
                    conn, email=email, password=password, user_metadata=user_metadata
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


class SupabaseIdentity:
    def __init__(self, settings: Settings) -> None:
        self._url = settings.supabase_url
        self._service_key = settings.supabase_service_role_key
        self._anon_key = settings.supabase_anon_key or settings.supabase_service_role_key

    async def create_user(
        self, *, email: str, password: str | None, user_metadata: dict[str, Any]
    ) -> dict[str, Any]:
        client = await acreate_client(self._url, self._service_key)
        attributes: dict[str, Any] = {
            "email": email,
            "email_confirm": True,
            "user_metadata": user_metadata,
        }
        if password is not None:
            attributes["password"] = password
        try:
            response = await client.auth.admin.create_user(attributes)  # type: ignore[arg-type]
        except SupabaseAuthApiError as exc:
            if exc.code in {"email_exists", "user_already_exists"}:
                raise EmailTaken() from exc
            raise _from_auth_error(AuthApiError(exc.status, exc.code or "", exc.message)) from exc
        return response.user.model_dump(mode="json")

    async def sign_in_with_password(self, *, email: str, password: str) -> dict[str, Any]:
        client = await acreate_client(self._url, self._anon_key)
        try:
            response = await client.auth.sign_in_with_password(
                {"email": email, "password": password}
            )
        except SupabaseAuthError as exc:
            raise WrongCredentials() from exc
        assert response.session is not None
        return response.session.model_dump(mode="json")
