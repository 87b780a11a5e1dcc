"""SafeHTTPClient against a throwaway HTTP/1.1 server on 127.0.0.1 (no other network).

Names are answered by an injected resolver (`FakeResolver`) and the socket layer is spied on,
refusing anything but loopback, so no test can reach another machine even when it fails.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpcore
import httpx
import pytest
import pytest_asyncio

from backend.kit.safe_http import (
    ResponseTooLargeError,
    SafeHTTPClient,
    SafeHTTPError,
    SafeResponse,
    TooManyRedirectsError,
    UnsafeURLError,
)

_REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 303: "See Other"}


@dataclass
class LocalServer:
    """Minimal HTTP/1.1 server; routes are described in `_respond`."""

    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        # Handlers parked in /slow would otherwise outlive the test.
        for task in self._handlers:
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            request_line, *header_lines = head.split("\r\n")[:-2]
            method, target, _ = request_line.split(" ")
            headers = {
                name.strip().lower(): value.strip()
                for name, value in (line.split(":", 1) for line in header_lines)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            request = {"method": method, "target": target, "headers": headers}
            request["body"] = body.decode()
            self.requests.append(request)
            await self._respond(writer, request)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()

    async def _respond(self, writer: asyncio.StreamWriter, request: dict[str, Any]) -> None:
        split = urlsplit(request["target"])
        query = {key: values[0] for key, values in parse_qs(split.query).items()}
        path = split.path

        if path == "/echo":
            body = json.dumps(request).encode()
            await self._send(writer, 200, {"Content-Type": "application/json"}, body)
        elif path == "/redirect":
            status = int(query.get("status", "302"))
            await self._send(writer, status, {"Location": query["to"]}, b"")
        elif path.startswith("/countdown/"):
            # /countdown/N answers after N relative redirects.
            remaining = int(path.rsplit("/", 1)[1])
            if remaining:
                await self._send(writer, 302, {"Location": f"{remaining - 1}"}, b"")
            else:
                await self._send(writer, 200, {"Content-Type": "text/plain"}, b"done")
        elif path == "/big":
            size = int(query["size"])
            if "chunked" not in query:
                await self._send(writer, 200, {}, b"x" * size)
                return
            await self._send_head(writer, 200, {"Transfer-Encoding": "chunked"})
            chunk = b"x" * 65_536
            for _ in range(size // len(chunk) + 1):
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        elif path == "/slow":
            await self._send_head(writer, 200, {"Content-Length": "10"})
            await asyncio.sleep(30)
        else:
            await self._send(writer, 404, {}, b"not found")

    @staticmethod
    async def _send_head(
        writer: asyncio.StreamWriter, status: int, headers: dict[str, str]
    ) -> None:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()

    async def _send(
        self, writer: asyncio.StreamWriter, status: int, headers: dict[str, str], body: bytes
    ) -> None:
        await self._send_head(writer, status, {**headers, "Content-Length": str(len(body))})
        writer.write(body)
        await writer.drain()


@pytest_asyncio.fixture
async def server() -> AsyncIterator[LocalServer]:
    local = LocalServer()
    await local.start()
    yield local
    await local.stop()


class FakeResolver:
    """The injected DNS: each name gives its answers in turn, the last one repeating; unknown
    names fail as NXDOMAIN does. `calls` records every lookup."""

    def __init__(self, answers: Mapping[str, Sequence[Sequence[str]]]) -> None:
        self._answers = {name: list(sequence) for name, sequence in answers.items()}
        self.calls: list[tuple[str, int]] = []

    @classmethod
    def static(cls, records: Mapping[str, Sequence[str]]) -> FakeResolver:
        return cls({name: [addresses] for name, addresses in records.items()})

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        sequence = self._answers.get(host)
        if not sequence:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answer = sequence.pop(0) if len(sequence) > 1 else sequence[0]
        return list(answer)


def spy_connections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Hosts handed to the socket layer (SafeHTTPClient connects via AnyIOBackend). Loopback
    connections go through; any other is recorded and then fails as unreachable."""
    seen: list[str] = []
    original = httpcore.AnyIOBackend.connect_tcp

    async def spy(
        self: httpcore.AnyIOBackend, host: str, port: int, **kwargs: Any
    ) -> httpcore.AsyncNetworkStream:
        seen.append(host)
        if not ipaddress.ip_address(host).is_loopback:
            raise httpcore.ConnectError(f"test network: {host} is unreachable")
        return await original(self, host, port, **kwargs)

    monkeypatch.setattr(httpcore.AnyIOBackend, "connect_tcp", spy)
    return seen


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return spy_connections(monkeypatch)


