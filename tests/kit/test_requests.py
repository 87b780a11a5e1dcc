from starlette.requests import Request

from backend.kit.requests import client_ip


def _request(peer: str, forwarded: str | None = None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return Request({"type": "http", "headers": headers, "client": (peer, 1234)})


def test_forwarded_addresses_count_only_as_far_as_the_trusted_proxies():
    spoofed = _request("10.0.0.5", "6.6.6.6, 203.0.113.7")  # the client wrote 6.6.6.6
    assert client_ip(spoofed, trusted_proxy_hops=0) == "10.0.0.5"
    assert client_ip(spoofed, trusted_proxy_hops=1) == "203.0.113.7"
    assert client_ip(_request("10.0.0.5"), trusted_proxy_hops=1) == "10.0.0.5"
