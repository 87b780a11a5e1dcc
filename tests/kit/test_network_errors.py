"""Why a request got no answer, in words: each way a real connection fails gets its own reason
and advice (refused, no such name, silence, a TLS handshake with a plain HTTP server)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import httpx
import pytest

from backend.kit.network_errors import bad_status, describe, service_at, unreachable
from backend.kit.safe_http import SafeHTTPClient
from tests.fixtures.servers import free_port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


async def failure_of(url: str, **options: float) -> BaseException:
    async with SafeHTTPClient(allow_loopback=True, **options) as client:
        with pytest.raises(httpx.HTTPError) as caught:
            await client.get(url)
    return caught.value


async def test_a_refused_connection() -> None:
    port = free_port()
    exc = await failure_of(f"http://127.0.0.1:{port}/")
    assert unreachable(service_at("VAPI", f"http://127.0.0.1:{port}/v1"), exc) == (
        f"Could not reach VAPI at 127.0.0.1:{port}: the connection was refused. Check the"
        " address and its port, and that the service is running."
    )


async def test_a_name_that_does_not_resolve() -> None:
    exc = await failure_of("http://nowhere.invalid/")
    failure = describe(exc, setting="VAPI_BASE_URL")
    if failure.kind == "dns_down":
        pytest.skip("this machine has no DNS server at all")
    assert failure.sentence("VAPI at nowhere.invalid") == (
        "Could not reach VAPI at nowhere.invalid: the name does not resolve. Check the address"
        " (VAPI_BASE_URL) for a typo."
    )


async def test_a_server_that_never_answers(silent_port: int) -> None:
    exc = await failure_of(f"http://127.0.0.1:{silent_port}/", timeout=0.5, read_timeout=0.3)
    assert describe(exc).reason == "it did not answer in time"


async def test_tls_with_a_server_that_speaks_plain_http() -> None:
    async def plain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(plain, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        exc = await failure_of(f"https://127.0.0.1:{port}/")
    failure = describe(exc, setting="OPENAI_BASE_URL")
    assert (failure.kind, failure.reason) == ("tls", "the secure connection (TLS) failed")
    assert failure.advice == (
        "Check that the address (OPENAI_BASE_URL) is right and its certificate is valid"
    )


def test_server_errors_and_rate_limits_say_whose_side_the_trouble_is_on() -> None:
    assert bad_status("VAPI", 503, "down for maintenance") == (
        "VAPI answered HTTP 503 Service Unavailable (down for maintenance): the trouble is on"
        " VAPI's side. Try again in a few minutes."
    )
    assert bad_status("OpenAI", 429) == (
        "OpenAI is limiting requests (HTTP 429 Too Many Requests). Wait a minute and try again,"
        " or check the OpenAI account's plan limits."
    )
    assert service_at("Bolna", "https://user:pw@api.bolna.ai/v2") == "Bolna at api.bolna.ai"
