"""Supabase JWTs: verification of user tokens and API-role keys, and signing for local auth.

Tokens are verified locally: HS256 with the project's JWT secret, and ES256/RS256 with the
public keys of the project's JWKS endpoint (fetched once, cached ten minutes, refetched when an
unknown `kid` shows up). `aud` and `exp` are always checked; `alg: none` and every algorithm we
did not configure are refused.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import jwt
import structlog

from backend.config import Settings
from backend.errors import Unauthorized

log = structlog.get_logger(__name__)

_ASYMMETRIC = {"ES256", "RS256"}
_JWKS_TTL_SECONDS = 600
_KEYS_ISSUED_AT = 1_735_689_600  # 2025-01-01


class TokenService:
    def __init__(self, settings: Settings) -> None:
        self._secret = settings.supabase_jwt_secret
        self._audience = settings.jwt_audience
        self._issuer = settings.auth_issuer
        self.ttl_seconds = settings.access_token_ttl_seconds
        self._jwks_url = (
            f"{settings.supabase_url.rstrip('/')}/auth/v1/.well-known/jwks.json"
            if settings.supabase_url
            else ""
        )
        self._jwks: jwt.PyJWKSet | None = None
        self._jwks_fetched_at = 0.0

    # -- verification -------------------------------------------------------------------------

    async def verify_user_token(self, token: str) -> dict[str, Any]:
        """The claims of a valid user access token; `Unauthorized` otherwise."""
        claims = await self.verify_user_token_or_anon(token)
        if claims is None:
            raise Unauthorized("A user token is required")
        return claims

    async def verify_user_token_or_anon(self, token: str) -> dict[str, Any] | None:
        """Claims of a user token, or None for the project's anon key (which Supabase clients
        send as the bearer before anyone signs in); `Unauthorized` for anything else."""
        claims = await self._decode(token, audience=None)
        if claims.get("role") == "anon":
            return None
        audience = claims.get("aud")
        if self._audience not in (audience if isinstance(audience, list) else [audience]):
            raise Unauthorized("Invalid token audience")
        if not claims.get("sub"):
            raise Unauthorized("Token has no subject")
        return claims

    async def verify_api_role_key(self, token: str) -> str:
        """The role ('anon' or 'service_role') of a Supabase-style API key JWT."""
        claims = await self._decode(token, audience=None)
        role = claims.get("role")
        if role not in {"anon", "service_role", "authenticated"}:
            raise Unauthorized("Invalid API key")
        return str(role)

    async def _decode(self, token: str, *, audience: str | None) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized("Malformed token") from exc
        alg = header.get("alg")
        if alg == "HS256" and self._secret:
            key: Any = self._secret
        elif alg in _ASYMMETRIC and self._jwks_url:
            key = await self._public_key(header.get("kid"), alg)
        else:
            raise Unauthorized("Unsupported token algorithm")
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=audience,
                options={"require": ["exp"], "verify_aud": audience is not None},
                leeway=10,
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("Token has expired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("Invalid token") from exc

    async def _public_key(self, kid: str | None, alg: str) -> Any:
        stale = time.monotonic() - self._jwks_fetched_at > _JWKS_TTL_SECONDS
        if self._jwks is None or stale or not self._find(kid):
            await self._refresh_jwks()
        found = self._find(kid)
        # A key signs with one algorithm only; another one in the header is a forgery attempt
        # (and would make PyJWT raise TypeError rather than an invalid-token error).
        if found is None or found.algorithm_name != alg:
            raise Unauthorized("Unknown signing key")
        return found.key

    def _find(self, kid: str | None) -> jwt.PyJWK | None:
        if self._jwks is None:
            return None
        return next((k for k in self._jwks.keys if k.key_id == kid), None)

    async def _refresh_jwks(self) -> None:
        # Never refetch more than once a few seconds, however many unknown kids arrive.
        if time.monotonic() - self._jwks_fetched_at < 5 and self._jwks is not None:
            return
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                response = await client.get(self._jwks_url)
                response.raise_for_status()
            self._jwks = jwt.PyJWKSet.from_dict(response.json())
            self._jwks_fetched_at = time.monotonic()
        except (httpx.HTTPError, jwt.PyJWTError, ValueError) as exc:
            log.warning("jwks_fetch_failed", url=self._jwks_url, error=repr(exc))
            if self._jwks is None:
                raise Unauthorized("Signing keys are unavailable") from exc

    # -- signing (local auth only) ------------------------------------------------------------

    def issue_access_token(
        self, user: dict[str, Any], *, session_id: uuid.UUID, method: str
    ) -> tuple[str, int]:
        """A Supabase-shaped access token for `user` (an auth.users row); returns it and its
        expiry as a Unix timestamp."""
        now = int(time.time())
        expires_at = now + self.ttl_seconds
        claims = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": str(user["id"]),
            "exp": expires_at,
            "iat": now,
            "email": user.get("email") or "",
            "phone": user.get("phone") or "",
            "app_metadata": user.get("raw_app_meta_data") or {},
            "user_metadata": user.get("raw_user_meta_data") or {},
            "role": "authenticated",
            "aal": "aal1",
            "amr": [{"method": method, "timestamp": now}],
            "session_id": str(session_id),
            "is_anonymous": False,
        }
        return jwt.encode(claims, self._secret, algorithm="HS256"), expires_at

    def issue_api_role_key(self, role: str) -> str:
        """An anon or service-role key, shaped like Supabase's legacy keys. Fixed dates make
        the key the same on every start for the same secret, as `supabase start` prints."""
        claims = {
            "iss": "supabase",
            "ref": "local",
            "role": role,
            "iat": _KEYS_ISSUED_AT,
            "exp": _KEYS_ISSUED_AT + 10 * 365 * 24 * 3600,
        }
        return jwt.encode(claims, self._secret, algorithm="HS256")
