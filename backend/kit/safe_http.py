"""SSRF-safe outbound HTTP: the one client for every URL fetched on behalf of a tenant.

Addresses and ports are vetted at connect time: each connection resolves the host once (through
an injectable resolver), checks every answer, and opens the socket to that exact checked IP.
Nothing re-resolves the name after the check, so DNS rebinding has no window. Host header and
TLS SNI keep the hostname because only the socket address changes, underneath httpcore.

URLs (the first and every redirect) are also checked up front: scheme, credentials, a host
that is an IP literal in any spelling (2130706433, 0x7f000001, 0177.0.0.1, 127.1, …, parsed
here rather than left to the resolver), and the port.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import ipaddress
import json as jsonlib
import re
import socket
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
)
from dataclasses import dataclass
from email.message import Message
from types import TracebackType
from typing import Any, Self

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the addresses to try, as IP strings. Raise OSError when the name is unknown.
Resolver = Callable[[str, int], Awaitable[list[str]]]

DEFAULT_ALLOWED_PORTS = frozenset({80, 443})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_ALLOWED_SCHEMES = frozenset({"http", "https"})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
# Python counts 100.64/10 as neither private nor global; named here for a clearer reason.
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


class SafeHTTPError(Exception):
    """Base of every refusal or limit raised by SafeHTTPClient."""


class UnsafeURLError(SafeHTTPError):
    """The URL (or an address it resolves to) is not allowed; `reason` says why."""

    def __init__(self, target: str, reason: str) -> None:
        super().__init__(f"refused {target}: {reason}")
        self.target = target
        self.reason = reason


class ResponseTooLargeError(SafeHTTPError):
    def __init__(self, url: str, max_bytes: int) -> None:
        super().__init__(f"response from {url} exceeds {max_bytes} bytes")
        self.url = url
        self.max_bytes = max_bytes


class TooManyRedirectsError(SafeHTTPError):
    def __init__(self, url: str, max_redirects: int) -> None:
        super().__init__(f"more than {max_redirects} redirects (next hop: {url})")
        self.url = url
        self.max_redirects = max_redirects


def blocked_reason(ip: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why connecting to `ip` is refused, or None when it is a public address."""
    if ip in _METADATA_ADDRESSES:
        return "a cloud metadata address"
    if isinstance(ip, ipaddress.IPv6Address):
        # Both forms reach the IPv4 address they embed, which the IPv6 checks below never see.
        if ip.ipv4_mapped is not None:
            return "an IPv4-mapped IPv6 address"
        if ip.sixtofour is not None and blocked_reason(ip.sixtofour) is not None:
            return "a 6to4 address embedding a non-public IPv4 address"
        # Deprecated, but Python still counts fec0::/10 as global.
        if ip.is_site_local:
            return "a site-local address"
    if ip.is_loopback:
        return None if allow_loopback else "a loopback address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip in _CGNAT:
        return "a carrier-grade NAT address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "a non-public address"
    return None


_IPV4_DECIMAL = re.compile(r"[0-9]+")
_IPV4_HEX = re.compile(r"0[xX][0-9a-fA-F]*")
_IPV4_OCTAL = re.compile(r"0[0-7]+")


def _ipv4_part(part: str) -> int:
    if _IPV4_HEX.fullmatch(part):
        return int(part[2:] or "0", 16)
    if _IPV4_OCTAL.fullmatch(part):
        return int(part, 8)
    if _IPV4_DECIMAL.fullmatch(part) and (part == "0" or not part.startswith("0")):
        return int(part)
    raise ValueError(f"{part!r} is not an IPv4 number")


def literal_address(host: str) -> IPAddress | None:
    """The address `host` spells by itself, or None when it is a name to resolve.

    IPv4 follows the WHATWG URL host parser, which accepts everything inet_aton does: one to
    four parts, each decimal, 0x-hex or 0-octal, the last filling the remaining bytes
    (2130706433, 0x7f.1, 0177.0.0.1, 127.1 and 127.0.0.1. all mean 127.0.0.1). A host ending
    in a number that is no valid address (1.2.3.4.5, 08) raises ValueError: it is never a name.
    """
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if ":" in bare:
        return ipaddress.IPv6Address(bare)
    parts = bare.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    if not (_IPV4_DECIMAL.fullmatch(parts[-1]) or _IPV4_HEX.fullmatch(parts[-1])):
        return None
    if len(parts) > 4:
        raise ValueError(f"{host!r} has more than four IPv4 parts")
    numbers = [_ipv4_part(part) for part in parts]
    *leading, last = numbers
    if any(number > 255 for number in leading) or last >= 256 ** (5 - len(numbers)):
        raise ValueError(f"{host!r} is out of the IPv4 range")
    value = last
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