@pytest_asyncio.fixture
async def client() -> AsyncIterator[SafeHTTPClient]:
    async with SafeHTTPClient(allow_loopback=True, timeout=5.0) as safe:
        yield safe


@pytest_asyncio.fixture
async def strict_client() -> AsyncIterator[SafeHTTPClient]:
    async with SafeHTTPClient(timeout=5.0) as safe:
        yield safe


def test_error_hierarchy() -> None:
    for error in (UnsafeURLError, ResponseTooLargeError, TooManyRedirectsError):
        assert issubclass(error, SafeHTTPError)


def test_text_uses_declared_charset() -> None:
    headers = httpx.Headers({"Content-Type": "text/plain; charset=iso-8859-1"})
    response = SafeResponse(200, headers, "café".encode("latin-1"), "http://example.test/")
    assert response.text() == "café"


@pytest.mark.asyncio
async def test_loopback_refused_by_default(
    strict_client: SafeHTTPClient, server: LocalServer, connects: list[str]
) -> None:
    with pytest.raises(UnsafeURLError, match="loopback"):
        await strict_client.get(server.url("/echo"))
    assert connects == []
    assert server.requests == []


@pytest.mark.asyncio
async def test_loopback_allowed_when_enabled(
    client: SafeHTTPClient, server: LocalServer, connects: list[str]
) -> None:
    response = await client.get(server.url("/echo"), params={"q": "1"})
    assert response.status_code == 200
    assert response.url == server.url("/echo?q=1")
    echoed = response.json()
    assert echoed["headers"]["host"] == f"127.0.0.1:{server.port}"
    assert echoed["headers"]["user-agent"].startswith("VoxtroBot/")
    assert connects == ["127.0.0.1"]


@pytest.mark.asyncio
async def test_hostname_is_checked_on_resolved_address(connects: list[str]) -> None:
    resolver = FakeResolver.static({"intranet.example": ["127.0.0.1"]})
    async with SafeHTTPClient(resolver=resolver) as strict:
        with pytest.raises(UnsafeURLError, match=r"resolves to 127\.0\.0\.1, which is a loopback"):
            await strict.get("http://intranet.example/")
    assert resolver.calls == [("intranet.example", 80)]
    assert connects == []


@pytest.mark.asyncio
async def test_injected_resolver_is_used_once_per_connection(
    server: LocalServer, connects: list[str]
) -> None:
    resolver = FakeResolver.static({"app.example": ["127.0.0.1"]})
    async with SafeHTTPClient(allow_loopback=True, resolver=resolver) as safe:
        response = await safe.get(server.url("/echo", host="app.example"))
        assert response.json()["headers"]["host"] == f"app.example:{server.port}"
        assert resolver.calls == [("app.example", server.port)]
        assert connects == ["127.0.0.1"]

        # IP literals, in any spelling, never reach the resolver.
        await safe.get(server.url("/echo"))
        await safe.get(server.url("/echo", host="2130706433"))
        await safe.get(server.url("/echo", host="0x7f.1"))
    assert resolver.calls == [("app.example", server.port)]
    assert connects == ["127.0.0.1"] * 4


