"""A small fake of Resend's e-mail API, in its wire format (providers.md §6).

`POST /emails` with `Authorization: Bearer re_…` answers 200 `{"id": "<uuid>"}`; errors use
Resend's body `{"statusCode", "name", "message"}`. An `Idempotency-Key` already used for the
same payload answers the first id again and sends nothing; for a different payload it is 409
`invalid_idempotent_request`. `fail_next(n, status)` makes the next n requests fail the way
Resend does (500 `application_error`, 429 `rate_limit_exceeded` with `retry-after`, …).

The fake runs on a real port (`with FakeResend() as fake: fake.url`) in a server thread, so
its state is guarded by a lock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.base import ProviderFake

ERROR_NAMES = {
    400: "validation_error",
    401: "missing_api_key",
    403: "invalid_api_key",
    409: "invalid_idempotent_request",
    422: "validation_error",
    429: "rate_limit_exceeded",
    500: "application_error",
}


@dataclass
class SentEmail:
    id: str
    sender: str
    to: list[str]
    subject: str
    html: str | None
    text: str | None
    idempotency_key: str | None
    api_key: str
    payload: dict[str, Any] = field(repr=False)


def _error(status: int, message: str, name: str | None = None, **headers: str) -> JSONResponse:
    return JSONResponse(
        {
            "statusCode": status,
            "name": name or ERROR_NAMES.get(status, "error"),
            "message": message,
        },
        status_code=status,
        headers=headers or None,
    )


class FakeResend(ProviderFake):
    def __init__(self, api_key: str | None = None) -> None:
        """`api_key`: the only key accepted (any `re_…` key when None)."""
        self.api_key = api_key
        self.sent: list[SentEmail] = []
        self.requests = 0  # every POST /emails that reached the fake
        self._idempotent: dict[str, tuple[dict[str, Any], str]] = {}
        super().__init__(routes=[Route("/emails", self._send, methods=["POST"])])

    # -- test controls ------------------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self.sent.clear()
            self.requests = 0
            self._idempotent.clear()
        super().reset()

    def sent_to(self, email: str) -> list[SentEmail]:
        with self._lock:
            return [m for m in self.sent if email in m.to]

    # -- the API ------------------------------------------------------------------------------

    async def _send(self, request: Request) -> JSONResponse:
        with self._lock:
            self.requests += 1
            failure = self._take_failure()
        if failure == 429:
            return _error(
                429,
                "Too many requests. You can only make 2 requests per second.",
                **{"retry-after": "1", "ratelimit-limit": "2", "ratelimit-remaining": "0"},
            )
        if failure is not None:
            return _error(failure, "Injected failure (fake)")

        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            return _error(401, "Missing API key in the authorization header.")
        if not key.startswith("re_") or (self.api_key is not None and key != self.api_key):
            return _error(403, "API key is invalid.")

        try:
            payload = await request.json()
        except ValueError:
            return _error(422, "Invalid JSON body.", name="invalid_parameter")
        if not isinstance(payload, dict):
            return _error(422, "The body must be an object.", name="invalid_parameter")
        for required in ("from", "to", "subject"):
            if not payload.get(required):
                return _error(422, f"Missing `{required}` field.", name="missing_required_field")
        if not (payload.get("html") or payload.get("text")):
            return _error(422, "Missing `html` or `text` field.", name="missing_required_field")
        to = payload["to"] if isinstance(payload["to"], list) else [payload["to"]]

        idempotency_key = request.headers.get("idempotency-key")
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= 256:
            return _error(
                400, "Idempotency key must be 1-256 characters.", "invalid_idempotency_key"
            )

        with self._lock:
            if idempotency_key is not None and idempotency_key in self._idempotent:
                first_payload, first_id = self._idempotent[idempotency_key]
                if first_payload != payload:
                    return _error(
                        409,
                        "Same idempotency key used with a different request payload.",
                    )
                return JSONResponse({"id": first_id})
            email_id = str(uuid.uuid4())
            if idempotency_key is not None:
                self._idempotent[idempotency_key] = (payload, email_id)
            self.sent.append(
                SentEmail(
                    id=email_id,
                    sender=payload["from"],
                    to=to,
                    subject=payload["subject"],
                    html=payload.get("html"),
                    text=payload.get("text"),
                    idempotency_key=idempotency_key,
                    api_key=key,
                    payload=payload,
                )
            )
        return JSONResponse({"id": email_id})
