"""Reading who is on the other end of a request: the bearer token, the client's address."""

from __future__ import annotations

from starlette.requests import Request


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def client_ip(request: Request, *, trusted_proxy_hops: int) -> str:
    """The caller's address for per-IP limits. Behind `trusted_proxy_hops` proxies, each of
    which appends to `X-Forwarded-For`, the entry that many from the right is the one our own
    proxy saw; anything further left was written by the client and proves nothing."""
    peer = request.client.host if request.client else "unknown"
    if trusted_proxy_hops <= 0:
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    return hops[-trusted_proxy_hops] if len(hops) >= trusted_proxy_hops else peer