@pytest.mark.asyncio
@pytest.mark.parametrize("via_redirect", [False, True])
async def test_dns_rebinding_never_reaches_the_second_answer(
    server: LocalServer, connects: list[str], via_redirect: bool
) -> None:
    """The name answers 127.0.0.1 (admitted here), then 10.0.0.1: the checked answer is the
    one connected to, and the next connection's answer is checked again and refused."""
    resolver = FakeResolver({"rebind.example": [["127.0.0.1"], ["10.0.0.1"]]})
    async with SafeHTTPClient(allow_loopback=True, resolver=resolver) as safe:
        if via_redirect:
            # The server closes each connection, so the redirect's hop connects anew.
            with pytest.raises(
                UnsafeURLError, match=r"resolves to 10\.0\.0\.1, which is a private"
            ):
                await safe.get(
                    server.url("/redirect", host="rebind.example"), params={"to": "/echo"}
                )
        else:
            response = await safe.get(server.url("/echo", host="rebind.example"))
            assert response.status_code == 200
            with pytest.raises(UnsafeURLError, match=r"resolves to 10\.0\.0\.1"):
                await safe.get(server.url("/echo", host="rebind.example"))
    assert len(resolver.calls) == 2
    assert connects == ["127.0.0.1"]
    assert len(server.requests) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "answer",
    [
        ["203.0.113.10", "10.0.0.1"],
        ["93.184.215.14", "10.0.0.1"],
        ["127.0.0.1", "10.0.0.1"],
        ["10.0.0.1", "127.0.0.1"],
        ["127.0.0.1", "169.254.169.254"],
        ["::1", "fd00:ec2::254"],
    ],
    ids="+".join,
)
async def test_mixed_answers_are_refused_whole(
    server: LocalServer, connects: list[str], answer: list[str]
) -> None:
    """One bad record spoils the answer, even when its other records would be admitted."""
    resolver = FakeResolver.static({"mixed.example": answer})
    async with SafeHTTPClient(allow_loopback=True, resolver=resolver) as safe:
        with pytest.raises(UnsafeURLError, match=r"resolves to .*, which is"):
            await safe.get("http://mixed.example/")
    assert resolver.calls == [("mixed.example", 80)]
    assert connects == []


@pytest.mark.asyncio
async def test_resolver_failures(connects: list[str]) -> None:
    resolver = FakeResolver.static({"empty.example": [], "garbage.example": ["0x7f000001"]})
    async with SafeHTTPClient(resolver=resolver) as safe:
        with pytest.raises(httpx.ConnectError, match=r"cannot resolve nxdomain\.example"):
            await safe.get("http://nxdomain.example/")
        with pytest.raises(httpx.ConnectError, match=r"cannot resolve empty\.example"):
            await safe.get("http://empty.example/")
        # Answers must be plain IP addresses; nothing is reinterpreted after the check.
        with pytest.raises(UnsafeURLError, match="the resolver answered '0x7f000001'"):
            await safe.get("http://garbage.example/")
    assert connects == []


@pytest.mark.asyncio
async def test_slow_resolver_hits_the_connect_timeout(connects: list[str]) -> None:
    async def hanging(host: str, port: int) -> list[str]:
        await asyncio.sleep(30)
        return ["93.184.215.14"]

    async with SafeHTTPClient(resolver=hanging, connect_timeout=0.2) as safe:
        started = time.monotonic()
        with pytest.raises(httpx.ConnectTimeout, match=r"resolving slow\.example timed out"):
            await safe.get("http://slow.example/")
    assert time.monotonic() - started < 1.0
    assert connects == []


@pytest.mark.asyncio
async def test_default_resolver_is_the_system_one(
    client: SafeHTTPClient, server: LocalServer, connects: list[str]
) -> None:
    response = await client.get(server.url("/echo", host="localhost"))
    assert response.status_code == 200
    assert connects[0] in {"127.0.0.1", "::1"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "url",
    [
        "http://public.example:8080/",
        "https://public.example:8443/",
        "http://public.example:22/",
        "http://8.8.8.8:25/",
        "http://public.example:0/",
        "http://public.example:65536/",
    ],
)
async def test_other_ports_refused_before_resolving(connects: list[str], url: str) -> None:
    resolver = FakeResolver.static({"public.example": ["93.184.215.14"]})
    port = httpx.URL(url).port
    async with SafeHTTPClient(resolver=resolver) as strict:
        with pytest.raises(UnsafeURLError, match=f"port {port} is not allowed"):
            await strict.get(url)
    assert resolver.calls == []
    assert connects == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "answer", [["93.184.215.14"], ["127.0.0.1", "93.184.215.14"]], ids="+".join
)
async def test_allow_loopback_admits_any_port_on_loopback_only(
    server: LocalServer, connects: list[str], answer: list[str]
) -> None:
    """A name can only be judged once resolved: the port is checked against its answer."""
    resolver = FakeResolver.static({"public.example": answer})
    async with SafeHTTPClient(allow_loopback=True, resolver=resolver) as safe:
        with pytest.raises(UnsafeURLError, match=f"port {server.port} is not allowed"):
            await safe.get(server.url("/echo", host="public.example"))
        with pytest.raises(UnsafeURLError, match="port 8080 is not allowed"):
            await safe.get("http://8.8.8.8:8080/")
        with pytest.raises(UnsafeURLError, match="port 0 is not allowed"):
            await safe.get("http://127.0.0.1:0/")
        assert (await safe.get(server.url("/echo"))).status_code == 200
    assert resolver.calls == [("public.example", server.port)]
    assert connects == ["127.0.0.1"]
    assert len(server.requests) == 1


