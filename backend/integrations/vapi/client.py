"""A thin client for VAPI's server API (providers.md §2), with a workspace's private key.

`Authorization: Bearer <private key>`; list and update assistants, list phone numbers and calls.
List endpoints answer bare JSON arrays. Errors are NestJS-shaped
`{"message": str | [str], "error": "Bad Request", "statusCode": 400}` and come out as the
exceptions below. VAPI's base URL is a platform setting, not a tenant's: plain httpx.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

# VAPI keys look like UUIDs (providers.md §2; `pk_`/`sk_` prefixes are unverified).
_KEY_FORMAT = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)

# `GET /assistant` and `GET /call` return at most `limit` (default 100); the maximum is not
# documented.
ASSISTANT_PAGE_LIMIT = 1000
CALL_PAGE_LIMIT = 100


class VapiError(Exception):
    pass


class InvalidKey(VapiError):
    """VAPI refused the key (401/403): wrong key, or a public key where a private one goes."""


class VapiNotFound(VapiError):
    pass


class VapiValidationError(VapiError):
    """VAPI refused the request's content (400/422); `messages` are VAPI's own."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        super().__init__("; ".join(messages))


class VapiUnavailable(VapiError):
    """VAPI could not be reached, or answered 429/5xx or something that is not JSON."""


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def looks_like_key(key: str) -> bool:
    return bool(_KEY_FORMAT.match(key))


def _messages(response: httpx.Response) -> list[str]:
    try:
        body = response.json()
    except ValueError:
        return [response.text[:500] or f"HTTP {response.status_code}"]
    message = body.get("message") if isinstance(body, dict) else None
    if isinstance(message, list):
        return [str(m) for m in message] or [f"HTTP {response.status_code}"]
    if message:
        return [str(message)]
    return [f"HTTP {response.status_code}"]


class VapiClient:
    def __init__(self, private_key: str, *, base_url: str, timeout: float = 15.0) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {private_key}", "Accept": "application/json"},
            timeout=timeout,
        )

    async def __aenter__(self) -> VapiClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._client.aclose()

    async def _request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None
    ) -> Any:
        try:
            response = await self._client.request(method, path, params=params, json=json)
        except httpx.HTTPError as exc:
            raise VapiUnavailable(f"VAPI could not be reached: {exc}") from exc
        status = response.status_code
        if status in (401, 403):
            raise InvalidKey("; ".join(_messages(response)))
        if status == 404:
            raise VapiNotFound("; ".join(_messages(response)))
        if status in (400, 422):
            raise VapiValidationError(_messages(response))
        if status >= 300:
            raise VapiUnavailable(f"VAPI answered HTTP {status}: {'; '.join(_messages(response))}")
        try:
            return response.json()
        except ValueError as exc:
            raise VapiUnavailable("VAPI answered something that is not JSON") from exc

    async def check_key(self) -> None:
        """The cheapest authenticated call: `InvalidKey` unless this is a private key."""
        await self._request("GET", "/assistant", params={"limit": 1})

    async def list_assistants(self) -> list[dict[str, Any]]:
        body = await self._request("GET", "/assistant", params={"limit": ASSISTANT_PAGE_LIMIT})
        if not isinstance(body, list):
            raise VapiUnavailable("VAPI answered an unexpected shape for GET /assistant")
        return [a for a in body if isinstance(a, dict) and a.get("id")]

    async def update_assistant(self, assistant_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """PATCH: whether VAPI merges nested objects is unverified, so callers send whole
        `voice` / `model` objects."""
        body = await self._request(
            "PATCH", f"/assistant/{quote(assistant_id, safe='')}", json=changes
        )
        if not isinstance(body, dict):
            raise VapiUnavailable("VAPI answered an unexpected shape for PATCH /assistant/{id}")
        return body

    async def list_phone_numbers(self) -> list[dict[str, Any]]:
        body = await self._request("GET", "/phone-number")
        if not isinstance(body, list):
            raise VapiUnavailable("VAPI answered an unexpected shape for GET /phone-number")
        return [n for n in body if isinstance(n, dict)]

    async def list_calls(self, created_after: datetime) -> list[dict[str, Any]]:
        """Every call created after `created_after`, newest first. `GET /call` has no cursor,
        so pages walk back in time with `createdAtLe` at the oldest call seen so far (`Le`, not
        `Lt`: calls created in that same millisecond are not skipped; repeats are dropped)."""
        calls: dict[str, dict[str, Any]] = {}
        params = {"limit": CALL_PAGE_LIMIT, "createdAtGt": _stamp(created_after)}
        while True:
            body = await self._request("GET", "/call", params=params)
            if not isinstance(body, list):
                raise VapiUnavailable("VAPI answered an unexpected shape for GET /call")
            page = [c for c in body if isinstance(c, dict) and c.get("id") and c.get("createdAt")]
            new = [c for c in page if str(c["id"]) not in calls]
            calls.update((str(c["id"]), c) for c in new)
            if len(body) < CALL_PAGE_LIMIT or not new:
                return list(calls.values())
            params = {**params, "createdAtLe": min(str(c["createdAt"]) for c in page)}
