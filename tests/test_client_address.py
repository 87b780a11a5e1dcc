"""Per-address limits count the address that connected, served as every mode serves the app
(`voxtro dev`, `voxtro serve`): an `X-Forwarded-For` header counts only from a configured proxy."""

from __future__ import annotations

import uuid

import httpx

from backend.app import create_app
from tests.conftest import make_settings
from tests.fixtures.servers import LiveServer


async def _statuses(url: str, forwarded_for: list[str]) -> list[int]:
    # A bot's public route counts each address on that bot before the bot is looked up.
    path = f"/api/widget/{uuid.uuid4()}/config"
    async with httpx.AsyncClient(base_url=url) as client:
        return [
            (await client.get(path, headers={"X-Forwarded-For": address})).status_code
            for address in forwarded_for
        ]


async def test_a_made_up_forwarded_address_does_not_dodge_the_per_ip_limit(database_url: str):
    settings = make_settings(database_url, rate_limit_bot_address="3/minute")
    with LiveServer(create_app(settings)) as server:
        statuses = await _statuses(server.url, [f"203.0.113.{i}" for i in range(1, 6)])
    assert statuses[:3] == [404, 404, 404]
    assert statuses[3:] == [429, 429]


async def test_the_forwarded_address_counts_from_a_configured_proxy(database_url: str):
    # The test client connects from 127.0.0.1: here that is our proxy.
    settings = make_settings(
        database_url, rate_limit_bot_address="3/minute", trusted_proxies="127.0.0.1"
    )
    with LiveServer(create_app(settings)) as server:
        statuses = await _statuses(server.url, [f"203.0.113.{i}" for i in range(1, 6)])
        assert statuses == [404] * 5  # five clients, one request each
        # The client's own additions to the header do not make it someone else.
        spoofed = await _statuses(server.url, [f"6.6.6.{i}, 198.51.100.7" for i in range(5)])
    assert spoofed == [404, 404, 404, 429, 429]