@pytest.mark.asyncio
async def test_allowed_ports_is_configurable(connects: list[str]) -> None:
    resolver = FakeResolver.static({"public.example": ["93.184.215.14"]})
    async with SafeHTTPClient(allowed_ports={8080}, resolver=resolver, timeout=2.0) as safe:
        with pytest.raises(UnsafeURLError, match="port 80 is not allowed"):
            await safe.get("http://public.example/")
        with pytest.raises(UnsafeURLError, match="port 443 is not allowed"):
            await safe.get("https://8.8.8.8/")
        # Admitted: it gets as far as the (test-refused) socket.
        with pytest.raises(httpx.ConnectError, match="unreachable"):
            await safe.get("http://public.example:8080/")
    assert resolver.calls == [("public.example", 8080)]
    assert connects == ["93.184.215.14"]


@pytest.mark.asyncio
async def test_redirect_to_other_port_refused(
    client: SafeHTTPClient, server: LocalServer, connects: list[str]
) -> None:
    with pytest.raises(UnsafeURLError, match="port 8080 is not allowed"):
        await client.get(server.url("/redirect"), params={"to": "http://8.8.8.8:8080/"})
    assert connects == ["127.0.0.1"]


@pytest.mark.asyncio
async def test_connects_to_checked_ip_but_keeps_hostname_in_host_header(
    client: SafeHTTPClient, server: LocalServer, connects: list[str]
) -> None:
    response = await client.get(server.url("/echo", host="localhost"))
    assert response.json()["headers"]["host"] == f"localhost:{server.port}"
    # The name is never handed to the socket layer, so it cannot be re-resolved.
    assert connects
    assert "localhost" not in connects


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.0.0.1/", "private"),
        ("http://172.16.5.4:8080/", "private"),
        ("https://192.168.1.1/", "private"),
        ("http://100.64.0.1/", "carrier-grade NAT"),
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
        ("http://169.254.1.1/", "link-local"),
        ("http://[fd00:ec2::254]/", "cloud metadata"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[fc00::1]/", "private"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "IPv4-mapped"),
        ("http://[::ffff:10.0.0.1]/", "IPv4-mapped"),
        ("http://[2002:a00:1::]/", "6to4"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://[::]/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://240.0.0.1/", "reserved"),
        ("http://2130706433/", "loopback"),
        ("http://0x7f000001/", "loopback"),
        ("http://127.1/", "loopback"),
        ("http://0x7f.1/", "loopback"),
        ("http://017700000001/", "loopback"),
        ("http://127.0.0.1./", "loopback"),
        ("http://0/", "unspecified"),
        ("http://1.2.3.4.5/", "invalid IP address"),
    ],
)
async def test_blocked_addresses_fail_before_connecting(
    strict_client: SafeHTTPClient, connects: list[str], url: str, reason: str
) -> None:
    started = time.monotonic()
    with pytest.raises(UnsafeURLError, match=reason):
        await strict_client.get(url)
    assert connects == []
    assert time.monotonic() - started < 1.0


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/",
        "http://169.254.169.254/",
        "http://0.0.0.0/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fd00:ec2::254]/",
        "http://0/",
        "http://[::]/",
    ],
)
async def test_allow_loopback_keeps_other_ranges_blocked(
    client: SafeHTTPClient, connects: list[str], url: str
) -> None:
    with pytest.raises(UnsafeURLError):
        await client.get(url)
    assert connects == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://127.0.0.1/",
        "gopher://127.0.0.1:70/_",
        "127.0.0.1/no-scheme",
        "http:///no-host",
    ],
)
async def test_bad_urls_refused(client: SafeHTTPClient, connects: list[str], url: str) -> None:
    with pytest.raises(UnsafeURLError):
        await client.get(url)
    assert connects == []


@pytest.mark.asyncio
async def test_credentials_in_url_refused_and_not_echoed(
    client: SafeHTTPClient, server: LocalServer
) -> None:
    with pytest.raises(UnsafeURLError, match="credentials") as caught:
        await client.get(f"http://admin:hunter2@127.0.0.1:{server.port}/echo")
    assert "hunter2" not in str(caught.value)
    assert server.requests == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "target", ["http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/", "file:///etc"]
)
async def test_redirect_to_blocked_target_refused(
    client: SafeHTTPClient, server: LocalServer, connects: list[str], target: str
) -> None:
    with pytest.raises(UnsafeURLError):
        await client.get(server.url("/redirect"), params={"to": target})
    assert connects == ["127.0.0.1"]


