"""Answers from the workspace's model: prompt, history, streaming, tools, failures, usage."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.fakes.openai import Reply, ToolCall
from tests.fixtures.factories import add_faq, chat, connect_openai, create_chatbot
from tests.fixtures.servers import LiveServer


@pytest.fixture
async def bot(client, admin, fake_openai):
    await connect_openai(client, admin, fake_openai.key)
    fake_openai.reset()
    return await create_chatbot(
        client,
        admin,
        system_prompt="You are Chicx's shopping assistant.",
        model="gpt-4o-mini",
        temperature=0.3,
        max_tokens=300,
        knowledge_base="Source: https://chicx.in/care\n# Saree care\nDry clean silk sarees only.",
    )


def system_of(request: dict) -> str:
    return request["messages"][0]["content"]


async def test_the_model_answers_with_the_bots_prompt_config_and_knowledge(
    client, admin, bot, fake_openai
):
    await client.put(
        "/api/business/ai-config",
        headers=admin.headers,
        json={
            "customPrompt": "Always greet by name.",
            "tone": "professional",
            "language": "en",
            "prohibitedTopics": ["medical advice"],
            "fallbackMessage": "Let me connect you with a human.",
        },
    )
    fake_openai.script(
        Reply(content="Dry clean it, please [1].", prompt_tokens=200, completion_tokens=10)
    )
    response = await chat(client, bot["id"], "How do I wash a silk saree?")
    body = response.json()
    assert (body["message"], body["source"]) == ("Dry clean it, please [1].", "model")
    assert body["citations"] == [{"title": "Saree care", "url": "https://chicx.in/care"}]

    [request] = fake_openai.chat_requests
    assert request["model"] == "gpt-4o-mini"
    assert (request["temperature"], request["max_tokens"]) == (0.3, 300)
    system = system_of(request)
    for expected in (
        "You are Chicx's shopping assistant.",
        "Always greet by name.",
        "professional",
        "medical advice",
        "Let me connect you with a human.",
        "Dry clean silk sarees only.",
        "https://chicx.in/care",
    ):
        assert expected in system
    assert request["messages"][-1] == {"role": "user", "content": "How do I wash a silk saree?"}
    # The key is the workspace's own.
    assert fake_openai.requests[-1].api_key == fake_openai.key


async def test_history_is_sent_and_usage_is_recorded_per_call(client, context, bot, fake_openai):
    first = (await chat(client, bot["id"], "Hi there")).json()
    second = (
        await chat(client, bot["id"], "And again", conversation_id=first["conversation_id"])
    ).json()
    assert second["message"] == "Echo: And again"
    last = fake_openai.chat_requests[-1]["messages"]
    assert [m["role"] for m in last] == ["system", "user", "assistant", "user"]
    assert last[1:3] == [
        {"role": "user", "content": "Hi there"},
        {"role": "assistant", "content": "Echo: Hi there"},
    ]

    async with context.db.system() as conn:
        usage = await (
            await conn.execute(
                "select u.service, u.model, u.prompt_tokens, u.completion_tokens, u.cost, u.price_version,"
                " u.channel, m.role from token_usage u join messages m on m.id = u.message_id"
                " where u.conversation_id = %s order by u.created_at",
                (first["conversation_id"],),
            )
        ).fetchall()
        message = await (
            await conn.execute(
                "select cost, prompt_tokens, source from messages where id = %s",
                (second["message_id"],),
            )
        ).fetchone()
    gpt = [u for u in usage if u["service"] == "OPENAI_GPT"]
    assert len(gpt) == 2 and all(u["role"] == "assistant" and u["channel"] == "CHAT" for u in gpt)
    assert all(u["cost"] > 0 and u["price_version"] == "2026-11-01" for u in gpt)
    assert message["source"] == "model" and message["cost"] == gpt[-1]["cost"]


async def test_streaming_sends_tokens_then_the_stored_message(client, context, bot, fake_openai):
    async with client.stream(
        "POST",
        "/api/chat/message",
        headers={"Accept": "text/event-stream"},
        json={
            "chatbot_id": bot["id"],
            "visitor_id": "v",
            "message": "tell me about the shop",
        },
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = []
        event = None
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                events.append((event, json.loads(line[6:])))
    tokens = [data["content"] for name, data in events if name == "token"]
    assert len(tokens) > 2
    [(_name, done)] = [e for e in events if e[0] == "done"]
    assert "".join(tokens) == done["message"] == "Echo: tell me about the shop"
    assert (
        done["usage"]["completion_tokens"] > 0 and "cost" not in done["usage"]
    )  # not for visitors
    async with context.db.system() as conn:
        stored = await (
            await conn.execute("select content from messages where id = %s", (done["message_id"],))
        ).fetchone()
    assert stored["content"] == done["message"]


async def test_an_action_is_called_with_checked_arguments(client, admin, bot, fake_openai):
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    seen = []

    async def stock(request):
        seen.append(
            (
                request.path_params["sku"],
                request.query_params.get("store"),
                request.headers.get("x-shop-key"),
            )
        )
        return JSONResponse({"sku": request.path_params["sku"], "in_stock": 3})

    with LiveServer(Starlette(routes=[Route("/stock/{sku}", stock)])) as shop:
        created = await client.post(
            f"/api/chatbots/{bot['id']}/actions",
            headers=admin.headers,
            json={
                "name": "check_stock",
                "description": "Stock of a product",
                "url_template": f"{shop.url}/stock/{{sku}}",
                "headers": {"X-Shop-Key": "s3cret"},
                "parameters": {
                    "type": "object",
                    "properties": {"sku": {"type": "string"}, "store": {"type": "string"}},
                    "required": ["sku"],
                },
            },
        )
        assert created.status_code == 201, created.text
        assert created.json()["data"]["header_names"] == ["X-Shop-Key"]
        fake_openai.script(
            Reply(tool_calls=[ToolCall("check_stock", {"store": "chennai"})]),  # sku missing
            Reply(tool_calls=[ToolCall("check_stock", {"sku": "SAREE 1", "store": "chennai"})]),
            Reply(content="We have 3 in stock."),
        )
        body = (await chat(client, bot["id"], "Is SAREE 1 in stock?")).json()

    assert body["message"] == "We have 3 in stock."
    assert seen == [("SAREE 1", "chennai", "s3cret")]  # the invalid call never left
    assert [a["status"] for a in body["actions"]] == ["error", "ok"]
    second, third = fake_openai.chat_requests[1:]
    tool_reply = next(m for m in second["messages"] if m["role"] == "tool")["content"]
    assert "invalid arguments" in tool_reply and "sku" in tool_reply
    assert '"in_stock":3' in [m for m in third["messages"] if m["role"] == "tool"][-1]["content"]


async def test_lead_capture_and_handoff(client, context, bot, fake_openai):
    fake_openai.script(
        Reply(
            tool_calls=[
                ToolCall(
                    "capture_lead",
                    {"name": "Priya", "email": "Priya@Example.com", "phone": "+91 98765 43210"},
                ),
                ToolCall("handoff_to_human", {"reason": "wants a call"}),
            ]
        ),
        Reply(content="Thanks Priya, a colleague will call you."),
    )
    body = (await chat(client, bot["id"], "I'm Priya, priya@example.com, please call me")).json()
    assert {a["type"] for a in body["actions"]} == {"lead_captured", "handoff"}
    async with context.db.system() as conn:
        lead = await (
            await conn.execute("select name, email, phone, conversation_id, chatbot_id from leads")
        ).fetchone()
        status = await (
            await conn.execute(
                "select status from conversations where id = %s", (body["conversation_id"],)
            )
        ).fetchone()
    # Kept the way customers are: e-mail lower-cased, phone in E.164.
    assert (lead["name"], lead["email"], lead["phone"]) == (
        "Priya",
        "priya@example.com",
        "+919876543210",
    )
    assert (
        str(lead["conversation_id"]) == body["conversation_id"]
        and str(lead["chatbot_id"]) == bot["id"]
    )
    assert status["status"] == "escalated"


async def test_the_merchant_api_answers_order_questions(
    client, context, admin, anon_key, bot, fake_openai
):
    """Products for anyone; orders only for a customer signed in (here through the portal),
    and only those placed with their own phone number."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from tests.customers.test_customers import add_customer

    async def get_order(request):
        assert request.headers["authorization"] == "Bearer shop-key-123"
        if "phone" in request.query_params:
            return JSONResponse(
                {"status": True, "orders": [], "phone": request.query_params["phone"]}
            )
        order_id = request.query_params["order_id"]
        return JSONResponse(
            {
                "status": True,
                "order": {
                    "order_id": order_id,
                    "phone": "919876543210" if order_id == "ORD123456" else "919000000000",
                    "order_status": "Shipped",
                    "shipping": {
                        "courier": "Delhivery",
                        "tracking_url": "https://shiprocket.com/track/SR1",
                    },
                },
            }
        )

    with LiveServer(Starlette(routes=[Route("/api/get_order.php", get_order)])) as merchant:
        connected = await client.put(
            "/api/connections/commerce",
            headers=admin.headers,
            json={"base_url": merchant.url, "api_key": "shop-key-123"},
        )
        assert connected.status_code == 200 and connected.json()["key_last4"] == "-123"
        # An anonymous visitor may browse products but not look up orders.
        anonymous = await chat(client, bot["id"], "Where is order ORD123456?", visitor_id="anon")
        assert anonymous.status_code == 200, anonymous.text
        anonymous_tools = {t["function"]["name"] for t in fake_openai.chat_requests[0]["tools"]}
        assert {"search_products", "get_product"} <= anonymous_tools
        assert not anonymous_tools & {"get_order", "get_orders_by_phone"}
        fake_openai.reset()

        customer = await add_customer(client, admin, anon_key, phone="+91 98765 43210")
        fake_openai.script(
            Reply(
                tool_calls=[
                    ToolCall("get_order", {"order_id": "ORD123456"}),
                    ToolCall("get_order", {"order_id": "ORD999999"}),  # someone else's
                    ToolCall("get_orders_by_phone", {"phone": "9000000000"}),
                ]
            ),
            Reply(content="Your order ORD123456 has shipped with Delhivery."),
        )
        body = (
            await client.post(
                "/api/chat/message",
                headers=customer.headers,
                json={
                    "chatbot_id": bot["id"],
                    "visitor_id": "portal",
                    "message": "Where are my orders?",
                },
            )
        ).json()
    tools_offered = {t["function"]["name"] for t in fake_openai.chat_requests[0]["tools"]}
    assert {"search_products", "get_product", "get_order", "get_orders_by_phone"} <= tools_offered
    results = [
        m["content"] for m in fake_openai.chat_requests[1]["messages"] if m["role"] == "tool"
    ]
    assert "Delhivery" in results[0]
    assert results[1].startswith("error: this order was placed with another phone number")
    assert '"phone": "9876543210"' in results[2]  # their own number, whatever the model asked
    assert body["message"] == "Your order ORD123456 has shipped with Delhivery."
    async with context.db.system() as conn:  # counted for the dashboard's "orders tracked"
        row = await (
            await conn.execute(
                "select order_lookups from conversations where id = %s", (body["conversation_id"],)
            )
        ).fetchone()
    assert row["order_lookups"] == 2  # the refused look-up does not count


