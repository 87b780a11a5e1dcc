"""Errors of the local Supabase Auth server, in Supabase Auth's own terms."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from backend.errors import VoxtroError, error_body


class AuthApiError(VoxtroError):
    """An error in Supabase Auth's own terms; `code` is GoTrue's error code."""

    def __init__(self, status_code: int, code: str, message: str, **extra: Any) -> None:
        self.status_code = status_code
        self.code = code
        self.extra = extra
        super().__init__(message)


def auth_error_response(exc: AuthApiError) -> JSONResponse:
    """Supabase Auth's error body, inside the platform's: clients read `code`/`error_code` and
    `msg`/`message`."""
    body = {
        **error_body(exc.code, exc.message),
        "error_code": exc.code,
        "msg": exc.message,
        **exc.extra,
    }
    return JSONResponse(body, status_code=exc.status_code, headers={"x-sb-error-code": exc.code})