@pytest.mark.asyncio
async def test_malformed_redirect_location_refused(
    client: SafeHTTPClient, server: LocalServer
) -> None:
    with pytest.raises(UnsafeURLError, match="invalid redirect location"):
        await client.get(server.url("/redirect"), params={"to": "http://[::1"})


@pytest.mark.asyncio
async def test_relative_redirects_followed_up_to_the_limit(server: LocalServer) -> None:
    async with SafeHTTPClient(allow_loopback=True, max_redirects=3) as safe:
        response = await safe.get(server.url("/countdown/3"))
        assert (response.status_code, response.text()) == (200, "done")
        assert response.url == server.url("/countdown/0")

        with pytest.raises(TooManyRedirectsError):
            await safe.get(server.url("/countdown/4"))


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("status", "method"), [(301, "GET"), (302, "GET"), (303, "GET"), (307, "POST"), (308, "POST")]
)
async def test_redirect_method_and_body(
    client: SafeHTTPClient, server: LocalServer, status: int, method: str
) -> None:
    response = await client.request(
        "POST",
        server.url("/redirect"),
        params={"to": "/echo", "status": str(status)},
        json={"event": "ping"},
    )
    echoed = response.json()
    assert echoed["method"] == method
    if method == "POST":
        assert json.loads(echoed["body"]) == {"event": "ping"}
        assert echoed["headers"]["content-type"] == "application/json"
    else:
        assert echoed["body"] == ""
        assert "content-type" not in echoed["headers"]


@pytest.mark.asyncio
@pytest.mark.parametrize(("host", "kept"), [("127.0.0.1", True), ("localhost", False)])
async def test_caller_headers_dropped_on_cross_host_redirect(
    client: SafeHTTPClient, server: LocalServer, host: str, kept: bool
) -> None:
    """A tenant's secret may sit in any header (`X-Api-Key` …): only the first origin sees it."""
    response = await client.get(
        server.url("/redirect"),
        params={"to": server.url("/echo", host=host)},
        headers={"Authorization": "Bearer secret", "Cookie": "session=1", "X-Api-Key": "k"},
    )
    echoed = response.json()["headers"]
    assert echoed["host"] == f"{host}:{server.port}"
    assert ("authorization" in echoed, "cookie" in echoed, "x-api-key" in echoed) == (kept,) * 3
    assert echoed["user-agent"].startswith("VoxtroBot")


@pytest.mark.asyncio
@pytest.mark.parametrize("chunked", [False, True])
async def test_body_over_limit_raises(server: LocalServer, chunked: bool) -> None:
    params = {"size": "3000000", **({"chunked": "1"} if chunked else {})}
    async with SafeHTTPClient(allow_loopback=True, max_bytes=1_000_000) as safe:
        with pytest.raises(ResponseTooLargeError):
            await safe.get(server.url("/big"), params=params)


@pytest.mark.asyncio
async def test_body_at_limit_is_returned(server: LocalServer) -> None:
    async with SafeHTTPClient(allow_loopback=True, max_bytes=1000) as safe:
        response = await safe.get(server.url("/big"), params={"size": "1000"})
    assert response.content == b"x" * 1000


@pytest.mark.asyncio
async def test_head_is_not_judged_by_announced_length(server: LocalServer) -> None:
    async with SafeHTTPClient(allow_loopback=True, max_bytes=1000) as safe:
        response = await safe.request("HEAD", server.url("/big"), params={"size": "5000"})
    assert (response.status_code, response.content) == (200, b"")


@pytest.mark.asyncio
async def test_total_time_limit(server: LocalServer) -> None:
    async with SafeHTTPClient(allow_loopback=True, timeout=0.3) as safe:
        started = time.monotonic()
        with pytest.raises(httpx.TimeoutException):
            await safe.get(server.url("/slow"))
    assert time.monotonic() - started < 2.0


@pytest.mark.asyncio
async def test_read_time_limit(server: LocalServer) -> None:
    async with SafeHTTPClient(allow_loopback=True, read_timeout=0.2) as safe:
        with pytest.raises(httpx.ReadTimeout):
            await safe.get(server.url("/slow"))
