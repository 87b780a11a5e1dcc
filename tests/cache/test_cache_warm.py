from backend.tasks import run_worker
from tests.fixtures.factories import chat, connect_openai, create_chatbot


async def test_warming_answers_questions_ahead_of_visitors(client, context, admin, fake_openai):
    await connect_openai(client, admin, fake_openai.key)
    bot = await create_chatbot(client, admin)
    queued = await client.post(
        "/api/cache/warm",
        headers=admin.headers,
        json={
            "queries": [
                "What are your business hours?",
                "How much does it cost?",
                "How much does it cost?",
            ]
        },
    )
    assert queued.status_code == 202, queued.text
    assert queued.json()["data"] == {"chatbotId": bot["id"], "queued": 2}

    await run_worker(context, concurrency=2, wait=False)

    stats = (await client.get("/api/cache/stats", headers=admin.headers)).json()["data"]
    assert stats["totalCached"] == 2
    calls = len(fake_openai.chat_requests)
    answer = (await chat(client, bot["id"], "How much does it cost?")).json()
    assert answer["source"] == "cache" and answer["message"] == "Echo: How much does it cost?"
    assert len(fake_openai.chat_requests) == calls
    async with context.db.system() as conn:
        conversations = await (
            await conn.execute("select count(*) as n from conversations")
        ).fetchone()
        usage = await (
            await conn.execute("select count(*) as n from token_usage where service = 'OPENAI_GPT'")
        ).fetchone()
    assert conversations["n"] == 1  # the visitor's; warming keeps none
    assert usage["n"] == 2  # but its model calls are metered


async def test_warming_needs_a_bot_when_there_are_several(client, admin):
    await create_chatbot(client, admin)
    await create_chatbot(client, admin, name="Second")
    response = await client.post("/api/cache/warm", headers=admin.headers, json={"queries": ["hi"]})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "chatbotId"
