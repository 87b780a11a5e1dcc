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

from fastapi import Depends, Header, Request

from backend.api_keys import service as api_key_service
from backend.auth.subjects import Anonymous, ApiKey, AuthSubject, Principal, User, rls_claims
from backend.context import AppContext, Context
from backend.db import Connection
from backend.errors import Forbidden, RateLimited, Unauthorized, ValidationFailed
from backend.kit.requests import bearer_token, client_ip
from backend.workspaces import service as workspace_service


async def authenticate(request: Request, context: Context) -> Principal:
    """Identify the caller from `X-API-Key` / `Authorization`, then count the request against
    the caller's rate limit (per API key, per user, or per IP for anonymous callers)."""
    token = request.headers.get("x-api-key") or bearer_token(request)
    ip = client_ip(
        request,
        trusted_proxies=context.settings.trusted_proxies,
        trusted_proxy_hops=context.settings.trusted_proxy_hops,
    )
    principal: Principal
    if token is None:
        principal = Anonymous(ip=ip)
    elif api_key_service.looks_like_key(token):
        principal = await api_key_service.authenticate(context.db, token)
    else:
        claims = await context.tokens.verify_user_token_or_anon(token)
        # A signed-out token stays valid as a JWT until it expires: whether its session still
        # lives is asked where the request opens a transaction under its claims (the statement
        # that sets them, so without a round trip of its own), or by routes that open none.
        principal = (
            Anonymous(ip=ip)
            if claims is None
            else User(id=_subject(claims), email=claims.get("email") or "", claims=claims)
        )

    if isinstance(principal, Anonymous):
        rule, key = context.settings.rate_limit_anonymous, f"ip:{principal.ip}"
    else:
        kind = "key" if isinstance(principal, ApiKey) else "user"
        rule, key = context.settings.rate_limit_authenticated, f"{kind}:{principal.id}"
    state = await context.rate_limiter.hit(rule, key)
    request.state.rate_limit = state  # the middleware puts it in the response headers
    if not state.allowed:
        raise RateLimited("Too many requests, try again later")
    return principal


def _subject(claims: dict[str, Any]) -> UUID:
    try:
        return UUID(str(claims["sub"]))
    except ValueError:
        raise Unauthorized("Token subject is not a user id") from None


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


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


async def signed_in_user(principal: CurrentPrincipal) -> User:
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
        x_workspace_id: Annotated[str | None, Header()] = None,
    ) -> AuthSubject[User | ApiKey]:
        if isinstance(principal, ApiKey):
            keyed = _key_with_scope(principal, scope)
            return AuthSubject(principal=keyed.principal, workspace_id=keyed.workspace_id)
        user = await admin_user(await signed_in_user(principal))
        subject = await _resolve_workspace(context, user, x_workspace_id)
        return AuthSubject(
            principal=subject.principal, workspace_id=subject.workspace_id, role=subject.role
        )

    return dependency


def api_key_subject(scope: str) -> Callable[..., Coroutine[Any, Any, AuthSubject[ApiKey]]]:
    """A dependency for integrations only: a workspace API key that carries `scope`."""

    async def dependency(principal: CurrentPrincipal) -> AuthSubject[ApiKey]:
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
