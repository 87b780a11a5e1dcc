"""Broken object-level authorization in the portal: a customer reaches only their own
conversations and tickets, and no admin route."""

from __future__ import annotations

import pytest

from tests.fixtures.bola import World, build_world


@pytest.fixture
async def world(client, anon_key) -> World:
    return await build_world(client, anon_key)


@pytest.mark.parametrize("victim", [(0, 1), (1, 0)], ids=["same-workspace", "other-workspace"])
async def test_customers_reach_only_their_own(client, world, victim):
    me = world.customers[0][0]
    workspace, index = victim
    their_conversation = world.conversations[workspace][index]
    response = await client.get(
        f"/api/customers/portal/conversations/{their_conversation}/messages", headers=me.headers
    )
    assert response.status_code == 404
    for url, key in (
        ("/api/customers/portal/conversations", "data"),
        ("/api/customers/portal/tickets", "data"),
    ):
        ids = {row["id"] for row in (await client.get(url, headers=me.headers)).json()[key]}
        assert ids == {world.conversations[0][0]} or ids == {world.tickets[0][0]}, url
    opened = await client.post(
        "/api/customers/portal/tickets",
        headers=me.headers,
        json={"subject": "x", "conversation_id": their_conversation},
    )
    assert opened.status_code == 404
    # Customer tokens open no admin route.
    for method, url in (
        ("get", "/api/customers"),
        ("get", "/api/customers/tickets"),
        ("get", "/api/leads"),
        ("post", f"/api/leads/extract?conversation_id={their_conversation}"),
        ("get", f"/api/customers/{world.customers[workspace][index].id}/conversations"),
    ):
        response = await getattr(client, method)(url, headers=me.headers)
        assert response.status_code == 403, (method, url)
