"""Broken object-level authorization, checked route by route: two workspaces, two customers
each; nobody reaches another's customers, tickets, conversations or leads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.customers.test_customers import Customer, add_customer
from tests.fixtures.factories import create_admin, create_chatbot


@dataclass
class World:
    admins: list[Any]
    customers: list[list[Customer]]  # per workspace
    tickets: list[list[str]]  # per workspace: one ticket per customer
    conversations: list[list[str]]  # per workspace: one portal conversation per customer


@pytest.fixture
async def world(client, anon_key) -> World:
    admins = [await create_admin(client, anon_key, f"bola{n}") for n in range(2)]
    customers, tickets, conversations = [], [], []
    for admin in admins:
        bot = await create_chatbot(client, admin)
        mine, their_tickets, their_conversations = [], [], []
        for _ in range(2):
            customer = await add_customer(client, admin, anon_key)
            ticket = await client.post(
                "/api/customers/portal/tickets", headers=customer.headers, json={"subject": "Help"}
            )
            said = await client.post(
                "/api/chat/message",
                headers=customer.headers,
                json={"chatbot_id": bot["id"], "visitor_id": "tab", "message": "I'm x@example.com"},
            )
            mine.append(customer)
            their_tickets.append(ticket.json()["id"])
            their_conversations.append(said.json()["conversation_id"])
        customers.append(mine)
        tickets.append(their_tickets)
        conversations.append(their_conversations)
    return World(admins, customers, tickets, conversations)


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
