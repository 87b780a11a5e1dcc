"""A small fake of Bolna's API, in its wire format (providers.md §9).

`GET /user/me`, `GET /v2/agent/{id}` and `POST /call` (answering `{"message": "done",
"status": "queued", "execution_id": …}`), with `Authorization: Bearer <key>`. Another key is
403 `{"detail": …}` (what Bolna's live API answers); an unknown agent 404 and a bad call body
422, both with Bolna's `{"error": <status>, "message": …}` body. `fail_next(n, status)` makes
the next n requests fail; `delay` holds every answer that long (for concurrent requests).
`execution(…)` builds the execution object Bolna posts to an agent's webhook.

The fake runs on a real port (`with FakeBolna() as fake: fake.url`) in a server thread, so its
state is guarded by a lock.
"""

from __future__ import annotations

import asyncio
import copy
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.base import ProviderFake

API_KEY = "bn-3f1c9a7e5d2b4c6a8e0f1a2b3c4d5e6f"
ACCOUNT_ID = "6a1f0c3e-2b4d-4e5f-8a9b-0c1d2e3f4a5b"
FROM_NUMBER = "+918035737600"

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": status, "message": message}, status_code=status)


def execution(
    execution_id: str,
    status: str,
    *,
    agent_id: str,
    to_number: str = "+919876543210",
    **overrides: Any,
) -> dict[str, Any]:
    """An execution object as Bolna posts it for `status`: duration, cost, transcript and
    recording are empty until `completed` unless given (`telephony_data` entries merge)."""
    telephony = {
        "duration": None,
        "to_number": to_number,
        "from_number": FROM_NUMBER,
        "recording_url": None,
        "hosted_telephony": True,
        "provider_call_id": "CA" + execution_id.replace("-", "")[:32],
        "call_type": "outbound",
        "provider": "plivo",
        "hangup_by": None,
        "hangup_reason": None,
        "hangup_provider_code": None,
        **overrides.pop("telephony_data", {}),
    }
    return {
        "id": execution_id,
        "agent_id": agent_id,
        "batch_id": None,
        "conversation_duration": 0,
        "total_cost": 0,
        "status": status,
        "error_message": None,
        "answered_by_voice_mail": False,
        "transcript": None,
        "created_at": "2026-11-25T10:30:00.123456Z",
        "updated_at": _now(),
        "cost_breakdown": {
            "llm": 0,
            "network": 0,
            "platform": 0,
            "synthesizer": 0,
            "transcriber": 0,
        },
        "telephony_data": telephony,
        "transfer_call_data": None,
        "batch_run_details": None,
        "extracted_data": None,
        "context_details": {},
        **overrides,
    }


class FakeBolna(ProviderFake):
    def __init__(self, api_key: str = API_KEY) -> None:
        self.api_key = api_key
        self.agents: dict[str, dict[str, Any]] = {}
        self.calls: dict[str, dict[str, Any]] = {}  # execution id -> the POST /call body
        self.requests: list[tuple[str, str, Any]] = []  # (method, path, json body)
        self.delay = 0.0
        super().__init__(
            routes=[
                Route("/user/me", self._me, methods=["GET"]),
                Route("/v2/agent/{id}", self._agent, methods=["GET"]),
                Route("/call", self._call, methods=["POST"]),
            ]
        )

    # -- test controls ------------------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self.agents.clear()
            self.calls.clear()
            self.requests.clear()
            self.delay = 0.0
        super().reset()

    def add_agent(self, name: str = "Order Confirmation") -> str:
        agent_id = str(uuid.uuid4())
        now = _now()
        with self._lock:
            self.agents[agent_id] = {
                "id": agent_id,
                "agent_name": name,
                "agent_type": "other",
                "agent_status": "processed",
                "agent_welcome_message": "Hello {customer_name}, this is about your order.",
                "webhook_url": None,
                "tasks": [],
                "agent_prompts": {"task_1": {"system_prompt": "Confirm order {order_id}."}},
                "created_at": now,
                "updated_at": now,
            }
        return agent_id

    @property
    def placed(self) -> list[dict[str, Any]]:
        """The bodies of the calls Bolna accepted, in order."""
        with self._lock:
            return [copy.deepcopy(body) for body in self.calls.values()]

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
        if self.delay:
            await asyncio.sleep(self.delay)
        if failure is not None:
            return _error(failure, "Injected failure (fake)"), None
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or key.strip() != self.api_key:
            return JSONResponse({"detail": "Invalid or expired API key"}, status_code=403), None
        return None, body

    async def _me(self, request: Request) -> JSONResponse:
        denied, _ = await self._begin(request)
        if denied is not None:
            return denied
        with self._lock:
            current = len(self.calls)
        return JSONResponse(
            {
                "id": ACCOUNT_ID,
                "name": "CHICX",
                "email": "ops@chicx.example",
                "wallet": 42.42,
                "concurrency": {"max": 10, "current": current},
            }
        )

    async def _agent(self, request: Request) -> JSONResponse:
        denied, _ = await self._begin(request)
        if denied is not None:
            return denied
        with self._lock:
            agent = self.agents.get(request.path_params["id"])
            if agent is None:
                return _error(404, "Agent not found")
            return JSONResponse(copy.deepcopy(agent))

    async def _call(self, request: Request) -> JSONResponse:
        denied, body = await self._begin(request)
        if denied is not None:
            return denied
        if not isinstance(body, dict):
            return _error(422, "body must be an object")
        with self._lock:
            if body.get("agent_id") not in self.agents:
                return _error(404, "Agent not found")
            numbers = [("recipient_phone_number", body.get("recipient_phone_number"))]
            if "from_phone_number" in body:  # optional: the account's default number
                numbers.append(("from_phone_number", body["from_phone_number"]))
            for field, number in numbers:
                if not (isinstance(number, str) and _E164.match(number)):
                    return _error(422, f"{field} must be a phone number in E.164 format")
            execution_id = str(uuid.uuid4())
            self.calls[execution_id] = copy.deepcopy(body)
        return JSONResponse({"message": "done", "status": "queued", "execution_id": execution_id})
