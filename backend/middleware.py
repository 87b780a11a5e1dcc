"""Pure ASGI middleware: request ids, access logs, rate-limit headers, body size limits, and
open CORS for the public routes."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.errors import error_response
from backend.kit.timing import request_timer, server_timing

log = structlog.get_logger("voxtro.access")


# Webhook URLs whose last segment is the credential (Bolna signs nothing; the token in the URL
# is all there is): logs show the route, never the token.
_SECRET_PATH = re.compile(r"^(/api/webhooks/(?:bolna|elevenlabs)/)[^/]+")


def loggable_path(path: str) -> str:
    return _SECRET_PATH.sub(r"\1…", path)


class RequestContextMiddleware:
    """Gives every request an id (or keeps the caller's `X-Request-Id`), binds it to the logs,
    writes one access-log line, and adds the rate-limit headers the auth step recorded and a
    `Server-Timing` header (total, and time spent waiting on model providers)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming[:100] if incoming else uuid.uuid4().hex
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status_code = 500
        provider = [0.0]

        async def send_wrapper(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Request-Id"] = request_id
                headers["Server-Timing"] = server_timing(time.perf_counter() - started, provider[0])
                state = scope.get("state", {}).get("rate_limit")
                if state is not None:
                    for name, value in state.headers().items():
                        headers[name] = value
            await send(message)

        try:
            with request_timer() as provider:
                await self.app(scope, receive, send_wrapper)
        finally:
            log.info(
                "request",
                method=scope["method"],
                path=loggable_path(scope["path"]),
                status=status_code,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
            structlog.contextvars.unbind_contextvars("request_id")


class BodySizeLimitMiddleware:
    """Refuses request bodies over `max_bytes` with a 413 in the platform's error shape,
    whether the size is declared up front or only shows while streaming.

    (Starlette's own body limit answers in plain text, which no client of ours can parse.)
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        *,
        upload_max_bytes: int,
        upload_suffix: str,
        large_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.default_max_bytes = max_bytes
        # File uploads (paths ending in `upload_suffix`) and the paths under `large_prefixes`
        # may be larger than other bodies.
        self.upload_max_bytes = upload_max_bytes
        self.upload_suffix = upload_suffix
        self.large_prefixes = large_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = (
            self.upload_max_bytes
            if scope["path"].endswith(self.upload_suffix)
            or scope["path"].startswith(self.large_prefixes)
            else self.default_max_bytes
        )
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > max_bytes:
            response = error_response(
                413, "PAYLOAD_TOO_LARGE", f"Request body exceeds {max_bytes} bytes"
            )
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    # Raised inside the route's body read, so the app's handlers answer it.
                    raise HTTPException(413, f"Request body exceeds {max_bytes} bytes")
            return message

        await self.app(scope, limited_receive, send)


class PublicCORSMiddleware:
    """Open CORS, without credentials, for the public routes a third-party page calls from the
    browser (the widget API, form submissions); every other route stays same-origin only.
    Outermost, so that error responses carry the headers too and the page can read them."""

    def __init__(self, app: ASGIApp, *, path_prefixes: tuple[str, ...]) -> None:
        self._app = app
        self._prefixes = path_prefixes
        self._cors = CORSMiddleware(
            app,
            allow_origins=["*"],
            allow_credentials=False,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Content-Type", "Accept"],
            expose_headers=["Retry-After", "X-Request-Id", "X-RateLimit-Remaining"],
            max_age=86400,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self._prefixes):
            await self._cors(scope, receive, send)
        else:
            await self._app(scope, receive, send)
