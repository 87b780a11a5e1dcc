"""Broken object-level authorization, checked route by route: nobody reaches another
workspace's customers, tickets, conversations or leads (the portal's side: tests/portal)."""

from __future__ import annotations

import pytest

from tests.fixtures.bola import World, build_world


@pytest.fixture
async def world(client, anon_key) -> World:
    return await build_world(client, anon_key)


async def test_admins_reach_only_their_workspace(client, world):
    intruder = world.admins[1].headers
    victim_customer = world.customers[0][0]
    victim_ticket = world.tickets[0][0]
    victim_conversation = world.conversations[0][0]
    for method, url, kwargs in [
        ("get", f"/api/customers/{victim_customer.id}/conversations", {}),
        (
            "post",
            "/api/customers/tickets",
            {"json": {"customer_id": victim_customer.id, "subject": "x"}},
        ),
        ("patch", f"/api/customers/tickets/{victim_ticket}", {"json": {"status": "closed"}}),
        ("post", "/api/leads/extract", {"params": {"conversation_id": victim_conversation}}),
    ]:
        response = await getattr(client, method)(url, headers=intruder, **kwargs)
        assert response.status_code == 404, (method, url, response.text)
    for url in ("/api/customers", "/api/customers/tickets"):
        listed = (await client.get(url, headers=intruder)).json()["data"]
        assert {row["id"] for row in listed}.isdisjoint(
            {c.id for c in world.customers[0]} | set(world.tickets[0])
        ), url
    batch = await client.post(
        "/api/leads/extract-batch",
        headers=intruder,
        params={"chatbot_id": "00000000-0000-0000-0000-000000000000"},
    )
    assert batch.json()["conversations_processed"] == 0
