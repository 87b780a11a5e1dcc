"""One error hierarchy and one error body for every endpoint.

The body satisfies every documented client at once (see DESIGN.md, Errors):
`{"success": false, "status": "error", "code": …, "message": …, "errors": [{"field", "message"}]}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger(__name__)


class VoxtroError(Exception):
    status_code = 500
    code = "INTERNAL_ERROR"

    def __init__(
        self,
        message: str | None = None,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or HTTPStatus(self.status_code).phrase
        self.errors = errors or []
        self.headers = headers
        super().__init__(self.message)

    @property
    def retryable(self) -> bool:
        """Whether a job that failed with this error may succeed if tried again."""
        return self.status_code >= 500


class BadRequest(VoxtroError):
    status_code = 400
    code = "BAD_REQUEST"


class ValidationFailed(VoxtroError):
    # 400, as both documents with an error table say (the omnichannel API, the CHICX guide).
    status_code = 400
    code = "VALIDATION_ERROR"


class Unauthorized(VoxtroError):
    status_code = 401
    code = "UNAUTHORIZED"

    def __init__(self, message: str = "Invalid or missing authentication") -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(VoxtroError):
    status_code = 403
    code = "FORBIDDEN"


class NotFound(VoxtroError):
    status_code = 404
    code = "NOT_FOUND"


class Conflict(VoxtroError):
    status_code = 409
    code = "CONFLICT"


class ProviderUnavailable(VoxtroError):
    """A provider (OpenAI, VAPI, ElevenLabs, Bolna, Stripe) could not be reached or answered
    with an error that says nothing about the request: try again later."""

    status_code = 502
    code = "PROVIDER_UNAVAILABLE"


class RateLimited(VoxtroError):
    status_code = 429
    code = "RATE_LIMIT_EXCEEDED"


class InsufficientBudget(VoxtroError):
    status_code = 403
    code = "INSUFFICIENT_BUDGET"


_CODES_BY_STATUS = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMIT_EXCEEDED",
}


def error_body(
    code: str, message: str, errors: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    return {
        "success": False,
        "status": "error",
        "code": code,
        "message": message,
        "errors": errors or [],
    }


def error_response(
    status_code: int,
    code: str,
    message: str,
    errors: list[dict[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(code, message, errors), status_code=status_code, headers=headers)


def _field_name(location: tuple[Any, ...] | list[Any]) -> str:
    # ("body", "email") -> "email"; ("query", "limit") -> "limit"; ("body",) -> "body"
    parts = [str(p) for p in location]
    if len(parts) > 1 and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:]
    return ".".join(parts)


class ErrorCodes:
    """What a route's own document calls some of our error codes (`{ours: theirs}`), declared by
    the router or the route among its dependencies: `dependencies=[Depends(CHICX_CODES)]`. The
    error handler reads it from the route that matched, so the code follows the route, not its
    URL."""

    def __init__(self, renamed: Mapping[str, str]) -> None:
        self.renamed = dict(renamed)

    async def __call__(self) -> None:
        """Nothing to do per request: being declared is what counts."""


# The CHICX integration guide (the stats API, the shop notifications) documents `RATE_LIMITED`;
# the omnichannel API `RATE_LIMIT_EXCEEDED`. Each client gets what its document says.
CHICX_CODES = ErrorCodes({"RATE_LIMIT_EXCEEDED": "RATE_LIMITED"})


def _route_code(request: Request, code: str) -> str:
    for depends in getattr(request.scope.get("route"), "dependencies", ()):
        if isinstance(depends.dependency, ErrorCodes):
            return depends.dependency.renamed.get(code, code)
    return code


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    problems = exc.errors()
    if any(p.get("type") == "json_invalid" for p in problems):
        return error_response(400, "BAD_REQUEST", "Request body is not valid JSON")
    errors = [
        {"field": _field_name(p.get("loc", ())), "message": str(p.get("msg", "Invalid value"))}
        for p in problems
    ]
    return error_response(400, "VALIDATION_ERROR", "Invalid request data", errors)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(VoxtroError)
    async def _voxtro(request: Request, exc: VoxtroError) -> JSONResponse:
        code = _route_code(request, exc.code)
        return error_response(exc.status_code, code, exc.message, exc.errors, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _CODES_BY_STATUS.get(exc.status_code, "ERROR")
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return error_response(exc.status_code, code, message, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error", error=repr(exc))
        return error_response(500, "INTERNAL_ERROR", "Internal server error")
