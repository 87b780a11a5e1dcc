"""The merchant's own product and order API (commerce document, section 3), as the bot's tools.

`GET {base}/api/get_products.php`, `/api/get_product.php?product_id=`, `/api/get_order.php?
order_id=` and `?phone=&limit=`, with `Authorization: Bearer <key>`. Calls go through the
SSRF-safe client: the base URL is the tenant's.
"""

from __future__ import annotations

from typing import Any

import httpx

from backend.kit.network_errors import service_at, unreachable
from backend.kit.safe_http import SafeHTTPClient, SafeHTTPError, UnsafeURLError


class CommerceError(Exception):
    pass


def _unreachable(exc: Exception, base_url: str) -> str:
    if isinstance(exc, UnsafeURLError):
        return f"the store's address is not allowed ({exc.reason})"
    return unreachable(service_at("the store", base_url), exc)


class CommerceClient:
    def __init__(self, http: SafeHTTPClient, *, base_url: str, api_key: str) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}

    async def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        query = {k: v for k, v in params.items() if v is not None and v != ""}
        try:
            response = await self._http.get(
                f"{self._base_url}{path}", headers=self._headers, params=query
            )
        except (SafeHTTPError, httpx.HTTPError) as exc:
            raise CommerceError(_unreachable(exc, self._base_url)) from exc
        if response.status_code == 404:
            return {"status": False, "message": "not found"}
        if response.status_code >= 400:
            raise CommerceError(f"the store answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise CommerceError("the store answered something that is not JSON") from exc
        if not isinstance(body, dict):
            raise CommerceError("the store answered an unexpected shape")
        return body

    async def search_products(self, **params: Any) -> dict[str, Any]:
        return await self._get("/api/get_products.php", params)

    async def product(self, product_id: str) -> dict[str, Any]:
        return await self._get("/api/get_product.php", {"product_id": product_id})

    async def order(self, order_id: str) -> dict[str, Any]:
        return await self._get("/api/get_order.php", {"order_id": order_id})

    async def orders_by_phone(self, phone: str, limit: int = 5) -> dict[str, Any]:
        return await self._get("/api/get_order.php", {"phone": phone, "limit": limit})
