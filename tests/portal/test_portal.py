"""The customer portal: a customer sees their own profile, agents, conversations and tickets,
and nothing else; the portal is for customer tokens only."""

from __future__ import annotations

from tests.fixtures.factories import add_customer, create_chatbot


async def test_a_customer_sees_only_their_own(client, admin, other_admin, anon_key, customer):
    other = await add_customer(client, admin, anon_key)
    theirs = await client.post(
        "/api/customers/portal/tickets", headers=other.headers, json={"subject": "Mine"}
    )
    assert theirs.status_code == 201
    assert (await client.get("/api/customers/portal/tickets", headers=customer.headers)).json()[
        "data"
    ] == []
    # Admin routes are not for customers, the portal is not for admins.
    assert (await client.get("/api/customers", headers=customer.headers)).status_code == 403
    assert (await client.get("/api/customers/portal/me", headers=admin.headers)).status_code == 403
    assert (await client.get("/api/customers/portal/me")).status_code == 401
    # Another workspace's admin cannot reach this workspace's customers.
    stranger = await client.post(
        "/api/customers/tickets",
        headers=other_admin.headers,
        json={"customer_id": customer.id, "subject": "x"},
    )
    assert stranger.status_code == 404
    assert (await client.get("/api/customers", headers=other_admin.headers)).json()["data"] == []


async def test_the_portal_offers_the_customers_bots(client, context, admin, anon_key):
    support = await create_chatbot(
        client, admin, name="Support", theme={"avatar": "https://x.example/a.png"}
    )
    await create_chatbot(client, admin, name="Sales")
    everything = await add_customer(client, admin, anon_key)
    one = await add_customer(client, admin, anon_key, chatbot_id=support["id"])
    async with context.db.system() as conn:  # as a VAPI sync stores them (tests/voice)
        await conn.execute(
            "insert into voice_assistants (workspace_id, vapi_id, name, phone_number) values"
            " (%s, 'asst_1', 'Phone Support', '+14155552671'), (%s, 'asst_2', 'Draft', null)",
            (admin.workspace_id, admin.workspace_id),
        )
    offered = (await client.get("/api/customers/portal/agents", headers=everything.headers)).json()
    assert sorted(b["name"] for b in offered["chatbots"]) == ["Sales", "Support"]
    assert offered["voice_assistants"] == [
        {"id": "asst_1", "name": "Phone Support", "phone_number": "+14155552671"}
    ]
    assert offered["whatsapp_agents"] == []
    only = (await client.get("/api/customers/portal/agents", headers=one.headers)).json()
    assert only["chatbots"] == [
        {
            "id": support["id"],
            "name": "Support",
            "avatar_url": "https://x.example/a.png",
            "first_message": support["first_message"],
            "is_active": True,
        }
    ]


async def test_a_portal_customers_chats_are_theirs_to_read(client, admin, anon_key, customer):
    bot = await create_chatbot(client, admin)
    answer = await client.post(
        "/api/chat/message",
        headers=customer.headers,
        json={"chatbot_id": bot["id"], "visitor_id": "portal-tab", "message": "Hello there"},
    )
    assert answer.status_code == 200, answer.text
    conversation_id = answer.json()["conversation_id"]
    listed = (
        await client.get("/api/customers/portal/conversations", headers=customer.headers)
    ).json()
    assert [(c["id"], c["channel"], c["messageCount"]) for c in listed["data"]] == [
        (conversation_id, "PORTAL", 2)
    ]
    messages = await client.get(
        f"/api/customers/portal/conversations/{conversation_id}/messages", headers=customer.headers
    )
    assert [m["role"] for m in messages.json()["data"]] == ["user", "assistant"]
    # The admin sees it under the customer; another customer and an anonymous visitor's chat
    # do not show up.
    other = await add_customer(client, admin, anon_key)
    assert (
        await client.get(
            f"/api/customers/portal/conversations/{conversation_id}/messages",
            headers=other.headers,
        )
    ).status_code == 404
    await client.post(
        "/api/chat/message",
        json={"chatbot_id": bot["id"], "visitor_id": "anonymous", "message": "Hi"},
    )
    seen = await client.get(f"/api/customers/{customer.id}/conversations", headers=admin.headers)
    assert [c["id"] for c in seen.json()["data"]] == [conversation_id]
    assert seen.json()["pagination"]["limit"] == 10
    customers = (await client.get("/api/customers", headers=admin.headers)).json()["data"]
    assert next(c for c in customers if c["id"] == customer.id)["lastInteraction"] is not None
