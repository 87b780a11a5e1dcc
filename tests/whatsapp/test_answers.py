"""The bot answering WhatsApp messages: with the engine of the widget (FAQs, knowledge, the
model and its tools), in WhatsApp's formatting, in parts below Meta's limit, once per message,
one contact at a time and in order; not in a conversation a person took over."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from backend.context import AppContext
from backend.integrations.whatsapp.webhooks import SIGNATURE_HEADER
from backend.tasks import run_worker, task_app
from backend.whatsapp.answers import ANSWER_QUEUE, ANSWER_TASK
from backend.whatsapp.inbound import answer_lock
from tests.fakes import whatsapp as meta
from tests.fakes.openai import Reply, ToolCall
from tests.fakes.whatsapp import FakeGraph
from tests.fixtures.factories import add_faq, connect_openai, create_chatbot
from tests.fixtures.jobs import run_inbound_jobs
from tests.fixtures.servers import LiveServer
from tests.fixtures.whatsapp import connect_whatsapp
from tests.whatsapp.sending import rows, run_send_jobs

NUMBER = meta.PHONE_NUMBER_ID
WA_ID = meta.WA_ID  # +91 98765 43210


@pytest.fixture
async def bot(client, admin, graph):
    created = await create_chatbot(
        client,
        admin,
        system_prompt="You are Chicx's shopping assistant.",
        knowledge_base="Source: https://chicx.in/care\n# Saree care\nDry clean silk sarees only.",
    )
    await connect_whatsapp(
        client,
        admin,
        created["id"],
        graph,
        phone_number_id=NUMBER,
        access_token=meta.ACCESS_TOKEN,
        app_secret=meta.APP_SECRET,
    )
    return created


@pytest.fixture
async def model_bot(client, admin, bot, fake_openai):
    await connect_openai(client, admin, fake_openai.key)
    fake_openai.reset()
    return bot


async def receive(
    client: httpx.AsyncClient,
    context: AppContext,
    *texts: str,
    wa_id: str = WA_ID,
    number: str = NUMBER,
    secret: str = meta.APP_SECRET,
    at: datetime | None = None,
) -> list[uuid.UUID]:
    """A contact's text messages, delivered together by Meta's signed webhook and applied by
    the inbox's job (which stores them and defers their answers); their ids."""
    timestamp = str(int((at or datetime.now(UTC)).timestamp()))
    messages = [meta.text_message(wa_id, text, timestamp=timestamp) for text in texts]
    raw = meta.encode(
        meta.webhook_body([meta.message_change(number, wa_id=wa_id, messages=messages)])
    )
    response = await client.post(
        "/whatsapp/webhook",
        content=raw,
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: meta.sign(raw, secret)},
    )
    assert response.status_code == 200, response.text
    await run_inbound_jobs(context)
    wamids = [m["id"] for m in messages]
    stored = await rows(
        context,
        "select id, provider_message_id from messages where provider_message_id = any(%s)",
        wamids,
    )
    ids = {row["provider_message_id"]: row["id"] for row in stored}
    return [ids[wamid] for wamid in wamids]


async def defer_answer(context: AppContext, message_id: uuid.UUID) -> None:
    """The message's answer job once more, as the inbox's handler defers it (a delivery
    applied twice, a retry after a crash)."""
    [row] = await rows(
        context,
        "select c.contact_id from messages m join conversations c on c.id = m.conversation_id"
        " where m.id = %s",
        message_id,
    )
    async with context.db.system() as conn:
        deferrer = task_app.configure_task(
            ANSWER_TASK, connection=conn, lock=answer_lock(row["contact_id"])
        )
        await deferrer.defer_async(message_id=str(message_id))


async def run_answers(context: AppContext, *, concurrency: int = 2) -> int:
    """Worker passes over the answers' queue until no answer job is due; how many passes it
    took. A pass stops at the first fetch that finds nothing, so a job held by its contact's
    lock waits for the next pass."""
    for passes in range(1, 20):
        await asyncio.wait_for(
            run_worker(context, concurrency=concurrency, wait=False, queues=[ANSWER_QUEUE]),
            timeout=60,
        )
        [due] = await rows(
            context,
            "select count(*) as n from procrastinate_jobs where status = 'todo'"
            " and queue_name = %s and (scheduled_at is null or scheduled_at <= now())",
            ANSWER_QUEUE,
        )
        if due["n"] == 0:
            return passes
    raise AssertionError("the answer jobs never finished")


