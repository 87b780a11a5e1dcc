"""SSRF-safe outbound HTTP: the one client for every URL fetched on behalf of a tenant.

Addresses are vetted at connect time: the host is resolved once, every resolved address is
checked, and the socket is opened to that exact checked IP. Nothing re-resolves the name after
the check, so DNS rebinding has no window. Host header and TLS SNI keep the hostname because
only the socket address changes, underneath httpcore.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import ipaddress
import json as jsonlib
import socket
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from email.message import Message
from types import TracebackType
from typing import Any, Self

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

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


async def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves once, vets every address, then connects to a vetted IP literal."""

    def __init__(self, *, allow_loopback: bool) -> None:
        self._allow_loopback = allow_loopback
        self._inner = httpcore.AnyIOBackend()

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
                addresses = await _resolve(host, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        # Refuse if any address is bad: a name mixing public and private records is hostile.
        for ip in addresses:
            reason = blocked_reason(ip, allow_loopback=self._allow_loopback)
            if reason is not None:
                shown = "it" if str(ip) == host else f"it resolves to {ip}, which"
                raise UnsafeURLError(host, f"{shown} is {reason}")
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
        assert error is not None  # getaddrinfo never returns an empty list
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


def _checked_url(url: httpx.URL | str) -> httpx.URL:
    """Scheme, credentials and host checks; addresses are checked later, at connect time."""
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
    return parsed


def _redirect_request(
    request: httpx.Request, response: httpx.Response, base_headers: httpx.Headers
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
    url = _checked_url(joined)

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
    ) -> None:
        """`allow_loopback` (local development and tests) admits 127.0.0.0/8 and ::1 only.

        `timeout` bounds a whole request, redirects and body included; `connect_timeout`
        bounds resolving plus connecting, `read_timeout` each socket read or write.
        """
        self._transport = _GuardedTransport(_GuardedBackend(allow_loopback=allow_loopback))
        self._max_bytes = max_bytes
        self._timeout = timeout
        self._io_timeouts = httpx.Timeout(read_timeout, connect=connect_timeout).as_dict()
        self._max_redirects = max_redirects
        # No Accept-Encoding, so servers send identity bodies: a small compressed body cannot
        # inflate in memory before max_bytes is checked.
        self._headers = httpx.Headers({"User-Agent": user_agent, "Accept": "*/*"})

    async def __aenter__(self) -> Self:
        return self

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
            _checked_url(url),
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
                next_request = _redirect_request(request, response, self._headers)
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
