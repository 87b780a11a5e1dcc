"""Who may call the commerce notification routes, `/webhooks/{slug}/…` (the CHICX integration
guide §2: WhatsApp notifications in whatsapp/, the order confirmation call in voice/bolna/): a
workspace API key with the `notifications:send` scope, of the workspace the slug
names.

The guide's clients send their key in `X-{NAME}-Secret` (`X-CHICX-Secret` for a shop named
CHICX), so that header is accepted for the workspace whose slug is NAME, besides our own
`X-API-Key`; the guide's cURL then works verbatim. A key used under another workspace's slug is
answered 404 whether or not that slug exists, so slugs cannot be probed with a key.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from backend.api_keys import service as api_key_service
from backend.auth.dependencies import ApiKeyCredential
from backend.auth.subjects import ApiKey, AuthSubject
from backend.context import Context
from backend.errors import Forbidden, NotFound, RateLimited, Unauthorized
from backend.kit.requests import client_ip
from backend.workspaces import repository as workspaces
from backend.workspaces.schemas import SLUG_PATTERN

SCOPE = "notifications:send"


def secret_header(slug: str) -> str:
    return f"X-{slug.upper()}-Secret"


# A slug is what workspaces are given (and what fits in a header name); anything else names none.
Slug = Annotated[str, Path(pattern=SLUG_PATTERN, description="The workspace's slug")]


async def notification_sender(
    slug: Slug, request: Request, context: Context, _: ApiKeyCredential
) -> AuthSubject[ApiKey]:
    """The API key's workspace, once the key is valid, within its rate limit, carries the scope
    and belongs to the slug's workspace. Counted against the same limits as `authenticate`:
    per key, or per IP for a request without one."""
    header = secret_header(slug)
    token = request.headers.get("x-api-key") or request.headers.get(header)
    if not token or not api_key_service.looks_like_key(token.strip()):
        ip = client_ip(
            request,
            trusted_proxies=context.settings.trusted_proxies,
            trusted_proxy_hops=context.settings.trusted_proxy_hops,
        )
        state = await context.rate_limiter.hit(context.settings.rate_limit_anonymous, f"ip:{ip}")
        request.state.rate_limit = state
        if not state.allowed:
            raise RateLimited("Too many requests, try again later")
        raise Unauthorized(f"Invalid or missing API key (send it in {header} or X-API-Key)")
    key = await api_key_service.authenticate(context.db, token.strip())
    state = await context.rate_limiter.hit(
        context.settings.rate_limit_authenticated, f"key:{key.id}"
    )
    request.state.rate_limit = state
    if not state.allowed:
        raise RateLimited("Too many requests, try again later")
    if SCOPE not in key.scopes:
        raise Forbidden(f"This API key lacks the '{SCOPE}' scope")
    async with context.db.for_workspace(key.workspace_id, f"api_key:{key.id}") as conn:
        workspace = await workspaces.get(conn, key.workspace_id)
    if workspace is None or workspace["slug"] != slug:
        raise NotFound(f"No workspace '{slug}' for this API key")
    return AuthSubject(principal=key, workspace_id=key.workspace_id)


NotificationSender = Annotated[AuthSubject[ApiKey], Depends(notification_sender)]