async def answers_to(context: AppContext, message_id: uuid.UUID) -> list[dict[str, Any]]:
    return await rows(
        context, "select * from messages where reply_to = %s order by created_at", message_id
    )


async def outbox_of(context: AppContext, question: uuid.UUID) -> list[dict[str, Any]]:
    """The sends queued for the answer to a question."""
    return await rows(
        context,
        "select o.* from whatsapp_outbox o join messages m on m.id = o.message_id"
        " where m.reply_to = %s order by o.part",
        question,
    )


async def sent_texts(context: AppContext, question: uuid.UUID) -> list[str]:
    return [row["payload"]["text"]["body"] for row in await outbox_of(context, question)]


# -- what the bot answers with -----------------------------------------------------------------


async def test_a_faq_is_answered_and_queued_on_the_same_number(client, admin, context, bot):
    await add_faq(client, admin, bot["id"], "Do you ship abroad?", "Yes, to **40 countries**.")
    [question] = await receive(client, context, "Do you ship abroad?")
    await run_answers(context)

    [answer] = await answers_to(context, question)
    assert (answer["role"], answer["source"], answer["channel"]) == ("assistant", "faq", "whatsapp")
    assert (answer["status"], answer["kind"]) == ("queued", "text")
    assert answer["content"] == "Yes, to **40 countries**."  # the answer as written
    [part] = await outbox_of(context, question)
    assert (part["phone_number_id"], part["recipient"], part["kind"]) == (NUMBER, WA_ID, "chat")
    assert part["status"] == "queued" and str(part["workspace_id"]) == admin.workspace_id
    assert part["payload"] == {
        "to": WA_ID,
        "type": "text",
        "text": {"body": "Yes, to *40 countries*.", "preview_url": False},
    }
    [conversation] = await rows(
        context, "select message_count from conversations where id = %s", answer["conversation_id"]
    )
    sends = await rows(
        context, "select lock from procrastinate_jobs where task_name = 'whatsapp.send'"
    )
    assert conversation["message_count"] == 2  # the question once, the answer once
    assert [s["lock"] for s in sends] == [f"whatsapp.send:{NUMBER}:{WA_ID}"]


async def test_knowledge_answers_without_a_key_with_their_sources_as_links(client, context, bot):
    [question] = await receive(client, context, "How should I wash a silk saree?")
    await run_answers(context)
    [answer] = await answers_to(context, question)
    assert answer["source"] == "knowledge"
    [body] = await sent_texts(context, question)
    assert "Dry clean silk sarees only." in body
    assert body.count("https://chicx.in/care") == 1  # its own list of sources, not repeated
    [part] = await outbox_of(context, question)
    assert part["payload"]["text"]["preview_url"] is True


async def test_the_model_answers_in_whatsapps_formatting_with_the_conversation_so_far(
    client, context, model_bot, fake_openai
):
    fake_openai.script(
        Reply(content="## Care\n\n**Dry clean** only, see [the guide](https://chicx.in/care)."),
    )
    [question] = await receive(client, context, "How do I wash silk?")
    await run_answers(context)
    [body] = await sent_texts(context, question)
    assert body == "*Care*\n\n*Dry clean* only, see the guide (https://chicx.in/care)."
    [request] = fake_openai.chat_requests
    assert request["messages"][1:] == [{"role": "user", "content": "How do I wash silk?"}]

    [question2] = await receive(client, context, "And cotton?")
    await run_answers(context)
    history = fake_openai.chat_requests[-1]["messages"][1:]
    assert history == [
        {"role": "user", "content": "How do I wash silk?"},
        {
            "role": "assistant",
            "content": "## Care\n\n**Dry clean** only, see [the guide](https://chicx.in/care).",
        },
        {"role": "user", "content": "And cotton?"},  # the question once, not twice
    ]
    assert await sent_texts(context, question2) == ["Echo: And cotton?"]


