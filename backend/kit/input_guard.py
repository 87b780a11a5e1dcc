"""What no input may carry, checked once for every request before any route reads it.

- NUL characters: PostgreSQL's text and jsonb cannot hold them, so a `\\u0000` in a chat
  message, a bot name or a search would only fail later, deep in a query.
- JSON nested deeper than any document of ours or any provider's: parsing, validating or
  storing 5,000 levels runs out of recursion somewhere.

Both are refused with a 400 in the platform's error body, before a route, a signature check or a
database sees the request. The usual body costs two `bytes.count`-style scans: the careful
checks run only when those find something that looks suspicious.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.errors import error_body, error_response

MAX_JSON_DEPTH = 64

# A JSON string token, escapes included.
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
# `\u0000` as an escape (an odd number of backslashes before the `u`), not `\\u0000` (text).
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_BRACKETS = re.compile(rb"[\[\]{}]")
_NUL_PERCENT = re.compile(rb"%00")


class InvalidInput(ValueError):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


def check_json(body: bytes) -> None:
    """Raise `InvalidInput` for a NUL anywhere in a JSON text or nesting past `MAX_JSON_DEPTH`.
    Anything else (even invalid JSON) is left for the parser to judge."""
    if b"\x00" in body or (b"\\u0000" in body and _NUL_ESCAPE.search(body)):
        raise InvalidInput("body", "must not contain NUL characters (\\u0000)")
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return
    depth = 0
    # Brackets inside strings are text, not structure.
    for bracket in _BRACKETS.findall(_JSON_STRING.sub(b'""', body)):
        depth += 1 if bracket in b"[{" else -1
        if depth > MAX_JSON_DEPTH:
            raise InvalidInput("body", f"is nested more than {MAX_JSON_DEPTH} levels deep")


def check_form(body: bytes) -> None:
    if b"\x00" in body or _NUL_PERCENT.search(body):
        raise InvalidInput("body", "must not contain NUL characters")


def check_target(scope: Scope) -> None:
    if "\x00" in scope["path"]:
        raise InvalidInput("path", "must not contain NUL characters")
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in unquote_to_bytes(query):
        raise InvalidInput("query", "must not contain NUL characters")


class InputGuardMiddleware:
    """Reads the body of every request that has one (multipart uploads aside: files may hold any
    byte, and their text is checked where it is extracted), checks it, and hands the same bytes
    on to the route."""

    def __init__(self, app: ASGIApp, *, auth_prefix: str = "/auth/v1") -> None:
        self.app = app
        self.auth_prefix = auth_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            check_target(scope)
        except InvalidInput as exc:
            await self._refuse(scope, receive, send, exc)
            return
        content_type = _header(scope, b"content-type").lower()
        has_body = _header(scope, b"content-length") not in {b"", b"0"} or _header(
            scope, b"transfer-encoding"
        )
        if not has_body or content_type.startswith(b"multipart/"):
            await self.app(scope, receive, send)
            return

        messages: list[Message] = []
        chunks: list[bytes] = []
        try:
            while True:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request":
                    break
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
        except HTTPException as exc:  # the body size limit, raised while reading
            response = error_response(exc.status_code, "PAYLOAD_TOO_LARGE", str(exc.detail))
            await response(scope, receive, send)
            return
        body = b"".join(chunks)
        try:
            if content_type.startswith(b"application/x-www-form-urlencoded"):
                check_form(body)
            else:
                # JSON, or whatever a route reads as JSON whatever it was labelled.
                check_json(body)
        except InvalidInput as exc:
            await self._refuse(scope, receive, send, exc)
            return

        replay = iter(messages)

        async def replayed() -> Message:
            message = next(replay, None)
            return message if message is not None else await receive()

        await self.app(scope, replayed, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, exc: InvalidInput) -> None:
        message = f"{exc.field} {exc}"
        errors = [{"field": exc.field, "message": str(exc)}]
        if scope["path"].startswith(self.auth_prefix):
            # Supabase clients read GoTrue's `error_code` and `msg`.
            body = {
                **error_body("VALIDATION_ERROR", message, errors),
                "error_code": "validation_failed",
                "msg": message,
            }
            response = JSONResponse(body, status_code=400)
        else:
            response = error_response(400, "VALIDATION_ERROR", message, errors)
        await response(scope, receive, send)


def _header(scope: Scope, name: bytes) -> bytes:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return b""