async def test_a_refused_key_is_marked_invalid_and_the_bot_falls_back(
    client, admin, bot, fake_openai
):
    await add_faq(client, admin, bot["id"], "Do you ship abroad?", "Not yet.")
    fake_openai.valid_keys.clear()  # the tenant revoked the key at OpenAI
    try:
        refused = await chat(client, bot["id"], "Tell me something")
        assert refused.status_code == 502
        assert refused.json()["code"] == "PROVIDER_KEY_INVALID"
        status = (await client.get("/api/openai/status", headers=admin.headers)).json()
        assert status["status"] == "invalid"
        # Without a usable key the bot keeps answering what it can.
        assert (await chat(client, bot["id"], "Do you ship abroad?")).json()[
            "message"
        ] == "Not yet."
        assert (await chat(client, bot["id"], "Tell me something")).json()["source"] == "fallback"
    finally:
        fake_openai.valid_keys.add(fake_openai.key)


async def test_provider_outage_answers_the_fallback_and_stores_no_usage(
    client, context, admin, bot, fake_openai
):
    await client.put(
        "/api/business/ai-config",
        headers=admin.headers,
        json={"fallbackMessage": "We're busy; a human will answer soon."},
    )
    # The question's embedding fails (then it is only a cache miss), and so does the answer:
    # each is one call and the SDK's two retries.
    fake_openai.fail_next(6, 503)
    body = (await chat(client, bot["id"], "Hello?")).json()
    assert (body["source"], body["message"]) == (
        "fallback",
        "We're busy; a human will answer soon.",
    )
    assert [r.path for r in fake_openai.requests] == ["/v1/embeddings"] * 3 + [
        "/v1/chat/completions"
    ] * 3
    async with context.db.system() as conn:
        usage = await (await conn.execute("select count(*) as n from token_usage")).fetchone()
        messages = await (
            await conn.execute(
                "select count(*) as n from messages where conversation_id = %s",
                (body["conversation_id"],),
            )
        ).fetchone()
    assert usage["n"] == 0 and messages["n"] == 2

    fake_openai.fail_next(1, 429, retry_after=0)  # a brief rate limit is retried through
    assert (await chat(client, bot["id"], "Hello again")).json()["source"] == "model"