async def test_the_models_sources_are_sent_as_links(client, context, model_bot, fake_openai):
    fake_openai.script(Reply(content="Dry clean it, please [1]."))
    [question] = await receive(client, context, "How do I wash a silk saree?")
    await run_answers(context)
    [answer] = await answers_to(context, question)
    assert answer["citations"] == [{"title": "Saree care", "url": "https://chicx.in/care"}]
    assert await sent_texts(context, question) == [
        "Dry clean it, please [1].\n\nSources:\n- Saree care: https://chicx.in/care"
    ]


async def test_usage_and_the_conversation_api_name_the_whatsapp_channel(
    client, admin, context, model_bot, fake_openai
):
    [question] = await receive(client, context, "Hello there")
    await run_answers(context)
    [answer] = await answers_to(context, question)
    usage = await rows(
        context, "select channel, service from token_usage where message_id = %s", answer["id"]
    )
    assert usage and {u["channel"] for u in usage} == {"WHATSAPP"}

    listed = await client.get("/api/conversations?channel=WHATSAPP", headers=admin.headers)
    assert listed.status_code == 200, listed.text
    [conversation] = listed.json()["data"]
    assert conversation["id"] == str(answer["conversation_id"])
    assert conversation["channel"] == "WHATSAPP" and conversation["messageCount"] == 2
    assert (await client.get("/api/conversations?channel=CHAT", headers=admin.headers)).json()[
        "data"
    ] == []
    messages = await client.get(
        f"/api/conversations/{conversation['id']}/messages", headers=admin.headers
    )
    assert [(m["role"], m["content"], m["channel"]) for m in messages.json()["data"]] == [
        ("USER", "Hello there", "WHATSAPP"),
        ("ASSISTANT", "Echo: Hello there", "WHATSAPP"),
    ]


