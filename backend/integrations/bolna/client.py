"""A thin client for Bolna's API (providers.md §9), with a workspace's API key.

`Authorization: Bearer <key>`; JSON in and out. Bolna refuses a bad key with 401 or 403 (its
docs and its live API disagree), with `{"detail": …}` or `{"error": <status>, "message": …}`
bodies; both come out as the exceptions below. Bolna's base URL is a platform setting, not a
tenant's: plain httpx.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from backend.kit.network_errors import bad_status, service_at, unreachable


class BolnaError(Exception):
    pass


class InvalidKey(BolnaError):
    """Bolna refused the API key (401 or 403)."""


class BolnaNotFound(BolnaError):
    """No such agent (or execution) on this Bolna account."""


class BolnaValidationError(BolnaError):
    """Bolna refused the request's content (400/422); the message is Bolna's own."""


class BolnaUnavailable(BolnaError):
    """Bolna could not be reached, or answered 429/5xx or something that is not JSON."""


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or f"HTTP {response.status_code}"
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}"
    detail = body.get("message") or body.get("detail")
    if isinstance(detail, list):  # FastAPI's validation errors: [{"loc": [...], "msg": ...}]
        return (
            "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
            or f"HTTP {response.status_code}"
        )
    return str(detail) if detail else f"HTTP {response.status_code}"


class BolnaClient:
    def __init__(self, api_key: str, *, base_url: str, timeout: float = 15.0) -> None:
        self._where = service_at("Bolna", base_url)
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            timeout=timeout,
            # httpx retries only a connection that could not be opened (connect error or
            # connect timeout): nothing was sent, so even `POST /call` cannot place a call
            # twice. Nothing is retried once a request went out, since a `POST /call` whose
            # answer was lost may well have placed the call: its caller decides.
            transport=httpx.AsyncHTTPTransport(retries=2),
        )

    async def __aenter__(self) -> BolnaClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._client.aclose()

    async def _request(self, method: str, path: str, *, json: Any = None) -> dict[str, Any]:
        try:
            response = await self._client.request(method, path, json=json)
        except httpx.HTTPError as exc:
            raise BolnaUnavailable(unreachable(self._where, exc, setting="BOLNA_BASE_URL")) from exc
        status = response.status_code
        if status in (401, 403):
            raise InvalidKey(_message(response))
        if status == 404:
            raise BolnaNotFound(_message(response))
        if status in (400, 422):
            raise BolnaValidationError(_message(response))
        if status >= 300:
            raise BolnaUnavailable(bad_status("Bolna", status, _message(response)))
        try:
            body = response.json()
        except ValueError as exc:
            raise BolnaUnavailable(
                "Bolna answered something that is not JSON. Check that BOLNA_BASE_URL is its API"
                " address."
            ) from exc
        if not isinstance(body, dict):
            raise BolnaUnavailable(f"Bolna answered an unexpected shape for {method} {path}")
        return body

    async def me(self) -> dict[str, Any]:
        """The account (`id`, `name`, `email`, `wallet`, `concurrency`): the key check."""
        return await self._request("GET", "/user/me")

    async def get_agent(self, agent_id: str) -> dict[str, Any]:
        return await self._request("GET", f"/v2/agent/{quote(agent_id, safe='')}")

    async def make_call(
        self,
        *,
        agent_id: str,
        recipient_phone_number: str,
        from_phone_number: str | None = None,
        user_data: dict[str, Any] | None = None,
    ) -> str:
        """Place one outbound call now; Bolna's execution id for it. Numbers are E.164;
        `user_data` fills the agent prompt's `{variables}`."""
        payload: dict[str, Any] = {
            "agent_id": agent_id,
            "recipient_phone_number": recipient_phone_number,
        }
        if from_phone_number:
            payload["from_phone_number"] = from_phone_number
        if user_data:
            payload["user_data"] = user_data
        body = await self._request("POST", "/call", json=payload)
        execution_id = body.get("execution_id")
        if not isinstance(execution_id, str) or not execution_id:
            raise BolnaUnavailable("Bolna accepted the call but answered no execution_id")
        return execution_id
