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

from backend.kit.network_errors import bad_status, service_at, unreachable

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
        self._where = service_at("VAPI", base_url)
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
            raise VapiUnavailable(unreachable(self._where, exc, setting="VAPI_BASE_URL")) from exc
        status = response.status_code
        if status in (401, 403):
            raise InvalidKey("; ".join(_messages(response)))
        if status == 404:
            raise VapiNotFound("; ".join(_messages(response)))
        if status in (400, 422):
            raise VapiValidationError(_messages(response))
        if status >= 300:
            raise VapiUnavailable(bad_status("VAPI", status, "; ".join(_messages(response))))
        try:
            return response.json()
        except ValueError as exc:
            raise VapiUnavailable(
                "VAPI answered something that is not JSON. Check that VAPI_BASE_URL is its API"
                " address."
            ) from exc

    async def check_key(self) -> None:
        """The cheapest authenticated call: `InvalidKey` unless this is a private key."""
        await self._request("GET", "/assistant", params={"limit": 1})

    async def list_assistants(self) -> list[dict[str, Any]]:
        """Every assistant of the account (a sync deletes the local ones not listed: a page
        cut short would delete real assistants)."""
        return await self._walk_back("/assistant", {}, ASSISTANT_PAGE_LIMIT)

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
        """Every call created after `created_after`."""
        return await self._walk_back(
            "/call", {"createdAtGt": _stamp(created_after)}, CALL_PAGE_LIMIT
        )

    async def _walk_back(
        self, path: str, params: dict[str, Any], limit: int
    ) -> list[dict[str, Any]]:
        """All the items of a list endpoint, newest first. VAPI's lists have no cursor, so
        pages walk back in time with `createdAtLe` at the oldest item seen so far (`Le`, not
        `Lt`: items created in that same millisecond are not skipped; repeats are dropped).
        The walk ends on a page with nothing new, not on a short page: VAPI may cap `limit`
        below what was asked without saying so."""
        items: dict[str, dict[str, Any]] = {}
        params = {**params, "limit": limit}
        while True:
            body = await self._request("GET", path, params=params)
            if not isinstance(body, list):
                raise VapiUnavailable(f"VAPI answered an unexpected shape for GET {path}")
            page = [i for i in body if isinstance(i, dict) and i.get("id") and i.get("createdAt")]
            new = [i for i in page if str(i["id"]) not in items]
            items.update((str(i["id"]), i) for i in new)
            if not new:
                return list(items.values())
            params = {**params, "createdAtLe": min(str(i["createdAt"]) for i in page)}