async def test_cached_answers_skip_the_model_until_the_bot_changes(client, admin, bot, fake_openai):
    fake_openai.script(Reply(content="We are open 9 to 6."))
    first = (await chat(client, bot["id"], "What are your opening hours?", visitor_id="a")).json()
    exact = (await chat(client, bot["id"], "what are your opening hours", visitor_id="b")).json()
    assert first["source"] == "model"
    assert (exact["source"], exact["message"]) == ("cache", "We are open 9 to 6.")
    assert len(fake_openai.chat_requests) == 1

    # A follow-up in a conversation depends on what came before: never from the cache.
    followup = (
        await chat(
            client,
            bot["id"],
            "What are your opening hours?",
            visitor_id="a",
            conversation_id=first["conversation_id"],
        )
    ).json()
    assert followup["source"] == "model"

    # Changing the prompt changes the answers: the cache no longer applies.
    await client.patch(
        f"/api/chatbots/{bot['id']}", headers=admin.headers, json={"system_prompt": "New"}
    )
    again = (await chat(client, bot["id"], "What are your opening hours?", visitor_id="d")).json()
    assert again["source"] == "model"

    stats = (await client.get("/api/cache/stats", headers=admin.headers)).json()["data"]
    assert stats["totalCached"] == 1 and stats["byChannel"]["CHAT"]["cached"] == 1
    assert stats["totalHits"] == 0  # the entry that was hit belongs to the old version
    assert stats["hitRate"] == round(1 * 100 / 4)


