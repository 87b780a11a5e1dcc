"""Lead extraction through the API: one conversation, a batch, the list; with and without a
model, which may not invent what the visitor did not write."""

from __future__ import annotations

import json

from tests.fakes.openai import Reply
from tests.fixtures.factories import add_faq, chat, connect_openai, create_api_key, create_chatbot


async def conversation(client, bot_id, *messages, visitor="v1"):
    conversation_id = None
    for text in messages:
        response = await chat(
            client, bot_id, text, visitor_id=visitor, conversation_id=conversation_id
        )
        assert response.status_code == 200, response.text
        conversation_id = response.json()["conversation_id"]
    return conversation_id


async def test_without_a_model_the_parsers_find_the_visitors_details(client, admin):
    bot = await create_chatbot(client, admin)
    await add_faq(client, admin, bot["id"], "How do I contact you?", "Mail support@chicx.example.")
    conversation_id = await conversation(
        client,
        bot["id"],
        "How do I contact you?",
        "I'm Priya Raman from Raman Silks, my email is priya@gmial.com",
        "sorry, priya@gmail.com, and my number is +91 98765 43210",
    )
    response = await client.post(
        "/api/leads/extract", headers=admin.headers, params={"conversation_id": conversation_id}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True and body["leads_found"] == 1 and body["lead_id"]
    assert body["lead_info"] == {
        "name": "Priya Raman",
        "email": "priya@gmail.com",  # corrected, and not the bot's address
        "phone": "+919876543210",
        "company": "Raman Silks",
        "notes": None,
    }
    leads = (await client.get("/api/leads", headers=admin.headers)).json()["leads"]
    assert [(lead["email"], lead["conversation_id"], lead["chatbot_id"]) for lead in leads] == [
        ("priya@gmail.com", conversation_id, bot["id"])
    ]
    # The lead is a customer too.
    customers = (await client.get("/api/customers", headers=admin.headers)).json()["data"]
    assert [(c["name"], c["email"], c["isVerified"]) for c in customers] == [
        ("Priya Raman", "priya@gmail.com", False)
    ]


async def test_a_batch_reads_each_conversation_once_and_merges_people(client, admin):
    bot = await create_chatbot(client, admin)
    await conversation(client, bot["id"], "Hi, I'm Arjun, arjun@example.com", visitor="a")
    await conversation(client, bot["id"], "Just browsing, thanks", visitor="b")
    await conversation(
        client, bot["id"], "arjun@example.com again, call +1 415 555 2671", visitor="c"
    )
    first = await client.post(
        "/api/leads/extract-batch", headers=admin.headers, params={"chatbot_id": bot["id"]}
    )
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["conversations_processed"], body["leads_extracted"]) == (3, 2)
    second = await client.post(
        "/api/leads/extract-batch", headers=admin.headers, params={"chatbot_id": bot["id"]}
    )
    assert (second.json()["conversations_processed"], second.json()["leads_extracted"]) == (0, 0)
    [lead] = (await client.get("/api/leads", headers=admin.headers)).json()["leads"]
    assert (lead["name"], lead["email"], lead["phone"]) == (
        "Arjun",
        "arjun@example.com",
        "+14155552671",
    )
    too_many = await client.post(
        "/api/leads/extract-batch",
        headers=admin.headers,
        params={"chatbot_id": bot["id"], "limit": 1000},
    )
    assert too_many.status_code == 400


async def test_the_model_reads_but_cannot_invent(client, context, admin, fake_openai):
    await connect_openai(client, admin, fake_openai.key)
    bot = await create_chatbot(client, admin)
    conversation_id = await conversation(
        client, bot["id"], "Hello, Meera here from Lotus Weaves. Reach me at meera@lotus.example"
    )
    fake_openai.reset()
    fake_openai.script(
        Reply(
            content=json.dumps(
                {
                    "name": "Meera",
                    "email": "meera@lotus.example",
                    "phone": "+91 99999 88888",  # never written by the visitor
                    "company": "Lotus Weaves",
                    "notes": "Wants a wholesale quote",
                }
            )
        )
    )
    body = (
        await client.post(
            "/api/leads/extract",
            headers=admin.headers,
            params={"conversation_id": conversation_id},
        )
    ).json()
    assert body["lead_info"] == {
        "name": "Meera",
        "email": "meera@lotus.example",
        "phone": None,
        "company": "Lotus Weaves",
        "notes": "Wants a wholesale quote",
    }
    [request] = fake_openai.chat_requests
    assert request["response_format"]["type"] == "json_schema"
    assert "meera@lotus.example" in request["messages"][-1]["content"]
    async with context.db.system() as conn:
        usage = await (
            await conn.execute("select count(*) as n from token_usage where channel = 'LEADS'")
        ).fetchone()
    assert usage["n"] == 1


