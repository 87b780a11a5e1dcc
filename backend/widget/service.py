"""The public widget: which sites may embed a bot, and what a visitor may see and send."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from fastapi import Request

from backend.chatbots.service import ChatbotNotFound
from backend.context import AppContext
from backend.errors import Forbidden
from backend.widget import repository


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
