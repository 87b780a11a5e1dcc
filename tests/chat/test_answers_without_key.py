"""Without a model key a bot understands ordinary questions: the ways people ask an FAQ, a
greeting or a thank-you, a page found by one rare word or another name for the thing, and a
plain 'here is what I can help with' for what it does not know (never an FAQ that merely shares
a word)."""

from __future__ import annotations

from uuid import UUID

from backend.seed import DEMO_BOT, seed_demo
from tests.fixtures.factories import add_faq, chat, create_admin, create_chatbot

SHOP_FAQS = [
    ("What are your opening hours?", "We're open 9 am to 6 pm, Monday to Saturday."),
    ("How long does delivery take?", "Orders arrive in three to five working days."),
    ("Do you ship to Australia?", "Yes, to Australia and New Zealand in ten days."),
    ("Can I pay cash on delivery?", "Yes, for orders up to 10,000 rupees."),
]

SITE = """Source: https://brisa.example/fan
# Zephyr tower fan
The Zephyr is a 105 cm tower fan with eight speeds and a night mode that runs at 24 decibels,
quieter than a whisper. It sweeps air across 90 degrees.

Source: https://brisa.example/kettle
# Aurora kettle
The Aurora is a glass kettle that boils water in three minutes. Once a month, remove the
limescale with equal parts water and white vinegar.

Source: https://brisa.example/delivery
# Delivery
We ship to Portugal, Spain, France and Germany in two to four working days. Shipping costs
4.90 euros and is free on orders over 60 euros.

Source: https://brisa.example/about
# About us
Brisa Home was founded in 2019 by two designers in Porto; every spare part is sold for ten
years after a model is discontinued.
"""


async def shop(client, admin):
    bot = await create_chatbot(
        client, admin, first_message="Welcome to Chicx! Ask me anything about your order."
    )
    for question, answer in SHOP_FAQS:
        await add_faq(client, admin, bot["id"], question, answer)
    return bot


async def test_the_demo_page_questions_are_answered(client, context, fake_openai):
    await seed_demo(context, password="a-demo-password-1")
    async with context.db.system() as conn:
        row = await (
            await conn.execute("select id from chatbots where name = %s", (DEMO_BOT,))
        ).fetchone()
    bot_id = str(UUID(str(row["id"])))

    for question in ("How long does shipping take?", "how long does delivery take"):
        body = (await chat(client, bot_id, question)).json()
        assert body["source"] == "faq", (question, body)
        assert body["message"].startswith("Three to five working days")
    # One word: the shipping page tells it best, with its link.
    body = (await chat(client, bot_id, "shipping")).json()
    assert body["source"] == "knowledge", body
    assert body["citations"][0]["url"] == "https://chicx.example/shipping"
    for question in ("What time do you open?", "hours?", "When do you close?"):
        body = (await chat(client, bot_id, question)).json()
        assert body["source"] == "faq", (question, body)
        assert "10 am to 8 pm" in body["message"]
    for greeting in ("Hi", "Hello!", "hey there"):
        body = (await chat(client, bot_id, greeting)).json()
        assert body["source"] == "small_talk", (greeting, body)
        # The bot's own welcome, and the questions it suggests.
        assert body["message"].startswith("Namaste! Ask me about shipping")
        assert "- How long does delivery take?" in body["message"]
    assert fake_openai.requests == []


async def test_a_greeting_and_a_thank_you_are_answered_as_such(client, admin):
    bot = await shop(client, admin)
    hello = (await chat(client, bot["id"], "Good morning!")).json()
    assert hello["source"] == "small_talk"
    assert hello["message"] == (
        "Welcome to Chicx! Ask me anything about your order.\n\n"
        "You can ask me, for example:\n" + "\n".join(f"- {question}" for question, _ in SHOP_FAQS)
    )
    for thanks in ("Thanks!", "thank you so much", "ok great, thanks a lot"):
        body = (await chat(client, bot["id"], thanks)).json()
        assert body["source"] == "small_talk", thanks
        assert body["message"] == "You're welcome! Is there anything else I can help you with?"
    # A greeting with a question is a question.
    body = (await chat(client, bot["id"], "Hi! how long does shipping take?")).json()
    assert (body["source"], body["message"]) == ("faq", SHOP_FAQS[1][1])


async def test_greetings_in_the_workspace_language(client, anon_key):
    admin = await create_admin(client, anon_key, label="es")
    response = await client.put(
        "/api/business/ai-config", headers=admin.headers, json={"language": "es"}
    )
    assert response.status_code == 200, response.text
    bot = await create_chatbot(client, admin)
    await add_faq(client, admin, bot["id"], "¿Cuál es el horario?", "De 10:00 a 21:00.")
    hello = (await chat(client, bot["id"], "¡Hola!")).json()
    assert hello["source"] == "small_talk"
    assert hello["message"].startswith("¡Hola!")
    assert "- ¿Cuál es el horario?" in hello["message"]
    thanks = (await chat(client, bot["id"], "muchas gracias")).json()
    assert thanks["message"].startswith("¡De nada!")
    asked = (await chat(client, bot["id"], "¿A qué hora abren?")).json()
    assert (asked["source"], asked["message"]) == ("faq", "De 10:00 a 21:00.")


async def test_the_ways_people_ask_an_faq(client, admin):
    bot = await shop(client, admin)
    asked = {
        "What time do you open?": 0,
        "are you open on saturday": 0,
        "store timings": 0,
        "How long does shipping take?": 1,
        "when will my order arrive": 1,
        "can you deliver to australia": 2,
        "is COD available": 3,
        "can i pay when the parcel arrives": 3,
    }
    for question, n in asked.items():
        body = (await chat(client, bot["id"], question)).json()
        assert (body["source"], body["message"]) == ("faq", SHOP_FAQS[n][1]), question


async def test_an_unrelated_question_gets_what_the_bot_can_help_with(client, admin):
    bot = await shop(client, admin)
    for question in (
        "tell me a joke",
        "what's the capital of Australia",
        "what's the time in Tokyo",
        "How do I open a bank account?",
    ):
        body = (await chat(client, bot["id"], question)).json()
        assert body["source"] == "fallback", (question, body)
        said, offered = body["message"].split("\n\n")
        assert said == "Sorry, I don't know the answer to that yet."
        assert offered.startswith("I can help with questions such as:\n- What are your opening")


async def test_knowledge_found_by_one_distinctive_word_or_another_name(client, admin):
    bot = await create_chatbot(client, admin, knowledge_base=SITE)
    found = {
        # The page shares one rare word with the question: the product's name.
        "How loud is the Zephyr?": "https://brisa.example/fan",
        "Can I still buy spare parts for an old model?": "https://brisa.example/about",
        # The page names the thing with another word.
        "How do I descale the kettle?": "https://brisa.example/kettle",
        "Is postage free?": "https://brisa.example/delivery",
        "how long does delivery take": "https://brisa.example/delivery",
    }
    for question, url in found.items():
        body = (await chat(client, bot["id"], question)).json()
        assert body["source"] == "knowledge", (question, body)
        assert body["citations"][0]["url"] == url, (question, body["citations"])
        assert url in body["message"]
    # Two words of the question on the page, far apart, are not its subject.
    for question in ("What is the speed of light?", "what's the capital of Spain"):
        body = (await chat(client, bot["id"], question)).json()
        assert body["source"] == "fallback", (question, body)
        assert "- About us" in body["message"]  # what it knows, by its pages
