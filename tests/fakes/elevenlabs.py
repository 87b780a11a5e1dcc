"""A small fake of ElevenLabs' API, in its wire format (providers.md §3).

`GET /v1/user`, `GET /v1/user/subscription`, `GET /v1/convai/agents` (cursor pages:
`{"agents", "next_cursor", "has_more"}`, `page_size` up to 100), `GET|PATCH
/v1/convai/agents/{agent_id}`, with `xi-api-key`. An unknown key is 401 `{"detail": {"status":
"invalid_api_key", …}}`; `SCOPED_KEY` is a real key without `user_read`, so the account
endpoints answer it 401 `missing_permissions` while the agent endpoints work. A PATCH is merged
into the agent (nested objects too), or, with `patch_replaces_objects`, each top-level field it
gives replaces the agent's own whole (the harshest reading of ElevenLabs' unverified PATCH: a
`conversation_config` holding only `agent.prompt.prompt` leaves the agent nothing else of its
configuration); an empty name, an unknown language or LLM is 422
`{"detail": [{"loc": ["body", …], "msg", "type"}]}` (a few plausible rules: ElevenLabs' exact
validation is unverified). `fail_next(n, status)` makes the next n requests fail;
`max_page_size` makes pages shorter than asked, to exercise the cursor.

The fake runs on a real port (`with FakeElevenLabs() as fake: fake.url`) in a server thread,
so its state is guarded by a lock.
"""

from __future__ import annotations

import copy
import secrets
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.base import ProviderFake

API_KEY = "sk_3f5b9c1d7e2a4b6c8d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a"
SCOPED_KEY = "sk_0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071"
USER_ID = "jX5uEhd8mmOSVmNVAe0cxkBz9pP2"

LANGUAGES = {"en", "es", "fr", "de", "hi", "ta", "pt", "ar"}
LLMS = {"gpt-4o-mini", "gpt-4o", "gemini-2.0-flash", "claude-3-5-sonnet"}
SUBSCRIPTION = {
    "tier": "creator",
    "character_count": 12034,
    "character_limit": 100000,
    "can_extend_character_limit": True,
    "allowed_to_extend_character_limit": True,
    "next_character_count_reset_unix": 1767225600,
    "voice_limit": 30,
    "professional_voice_limit": 1,
    "can_extend_voice_limit": False,
    "can_use_instant_voice_cloning": True,
    "can_use_professional_voice_cloning": True,
    "currency": "usd",
    "status": "active",
    "billing_period": "monthly_period",
    "character_refresh_period": "monthly_period",
}


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"detail": {"status": code, "message": message}}, status_code=status)


def _invalid(problems: list[tuple[list[str], str, str, Any]]) -> JSONResponse:
    return JSONResponse(
        {
            "detail": [
                {"type": kind, "loc": ["body", *loc], "msg": msg, "input": value}
                for loc, kind, msg, value in problems
            ]
        },
        status_code=422,
    )


