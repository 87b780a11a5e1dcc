"""Reading who is on the other end of a request: the bearer token, the client's address."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from starlette.requests import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


@lru_cache(maxsize=16)
def proxy_networks(spec: str) -> tuple[Network, ...]:
    """`TRUSTED_PROXIES` read: comma-separated addresses or networks (`10.0.0.0/8`)."""
    return tuple(
        ipaddress.ip_network(p.strip(), strict=False) for p in spec.split(",") if p.strip()
    )


def _is_proxy(peer: str, networks: tuple[Network, ...]) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in networks)


def client_ip(request: Request, *, trusted_proxies: str, trusted_proxy_hops: int) -> str:
    """The caller's address for per-IP limits.

    `X-Forwarded-For` is believed only from a peer listed in `trusted_proxies` (none by
    default, whatever the mode): from anyone else it is whatever they chose to write. Behind
    the proxies, each of which appends the address it saw, the entry `trusted_proxy_hops` from
    the right is the one the outermost of ours saw; anything further left was written by the
    client and proves nothing.
    """
    peer = request.client.host if request.client else "unknown"
    if trusted_proxy_hops <= 0 or not trusted_proxies:
        return peer
    if not _is_proxy(peer, proxy_networks(trusted_proxies)):
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    return hops[-trusted_proxy_hops] if len(hops) >= trusted_proxy_hops else peer
