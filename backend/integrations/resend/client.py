"""A thin client for Resend's e-mail API (providers.md §6)."""

from __future__ import annotations

from typing import Any

import httpx


class ResendError(Exception):
    def __init__(self, status_code: int, name: str, message: str) -> None:
        self.status_code = status_code
        self.name = name
        super().__init__(f"{status_code} {name}: {message}")

    @property
    def retryable(self) -> bool:
        return self.status_code == 429 or self.status_code >= 500


class ResendClient:
    def __init__(self, api_key: str, *, base_url: str = "https://api.resend.com") -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            timeout=15,
        )

    async def __aenter__(self) -> ResendClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._client.aclose()

    async def send_email(
        self,
        *,
        sender: str,
        to: list[str],
        subject: str,
        html: str,
        text: str,
        idempotency_key: str,
    ) -> str:
        """Send one e-mail; returns Resend's id. The idempotency key makes a retried job send
        the e-mail once."""
        payload: dict[str, Any] = {
            "from": sender,
            "to": to,
            "subject": subject,
            "html": html,
            "text": text,
        }
        response = await self._client.post(
            "/emails", json=payload, headers={"Idempotency-Key": idempotency_key}
        )
        if response.status_code != 200:
            try:
                body = response.json()
            except ValueError:
                body = None
            if not isinstance(body, dict):
                body = {}
            raise ResendError(
                response.status_code, str(body.get("name", "error")), str(body.get("message", ""))
            )
        return str(response.json()["id"])