async def test_leads_are_the_workspaces_own(client, admin, other_admin):
    bot = await create_chatbot(client, admin)
    conversation_id = await conversation(client, bot["id"], "I'm Ravi, ravi@example.com")
    stranger = await client.post(
        "/api/leads/extract",
        headers=other_admin.headers,
        params={"conversation_id": conversation_id},
    )
    assert stranger.status_code == 404
    await client.post(
        "/api/leads/extract", headers=admin.headers, params={"conversation_id": conversation_id}
    )
    assert (await client.get("/api/leads", headers=other_admin.headers)).json()["leads"] == []
    key = await create_api_key(client, admin)
    by_key = await client.get("/api/leads", headers={"X-API-Key": key["key"]})
    assert [lead["email"] for lead in by_key.json()["leads"]] == ["ravi@example.com"]


async def test_two_batches_at_once_read_each_conversation_once(client, admin):
    import asyncio

    bot = await create_chatbot(client, admin)
    for n in range(6):
        await conversation(
            client, bot["id"], f"I'm Guest{n}, guest{n}@example.com", visitor=f"v{n}"
        )

    async def batch():
        return await client.post(
            "/api/leads/extract-batch",
            headers=admin.headers,
            params={"chatbot_id": bot["id"], "limit": 6},
        )

    first, second = await asyncio.gather(batch(), batch())
    processed = first.json()["conversations_processed"] + second.json()["conversations_processed"]
    assert processed == 6
    leads = (await client.get("/api/leads", headers=admin.headers)).json()["leads"]
    assert sorted(lead["email"] for lead in leads) == [f"guest{n}@example.com" for n in range(6)]


async def test_a_workspace_out_of_budget_gets_the_parsers_reading_only(
    client, context, admin, fake_openai
):
    await connect_openai(client, admin, fake_openai.key)
    bot = await create_chatbot(client, admin)
    conversation_id = await conversation(client, bot["id"], "Ravi here, ravi@example.com")
    await client.put("/api/business/credits", headers=admin.headers, json={"monthlyBudget": 0})
    fake_openai.reset()
    body = (
        await client.post(
            "/api/leads/extract",
            headers=admin.headers,
            params={"conversation_id": conversation_id},
        )
    ).json()
    assert body["lead_info"]["email"] == "ravi@example.com"
    assert fake_openai.chat_requests == []  # the model was not asked


async def extract(client, admin, conversation_id):
    response = await client.post(
        "/api/leads/extract", headers=admin.headers, params={"conversation_id": conversation_id}
    )
    assert response.status_code == 200, response.text
    return response.json()["lead_info"]


async def set_country(client, admin, country):
    response = await client.patch(
        "/api/business/me", headers=admin.headers, json={"country": country}
    )
    assert response.status_code == 200, response.text


async def test_a_national_number_is_read_in_the_workspaces_country(client, admin):
    bot = await create_chatbot(client, admin)
    said = "I'm Helen Price, call me on 020 7946 0958"
    # No country and no phone of the workspace: the number is kept as the visitor wrote it
    # (it used to be dropped), and does not make a customer.
    before = await extract(client, admin, await conversation(client, bot["id"], said, visitor="a"))
    assert (before["name"], before["phone"]) == ("Helen Price", "020 7946 0958")
    customers = (await client.get("/api/customers", headers=admin.headers)).json()["data"]
    assert customers == []

    await set_country(client, admin, "GB")
    lead = await extract(client, admin, await conversation(client, bot["id"], said, visitor="b"))
    assert lead["phone"] == "+442079460958"
    customers = (await client.get("/api/customers", headers=admin.headers)).json()["data"]
    assert [(c["name"], c["phone"]) for c in customers] == [("Helen Price", "+442079460958")]

    # Another country's national format, said to be one: read in that country.
    other = await conversation(
        client, bot["id"], "Alex Moore, my US cell is (415) 555-2671", visitor="c"
    )
    assert (await extract(client, admin, other))["phone"] == "+14155552671"


async def test_the_visitors_correction_wins(client, admin):
    bot = await create_chatbot(client, admin)
    await set_country(client, admin, "IN")
    conversation_id = await conversation(
        client,
        bot["id"],
        "My name is Sanjay Iyer, my number is 98765 43210, email sanjay@example.in",
        "Actually no, use 98401 23456 instead of 98765 43210, and sanjay.iyer@example.in,"
        " not sanjay@example.in",
    )
    lead = await extract(client, admin, conversation_id)
    assert (lead["name"], lead["phone"], lead["email"]) == (
        "Sanjay Iyer",
        "+919840123456",
        "sanjay.iyer@example.in",
    )
