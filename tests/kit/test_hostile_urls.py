"""Hostile URLs against SafeHTTPClient: every one is refused fast and never connected to.

Each URL runs with `allow_loopback=False` and, unless it targets loopback itself (which that
setting admits), with `allow_loopback=True` too. Names are answered by an injected resolver;
redirects come from a local server on 127.0.0.1 (so those run with `allow_loopback=True`).
The connection spy lets only loopback through, so even a failing test stays off the network.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from backend.kit.safe_http import SafeHTTPClient, UnsafeURLError
from tests.kit.test_safe_http import FakeResolver, LocalServer, spy_connections

# Well under a second: nothing here may wait on a network timeout.
FAST = 0.5

RECORDS = {
    "localhost": ["127.0.0.1"],
    "localhost.localdomain": ["127.0.0.1", "::1"],
    "ip6-localhost": ["::1"],
    "internal.example": ["10.1.2.3"],
    "metadata.google.internal": ["169.254.169.254"],
    "metadata.ec2.example": ["fd00:ec2::254"],
    "router.example": ["192.168.1.1"],
    "cgnat.example": ["100.64.0.1"],
    "wildcard.example": ["0.0.0.0"],
    "mapped.example": ["::ffff:10.0.0.1"],
    "mixed.example": ["93.184.215.14", "10.0.0.1"],
    "public.example": ["93.184.215.14"],
    "testnet.example": ["203.0.113.10"],
}


@dataclass(frozen=True)
class Hostile:
    url: str
    reason: str  # regex on the UnsafeURLError message
    loopback: bool = False  # targets loopback: admitted with allow_loopback, so strict only
    # The reason with allow_loopback=True, when the refusal then happens at another stage.
    lenient_reason: str | None = None


def case(
    case_id: str,
    url: str,
    reason: str,
    *,
    loopback: bool = False,
    lenient_reason: str | None = None,
) -> Any:  # a pytest ParameterSet
    return pytest.param(Hostile(url, reason, loopback, lenient_reason), id=case_id)


LOOPBACK = "a loopback address"
PRIVATE = "a private address"
METADATA = "a cloud metadata address"
MAPPED = "an IPv4-mapped IPv6 address"
SCHEME = "is not http or https"

HOSTILE_URLS = [
    # 127.0.0.1 in every spelling a resolver or browser accepts.
    case("loopback-dotted", "http://127.0.0.1/", LOOPBACK, loopback=True),
    case("loopback-decimal", "http://2130706433/", LOOPBACK, loopback=True),
    case("loopback-hex", "http://0x7f000001/", LOOPBACK, loopback=True),
    case("loopback-hex-upper-dotted", "http://0X7F.0X0.0X0.0X1/", LOOPBACK, loopback=True),
    case("loopback-octal-whole", "http://017700000001/", LOOPBACK, loopback=True),
    case("loopback-octal-dotted", "http://0177.0.0.1/", "invalid URL"),
    case("loopback-mixed-radix", "http://0x7f.0.0.01/", LOOPBACK, loopback=True),
    case("loopback-short", "http://127.1/", LOOPBACK, loopback=True),
    case("loopback-short-hex", "http://0x7f.1/", LOOPBACK, loopback=True),
    case("loopback-trailing-dot", "http://127.0.0.1./", LOOPBACK, loopback=True),
    case("loopback-other-in-8", "http://127.42.0.7/", LOOPBACK, loopback=True),
    case("loopback-ipv6", "http://[::1]/", LOOPBACK, loopback=True),
    case("loopback-ipv4-mapped-hex", "http://[::ffff:7f00:1]/", MAPPED),
    case("loopback-ipv4-mapped-long", "http://[0:0:0:0:0:ffff:127.0.0.1]/", MAPPED),
    case("loopback-name", "http://localhost/", LOOPBACK, loopback=True),
    case("loopback-name-localdomain", "http://localhost.localdomain/", LOOPBACK, loopback=True),
    case("loopback-name-ipv6", "http://ip6-localhost/", LOOPBACK, loopback=True),
    # "This host": connecting to 0.0.0.0 reaches local services on Linux.
    case("unspecified-zero", "http://0/", "an unspecified address"),
    case("unspecified-dotted", "http://0.0.0.0/", "an unspecified address"),
    case("unspecified-ipv6", "http://[::]/", "an unspecified address"),
    case("unspecified-by-name", "http://wildcard.example/", "an unspecified address"),
    # Private ranges.
    case("private-10", "http://10.0.0.1/", PRIVATE),
    case("private-10-short", "http://10.1/", PRIVATE),
    case("private-10-decimal", "http://167772161/", PRIVATE),
    case("private-10-hex-dotted", "http://0xa.0.0.1/", PRIVATE),
    case("private-10-octal-dotted", "http://012.0.0.1/", "invalid URL"),
    case("private-172", "http://172.16.0.1/", PRIVATE),
    case("private-192", "http://192.168.1.1/", PRIVATE),
    case("private-ipv6-ula", "http://[fc00::1]/", PRIVATE),
    case("private-ipv4-mapped", "http://[::ffff:10.0.0.1]/", MAPPED),
    case("private-by-name", "http://internal.example/", PRIVATE),
    case("private-router-by-name", "http://router.example/", PRIVATE),
    case("private-mapped-by-name", "http://mapped.example/", MAPPED),
    case("private-mixed-answer", "http://mixed.example/", r"resolves to 10\.0\.0\.1.*private"),
    case("cgnat", "http://100.64.0.1/", "a carrier-grade NAT address"),
    case("cgnat-by-name", "http://cgnat.example/", "a carrier-grade NAT address"),
    # Cloud metadata.
    case("metadata-aws", "http://169.254.169.254/latest/meta-data/", METADATA),
    case("metadata-decimal", "http://2852039166/", METADATA),
    case("metadata-hex", "http://0xa9fea9fe/", METADATA),
    case("metadata-octal-hex-mix", "http://0251.0xfe.169.254/", METADATA),
    case("metadata-short", "http://169.254.43518/", METADATA),
    case("metadata-ipv4-mapped", "http://[::ffff:169.254.169.254]/", MAPPED),
    case("metadata-aws-ipv6", "http://[fd00:ec2::254]/", METADATA),
    case("metadata-gcp-name", "http://metadata.google.internal/computeMetadata/v1/", METADATA),
    case("metadata-ipv6-by-name", "http://metadata.ec2.example/", METADATA),
    # Link-local, multicast, broadcast, reserved, embedded IPv4.
    case("link-local-v4", "http://169.254.1.1/", "a link-local address"),
    case("link-local-v6", "http://[fe80::1]/", "a link-local address"),
    case("link-local-v6-zone", "http://[fe80::1%25eth0]/", "a link-local address"),
    case("multicast-v4", "http://224.0.0.1/", "a multicast address"),
    case("multicast-v6", "http://[ff02::1]/", "a multicast address"),
    case("broadcast", "http://255.255.255.255/", "a reserved address"),
    case("reserved-240", "http://240.0.0.1/", "a reserved address"),
    case("6to4-metadata", "http://[2002:a9fe:a9fe::]/", "a 6to4 address"),
    case("nat64-metadata", "http://[64:ff9b::a9fe:a9fe]/", "a reserved address"),
    case("too-many-parts", "http://1.2.3.4.5/", "invalid IP address"),
    case("ipv4-out-of-range", "http://4294967296/", "invalid IP address"),
    # Schemes other than http(s).
    case("scheme-file", "file:///etc/passwd", SCHEME),
    case("scheme-ftp", "ftp://ftp.example/pub/", SCHEME),
    case("scheme-gopher", "gopher://127.0.0.1:70/_GET%20/", SCHEME),
    case("scheme-dict", "dict://127.0.0.1:11211/stat", SCHEME),
    case("scheme-ldap", "ldap://127.0.0.1/", SCHEME),
    case("scheme-jar", "jar:http://public.example/x.jar!/", SCHEME),
    case("scheme-javascript", "javascript:alert(1)", SCHEME),
    case("scheme-data", "data:text/html,<script>alert(1)</script>", SCHEME),
    case("scheme-missing", "//public.example/", SCHEME),
    case("no-host", "http:///etc/passwd", "no host"),
    # Credentials in the URL.
    case("credentials", "http://user:pass@public.example/", "credentials"),
    case("credentials-host-confusion", "http://public.example@10.0.0.1/", "credentials"),
    # Other ports on public-looking names and addresses: refused before resolving when
    # strict; with allow_loopback the name must be resolved first (it could be loopback).
    case(
        "port-8080-testnet",
        "http://testnet.example:8080/",
        "port 8080 is not allowed",
        lenient_reason=PRIVATE,
    ),
    case("port-ssh", "http://public.example:22/", "port 22 is not allowed"),
    case("port-redis-https", "https://public.example:6379/", "port 6379 is not allowed"),
    case("port-smtp-literal", "http://8.8.8.8:25/", "port 25 is not allowed"),
    case("port-zero", "http://public.example:0/", "port 0 is not allowed"),
    case("port-out-of-range", "http://public.example:65536/", "port 65536 is not allowed"),
]

# Redirects from a local server (loopback, so run with allow_loopback=True), refused at the hop.
HOSTILE_REDIRECTS = [
    case("redirect-private", "http://10.0.0.1/", PRIVATE),
    case("redirect-private-decimal", "http://167772161/", PRIVATE),
    case("redirect-metadata", "http://169.254.169.254/latest/meta-data/", METADATA),
    case("redirect-metadata-hex", "http://0xa9fea9fe/", METADATA),
    case("redirect-metadata-name", "http://metadata.google.internal/", METADATA),
    case("redirect-private-name", "http://internal.example/", PRIVATE),
    case("redirect-ipv4-mapped", "http://[::ffff:10.0.0.1]/", MAPPED),
    case("redirect-unspecified", "http://0/", "an unspecified address"),
    case("redirect-file", "file:///etc/passwd", SCHEME),
    case("redirect-gopher", "gopher://127.0.0.1:6379/_FLUSHALL", SCHEME),
    case("redirect-port-literal", "http://8.8.8.8:8080/", "port 8080 is not allowed"),
    case("redirect-port-name", "http://public.example:8080/", "port 8080 is not allowed"),
    case("redirect-credentials", "http://user:pass@public.example/", "credentials"),
]


def test_at_least_forty_hostile_urls() -> None:
    assert len(HOSTILE_URLS) >= 40
    assert len(HOSTILE_URLS) + len(HOSTILE_REDIRECTS) >= 50
    urls = [param.values[0].url for param in HOSTILE_URLS + HOSTILE_REDIRECTS]
    ids = [param.id for param in HOSTILE_URLS + HOSTILE_REDIRECTS]
    assert len(set(ids)) == len(ids)
    assert len(set(urls)) >= 40


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return spy_connections(monkeypatch)


@pytest_asyncio.fixture
async def server() -> AsyncIterator[LocalServer]:
    local = LocalServer()
    await local.start()
    yield local
    await local.stop()


def _runs() -> list[Any]:
    """Every hostile URL with allow_loopback=False, and again with True unless it targets
    loopback (which that setting admits)."""
    runs = []
    for param in HOSTILE_URLS:
        hostile = param.values[0]
        runs.append(pytest.param(hostile, False, id=f"strict:{param.id}"))
        if not hostile.loopback:
            runs.append(pytest.param(hostile, True, id=f"allow-loopback:{param.id}"))
    return runs


@pytest.mark.asyncio
@pytest.mark.parametrize(("hostile", "allow_loopback"), _runs())
async def test_hostile_url_refused(
    connects: list[str], hostile: Hostile, allow_loopback: bool
) -> None:
    reason = (allow_loopback and hostile.lenient_reason) or hostile.reason
    resolver = FakeResolver.static(RECORDS)
    async with SafeHTTPClient(allow_loopback=allow_loopback, resolver=resolver, timeout=5) as safe:
        started = time.monotonic()
        with pytest.raises(UnsafeURLError, match=reason) as caught:
            await safe.get(hostile.url)
        assert time.monotonic() - started < FAST
    assert connects == []
    assert "pass@" not in str(caught.value)
    if "port" in hostile.reason and not allow_loopback:
        # Refused on the URL alone: no resolution, no connection.
        assert resolver.calls == []


@pytest.mark.asyncio
@pytest.mark.parametrize("hostile", HOSTILE_REDIRECTS)
async def test_hostile_redirect_refused(
    server: LocalServer, connects: list[str], hostile: Hostile
) -> None:
    resolver = FakeResolver.static(RECORDS)
    async with SafeHTTPClient(allow_loopback=True, resolver=resolver, timeout=5) as safe:
        started = time.monotonic()
        with pytest.raises(UnsafeURLError, match=hostile.reason):
            await safe.get(server.url("/redirect"), params={"to": hostile.url})
        assert time.monotonic() - started < FAST
    # Only the local server was connected to; the refused hop never was.
    assert connects == ["127.0.0.1"]
    assert len(server.requests) == 1