async def test_a_question_that_means_the_same_gets_the_cached_answer(
    database_url, anon_key, fake_openai
):
    """Semantic matching by embedding similarity, at a threshold the workspace's embeddings
    (here the fake's word vectors) reach for a reworded question."""
    from tests.conftest import app_with
    from tests.fixtures.factories import create_admin

    async with app_with(
        database_url, openai_base_url=fake_openai.base_url, semantic_cache_similarity=0.9
    ) as (c, _):
        admin = await create_admin(c, anon_key)
        await connect_openai(c, admin, fake_openai.key)
        bot = await create_chatbot(c, admin)
        fake_openai.script(Reply(content="We are open 9 to 6."))
        await chat(c, bot["id"], "What are your opening hours?", visitor_id="a")
        similar = (
            await chat(c, bot["id"], "What are your opening hours, please?", visitor_id="b")
        ).json()
        unrelated = (await chat(c, bot["id"], "How do I return a saree?", visitor_id="c")).json()
        top = (await c.get("/api/cache/stats", headers=admin.headers)).json()["data"]["topQueries"]
    assert (similar["source"], similar["message"]) == ("cache", "We are open 9 to 6.")
    assert unrelated["source"] == "model"
    assert top == [{"query": "What are your opening hours?", "hits": 1}]