async def test_orders_are_looked_up_only_for_the_contacts_own_phone(
    client, admin, context, model_bot, fake_openai
):
    """WhatsApp vouches for the sender's phone: they may ask about the orders placed with it,
    as a verified customer may on the web, and nobody else's."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    asked: list[dict[str, str]] = []

    async def get_order(request: Request) -> JSONResponse:
        asked.append(dict(request.query_params))
        if "phone" in request.query_params:
            return JSONResponse(
                {"status": True, "orders": [], "phone": request.query_params["phone"]}
            )
        order_id = request.query_params["order_id"]
        phone = "919876543210" if order_id == "ORD123456" else "919000000000"
        return JSONResponse(
            {
                "status": True,
                "order": {"order_id": order_id, "phone": phone, "order_status": "Shipped"},
            }
        )

    with LiveServer(Starlette(routes=[Route("/api/get_order.php", get_order)])) as merchant:
        connected = await client.put(
            "/api/connections/commerce",
            headers=admin.headers,
            json={"base_url": merchant.url, "api_key": "shop-key-123"},
        )
        assert connected.status_code == 200, connected.text
        fake_openai.script(
            Reply(
                tool_calls=[
                    ToolCall("get_order", {"order_id": "ORD123456"}),
                    ToolCall("get_order", {"order_id": "ORD999999"}),  # someone else's
                    ToolCall("get_orders_by_phone", {"phone": "9000000000"}),  # another phone
                ]
            ),
            Reply(content="Your order ORD123456 has shipped."),
        )
        [question] = await receive(client, context, "Where are my orders?")
        await run_answers(context)

    tools = {t["function"]["name"] for t in fake_openai.chat_requests[0]["tools"]}
    assert {"get_order", "get_orders_by_phone"} <= tools
    results = [
        m["content"] for m in fake_openai.chat_requests[1]["messages"] if m["role"] == "tool"
    ]
    assert "Shipped" in results[0]
    assert results[1].startswith("error: this order was placed with another phone number")
    # The contact's own number, whatever the model asked.
    assert [a["phone"] for a in asked if "phone" in a] == ["9876543210"]
    assert await sent_texts(context, question) == ["Your order ORD123456 has shipped."]


async def test_a_long_answer_is_sent_in_parts_in_order(client, context, model_bot, fake_openai):
    paragraphs = [f"**Part {n}**: " + "silk " * 300 for n in range(6)]  # ~9,000 characters
    fake_openai.script(Reply(content="\n\n".join(p.strip() for p in paragraphs)))
    [question] = await receive(client, context, "Tell me everything")
    await run_answers(context)
    parts = await outbox_of(context, question)
    assert [p["part"] for p in parts] == list(range(len(parts))) and len(parts) >= 3
    bodies = [p["payload"]["text"]["body"] for p in parts]
    assert all(len(body) <= 4096 for body in bodies)
    assert "\n\n".join(bodies) == "\n\n".join(
        f"*Part {n}*: " + " ".join(["silk"] * 300) for n in range(6)
    )
    jobs = await rows(
        context,
        "select args->>'outbox_id' as outbox_id from procrastinate_jobs"
        " where task_name = 'whatsapp.send' order by id",
    )
    assert [j["outbox_id"] for j in jobs] == [str(p["id"]) for p in parts]  # sent in order


async def test_an_answer_goes_out_through_meta_and_its_statuses_come_back(
    client, context, model_bot, fake_openai, graph
):
    """End to end: Meta's webhook in, the answer out to Meta (the fake), Meta's status in."""
    fake_openai.script(Reply(content="We ship in **2-3 days**. Track at https://chicx.in/track"))
    await end_to_end(client, context, graph)


async def end_to_end(client: httpx.AsyncClient, context: AppContext, graph: FakeGraph) -> None:
    [question] = await receive(client, context, "How long does shipping take?")
    await run_answers(context)
    await run_send_jobs(context)

    [body] = graph.bodies(to=WA_ID)
    assert body["type"] == "text" and body["messaging_product"] == "whatsapp"
    assert body["text"] == {
        "body": "We ship in *2-3 days*. Track at https://chicx.in/track",
        "preview_url": True,
    }
    [sent] = graph.accepted
    [answer] = await answers_to(context, question)
    assert (answer["status"], answer["provider_message_id"]) == ("sent", sent["wamid"])

    delivered = meta.status(sent["wamid"], "delivered")
    raw = meta.encode(meta.webhook_body([meta.status_change(NUMBER, [delivered])]))
    response = await client.post(
        "/whatsapp/webhook",
        content=raw,
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: meta.sign(raw)},
    )
    assert response.status_code == 200, response.text
    await run_inbound_jobs(context)
    [answer] = await answers_to(context, question)
    assert answer["status"] == "delivered"


# -- when the bot does not answer ----------------------------------------------------------------


async def test_a_handoff_escalates_and_later_messages_are_left_to_people(
    client, context, model_bot, fake_openai
):
    fake_openai.script(
        Reply(tool_calls=[ToolCall("handoff_to_human", {"reason": "wants a person"})]),
        Reply(content="A colleague will write to you shortly."),
    )
    # The second message came before the first was answered: its job is waiting already.
    first, waiting = await receive(client, context, "I want to talk to a person", "Hello?")
    await run_answers(context)
    [answer] = await answers_to(context, first)
    [status] = await rows(
        context, "select status from conversations where id = %s", answer["conversation_id"]
    )
    assert status["status"] == "escalated"
    assert await sent_texts(context, first) == ["A colleague will write to you shortly."]
    assert await answers_to(context, waiting) == []

    [later] = await receive(client, context, "Anyone there?")
    await run_answers(context)
    assert await answers_to(context, later) == []
    assert await outbox_of(context, later) == []
    assert len(fake_openai.chat_requests) == 2  # the model was not asked again


async def test_a_conversation_closed_before_the_answer_is_not_answered(
    client, admin, context, model_bot, fake_openai
):
    [question] = await receive(client, context, "Thanks, that's all")
    [conversation] = (await client.get("/api/conversations", headers=admin.headers)).json()["data"]
    closed = await client.post(
        f"/api/conversations/{conversation['id']}/close",
        headers=admin.headers,
        json={"reason": "RESOLVED"},
    )
    assert closed.status_code == 200, closed.text
    await run_answers(context)
    assert await answers_to(context, question) == []
    assert fake_openai.chat_requests == []


async def test_a_disabled_bot_does_not_answer(client, admin, context, graph, fake_openai):
    other = await create_chatbot(client, admin, name="Sleeping bot")
    await connect_whatsapp(
        client,
        admin,
        other["id"],
        graph,
        phone_number_id="106540352242999",
        access_token="EAAG-other-token-9999",
        app_secret="other-app-secret",
        enabled=False,
    )
    await add_faq(client, admin, other["id"], "Are you open?", "Yes.")
    [question] = await receive(
        client, context, "Are you open?", number="106540352242999", secret="other-app-secret"
    )
    await defer_answer(context, question)  # whatever asks for an answer
    await run_answers(context)
    assert await answers_to(context, question) == []


async def test_a_refused_key_leaves_the_message_unanswered(client, context, model_bot, fake_openai):
    fake_openai.valid_keys.clear()  # the tenant revoked the key at OpenAI
    try:
        [question] = await receive(client, context, "Tell me something")
        await run_answers(context)
    finally:
        fake_openai.valid_keys.add(fake_openai.key)
    assert await answers_to(context, question) == []
    assert await outbox_of(context, question) == []
    jobs = await rows(
        context, "select status from procrastinate_jobs where task_name = 'whatsapp.answer'"
    )
    assert jobs == []  # done with (deleted as successful): no retry for the workspace's problem


async def test_a_model_outage_is_retried_not_answered_with_the_fallback(
    client, context, model_bot, fake_openai
):
    fake_openai.fail_next(100, 503)
    [question] = await receive(client, context, "Is anyone there?")
    await run_answers(context)
    assert await answers_to(context, question) == []
    [job] = await rows(
        context,
        "select status, attempts from procrastinate_jobs where task_name = 'whatsapp.answer'",
    )
    assert (job["status"], job["attempts"]) == ("todo", 1)  # to be tried again later

    fake_openai.reset()  # the outage is over: the retry answers
    await rows(
        context,
        "update procrastinate_jobs set scheduled_at = now() where task_name = 'whatsapp.answer'"
        " returning id",
    )
    await run_answers(context)
    assert await sent_texts(context, question) == ["Echo: Is anyone there?"]


# -- once per message, one contact at a time -------------------------------------------------------


async def test_a_message_is_answered_once_however_often_its_job_runs(
    client, context, model_bot, fake_openai
):
    [question] = await receive(client, context, "Hi")
    await defer_answer(context, question)  # a second job before the first ran
    await run_answers(context)
    await defer_answer(context, question)  # and another after it was answered
    await run_answers(context)
    assert len(await answers_to(context, question)) == 1
    assert len(await outbox_of(context, question)) == 1
    assert len(fake_openai.chat_requests) == 1


async def test_one_contacts_messages_are_answered_one_at_a_time_in_order(
    client, context, model_bot, fake_openai
):
    """Two messages in quick succession (the same second, as Meta dates them) and a slow
    model: the second answer starts once the first is stored, and knows it; another contact
    is answered meanwhile."""
    at = datetime.now(UTC)
    first, second = await receive(client, context, "How do I wash silk?", "And cotton?", at=at)
    [other] = await receive(client, context, "Hi", wa_id="919000000001", at=at)
    fake_openai.latency = 1.0
    try:
        passes = await run_answers(context, concurrency=3)
    finally:
        fake_openai.latency = 0.0
    assert passes >= 2  # the second answer waited for the first

    [answer1], [answer2] = await answers_to(context, first), await answers_to(context, second)
    [answer_other] = await answers_to(context, other)
    assert answer1["created_at"] < answer2["created_at"]
    assert answer_other["created_at"] < answer2["created_at"]  # not held up by Priya's
    asked = {r["messages"][-1]["content"]: r["messages"][1:] for r in fake_openai.chat_requests}
    assert asked["How do I wash silk?"] == [{"role": "user", "content": "How do I wash silk?"}]
    assert asked["And cotton?"] == [
        {"role": "user", "content": "How do I wash silk?"},
        {"role": "assistant", "content": "Echo: How do I wash silk?"},
        {"role": "user", "content": "And cotton?"},
    ]
    assert asked["Hi"] == [{"role": "user", "content": "Hi"}]  # Priya's are not its history
    assert await sent_texts(context, second) == ["Echo: And cotton?"]


async def test_the_history_leaves_out_messages_that_came_after_the_question(
    client, context, model_bot, fake_openai
):
    at = datetime.now(UTC)
    [first] = await receive(client, context, "First", at=at - timedelta(seconds=5))
    await receive(client, context, "Second", at=at)
    await run_answers(context)
    first_request = next(
        r for r in fake_openai.chat_requests if r["messages"][-1]["content"] == "First"
    )
    assert first_request["messages"][1:] == [{"role": "user", "content": "First"}]
    assert len(await answers_to(context, first)) == 1
