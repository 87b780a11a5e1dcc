"""The long-lived parts of a running backend, built once at start-up and shared by requests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from backend.auth.gotrue.service import AuthService
from backend.auth.identity import IdentityProvider, LocalIdentity, SupabaseIdentity
from backend.auth.tokens import TokenService
from backend.config import Settings
from backend.db import Database
from backend.integrations.openai.client import OpenAIGateway
from backend.integrations.whatsapp.client import GraphGateway
from backend.kit.crypto import SecretBox
from backend.kit.rate_limit import RateLimiter
from backend.kit.safe_http import SafeHTTPClient


@dataclass
class AppContext:
    settings: Settings
    db: Database
    tokens: TokenService
    rate_limiter: RateLimiter
    auth: AuthService  # the local auth server's rules (used when there is no SUPABASE_URL)
    identity: IdentityProvider
    secrets: SecretBox
    openai: OpenAIGateway
    http: SafeHTTPClient  # every tenant-directed fetch goes through it
    whatsapp: GraphGateway  # the Graph API (a platform URL, not a tenant's)

    @classmethod
    def build(cls, settings: Settings) -> AppContext:
        tokens = TokenService(settings)
        db = Database(
            settings.database_url,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            session_ttl=settings.session_check_seconds,
        )
        auth = AuthService(
            tokens, base_url=settings.base_url, link_secret=settings.supabase_jwt_secret
        )
        identity: IdentityProvider = (
            LocalIdentity(db, auth) if settings.local_auth else SupabaseIdentity(settings)
        )
        return cls(
            settings=settings,
            db=db,
            tokens=tokens,
            rate_limiter=RateLimiter(settings.redis_url),
            auth=auth,
            identity=identity,
            secrets=SecretBox(settings.encryption_keys),
            openai=OpenAIGateway(base_url=settings.openai_base_url),
            whatsapp=GraphGateway(
                base_url=settings.whatsapp_api_url, version=settings.whatsapp_api_version
            ),
            http=SafeHTTPClient(
                allow_loopback=settings.fetch_allow_loopback,
                allowed_ports={
                    int(p) for p in settings.fetch_allowed_ports.split(",") if p.strip()
                },
            ),
        )

    async def aclose(self) -> None:
        await self.openai.aclose()
        await self.whatsapp.aclose()
        await self.http.aclose()
        await self.db.close()


# Async although it awaits nothing: FastAPI runs a plain `def` dependency in its thread pool,
# a thread hop on every request.
async def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


Context = Annotated[AppContext, Depends(get_context)]