async def test_preview_mode_needs_an_admin_of_the_workspace(
    client, context, admin, other_admin, bot
):
    anonymous = await chat(client, bot["id"], "hi", preview_mode=True)
    assert anonymous.status_code == 403
    stranger = await client.post(
        "/api/chat/message",
        headers=other_admin.headers,
        json={"chatbot_id": bot["id"], "visitor_id": "v", "message": "hi", "preview_mode": True},
    )
    assert stranger.status_code == 403
    mine = await client.post(
        "/api/chat/message",
        headers=admin.headers,
        json={"chatbot_id": bot["id"], "visitor_id": "v", "message": "hi", "preview_mode": True},
    )
    assert mine.status_code == 200
    async with context.db.system() as conn:
        row = await (
            await conn.execute(
                "select is_preview from conversations where id = %s",
                (mine.json()["conversation_id"],),
            )
        ).fetchone()
        usage = await (
            await conn.execute("select bool_and(is_preview) as all_preview from token_usage")
        ).fetchone()
    assert row["is_preview"] is True and usage["all_preview"] is True


async def test_cost_follows_the_price_table(client, context, bot, fake_openai):
    fake_openai.script(
        Reply(content="ok", prompt_tokens=1_000_000, completion_tokens=1_000_000, cached_tokens=0)
    )
    body = (await chat(client, bot["id"], "price check", visitor_id="p")).json()
    async with context.db.system() as conn:
        row = await (
            await conn.execute(
                "select cost from token_usage where message_id = %s and service = 'OPENAI_GPT'",
                (body["message_id"],),
            )
        ).fetchone()
    assert row["cost"] == Decimal("0.750000")  # gpt-4o-mini: 0.15 in + 0.60 out per million


async def test_a_lead_keeps_only_lead_fields_whatever_the_model_adds(
    client, context, admin, other_admin, bot, fake_openai
):
    fake_openai.script(
        Reply(
            tool_calls=[
                ToolCall(
                    "capture_lead",
                    {"email": "a@example.com", "workspace_id": other_admin.workspace_id},
                )
            ]
        ),
        Reply(tool_calls=[ToolCall("capture_lead", {"email": "b@example.com", "name": "B"})]),
        Reply(content="Saved."),
    )
    body = (await chat(client, bot["id"], "my email is b@example.com")).json()
    assert [a["status"] for a in body["actions"]] == ["error", "ok"]  # unknown field refused
    async with context.db.system() as conn:
        leads = await (await conn.execute("select email, workspace_id from leads")).fetchall()
    assert [(r["email"], str(r["workspace_id"])) for r in leads] == [
        ("b@example.com", admin.workspace_id)
    ]


async def test_a_client_leaving_as_a_cached_answer_arrives_is_charged_once(
    app, context, bot, fake_openai
):
    """The stream's reader goes away right after the final event of a (semantically) cached
    answer: the answer is already stored and settled, so closing must not settle it again."""
    from uuid import UUID

    from backend.chat.engine import ChatInput, Done
    from backend.widget.channel import WebChat

    engine = app.state.chat
    question = "How should I wash and store my silk saree at home during the monsoon season"
    fake_openai.script(Reply(content="Dry clean only.", prompt_tokens=100, completion_tokens=5))
    first = await engine.reply(
        ChatInput(chatbot_id=UUID(bot["id"]), message=question, channel=WebChat("first"))
    )
    events = engine.events(
        ChatInput(
            chatbot_id=UUID(bot["id"]), message=question + " please", channel=WebChat("leaving")
        )
    )
    done = None
    async for event in events:
        if isinstance(event, Done):
            done = event.result
            break
    await events.aclose()
    assert first.source == "model"
    assert done is not None and (done.source, done.message) == ("cache", "Dry clean only.")
    async with context.db.system() as conn:
        rows = await (
            await conn.execute(
                "select count(*) filter (where conversation_id = %s) as mine, count(*) as n"
                " from token_usage",
                (done.conversation_id,),
            )
        ).fetchone()
        held = await (
            await conn.execute("select count(*) as n from billing_reservations")
        ).fetchone()
    # The first answer: embedding and model call; the cached one: its question's embedding.
    assert (rows["mine"], rows["n"]) == (1, 3)
    assert held["n"] == 0