async def _getaddrinfo(host: str, port: int) -> list[str]:
    """The default resolver: the system's, via the event loop's thread pool."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True)
class _Policy:
    allow_loopback: bool
    allowed_ports: frozenset[int]

    def address_refusal(self, ip: IPAddress) -> str | None:
        return blocked_reason(ip, allow_loopback=self.allow_loopback)

    def port_allowed(self, port: int, ip: IPAddress | None) -> bool:
        """Whether `port` may be used on `ip`; `ip` None is a name not resolved yet, which
        passes when it might still resolve to an admitted loopback address."""
        if not 0 < port < 65536:
            return False
        if port in self.allowed_ports:
            return True
        return self.allow_loopback and (ip is None or ip.is_loopback)


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves once per connection, vets every address and the port, then connects to a
    vetted IP literal."""

    def __init__(self, policy: _Policy, resolver: Resolver) -> None:
        self._policy = policy
        self._resolver = resolver
        self._inner = httpcore.AnyIOBackend()

    async def _addresses(self, host: str, port: int) -> list[IPAddress]:
        try:
            literal = literal_address(host)
        except ValueError as exc:
            raise UnsafeURLError(host, f"invalid IP address ({exc})") from exc
        if literal is not None:
            return [literal]
        try:
            answers = await self._resolver(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses: list[IPAddress] = []
        for answer in answers:
            try:
                addresses.append(ipaddress.ip_address(answer))
            except ValueError as exc:
                raise UnsafeURLError(host, f"the resolver answered {answer!r}") from exc
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve {host}: no addresses")
        return list(dict.fromkeys(addresses))

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                # The only resolution for this connection: what is checked is what is used.
                addresses = await self._addresses(host, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        # Refuse if any address is bad: a name mixing public and private records is hostile.
        for ip in addresses:
            reason = self._policy.address_refusal(ip)
            if reason is not None:
                shown = "it" if str(ip) == host else f"it resolves to {ip}, which"
                raise UnsafeURLError(host, f"{shown} is {reason}")
        # The port is judged per address: only loopback (when admitted) takes any port.
        for ip in addresses:
            if not self._policy.port_allowed(port, ip):
                raise UnsafeURLError(host, f"port {port} is not allowed")
        error: httpcore.ConnectError | None = None
        for ip in addresses:
            try:
                # An IP literal: the inner backend cannot resolve it to anything else.
                return await self._inner.connect_tcp(
                    str(ip),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                error = exc
        assert error is not None  # _addresses never returns an empty list
        raise error


# httpcore errors re-raised as their httpx counterparts, most specific first, so callers
# only handle httpx.TransportError subclasses.
_ERROR_MAP: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for core_type, httpx_type in _ERROR_MAP:
            if isinstance(exc, core_type):
                raise httpx_type(str(exc)) from exc
        raise


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, stream: AsyncIterable[bytes]) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors():
            async for chunk in self._stream:
                yield chunk

    async def aclose(self) -> None:
        # Closing httpcore's stream is what hands the connection back to the pool.
        aclose = getattr(self._stream, "aclose", None)
        if aclose is not None:
            await aclose()


class _GuardedTransport(httpx.AsyncBaseTransport):
    """httpx transport over an httpcore pool that connects only through _GuardedBackend.

    httpx.AsyncHTTPTransport takes no network backend, hence this small adapter; it never
    reads proxy settings from the environment, so no proxy can bypass the address checks.
    """

    def __init__(self, backend: _GuardedBackend) -> None:
        # Pool sizes and keep-alive are httpx's defaults.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=backend,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _httpx_errors():
            core_response = await self._pool.handle_async_request(core_request)
        assert isinstance(core_response.stream, AsyncIterable)
        return httpx.Response(
            status_code=core_response.status,
            headers=core_response.headers,
            stream=_ResponseStream(core_response.stream),
            extensions=core_response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


@dataclass(frozen=True)
class SafeResponse:
    status_code: int
    headers: httpx.Headers
    content: bytes  # already decoded from any Content-Encoding
    url: str  # final URL, after redirects

    def text(self) -> str:
        message = Message()
        message["content-type"] = self.headers.get("content-type", "")
        charset = message.get_content_charset() or "utf-8"
        try:
            codecs.lookup(charset)
        except LookupError:
            charset = "utf-8"
        return self.content.decode(charset, errors="replace")

    def json(self) -> Any:
        return jsonlib.loads(self.content)


def _checked_url(url: httpx.URL | str, policy: _Policy) -> httpx.URL:
    """Scheme, credentials, host and port checks, before any resolution or connection.

    An IP-literal host is vetted here already; a name's addresses are vetted at connect time
    (and so is every port again, against the address it is used with)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise UnsafeURLError(str(url), f"invalid URL ({exc})") from exc
    if parsed.scheme not in _ALLOWED_SCHEMES:
        raise UnsafeURLError(str(parsed), f"scheme {parsed.scheme!r} is not http or https")
    if parsed.userinfo:
        # Shown without the credentials so they never reach logs.
        redacted = str(parsed.copy_with(userinfo=b""))
        raise UnsafeURLError(redacted, "credentials in the URL are not allowed")
    if not parsed.host:
        raise UnsafeURLError(str(parsed), "no host")
    try:
        literal = literal_address(parsed.host)
    except ValueError as exc:
        raise UnsafeURLError(str(parsed), f"invalid IP address ({exc})") from exc
    if literal is not None:
        reason = policy.address_refusal(literal)
        if reason is not None:
            shown = "it" if str(literal) == parsed.host else f"it means {literal}, which"
            raise UnsafeURLError(str(parsed), f"{shown} is {reason}")
    port = parsed.port if parsed.port is not None else _DEFAULT_PORTS[parsed.scheme]
    if not policy.port_allowed(port, literal):
        raise UnsafeURLError(str(parsed), f"port {port} is not allowed")
    return parsed


def _redirect_request(
    request: httpx.Request, response: httpx.Response, base_headers: httpx.Headers, policy: _Policy
) -> httpx.Request | None:
    """The request for the next hop, or None when `response` is final. Crossing to another
    origin keeps only the client's own headers: the caller's (an API key in `X-Api-Key`, a
    token) were meant for the first host alone."""
    location = response.headers.get("location")
    if response.status_code not in _REDIRECT_STATUSES or location is None:
        return None
    try:
        joined = request.url.join(location)
    except httpx.InvalidURL as exc:
        raise UnsafeURLError(location, f"invalid redirect location ({exc})") from exc
    url = _checked_url(joined, policy)

    method = request.method
    content: bytes | None = request.content
    headers = request.headers.copy()
    # httpx derives these from the new URL and body; stale copies would be wrong.
    for name in ("Host", "Content-Length", "Transfer-Encoding"):
        headers.pop(name, None)
    if response.status_code in (301, 302, 303) and method != "HEAD":
        method, content = "GET", None
        headers.pop("Content-Type", None)
    if (url.scheme, url.host, url.port) != (
        request.url.scheme,
        request.url.host,
        request.url.port,
    ):
        content_type = headers.get("Content-Type")
        headers = base_headers.copy()
        if content is not None and content_type:
            headers["Content-Type"] = content_type
    return httpx.Request(
        method, url, headers=headers, content=content, extensions=request.extensions
    )


class SafeHTTPClient:
    """Fetches tenant-supplied URLs without reaching internal networks.

    Refusals and limits raise SafeHTTPError subclasses; network failures and timeouts raise
    httpx.TransportError subclasses (httpx.TimeoutException for any time limit).
    """

    def __init__(
        self,
        *,
        allow_loopback: bool = False,
        max_bytes: int = 10_000_000,
        timeout: float = 15.0,
        connect_timeout: float = 5.0,
        read_timeout: float = 10.0,
        max_redirects: int = 5,
        user_agent: str = "VoxtroBot/1.0 (+https://voxtro.io/bot)",
        allowed_ports: Iterable[int] = DEFAULT_ALLOWED_PORTS,
        resolver: Resolver | None = None,
    ) -> None:
        """`allow_loopback` (local development and tests) admits 127.0.0.0/8 and ::1 only, on
        any port; every other address may only be reached on `allowed_ports`.

        `resolver` maps (host, port) to IP strings (default: the system resolver); it is
        called once per connection, never for IP literals, and its answers are vetted whole.

        `timeout` bounds a whole request, redirects and body included; `connect_timeout`
        bounds resolving plus connecting, `read_timeout` each socket read or write.
        """
        self._policy = _Policy(
            allow_loopback=allow_loopback, allowed_ports=frozenset(allowed_ports)
        )
        self._resolver = resolver or _getaddrinfo
        self._transport = _GuardedTransport(_GuardedBackend(self._policy, self._resolver))
        self._max_bytes = max_bytes
        self._timeout = timeout
        self._io_timeouts = httpx.Timeout(read_timeout, connect=connect_timeout).as_dict()
        self._max_redirects = max_redirects
        # No Accept-Encoding, so servers send identity bodies: a small compressed body cannot
        # inflate in memory before max_bytes is checked.
        self._headers = httpx.Headers({"User-Agent": user_agent, "Accept": "*/*"})

    async def __aenter__(self) -> Self:
        return self

    async def check_url(self, url: str, *, resolve_timeout: float = 2.0) -> None:
        """Refuse (`UnsafeURLError`) a URL a tenant saves that no fetch would be allowed to
        reach, so that they hear it at once rather than at its first use: the same checks as a
        fetch, the host's current addresses included. A name that does not resolve (yet)
        passes; every fetch checks again anyway."""
        parsed = _checked_url(url, self._policy)
        if literal_address(parsed.host) is not None:
            return  # vetted whole by _checked_url
        port = parsed.port if parsed.port is not None else _DEFAULT_PORTS[parsed.scheme]
        try:
            async with asyncio.timeout(resolve_timeout):
                answers = await self._resolver(parsed.host, port)
        except (OSError, TimeoutError):
            return
        for answer in answers:
            try:
                ip = ipaddress.ip_address(answer)
            except ValueError:
                continue
            reason = self._policy.address_refusal(ip)
            if reason is not None:
                raise UnsafeURLError(str(parsed), f"{parsed.host} is {ip}, which is {reason}")
            if not self._policy.port_allowed(port, ip):
                raise UnsafeURLError(str(parsed), f"port {port} is not allowed")

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> SafeResponse:
        return await self.request("GET", url, headers=headers, params=params)

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> SafeResponse:
        merged = self._headers.copy()
        merged.update(headers or {})
        request = httpx.Request(
            method,
            _checked_url(url, self._policy),
            params=params,
            headers=merged,
            json=json,
            content=content,
            extensions={"timeout": self._io_timeouts},
        )
        try:
            async with asyncio.timeout(self._timeout):
                return await self._follow(request)
        except TimeoutError as exc:
            raise httpx.TimeoutException(
                f"{method} {request.url} took longer than {self._timeout}s"
            ) from exc

    async def _follow(self, request: httpx.Request) -> SafeResponse:
        for _ in range(self._max_redirects + 1):
            response = await self._transport.handle_async_request(request)
            try:
                next_request = _redirect_request(request, response, self._headers, self._policy)
                if next_request is None:
                    return SafeResponse(
                        status_code=response.status_code,
                        headers=response.headers,
                        content=await self._read_body(request, response),
                        url=str(request.url),
                    )
            finally:
                await response.aclose()
            request = next_request
        raise TooManyRedirectsError(str(request.url), self._max_redirects)

    async def _read_body(self, request: httpx.Request, response: httpx.Response) -> bytes:
        url = str(request.url)
        # Fail before reading when the size is announced (HEAD announces a body it never sends).
        declared = response.headers.get("content-length", "")
        if request.method != "HEAD" and declared.isdigit() and int(declared) > self._max_bytes:
            raise ResponseTooLargeError(url, self._max_bytes)
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > self._max_bytes:
                raise ResponseTooLargeError(url, self._max_bytes)
        return bytes(body)


async def require_fetchable(http: SafeHTTPClient, url: str, *, field: str) -> None:
    """A tenant saving `url` (in `field`) hears at once, with a 400, that it may never be
    fetched (a private address, a port or scheme we do not fetch)."""
    from backend.errors import ValidationFailed

    try:
        await http.check_url(url)
    except UnsafeURLError as exc:
        raise ValidationFailed(
            f"{field} cannot be used: {exc.reason}",
            errors=[{"field": field, "message": f"cannot be fetched: {exc.reason}"}],
        ) from exc
