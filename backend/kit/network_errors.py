"""Why a request to another server failed, said once, in words a person can act on.

httpx, httpcore, the OpenAI SDK's httpx2 and asyncio wrap each other's exceptions, and their
texts ("All connection attempts failed", "Connection error.", "[Errno -2] Name or service not
known") say little or too much. What happened is found at the bottom of the exception chain
(a `socket.gaierror`, a `ConnectionRefusedError`, an `ssl.SSLError`, a timeout); this module
turns it into a reason and a piece of advice:

    Could not reach VAPI at api.vapi.ai: the name does not resolve. Check the address
    (VAPI_BASE_URL) for a typo.
"""

from __future__ import annotations

import errno
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Literal
from urllib.parse import urlsplit

Kind = Literal["dns", "dns_down", "refused", "timeout", "tls", "network", "cut", "other"]

_NETWORK_ERRNOS = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN})
_CUT_ERRNOS = frozenset({errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE})


@dataclass(frozen=True)
class Failure:
    kind: Kind
    reason: str  # "the name does not resolve"
    advice: str  # "Check the address for a typo"

    def sentence(self, what: str) -> str:
        """`Could not reach <what>: <reason>. <advice>.`"""
        return f"Could not reach {what}: {self.reason}. {self.advice}."


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _is_timeout(exc: BaseException) -> bool:
    # httpx.TimeoutException, httpx2's, httpcore's, openai.APITimeoutError: no common base.
    name = type(exc).__name__
    return isinstance(exc, TimeoutError) or "Timeout" in name


def _is_protocol_break(exc: BaseException) -> bool:
    # httpx.RemoteProtocolError ("Server disconnected without sending a response") and kin.
    return type(exc).__name__ in {"RemoteProtocolError", "ReadError", "WriteError"}


def kind_of(exc: BaseException) -> Kind:
    """What went wrong, from the most telling exception in the chain."""
    chain = list(_chain(exc))
    for error in chain:
        if isinstance(error, socket.gaierror):
            return "dns_down" if error.errno == socket.EAI_AGAIN else "dns"
        if isinstance(error, ConnectionRefusedError):
            return "refused"
        if isinstance(error, ssl.SSLError | ssl.CertificateError):
            return "tls"
    for error in chain:
        if _is_timeout(error):
            return "timeout"
        if isinstance(error, OSError) and error.errno in _NETWORK_ERRNOS:
            return "network"
        if isinstance(error, ConnectionError) or (
            isinstance(error, OSError) and error.errno in _CUT_ERRNOS
        ):
            return "cut"
        if _is_protocol_break(error):
            return "cut"
    return "other"


def describe(exc: BaseException, *, setting: str | None = None) -> Failure:
    """Why a request got no answer. `setting` names where the address is configured (an
    environment variable such as VAPI_BASE_URL), when that is something to check."""
    address = f"the address ({setting})" if setting else "the address"
    match kind_of(exc):
        case "dns":
            return Failure("dns", "the name does not resolve", f"Check {address} for a typo")
        case "dns_down":
            return Failure(
                "dns_down",
                "the name could not be looked up (no DNS answer)",
                "Check this server's network and DNS, then try again",
            )
        case "refused":
            return Failure(
                "refused",
                "the connection was refused",
                f"Check {address} and its port, and that the service is running",
            )
        case "timeout":
            return Failure(
                "timeout",
                "it did not answer in time",
                "It may be slow or down: try again in a few minutes",
            )
        case "tls":
            return Failure(
                "tls",
                "the secure connection (TLS) failed",
                f"Check that {address} is right and its certificate is valid",
            )
        case "network":
            return Failure(
                "network",
                "this server's network cannot reach it",
                "Check this server's network connection",
            )
        case "cut":
            return Failure(
                "cut",
                "the connection was closed before an answer came",
                "Try again in a few minutes",
            )
        case _:
            return Failure("other", "the connection failed", "Try again in a few minutes")


def unreachable(what: str, exc: BaseException, *, setting: str | None = None) -> str:
    """`Could not reach VAPI at api.vapi.ai: the connection was refused. Check …`"""
    return describe(exc, setting=setting).sentence(what)


def service_at(service: str, url: str) -> str:
    """`VAPI at api.vapi.ai`: which server was tried (its host and any port, never a path or
    credentials)."""
    host = urlsplit(url).netloc.rpartition("@")[2]
    return f"{service} at {host}" if host else service


def bad_status(what: str, status: int, detail: str | None = None) -> str:
    """What to say when `what` answered an HTTP error that is no fault of the request."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "an error"
    said = f" ({detail})" if detail and detail != phrase else ""
    if status == 429:
        return (
            f"{what} is limiting requests (HTTP 429 {phrase}){said}. Wait a minute and try "
            f"again, or check the {what} account's plan limits."
        )
    if status >= 500:
        return (
            f"{what} answered HTTP {status} {phrase}{said}: the trouble is on {what}'s side. "
            "Try again in a few minutes."
        )
    return f"{what} answered HTTP {status} {phrase}{said}."
