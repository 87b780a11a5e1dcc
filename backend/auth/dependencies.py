"""FastAPI dependencies that say who is calling, in which workspace, and open the request's
transaction under that caller's RLS claims.

Routes declare what they need with the aliases at the bottom (`AdminSubject`, `Session`, …);
the dependency results are cached per request, so authentication, rate limiting and the
transaction happen once however many dependencies use them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Header, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from backend.api_keys import service as api_key_service
from backend.auth.subjects import Anonymous, ApiKey, AuthSubject, Principal, User, rls_claims
from backend.context import AppContext, Context
from backend.db import Connection
from backend.errors import Forbidden, RateLimited, Unauthorized, ValidationFailed
from backend.kit.requests import bearer_token, client_ip
from backend.workspaces import service as workspace_service

# The two ways to authenticate, as OpenAPI security schemes. `authenticate` reads the headers
# itself (a public route identifies its caller too); the dependencies below that require a
# credential take these as parameters only so that each operation documents what it accepts.
# They never refuse a request: what is wrong with a credential is `authenticate`'s to say.
bearer_jwt = HTTPBearer(
    scheme_name="BearerJWT",
    bearerFormat="JWT",
    description="A Supabase Auth access token (admins and customers), from `POST /auth/token` "
    "or Supabase's own clients.",
    auto_error=False,
)
api_key_header = APIKeyHeader(
    name="X-API-Key",
    scheme_name="ApiKey",
    description="A workspace API key (`vx_live_…`), created with `POST /api/api-keys`; the "
    "operation may need one of its scopes.",
    auto_error=False,
)
BearerCredential = Annotated[HTTPAuthorizationCredentials | None, Security(bearer_jwt)]
ApiKeyCredential = Annotated[str | None, Security(api_key_header)]


def _client_ip(request: Request, context: AppContext) -> str:
    return client_ip(
        request,
        trusted_proxies=context.settings.trusted_proxies,
        trusted_proxy_hops=context.settings.trusted_proxy_hops,
    )


async def _identify(request: Request, context: AppContext) -> Principal:
    token = request.headers.get("x-api-key") or bearer_token(request)
    ip = _client_ip(request, context)
    if token is None:
        return Anonymous(ip=ip)
    if api_key_service.looks_like_key(token):
        return await api_key_service.authenticate(context.db, token)
    claims = await context.tokens.verify_user_token_or_anon(token)
    if claims is None:
        return Anonymous(ip=ip)
    # A signed-out token stays valid as a JWT until it expires: whether its session still
    # lives is asked where the request opens a transaction under its claims (the statement
    # that sets them, so without a round trip of its own), or by routes that open none.
    return User(id=_subject(claims), email=claims.get("email") or "", claims=claims)


async def _count(request: Request, context: AppContext, rule: str, key: str) -> None:
    """Count one request of `key`; refuse it past the limit. The response carries the headers
    of the limit closest to running out (seed 003: on every response)."""
    state = await context.rate_limiter.hit(rule, key)
    shown = getattr(request.state, "rate_limit", None)
    if shown is None or not state.allowed or state.remaining < shown.remaining:
        request.state.rate_limit = state  # the middleware puts it in the response headers
    if not state.allowed:
        raise RateLimited("Too many requests, try again later")


async def _count_principal(request: Request, context: AppContext, principal: Principal) -> None:
    if isinstance(principal, Anonymous):
        await _count(request, context, context.settings.rate_limit_anonymous, f"ip:{principal.ip}")
    else:
        kind = "key" if isinstance(principal, ApiKey) else "user"
        rule = context.settings.rate_limit_authenticated
        await _count(request, context, rule, f"{kind}:{principal.id}")


async def authenticate(request: Request, context: Context) -> Principal:
    """Identify the caller from `X-API-Key` / `Authorization`, then count the request against
    the caller's rate limit (per API key, per user, or per IP for anonymous callers)."""
    principal = await _identify(request, context)
    await _count_principal(request, context, principal)
    return principal


async def identify_visitor(request: Request, context: Context) -> Principal:
    """The caller of a bot's public route (widget, chat message, form). Anonymous callers are
    not counted per address across every bot here: the route counts them per bot
    (`limit_bot_address`, `limit_visitor`), so that one shop's visitors sharing an address
    neither use up nor feel another bot's traffic."""
    principal = await _identify(request, context)
    if not isinstance(principal, Anonymous):
        await _count_principal(request, context, principal)
    return principal


async def limit_bot_address(context: AppContext, request: Request, chatbot_id: UUID) -> None:
    """Every request from one address to one bot: a generous limit."""
    ip = _client_ip(request, context)
    await _count(
        request, context, context.settings.rate_limit_bot_address, f"bot-ip:{chatbot_id}:{ip}"
    )


