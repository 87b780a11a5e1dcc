"""A compatible subset of the Supabase Auth HTTP API under `/auth/v1`, served when no
`SUPABASE_URL` is configured (the embedded default and the tests), so the official Supabase
clients work against Voxtro unchanged. See providers.md §8 for the wire formats.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal
from urllib.parse import urlencode, urlsplit
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BeforeValidator, ValidationError

from backend.auth.gotrue import repository
from backend.auth.gotrue import tasks as auth_tasks
from backend.auth.gotrue.errors import AuthApiError, auth_error_response
from backend.auth.gotrue.schemas import (
    AdminUserCreate,
    AdminUserUpdate,
    GenerateLink,
    OtpRequest,
    PasswordGrant,
    RefreshGrant,
    SignUp,
    UserUpdate,
    VerifyRequest,
    session_json,
    user_json,
)
from backend.context import AppContext, Context
from backend.db import Connection, SessionEnded, session_of
from backend.kit.pagination import MAX_PAGE
from backend.kit.requests import bearer_token, client_ip
from backend.tasks import enqueue

router = APIRouter(prefix="/auth/v1", tags=["auth (Supabase-compatible)"])

OTP_TRIES_PER_EMAIL = "10/15 minutes"


# -- dependencies -----------------------------------------------------------------------------


async def require_api_key(request: Request, context: Context) -> str:
    """Supabase's gateway refuses requests without a project key; so do we. The per-IP limit
    also slows password and OTP guessing."""
    key = request.headers.get("apikey") or bearer_token(request)
    if not key:
        raise AuthApiError(401, "no_api_key", "No API key found in request")
    try:
        role = await context.tokens.verify_api_role_key(key)
    except Exception as exc:
        raise AuthApiError(401, "invalid_api_key", "Invalid API key") from exc
    ip = client_ip(
        request,
        trusted_proxies=context.settings.trusted_proxies,
        trusted_proxy_hops=context.settings.trusted_proxy_hops,
    )
    state = await context.rate_limiter.hit(context.settings.rate_limit_anonymous, f"auth-ip:{ip}")
    request.state.rate_limit = state
    if not state.allowed:
        raise AuthApiError(429, "over_request_rate_limit", "Request rate limit reached")
    return role


async def auth_session(context: Context) -> AsyncIterator[Connection]:
    async with context.db.system() as conn:
        yield conn


AuthSession = Annotated[Connection, Depends(auth_session, scope="function")]


async def user_claims(request: Request, context: Context, session: AuthSession) -> dict[str, Any]:
    token = bearer_token(request)
    if not token:
        raise AuthApiError(401, "no_authorization", "This endpoint requires a Bearer token")
    try:
        claims = await context.tokens.verify_user_token(token)
    except Exception as exc:
        raise AuthApiError(
            403, "bad_jwt", "invalid JWT: unable to parse or verify signature"
        ) from exc
    # As Supabase Auth does: the access token of a signed-out session no longer counts.
    try:
        session_id = session_of(claims)
    except SessionEnded:
        session_id = UUID(int=0)  # no session has it
    if session_id and not await repository.session_exists(session, session_id):
        raise AuthApiError(
            403, "session_not_found", "Session from session_id claim in JWT does not exist"
        )
    return claims


async def require_service_role(request: Request, context: Context) -> None:
    token = bearer_token(request)
    if not token:
        raise AuthApiError(401, "no_authorization", "This endpoint requires a Bearer token")
    try:
        role = await context.tokens.verify_api_role_key(token)
    except Exception as exc:
        raise AuthApiError(
            403, "bad_jwt", "invalid JWT: unable to parse or verify signature"
        ) from exc
    if role != "service_role":
        raise AuthApiError(403, "not_admin", "User not allowed")


UserClaims = Annotated[dict[str, Any], Depends(user_claims)]
public = [Depends(require_api_key)]
admin = [Depends(require_api_key), Depends(require_service_role)]


def safe_redirect(context: AppContext, redirect_to: str | None) -> str:
    """Follow `redirect_to` only to our own site or an allowed URL, never an open redirect."""
    site = context.settings.base_url
    if not redirect_to:
        return site
    extra = [context.settings.portal_url, *context.settings.auth_redirect_urls.split(",")]
    allowed = [site, *filter(None, extra)]
    target = urlsplit(redirect_to)
    for url in allowed:
        origin = urlsplit(url.strip())
        if (target.scheme, target.netloc) == (origin.scheme, origin.netloc):
            return redirect_to
    return site


# -- public endpoints -------------------------------------------------------------------------


@router.get("/health", summary="Check the auth service")
async def health() -> dict[str, str]:
    return {"version": "voxtro", "name": "GoTrue", "description": "Voxtro local auth"}


@router.get("/settings", dependencies=public, summary="Get the auth service's settings")
async def settings() -> dict[str, Any]:
    return {
        "external": {"email": True, "phone": False},
        "disable_signup": False,
        "mailer_autoconfirm": True,
        "phone_autoconfirm": False,
        "sms_provider": "",
        "saml_enabled": False,
    }


@router.post("/signup", dependencies=public, summary="Sign up and start a session")
async def signup(data: SignUp, context: Context, session: AuthSession) -> dict[str, Any]:
    if await repository.get_user_by_email(session, data.email):
        raise AuthApiError(422, "user_already_exists", "User already registered")
    user = await context.auth.create_user(
        session, email=data.email, password=data.password, user_metadata=data.data
    )
    return session_json(await context.auth.start_session(session, user, method="password"))


@router.post(
    "/token",
    dependencies=public,
    response_model=None,
    summary="Start or refresh a session (password or refresh-token grant)",
)
async def token(
    request: Request,
    context: Context,
    session: AuthSession,
    grant_type: Annotated[Literal["password", "refresh_token"], Query()],
) -> dict[str, Any] | JSONResponse:
    # One path, two bodies: which one depends on the query string.
    try:
        body = await request.json()
        if grant_type == "password":
            grant = PasswordGrant.model_validate(body)
        else:
            refresh = RefreshGrant.model_validate(body)
    except (ValueError, ValidationError) as exc:
        raise AuthApiError(400, "validation_failed", f"Invalid {grant_type} grant body") from exc
    if grant_type == "password":
        result = await context.auth.sign_in_with_password(session, grant.email, grant.password)
    else:
        try:
            result = await context.auth.refresh(session, refresh.refresh_token)
        except AuthApiError as exc:
            if exc.code != "refresh_token_already_used":
                raise
            # Answer instead of raising, so that the transaction commits the session's end.
            return auth_error_response(exc)
    return session_json(result)


@router.post("/otp", dependencies=public, summary="Send a magic link by e-mail")
async def otp(
    data: OtpRequest, context: Context, session: AuthSession, redirect_to: str | None = None
) -> dict[str, Any]:
    user = await repository.get_user_by_email(session, data.email)
    if user is None:
        if not data.create_user:
            raise AuthApiError(422, "otp_disabled", "Signups not allowed for otp")
        user = await context.auth.create_user(
            session, email=data.email, password=None, user_metadata=data.data, confirmed=False
        )
    await enqueue(
        session,
        auth_tasks.send_link_email,
        user_id=str(user["id"]),
        link_type="magiclink",
        redirect_to=safe_redirect(context, redirect_to),
    )
    return {}


@router.get(
    "/verify",
    dependencies=[],
    summary="Follow a magic link and sign in",
    response_class=RedirectResponse,
    status_code=status.HTTP_303_SEE_OTHER,
    response_description="On to the site, with the session (or what went wrong) in the URL "
    "fragment",
)
async def verify_link(
    context: Context,
    session: AuthSession,
    token: str,
    type: str,
    redirect_to: str | None = None,
) -> Response:
    """The link in the e-mail: signs the user in and sends the browser on with the session in
    the URL fragment, as Supabase does."""
    target = safe_redirect(context, redirect_to)
    try:
        result = await context.auth.verify(session, token_hash=token)
    except AuthApiError as exc:
        fragment = urlencode(
            {"error": "access_denied", "error_code": exc.code, "error_description": exc.message}
        )
        return RedirectResponse(f"{target}#{fragment}", status_code=status.HTTP_303_SEE_OTHER)
    fragment = urlencode(
        {
            "access_token": result["access_token"],
            "expires_at": result["expires_at"],
            "expires_in": result["expires_in"],
            "refresh_token": result["refresh_token"],
            "token_type": "bearer",
            "type": type,
        }
    )
    return RedirectResponse(f"{target}#{fragment}", status_code=status.HTTP_303_SEE_OTHER)


@router.post("/verify", dependencies=public, summary="Verify a one-time token and sign in")
async def verify_otp(data: VerifyRequest, context: Context, session: AuthSession) -> dict[str, Any]:
    if data.email and data.token:
        # A six-digit code is guessable from many addresses at once: limit tries per e-mail.
        state = await context.rate_limiter.hit(
            OTP_TRIES_PER_EMAIL, f"otp-email:{data.email.lower()}"
        )
        if not state.allowed:
            raise AuthApiError(429, "over_request_rate_limit", "Too many attempts for this e-mail")
    result = await context.auth.verify(
        session, token_hash=data.token_hash, email=data.email, otp=data.token
    )
    return session_json(result)


@router.get("/user", dependencies=public, summary="Get the session's user")
async def get_user(claims: UserClaims, session: AuthSession) -> dict[str, Any]:
    user = await repository.get_user(session, UUID(claims["sub"]))
    if user is None:
        raise AuthApiError(404, "user_not_found", "User from sub claim in JWT does not exist")
    return user_json(user)


@router.put(
    "/user", dependencies=public, summary="Update the session's user (e-mail, password, metadata)"
)
async def update_user(
    data: UserUpdate, claims: UserClaims, context: Context, session: AuthSession
) -> dict[str, Any]:
    user = await context.auth.update_user(
        session,
        UUID(claims["sub"]),
        email=data.email,
        password=data.password,
        user_metadata=data.data,
    )
    return user_json(user)


@router.post(
    "/logout",
    dependencies=public,
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign out (end the session)",
)
async def logout(
    claims: UserClaims,
    context: Context,
    session: AuthSession,
    scope: Literal["global", "local", "others"] = "global",
) -> None:
    await context.auth.sign_out(session, claims, scope)
    session_id = session_of(claims)
    if scope != "others" and session_id is not None:
        # This process stops taking the token at once (the others within seconds).
        context.db.sessions.ended(session_id)


# -- admin endpoints (service-role key) -------------------------------------------------------


@router.post("/admin/users", dependencies=admin, summary="Create a user (service role)")
async def admin_create_user(
    data: AdminUserCreate, context: Context, session: AuthSession
) -> dict[str, Any]:
    user = await context.auth.create_user(
        session,
        email=data.email,
        password=data.password,
        user_metadata=data.user_metadata,
        app_metadata=data.app_metadata,
        confirmed=data.email_confirm,
        phone=data.phone,
    )
    return user_json(user)


def _blank_is(default: int) -> BeforeValidator:
    # supabase-py's list_users() sends `?page=&per_page=` when given none: the defaults.
    return BeforeValidator(lambda value: default if value == "" else value)


@router.get("/admin/users", dependencies=admin, summary="List users (service role)")
async def admin_list_users(
    response: Response,
    session: AuthSession,
    page: Annotated[int, _blank_is(1), Query(ge=1, le=MAX_PAGE)] = 1,
    per_page: Annotated[int, _blank_is(50), Query(ge=1, le=1000)] = 50,
) -> dict[str, Any]:
    rows, total = await repository.list_users(session, page=page, per_page=per_page)
    response.headers["x-total-count"] = str(total)
    return {"users": [user_json(r) for r in rows], "aud": "authenticated"}


@router.get("/admin/users/{user_id}", dependencies=admin, summary="Get a user (service role)")
async def admin_get_user(user_id: UUID, session: AuthSession) -> dict[str, Any]:
    user = await repository.get_user(session, user_id)
    if user is None:
        raise AuthApiError(404, "user_not_found", "User not found")
    return user_json(user)


@router.put("/admin/users/{user_id}", dependencies=admin, summary="Update a user (service role)")
async def admin_update_user(
    user_id: UUID, data: AdminUserUpdate, context: Context, session: AuthSession
) -> dict[str, Any]:
    user = await context.auth.update_user(
        session,
        user_id,
        email=data.email,
        password=data.password,
        user_metadata=data.user_metadata,
        app_metadata=data.app_metadata,
    )
    return user_json(user)


@router.delete("/admin/users/{user_id}", dependencies=admin, summary="Delete a user (service role)")
async def admin_delete_user(user_id: UUID, session: AuthSession) -> dict[str, Any]:
    user = await repository.get_user(session, user_id)
    if user is None or not await repository.delete_user(session, user_id):
        raise AuthApiError(404, "user_not_found", "User not found")
    return user_json(user)


@router.post(
    "/admin/generate_link",
    dependencies=admin,
    summary="Generate a sign-in or sign-up link (service role)",
)
async def admin_generate_link(
    data: GenerateLink, context: Context, session: AuthSession, redirect_to: str | None = None
) -> dict[str, Any]:
    user = await repository.get_user_by_email(session, data.email)
    if data.type == "signup" and user is not None:
        raise AuthApiError(
            422, "email_exists", "A user with this email address has already been registered"
        )
    if user is None:
        if data.type == "recovery":
            raise AuthApiError(404, "user_not_found", "User with this email not found")
        user = await context.auth.create_user(
            session,
            email=data.email,
            password=data.password,
            user_metadata=data.data,
            confirmed=False,
        )
    link = await context.auth.issue_link(
        session,
        user,
        link_type=data.type,
        redirect_to=safe_redirect(context, redirect_to or data.redirect_to),
    )
    return {
        **user_json(user),
        "action_link": link.action_link,
        "email_otp": link.email_otp,
        "hashed_token": link.hashed_token,
        "verification_type": link.verification_type,
        "redirect_to": link.redirect_to,
    }
