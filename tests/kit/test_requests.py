from starlette.requests import Request

from backend.kit.requests import client_ip


def _request(peer: str, forwarded: str | None = None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return Request({"type": "http", "headers": headers, "client": (peer, 1234)})


def test_forwarded_addresses_count_only_from_trusted_proxies_and_as_far_as_their_hops():
    spoofed = _request("10.0.0.5", "6.6.6.6, 203.0.113.7")  # the client wrote 6.6.6.6
    behind = {"trusted_proxies": "10.0.0.0/8"}
    assert client_ip(spoofed, **behind, trusted_proxy_hops=0) == "10.0.0.5"
    assert client_ip(spoofed, **behind, trusted_proxy_hops=1) == "203.0.113.7"
    assert client_ip(spoofed, **behind, trusted_proxy_hops=2) == "6.6.6.6"
    assert client_ip(_request("10.0.0.5"), **behind, trusted_proxy_hops=1) == "10.0.0.5"


def test_forwarded_addresses_from_anyone_else_are_ignored():
    # No proxy configured (the default in every mode), or a peer that is not one.
    spoofed = _request("127.0.0.1", "6.6.6.6")
    assert client_ip(spoofed, trusted_proxies="", trusted_proxy_hops=1) == "127.0.0.1"
    assert client_ip(spoofed, trusted_proxies="10.0.0.0/8", trusted_proxy_hops=1) == "127.0.0.1"
    assert client_ip(spoofed, trusted_proxies="127.0.0.1", trusted_proxy_hops=1) == "6.6.6.6"