def _merge(target: dict[str, Any], changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _update_problems(body: Any) -> list[tuple[list[str], str, str, Any]]:
    if not isinstance(body, dict):
        return [([], "model_attributes_type", "Input should be a valid dictionary", body)]
    problems: list[tuple[list[str], str, str, Any]] = []
    if "name" in body and (not isinstance(body["name"], str) or not body["name"].strip()):
        problems.append(
            (["name"], "string_too_short", "String should have at least 1 character", body["name"])
        )
    agent = (body.get("conversation_config") or {}).get("agent") or {}
    if "language" in agent and agent["language"] not in LANGUAGES:
        problems.append(
            (
                ["conversation_config", "agent", "language"],
                "value_error",
                f"Value error, Language '{agent['language']}' is not supported",
                agent["language"],
            )
        )
    llm = (agent.get("prompt") or {}).get("llm")
    if llm is not None and llm not in LLMS:
        problems.append(
            (
                ["conversation_config", "agent", "prompt", "llm"],
                "enum",
                "Input should be one of: " + ", ".join(sorted(LLMS)),
                llm,
            )
        )
    return problems


class FakeElevenLabs(ProviderFake):
    def __init__(self, api_key: str = API_KEY, scoped_key: str = SCOPED_KEY) -> None:
        self.api_key = api_key
        self.scoped_key = scoped_key
        self.agents: dict[str, dict[str, Any]] = {}
        self.archived: set[str] = set()
        self.max_page_size = 100
        self.patch_replaces_objects = False
        # (method, path, query params, json body, xi-api-key)
        self.requests: list[tuple[str, str, dict[str, str], Any, str | None]] = []
        super().__init__(
            routes=[
                Route("/v1/user", self._user, methods=["GET"]),
                Route("/v1/user/subscription", self._subscription, methods=["GET"]),
                Route("/v1/convai/agents", self._list_agents, methods=["GET"]),
                Route("/v1/convai/agents/{agent_id}", self._agent, methods=["GET", "PATCH"]),
            ]
        )

    # -- test controls ------------------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self.agents.clear()
            self.archived.clear()
            self.requests.clear()
            self.max_page_size = 100
            self.patch_replaces_objects = False
        super().reset()

    def add_agent(self, name: str, **agent_config: Any) -> dict[str, Any]:
        """An agent as `GET /v1/convai/agents/{id}` returns it; `agent_config` overrides
        `conversation_config.agent` (`first_message`, `language`, `prompt`)."""
        agent_id = "agent_" + secrets.token_hex(13)
        agent = {
            "agent_id": agent_id,
            "name": name,
            "conversation_config": {
                "asr": {"quality": "high", "provider": "elevenlabs"},
                "turn": {"turn_timeout": 7},
                "tts": {"model_id": "eleven_flash_v2", "voice_id": "cjVigY5qzO86Huf0OWal"},
                "conversation": {"max_duration_seconds": 600},
                "agent": {
                    "first_message": f"Hi, this is {name}. How can I help?",
                    "language": "en",
                    "dynamic_variables": {"dynamic_variable_placeholders": {}},
                    "prompt": {
                        "prompt": f"You are {name}, a helpful assistant.",
                        "llm": "gpt-4o-mini",
                        "temperature": 0.0,
                        "tool_ids": [],
                        "knowledge_base": [],
                    },
                    **agent_config,
                },
            },
            "metadata": {"created_at_unix_secs": int(time.time())},
            "platform_settings": {"widget": {"variant": "full"}},
            "phone_numbers": [],
            "tags": [],
        }
        with self._lock:
            self.agents[agent_id] = agent
        return copy.deepcopy(agent)

    def add_phone_number(self, agent_id: str, number: str, label: str = "Main line") -> None:
        with self._lock:
            self.agents[agent_id]["phone_numbers"].append(
                {
                    "provider": "twilio",
                    "phone_number": number,
                    "label": label,
                    "phone_number_id": "phnum_" + secrets.token_hex(12),
                    "supports_inbound": True,
                    "supports_outbound": True,
                }
            )

    def archive_agent(self, agent_id: str) -> None:
        with self._lock:
            self.archived.add(agent_id)

    def delete_agent(self, agent_id: str) -> None:
        with self._lock:
            del self.agents[agent_id]

    # -- the API ------------------------------------------------------------------------------

    async def _begin(
        self, request: Request, *, needs_user_read: bool = False
    ) -> tuple[JSONResponse | None, Any]:
        raw = await request.body()
        body: Any = None
        if raw:
            try:
                body = await request.json()
            except ValueError:
                return _error(400, "invalid_json", "Invalid JSON body"), None
        key = request.headers.get("xi-api-key")
        with self._lock:
            self.requests.append(
                (request.method, request.url.path, dict(request.query_params), body, key)
            )
            failure = self._take_failure()
        if failure is not None:
            return _error(failure, "injected_failure", "Injected failure (fake)"), None
        if key not in (self.api_key, self.scoped_key):
            return _error(401, "invalid_api_key", "Invalid API key"), None
        if needs_user_read and key == self.scoped_key:
            return _error(
                401,
                "missing_permissions",
                "The API key you used is missing the permission user_read to execute this"
                " operation.",
            ), None
        return None, body

    async def _user(self, request: Request) -> JSONResponse:
        denied, _ = await self._begin(request, needs_user_read=True)
        if denied is not None:
            return denied
        return JSONResponse(
            {
                "user_id": USER_ID,
                "subscription": SUBSCRIPTION,
                "is_new_user": False,
                "xi_api_key": self.api_key,  # ElevenLabs may echo the key: never pass it on
                "xi_api_key_preview": "sk_3f5...9b0c",
                "can_use_delayed_payment_methods": False,
                "is_onboarding_completed": True,
                "is_onboarding_checklist_completed": True,
                "first_name": "Priya",
                "created_at": 1700000000,
                "seat_type": "workspace_admin",
            }
        )

    async def _subscription(self, request: Request) -> JSONResponse:
        denied, _ = await self._begin(request, needs_user_read=True)
        if denied is not None:
            return denied
        return JSONResponse(SUBSCRIPTION)

    async def _list_agents(self, request: Request) -> JSONResponse:
        denied, _ = await self._begin(request)
        if denied is not None:
            return denied
        page_size = int(request.query_params.get("page_size", "30"))
        if not 1 <= page_size <= 100:
            return _invalid(
                [(["page_size"], "less_than_equal", "Input should be <= 100", page_size)]
            )
        offset = int(request.query_params.get("cursor") or "0")
        with self._lock:
            ordered = sorted(
                self.agents.values(),
                key=lambda a: (a["metadata"]["created_at_unix_secs"], a["name"]),
            )
            size = min(page_size, self.max_page_size)
            page = ordered[offset : offset + size]
            has_more = offset + size < len(ordered)
            summaries = [
                {
                    "agent_id": a["agent_id"],
                    "name": a["name"],
                    "tags": a["tags"],
                    "created_at_unix_secs": a["metadata"]["created_at_unix_secs"],
                    "access_info": {"is_creator": True, "creator_name": "Priya"},
                    "last_call_time_unix_secs": None,
                    "archived": a["agent_id"] in self.archived,
                }
                for a in page
            ]
        return JSONResponse(
            {
                "agents": summaries,
                "next_cursor": str(offset + size) if has_more else None,
                "has_more": has_more,
            }
        )

    async def _agent(self, request: Request) -> JSONResponse:
        denied, body = await self._begin(request)
        if denied is not None:
            return denied
        agent_id = request.path_params["agent_id"]
        with self._lock:
            agent = self.agents.get(agent_id)
            if agent is None:
                return _error(404, "agent_not_found", f"Agent {agent_id} not found")
            if request.method == "GET":
                return JSONResponse(copy.deepcopy(agent))
            problems = _update_problems(body)
            if problems:
                return _invalid(problems)
            changes = {k: v for k, v in body.items() if k != "agent_id"}
            if self.patch_replaces_objects:
                agent.update(copy.deepcopy(changes))
            else:
                _merge(agent, changes)
            return JSONResponse(copy.deepcopy(agent))
