"""A small fake of VAPI's server API, in its wire format (providers.md §2).

`GET /assistant` and `GET /call` (bare arrays, newest first, `limit` capped at `max_page`,
`createdAtGt`, `createdAtLe`), `GET|PATCH /assistant/{id}`, `GET /phone-number` (bare array),
with `Authorization: Bearer <private key>`. Any other key is 401 with VAPI's
NestJS body `{"message": "Invalid Key. Hot tip, …", "error": "Unauthorized", "statusCode":
401}` (the public key included: it is for the Web SDK only). A PATCH with bad fields is 400
`{"message": [..], "error": "Bad Request", "statusCode": 400}`; the rules checked here are a
few plausible ones (VAPI's exact validation is unverified: unknown fields are accepted).
`fail_next(n, status)` makes the next n requests fail.

The fake runs on a real port (`with FakeVapi() as fake: fake.url`) in a server thread, so its
state is guarded by a lock.
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.base import ProviderFake

PRIVATE_KEY = "0b6f3c2e-5d4a-4c1b-9e8f-7a6b5c4d3e2f"
PUBLIC_KEY = "9f8e7d6c-5b4a-4321-8fed-cba987654321"
ORG_ID = "5d1b7a3c-0000-4000-8000-00000000f00d"

INVALID_KEY_MESSAGE = (
    "Invalid Key. Hot tip, you may be using the private key instead of the public key, "
    "or vice versa."
)
_ERROR_NAMES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
}
NAME_MAX = 40


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(status: int, message: str | list[str]) -> JSONResponse:
    return JSONResponse(
        {"message": message, "error": _ERROR_NAMES.get(status, "Error"), "statusCode": status},
        status_code=status,
    )


def _update_problems(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return ["body must be an object"]
    problems = []
    if "name" in body:
        if not isinstance(body["name"], str):
            problems.append("name must be a string")
        elif len(body["name"]) > NAME_MAX:
            problems.append(f"name must be shorter than or equal to {NAME_MAX} characters")
    if "firstMessage" in body and not isinstance(body["firstMessage"], str):
        problems.append("firstMessage must be a string")
    for nested in ("voice", "model"):
        if nested in body:
            value = body[nested]
            if not isinstance(value, dict):
                problems.append(f"{nested} must be an object")
            elif not value.get("provider"):
                problems.append(f"{nested}.provider should not be empty")
    return problems


class FakeVapi(ProviderFake):
    def __init__(self, private_key: str = PRIVATE_KEY, public_key: str = PUBLIC_KEY) -> None:
        self.private_key = private_key
        self.public_key = public_key
        self.assistants: dict[str, dict[str, Any]] = {}
        self.phone_numbers: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []
        self.max_page = 1000
        self.requests: list[tuple[str, str, Any]] = []  # (method, path, json body)
        super().__init__(
            routes=[
                Route("/assistant", self._list_assistants, methods=["GET"]),
                Route("/assistant/{id}", self._assistant, methods=["GET", "PATCH"]),
                Route("/phone-number", self._list_phone_numbers, methods=["GET"]),
                Route("/call", self._list_calls, methods=["GET"]),
            ]
        )

    # -- test controls ------------------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self.assistants.clear()
            self.phone_numbers.clear()
            self.calls.clear()
            self.max_page = 1000
            self.requests.clear()
        super().reset()

    def add_assistant(self, name: str, **fields: Any) -> dict[str, Any]:
        now = _now()
        assistant = {
            "id": str(uuid.uuid4()),
            "orgId": ORG_ID,
            "createdAt": now,
            "updatedAt": now,
            "name": name,
            "firstMessage": f"Hello, this is {name}.",
            "voice": {"provider": "11labs", "voiceId": "burt"},
            "model": {
                "provider": "openai",
                "model": "gpt-4o",
                "messages": [{"role": "system", "content": "You are helpful."}],
            },
            "transcriber": {"provider": "deepgram", "model": "nova-2", "language": "en"},
            **fields,
        }
        with self._lock:
            self.assistants[assistant["id"]] = assistant
        return copy.deepcopy(assistant)

    def add_phone_number(self, number: str, assistant_id: str | None) -> dict[str, Any]:
        phone = {
            "id": str(uuid.uuid4()),
            "orgId": ORG_ID,
            "number": number,
            "name": None,
            "assistantId": assistant_id,
            "provider": "twilio",
            "status": "active",
            "createdAt": _now(),
            "updatedAt": _now(),
        }
        with self._lock:
            self.phone_numbers.append(phone)
        return phone

    def add_call(self, created_at: datetime, **fields: Any) -> dict[str, Any]:
        """A Call object as `GET /call` returns it; by default an ended inbound phone call."""
        stamp = created_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        call = {
            "id": str(uuid.uuid4()),
            "orgId": ORG_ID,
            "type": "inboundPhoneCall",
            "status": "ended",
            "endedReason": "customer-ended-call",
            "createdAt": stamp,
            "updatedAt": stamp,
            "startedAt": stamp,
            "endedAt": stamp,
            "cost": 0.05,
            "customer": {"number": "+919876543210"},
            "artifact": {"transcript": "AI: Hello\nUser: Where is my order?"},
            "analysis": {"summary": "Asked about an order."},
            **fields,
        }
        with self._lock:
            self.calls.append(call)
        return copy.deepcopy(call)

    def delete_assistant(self, assistant_id: str) -> None:
        with self._lock:
            del self.assistants[assistant_id]

    # -- the API ------------------------------------------------------------------------------

    async def _begin(self, request: Request) -> tuple[JSONResponse | None, Any]:
        raw = await request.body()
        body: Any = None
        if raw:
            try:
                body = await request.json()
            except ValueError:
                return _error(400, "Invalid JSON body"), None
        with self._lock:
            self.requests.append((request.method, request.url.path, body))
            failure = self._take_failure()
        if failure is not None:
            return _error(failure, "Injected failure (fake)"), None
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or key.strip() != self.private_key:
            return _error(401, INVALID_KEY_MESSAGE), None
        return None, body

    async def _list_assistants(self, request: Request) -> JSONResponse:
        denied, _ = await self._begin(request)
        if denied is not None:
            return denied
        with self._lock:
            return JSONResponse(self._page(list(self.assistants.values()), request))

    def _page(self, items: list[dict[str, Any]], request: Request) -> list[dict[str, Any]]:
        """Newest first, `createdAtGt` / `createdAtLe` applied, at most `limit` (itself at
        most `max_page`, as an API may cap it without saying so)."""
        query = request.query_params
        limit = min(int(query.get("limit", "100")), self.max_page)
        found = [
            item
            for item in items
            if item["createdAt"] > query.get("createdAtGt", "")
            and ("createdAtLe" not in query or item["createdAt"] <= query["createdAtLe"])
        ]
        found.sort(key=lambda item: item["createdAt"], reverse=True)
        return copy.deepcopy(found[:limit])

    async def _assistant(self, request: Request) -> JSONResponse:
        denied, body = await self._begin(request)
        if denied is not None:
            return denied
        assistant_id = request.path_params["id"]
        with self._lock:
            assistant = self.assistants.get(assistant_id)
            if assistant is None:
                return _error(404, "Couldn't Get Assistant. `assistant` Not Found.")
            if request.method == "GET":
                return JSONResponse(copy.deepcopy(assistant))
            problems = _update_problems(body)
            if problems:
                return _error(400, problems)
            # Nested objects are replaced whole (the safe reading of an unverified behaviour).
            assistant.update(copy.deepcopy(body))
            assistant["updatedAt"] = _now()
            return JSONResponse(copy.deepcopy(assistant))

    async def _list_phone_numbers(self, request: Request) -> JSONResponse:
        denied, _ = await self._begin(request)
        if denied is not None:
            return denied
        with self._lock:
            return JSONResponse(copy.deepcopy(self.phone_numbers))

    async def _list_calls(self, request: Request) -> JSONResponse:
        denied, _ = await self._begin(request)
        if denied is not None:
            return denied
        with self._lock:
            return JSONResponse(self._page(self.calls, request))
