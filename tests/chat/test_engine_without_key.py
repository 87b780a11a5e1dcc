"""A bot is useful before any model key is added: FAQs, the knowledge base, and a plain
'I can't' when it has nothing."""

from __future__ import annotations

from tests.fixtures.factories import add_faq, chat, create_chatbot

KNOWLEDGE = """Source: https://shop.example.com/shipping
# Shipping
We ship to every city in India within 3 to 5 working days. Express delivery takes one day.

Source: https://shop.example.com/returns
# Returns
Unworn items can be returned within 14 days for a full refund
to the original payment method.
"""


async def test_faq_answers_its_question_and_variants(client, admin, fake_openai):
    bot = await create_chatbot(client, admin)
    await add_faq(
        client,
        admin,
        bot["id"],
        "What are your business hours?",
        "We're open 9 AM to 6 PM, Monday through Saturday.",
        ["When do you open?"],
    )
    for question in ("What are your business hours?", "when do you open"):
        response = await chat(client, bot["id"], question)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["message"] == "We're open 9 AM to 6 PM, Monday through Saturday."
        assert body["source"] == "faq" and body["actions"] == []
    assert fake_openai.requests == []  # no model was asked


async def test_knowledge_answers_with_the_passage_and_its_link(client, admin, fake_openai):
    bot = await create_chatbot(client, admin, knowledge_base=KNOWLEDGE)
    body = (await chat(client, bot["id"], "How many days do returns take for a refund?")).json()
    assert body["source"] == "knowledge"
    # The passage reads as its paragraph, however the source wrapped its lines.
    assert "within 14 days for a full refund to the original payment method." in body["message"]
    assert "https://shop.example.com/returns" in body["message"]
    assert body["citations"][0] == {"title": "Returns", "url": "https://shop.example.com/returns"}


async def test_says_plainly_when_it_cannot_answer(client, admin):
    bot = await create_chatbot(client, admin, knowledge_base=KNOWLEDGE)
    await client.put(
        "/api/business/ai-config",
        headers=admin.headers,
        json={"fallbackMessage": "I can't answer that; a colleague will get back to you."},
    )
    body = (await chat(client, bot["id"], "Do you sell bicycles?")).json()
    assert body["source"] == "fallback"
    # The workspace's words, then what the bot can help with (its knowledge's pages here).
    said, offered = body["message"].split("\n\n")
    assert said == "I can't answer that; a colleague will get back to you."
    assert offered == "I can help with questions such as:\n- Returns\n- Shipping"


async def test_a_conversation_continues_and_is_stored(client, context, admin):
    bot = await create_chatbot(client, admin)
    await add_faq(client, admin, bot["id"], "Do you deliver?", "Yes, everywhere.")
    first = (await chat(client, bot["id"], "Do you deliver?")).json()
    second = (
        await chat(client, bot["id"], "Do you deliver?", conversation_id=first["conversation_id"])
    ).json()
    assert second["conversation_id"] == first["conversation_id"]
    async with context.db.system() as conn:
        conversation = await (
            await conn.execute(
                "select message_count, channel, status, visitor_id from conversations where id = %s",
                (first["conversation_id"],),
            )
        ).fetchone()
        roles = [
            r["role"]
            for r in await (
                await conn.execute(
                    "select role from messages where conversation_id = %s order by created_at",
                    (first["conversation_id"],),
                )
            ).fetchall()
        ]
    assert conversation == {
        "message_count": 4,
        "channel": "widget",
        "status": "active",
        "visitor_id": "visitor-1",
    }
    assert roles == ["user", "assistant", "user", "assistant"]


async def test_bad_input_changes_nothing(client, context, admin, other_admin):
    bot = await create_chatbot(client, admin)
    theirs = await create_chatbot(client, other_admin)
    their_conversation = (await chat(client, theirs["id"], "hello", visitor_id="v")).json()[
        "conversation_id"
    ]
    mine = (await chat(client, bot["id"], "hello", visitor_id="v")).json()["conversation_id"]
    inactive = await create_chatbot(client, admin, is_active=False)

    cases = [
        ({"chatbot_id": "00000000-0000-0000-0000-000000000000"}, 404),
        ({"chatbot_id": inactive["id"]}, 404),
        ({"conversation_id": their_conversation}, 404),  # another workspace's conversation
        ({"conversation_id": mine, "visitor_id": "someone-else"}, 404),  # another visitor's
        ({"message": ""}, 400),
        ({"message": "x" * 20_000}, 400),
        ({"visitor_id": ""}, 400),
    ]
    async with context.db.system() as conn:
        before = (await (await conn.execute("select count(*) as n from messages")).fetchone())["n"]
    for change, status in cases:
        body = {"chatbot_id": bot["id"], "visitor_id": "v", "message": "hello", **change}
        response = await client.post("/api/chat/message", json=body)
        assert response.status_code == status, (change, response.text)
        assert response.json()["success"] is False
    async with context.db.system() as conn:
        after = (await (await conn.execute("select count(*) as n from messages")).fetchone())["n"]
    assert after == before


async def test_messages_are_limited_per_visitor(client, database_url, anon_key):
    import httpx

    from backend.app import create_app
    from tests.conftest import make_settings
    from tests.fixtures.factories import create_admin

    app = create_app(make_settings(database_url, rate_limit_chat_visitor="2/minute"))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):
        admin = await create_admin(c, anon_key)
        bot = await create_chatbot(c, admin)
        assert (await chat(c, bot["id"], "one")).status_code == 200
        assert (await chat(c, bot["id"], "two")).status_code == 200
        limited = await chat(c, bot["id"], "three")
        assert limited.status_code == 429
        assert limited.json()["code"] == "RATE_LIMIT_EXCEEDED"
        assert (await chat(c, bot["id"], "three", visitor_id="another")).status_code == 200
