"""A thin client for ElevenLabs' API (providers.md §3), with a workspace's API key.

`xi-api-key: <key>`; the account (`/v1/user`), and list, get and update conversational agents.
Errors are FastAPI-shaped: `{"detail": {"status": "<code>", "message": …}}`, a plain string, or
a 422 list `[{"loc": [...], "msg": …}]`; they come out as the exceptions below. ElevenLabs'
base URL is a platform setting, not a tenant's: plain httpx.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from backend.kit.network_errors import bad_status, service_at, unreachable

AGENT_PAGE_SIZE = 100  # the most `GET /v1/convai/agents` returns in one page


class ElevenLabsError(Exception):
    pass


class InvalidKey(ElevenLabsError):
    """ElevenLabs does not know this key (401 `invalid_api_key`, or a 401/403 without a code)."""


class MissingPermissions(ElevenLabsError):
    """A real key, scoped without a permission this call needs (`missing_permissions`)."""


class ElevenLabsNotFound(ElevenLabsError):
    pass


class ElevenLabsValidationError(ElevenLabsError):
    """ElevenLabs refused the request's content (400/422): `problems` are (field path, message),
    the path in ElevenLabs' names (`conversation_config.agent.language`)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems))


class ElevenLabsUnavailable(ElevenLabsError):
    """Unreachable, 429/5xx, a refusal that is not about the key (`quota_exceeded`), or an
    answer that is not the JSON we expect."""


def _detail(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or f"HTTP {response.status_code}"
    return body.get("detail", body) if isinstance(body, dict) else body


def _message(detail: Any) -> str:
    if isinstance(detail, dict):
        return str(detail.get("message") or detail.get("status") or detail)
    if isinstance(detail, list):
        return "; ".join(message for _, message in _problems(detail))
    return str(detail)


def _problems(detail: Any) -> list[tuple[str, str]]:
    if not isinstance(detail, list):
        return [("body", _message(detail))]
    problems = []
    for item in detail:
        if not isinstance(item, dict):
            continue
        loc = [str(part) for part in item.get("loc") or []]
        if loc and loc[0] in {"body", "query", "path"}:
            loc = loc[1:]
        problems.append((".".join(loc) or "body", str(item.get("msg") or "invalid value")))
    return problems or [("body", "invalid request")]


class ElevenLabsClient:
    def __init__(self, api_key: str, *, base_url: str, timeout: float = 15.0) -> None:
        self._where = service_at("ElevenLabs", base_url)
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"xi-api-key": api_key, "Accept": "application/json"},
            timeout=timeout,
        )

    async def __aenter__(self) -> ElevenLabsClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._client.aclose()

    async def _request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None
    ) -> dict[str, Any]:
        try:
            response = await self._client.request(method, path, params=params, json=json)
        except httpx.HTTPError as exc:
            raise ElevenLabsUnavailable(
                unreachable(self._where, exc, setting="ELEVENLABS_BASE_URL")
            ) from exc
        status = response.status_code
        if status in (401, 403):
            detail = _detail(response)
            code = detail.get("status") if isinstance(detail, dict) else None
            if code == "missing_permissions":
                raise MissingPermissions(_message(detail))
            if code in (None, "invalid_api_key"):
                raise InvalidKey(_message(detail))
            raise ElevenLabsUnavailable(f"ElevenLabs refused the request: {_message(detail)}")
        if status == 404:
            raise ElevenLabsNotFound(_message(_detail(response)))
        if status in (400, 422):
            raise ElevenLabsValidationError(_problems(_detail(response)))
        if status >= 300:
            raise ElevenLabsUnavailable(
                bad_status("ElevenLabs", status, _message(_detail(response)))
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise ElevenLabsUnavailable(
                "ElevenLabs answered something that is not JSON. Check that ELEVENLABS_BASE_URL"
                " is its API address."
            ) from exc
        if not isinstance(body, dict):
            raise ElevenLabsUnavailable(f"ElevenLabs answered an unexpected shape for {path}")
        return body

    async def get_user(self) -> dict[str, Any]:
        """The account, with its `subscription`; needs the `user_read` permission."""
        return await self._request("GET", "/v1/user")

    async def get_subscription(self) -> dict[str, Any]:
        return await self._request("GET", "/v1/user/subscription")

    async def list_agents(self) -> list[dict[str, Any]]:
        """Every agent summary (`agent_id`, `name`, `archived`, …), following the cursor."""
        agents: list[dict[str, Any]] = []
        params: dict[str, Any] = {"page_size": AGENT_PAGE_SIZE}
        seen: set[str] = set()
        while True:
            page = await self._request("GET", "/v1/convai/agents", params=params)
            agents.extend(
                a for a in page.get("agents") or [] if isinstance(a, dict) and a.get("agent_id")
            )
            cursor = page.get("next_cursor")
            # A cursor seen before would loop forever: stop rather than trust `has_more`.
            if not page.get("has_more") or not isinstance(cursor, str) or cursor in seen:
                return agents
            seen.add(cursor)
            params = {"page_size": AGENT_PAGE_SIZE, "cursor": cursor}

    async def get_agent(self, agent_id: str) -> dict[str, Any]:
        return await self._request("GET", f"/v1/convai/agents/{quote(agent_id, safe='')}")

    async def update_agent(self, agent_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """PATCH the agent with `changes`. Whether ElevenLabs merges the nested objects of a
        PATCH or replaces them is unverified (providers.md §3): callers send every nested
        object they touch whole (read with `get_agent` first), and take the agent it answers
        (the whole agent as it now is) as the truth."""
        return await self._request(
            "PATCH", f"/v1/convai/agents/{quote(agent_id, safe='')}", json=changes
        )
