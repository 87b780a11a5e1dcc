"""The public widget: which sites may embed a bot, and what a visitor may see and send."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from fastapi import Request

from backend.auth.subjects import User
from backend.chatbots.service import ChatbotNotFound
from backend.context import AppContext
from backend.customers import service as customers
from backend.errors import Forbidden
from backend.widget import identity, repository
from backend.widget.channel import WebChat
from backend.widget.schemas import ChatMessageIn, WidgetMessageIn
from backend.workspaces import repository as workspaces


def _host(value: str) -> str | None:
    """The host (and port) of an origin, a URL or a bare domain, lower-cased."""
    value = value.strip().lower()
    if "//" not in value:
        value = f"//{value}"
    try:
        netloc = urlsplit(value).netloc
    except ValueError:
        return None
    return netloc.rsplit("@", 1)[-1] or None


def _matches(host: str, entry: str) -> bool:
    """`example.com` admits the domain and its subdomains; `*.example.com` only subdomains; an
    entry with a port only that port."""
    allowed = _host(entry)
    if allowed is None:
        return False
    if ":" not in allowed:
        host = host.split(":", 1)[0]
    if allowed.startswith("*."):
        return host.endswith(allowed[1:])
    return host == allowed or host.endswith(f".{allowed}")


def page_origin(request: Request) -> str | None:
    """The page a browser request comes from: `Origin`, else the `Referer`'s origin."""
    origin = request.headers.get("origin")
    if origin and origin != "null":
        return origin
    referer = request.headers.get("referer")
    if referer:
        parts = urlsplit(referer)
        if parts.scheme and parts.netloc:
            return f"{parts.scheme}://{parts.netloc}"
    return None


def check_origin(request: Request, allowed_domains: list[str]) -> None:
    """A bot limited to some sites answers only pages on them (and our own messenger page,
    which those sites frame: its framing is limited by its Content-Security-Policy)."""
    if not allowed_domains:
        return
    origin = page_origin(request)
    host = _host(origin) if origin else None
    if host is not None and (
        host == request.url.netloc.lower() or any(_matches(host, d) for d in allowed_domains)
    ):
        return
    raise Forbidden("This chatbot is not available on this website")


def frame_ancestors(allowed_domains: list[str]) -> str:
    """The CSP `frame-ancestors` sources for a bot's messenger page."""
    if not allowed_domains:
        return "*"
    sources = ["'self'"]
    for entry in allowed_domains:
        host = _host(entry)
        if host is None:
            continue
        sources.append(host)
        if not host.startswith("*."):
            sources.append(f"*.{host}")
    return " ".join(sources)


async def public_bot(
    context: AppContext, request: Request, chatbot_id: UUID, *, full: bool = False
) -> dict[str, Any]:
    """An active bot this page may use (`full`: with its look, forms and FAQs); 404 or 403
    otherwise."""
    async with context.db.system() as conn:
        if full:
            bot = await repository.public_bot(conn, chatbot_id)
        else:
            bot = await repository.bot_access(conn, chatbot_id)
    if bot is None:
        raise ChatbotNotFound()
    check_origin(request, bot["allowed_domains"])
    return bot


async def widget_chat(
    context: AppContext, bot: dict[str, Any], data: WidgetMessageIn, *, stream: bool
) -> WebChat:
    """A widget visitor's message: a verified visitor is (or becomes) a customer."""
    user = await identity.verified_user(context, bot["workspace_id"], data)
    customer_id = (
        await customers.for_verified_user(context, bot["workspace_id"], user) if user else None
    )
    return WebChat(
        data.visitor_id,
        conversation_id=data.conversation_id,
        user=user,
        customer_id=customer_id,
        stream=stream,
    )


async def api_chat(
    context: AppContext, principal: Any, data: ChatMessageIn, *, stream: bool
) -> WebChat:
    """A message to `/api/chat/message`: from a visitor (verified, maybe), a customer signed
    in to the portal, or an admin trying the bot (`preview_mode`)."""
    if data.preview_mode and not await preview_allowed(context, principal, data.chatbot_id):
        raise Forbidden("preview_mode needs the token of an admin of this chatbot's workspace")
    chat = WebChat(
        data.visitor_id,
        conversation_id=data.conversation_id,
        preview=data.preview_mode,
        stream=stream,
    )
    portal = (
        await customers.of_portal_user(context, principal) if isinstance(principal, User) else None
    )
    if data.user_id or portal is not None:
        async with context.db.system() as conn:
            bot = await repository.bot_access(conn, data.chatbot_id)
        if bot is not None and data.user_id:
            chat.user = await identity.verified_user(context, bot["workspace_id"], data)
            if chat.user is not None:
                chat.customer_id = await customers.for_verified_user(
                    context, bot["workspace_id"], chat.user
                )
        if bot is not None and portal is not None and portal["workspace_id"] == bot["workspace_id"]:
            # A customer signed in to the portal, chatting with one of their workspace's bots.
            chat.customer_id, chat.name = portal["id"], "portal"
    return chat


async def preview_allowed(context: AppContext, principal: Any, chatbot_id: UUID) -> bool:
    """`preview_mode` counts only for an admin of the bot's own workspace."""
    if not isinstance(principal, User) or principal.is_customer:
        return False
    async with context.db.as_claims(principal.claims) as conn:
        workspace_id = await repository.bot_workspace(conn, chatbot_id)
        return (
            workspace_id is not None
            and await workspaces.member_role(conn, workspace_id, principal.id) is not None
        )