async def limit_visitor(
    context: AppContext, request: Request, chatbot_id: UUID, visitor_id: str
) -> None:
    """A visitor's message or form: the address's limit on this bot, then the visitor's own,
    tight one."""
    await limit_bot_address(context, request, chatbot_id)
    try:
        await _count(
            request,
            context,
            context.settings.rate_limit_chat_visitor,
            f"visitor:{chatbot_id}:{visitor_id}",
        )
    except RateLimited as exc:
        raise RateLimited("Too many messages, slow down a little") from exc


def _subject(claims: dict[str, Any]) -> UUID:
    try:
        return UUID(str(claims["sub"]))
    except ValueError:
        raise Unauthorized("Token subject is not a user id") from None


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]
VisitorPrincipal = Annotated[Principal, Depends(identify_visitor)]


async def open_session(principal: CurrentPrincipal, context: Context) -> AsyncIterator[Connection]:
    """The request's one transaction, under the caller's RLS claims; committed when the route
    returns, rolled back when it raises."""
    if isinstance(principal, Anonymous):
        raise Unauthorized()
    async with context.db.as_claims(rls_claims(principal)) as conn:
        yield conn


Session = Annotated[Connection, Depends(open_session, scope="function")]


def _workspace_header(x_workspace_id: str | None) -> UUID | None:
    if x_workspace_id is None:
        return None
    try:
        return UUID(x_workspace_id)
    except ValueError as exc:
        raise ValidationFailed(
            "X-Workspace-Id must be a UUID",
            errors=[{"field": "X-Workspace-Id", "message": "must be a UUID"}],
        ) from exc


async def signed_in_user(principal: CurrentPrincipal, _: BearerCredential) -> User:
    """A Supabase user (admin or customer)."""
    if isinstance(principal, User):
        return principal
    if isinstance(principal, ApiKey):
        raise Forbidden("This endpoint needs a signed-in user, not an API key")
    raise Unauthorized()


async def admin_user(user: Annotated[User, Depends(signed_in_user)]) -> User:
    if user.is_customer:
        raise Forbidden("Customer accounts cannot use admin endpoints")
    return user


async def _resolve_workspace(
    context: AppContext, user: User, x_workspace_id: str | None
) -> AuthSubject[User]:
    # Its own short transaction, not the request's: a route that calls a provider and takes
    # no `Session` then holds no database connection while it waits.
    async with context.db.as_claims(user.claims) as conn:
        return await workspace_service.resolve(
            conn, user, _workspace_header(x_workspace_id), context.settings
        )


async def admin_subject(
    user: Annotated[User, Depends(admin_user)],
    context: Context,
    x_workspace_id: Annotated[str | None, Header()] = None,
) -> AuthSubject[User]:
    return await _resolve_workspace(context, user, x_workspace_id)


def _key_with_scope(key: ApiKey, scope: str) -> AuthSubject[ApiKey]:
    if scope not in key.scopes:
        raise Forbidden(f"This API key lacks the '{scope}' scope")
    return AuthSubject(principal=key, workspace_id=key.workspace_id)


def api_subject(scope: str) -> Callable[..., Coroutine[Any, Any, AuthSubject[User | ApiKey]]]:
    """A dependency accepting an admin (in their selected workspace) or an API key that
    carries `scope`."""

    async def dependency(
        principal: CurrentPrincipal,
        context: Context,
        _bearer: BearerCredential,
        _key: ApiKeyCredential,
        x_workspace_id: Annotated[str | None, Header()] = None,
    ) -> AuthSubject[User | ApiKey]:
        if isinstance(principal, ApiKey):
            keyed = _key_with_scope(principal, scope)
            return AuthSubject(principal=keyed.principal, workspace_id=keyed.workspace_id)
        user = await admin_user(await signed_in_user(principal, _bearer))
        subject = await _resolve_workspace(context, user, x_workspace_id)
        return AuthSubject(
            principal=subject.principal, workspace_id=subject.workspace_id, role=subject.role
        )

    return dependency


def api_key_subject(scope: str) -> Callable[..., Coroutine[Any, Any, AuthSubject[ApiKey]]]:
    """A dependency for integrations only: a workspace API key that carries `scope`."""

    async def dependency(principal: CurrentPrincipal, _: ApiKeyCredential) -> AuthSubject[ApiKey]:
        if isinstance(principal, ApiKey):
            return _key_with_scope(principal, scope)
        if isinstance(principal, User):
            raise Forbidden("This endpoint takes a workspace API key (vx_live_…), not a user token")
        raise Unauthorized()

    return dependency


AdminUser = Annotated[User, Depends(admin_user)]
AdminSubject = Annotated[AuthSubject[User], Depends(admin_subject)]
ApiSubject = Annotated[AuthSubject[User | ApiKey], Depends(api_subject("api"))]
ApiKeySubject = Annotated[AuthSubject[ApiKey], Depends(api_key_subject("api"))]
