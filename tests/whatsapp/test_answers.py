"""The bot answering WhatsApp messages: with the engine of the widget (FAQs, knowledge, the
model and its tools), in WhatsApp's formatting, in parts below Meta's limit, once per message,
one contact at a time and in order; not in a conversation a person took over."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backend.contacts import service as contacts
from backend.context import AppContext
from backend.conversations import repository as conversations
from backend.db import as_login_role
from backend.tasks import run_worker, task_app
from backend.whatsapp.answers import ANSWER_QUEUE
from tests.fakes.openai import Reply, ToolCall
from tests.fixtures.factories import add_faq, connect_openai, create_chatbot
from tests.fixtures.servers import LiveServer
from tests.fixtures.whatsapp import connect_number

NUMBER = "106540352242922"
WA_ID = "919876543210"  # Priya's WhatsApp id: +91 98765 43210
QUEUES = ["inbound", ANSWER_QUEUE]  # the sends' jobs are left queued


@pytest.fixture
async def bot(client, admin, context):
    created = await create_chatbot(
        client,
        admin,
        system_prompt="You are Chicx's shopping assistant.",
        knowledge_base="Source: https://chicx.in/care\n# Saree care\nDry clean silk sarees only.",
    )
    await connect_number(
        context,
        workspace_id=admin.workspace_id,
        chatbot_id=created["id"],
        phone_number_id=NUMBER,
        access_token="EAAG-test-token-1234",
        app_secret="app-secret-for-tests",
    )
    return created


@pytest.fixture
async def model_bot(client, admin, bot, fake_openai):
    await connect_openai(client, admin, fake_openai.key)
    fake_openai.reset()
    return bot


async def receive(
    context: AppContext,
    bot: dict[str, Any],
    text: str,
    *,
    wa_id: str = WA_ID,
    number: str = NUMBER,
    at: datetime | None = None,
) -> uuid.UUID:
    """A contact's text message as the inbox's handler stores it, with its answer job."""
    workspace_id = uuid.UUID(bot["workspace_id"])
    async with context.db.for_workspace(workspace_id, "inbound:whatsapp") as conn:
        contact, _ = await contacts.find_or_create_by_identity(
            conn=conn,
            workspace_id=workspace_id,
            channel="whatsapp",
            external_id=wa_id,
            profile_name="Priya",
        )
        conversation, _ = await conversations.open_contact_conversation(
            conn,
            workspace_id=workspace_id,
            chatbot_id=bot["id"],
            contact_id=contact["id"],
            channel="whatsapp",
            channel_account=number,
            visitor_id=wa_id,
        )
        message_id = uuid.uuid4()
        stored = await conversations.add_message_once(
            conn,
            {
                "id": message_id,
                "workspace_id": workspace_id,
                "conversation_id": conversation["id"],
                "role": "user",
                "channel": "whatsapp",
                "kind": "text",
                "content": text,
                "provider_message_id": f"wamid.{uuid.uuid4().hex}",
                "created_at": at or datetime.now(UTC).replace(microsecond=0),
            },
        )
        assert stored
        await conversations.touch_conversation(conn, conversation["id"], added=1, escalate=False)
        await defer_answer(conn, message_id, contact["id"])
    return message_id


async def defer_answer(conn: Any, message_id: uuid.UUID, contact_id: uuid.UUID) -> None:
    deferrer = task_app.configure_task(
        "whatsapp.answer", connection=conn, lock=f"whatsapp.answer:{contact_id}"
    )
    async with as_login_role(conn):
        await deferrer.defer_async(message_id=str(message_id))


async def run_jobs(context: AppContext, *, concurrency: int = 2) -> int:
    """Worker passes over WhatsApp's queues until no job is due; how many passes it took. A
    pass stops at the first fetch that finds nothing, so a job held by its contact's lock
    waits for the next pass."""
    for passes in range(1, 20):
        await asyncio.wait_for(
            run_worker(context, concurrency=concurrency, wait=False, queues=QUEUES), timeout=60
        )
        async with context.db.system() as conn:
            due = await (
                await conn.execute(
                    "select count(*) as n from procrastinate_jobs where status = 'todo'"
                    " and queue_name = any(%s) and task_name = 'whatsapp.answer'"
                    " and (scheduled_at is null or scheduled_at <= now())",
                    (QUEUES,),
                )
            ).fetchone()
        if due["n"] == 0:
            return passes
    raise AssertionError("the answer jobs never finished")


async def answers_to(context: AppContext, message_id: uuid.UUID) -> list[dict[str, Any]]:
    async with context.db.system() as conn:
        return await (
            await conn.execute(
                "select * from messages where reply_to = %s order by created_at", (message_id,)
            )
        ).fetchall()


async def outbox_of(context: AppContext, question: uuid.UUID) -> list[dict[str, Any]]:
    """The sends queued for the answer to a question."""
    async with context.db.system() as conn:
        return await (
            await conn.execute(
                "select o.* from whatsapp_outbox o join messages m on m.id = o.message_id"
                " where m.reply_to = %s order by o.part",
                (question,),
            )
        ).fetchall()


async def sent_texts(context: AppContext, question: uuid.UUID) -> list[str]:
    return [row["payload"]["text"]["body"] for row in await outbox_of(context, question)]


# -- what the bot answers with -----------------------------------------------------------------


async def test_a_faq_is_answered_and_queued_on_the_same_number(client, admin, context, bot):
    await add_faq(client, admin, bot["id"], "Do you ship abroad?", "Yes, to **40 countries**.")
    question = await receive(context, bot, "Do you ship abroad?")
    await run_jobs(context)

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
    async with context.db.system() as conn:
        conversation = await (
            await conn.execute(
                "select message_count from conversations where id = %s",
                (answer["conversation_id"],),
            )
        ).fetchone()
        sends = await (
            await conn.execute(
                "select lock from procrastinate_jobs where task_name = 'whatsapp.send'"
            )
        ).fetchall()
    assert conversation["message_count"] == 2  # the question once, the answer once
    assert [s["lock"] for s in sends] == [f"whatsapp.send:{NUMBER}:{WA_ID}"]


async def test_knowledge_answers_without_a_key_with_their_sources_as_links(context, bot):
    question = await receive(context, bot, "How should I wash a silk saree?")
    await run_jobs(context)
    [answer] = await answers_to(context, question)
    assert answer["source"] == "knowledge"
    [body] = await sent_texts(context, question)
    assert "Dry clean silk sarees only." in body
    assert body.count("https://chicx.in/care") == 1  # its own list of sources, not repeated
    [part] = await outbox_of(context, question)
    assert part["payload"]["text"]["preview_url"] is True


async def test_the_model_answers_in_whatsapps_formatting_with_the_conversation_so_far(
    context, model_bot, fake_openai
):
    fake_openai.script(
        Reply(content="## Care\n\n**Dry clean** only, see [the guide](https://chicx.in/care)."),
    )
    question = await receive(context, model_bot, "How do I wash silk?")
    await run_jobs(context)
    [body] = await sent_texts(context, question)
    assert body == "*Care*\n\n*Dry clean* only, see the guide (https://chicx.in/care)."
    [request] = fake_openai.chat_requests
    assert request["messages"][1:] == [{"role": "user", "content": "How do I wash silk?"}]

    question2 = await receive(context, model_bot, "And cotton?")
    await run_jobs(context)
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


async def test_the_models_sources_are_sent_as_links(context, model_bot, fake_openai):
    fake_openai.script(Reply(content="Dry clean it, please [1]."))
    question = await receive(context, model_bot, "How do I wash a silk saree?")
    await run_jobs(context)
    [answer] = await answers_to(context, question)
    assert answer["citations"] == [{"title": "Saree care", "url": "https://chicx.in/care"}]
    assert await sent_texts(context, question) == [
        "Dry clean it, please [1].\n\nSources:\n- Saree care: https://chicx.in/care"
    ]


async def test_usage_and_the_conversation_api_name_the_whatsapp_channel(
    client, admin, context, model_bot, fake_openai
):
    question = await receive(context, model_bot, "Hello there")
    await run_jobs(context)
    [answer] = await answers_to(context, question)
    async with context.db.system() as conn:
        usage = await (
            await conn.execute(
                "select channel, service from token_usage where message_id = %s", (answer["id"],)
            )
        ).fetchall()
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
        question = await receive(context, model_bot, "Where are my orders?")
        await run_jobs(context)

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


async def test_a_long_answer_is_sent_in_parts_in_order(context, model_bot, fake_openai):
    paragraphs = [f"**Part {n}**: " + "silk " * 300 for n in range(6)]  # ~9,000 characters
    fake_openai.script(Reply(content="\n\n".join(p.strip() for p in paragraphs)))
    question = await receive(context, model_bot, "Tell me everything")
    await run_jobs(context)
    parts = await outbox_of(context, question)
    assert [p["part"] for p in parts] == list(range(len(parts))) and len(parts) >= 3
    bodies = [p["payload"]["text"]["body"] for p in parts]
    assert all(len(body) <= 4096 for body in bodies)
    assert "\n\n".join(bodies) == "\n\n".join(
        f"*Part {n}*: " + " ".join(["silk"] * 300) for n in range(6)
    )
    async with context.db.system() as conn:
        jobs = await (
            await conn.execute(
                "select args->>'outbox_id' as outbox_id from procrastinate_jobs"
                " where task_name = 'whatsapp.send' order by id"
            )
        ).fetchall()
    assert [j["outbox_id"] for j in jobs] == [str(p["id"]) for p in parts]  # sent in order


# -- when the bot does not answer ----------------------------------------------------------------


async def test_a_handoff_escalates_and_later_messages_are_left_to_people(
    context, model_bot, fake_openai
):
    fake_openai.script(
        Reply(tool_calls=[ToolCall("handoff_to_human", {"reason": "wants a person"})]),
        Reply(content="A colleague will write to you shortly."),
    )
    first = await receive(context, model_bot, "I want to talk to a person")
    await run_jobs(context)
    [answer] = await answers_to(context, first)
    async with context.db.system() as conn:
        status = await (
            await conn.execute(
                "select status from conversations where id = %s", (answer["conversation_id"],)
            )
        ).fetchone()
    assert status["status"] == "escalated"
    assert await sent_texts(context, first) == ["A colleague will write to you shortly."]

    later = await receive(context, model_bot, "Hello? Anyone?")
    await run_jobs(context)
    assert await answers_to(context, later) == []
    assert await outbox_of(context, later) == []
    assert len(fake_openai.chat_requests) == 2  # the model was not asked again


async def test_a_conversation_closed_before_the_answer_is_not_answered(
    client, admin, context, model_bot, fake_openai
):
    question = await receive(context, model_bot, "Thanks, that's all")
    [conversation] = (await client.get("/api/conversations", headers=admin.headers)).json()["data"]
    closed = await client.post(
        f"/api/conversations/{conversation['id']}/close",
        headers=admin.headers,
        json={"reason": "RESOLVED"},
    )
    assert closed.status_code == 200, closed.text
    await run_jobs(context)
    assert await answers_to(context, question) == []
    assert fake_openai.chat_requests == []


async def test_a_disabled_bot_does_not_answer(client, admin, context, fake_openai):
    other = await create_chatbot(client, admin, name="Sleeping bot")
    await connect_number(
        context,
        workspace_id=admin.workspace_id,
        chatbot_id=other["id"],
        phone_number_id="106540352242999",
        access_token="EAAG-other-token-9999",
        app_secret="other-app-secret",
        enabled=False,
    )
    await add_faq(client, admin, other["id"], "Are you open?", "Yes.")
    question = await receive(context, other, "Are you open?", number="106540352242999")
    await run_jobs(context)
    assert await answers_to(context, question) == []


async def test_a_refused_key_leaves_the_message_unanswered(context, model_bot, fake_openai):
    fake_openai.valid_keys.clear()  # the tenant revoked the key at OpenAI
    try:
        question = await receive(context, model_bot, "Tell me something")
        await run_jobs(context)
    finally:
        fake_openai.valid_keys.add(fake_openai.key)
    assert await answers_to(context, question) == []
    assert await outbox_of(context, question) == []
    async with context.db.system() as conn:
        jobs = await (
            await conn.execute(
                "select status from procrastinate_jobs where task_name = 'whatsapp.answer'"
            )
        ).fetchall()
    assert jobs == []  # done with (deleted as successful): no retry for the workspace's problem


async def test_a_model_outage_is_retried_not_answered_with_the_fallback(
    context, model_bot, fake_openai
):
    fake_openai.fail_next(100, 503)
    question = await receive(context, model_bot, "Is anyone there?")
    await run_jobs(context)
    assert await answers_to(context, question) == []
    async with context.db.system() as conn:
        [job] = await (
            await conn.execute(
                "select status, attempts from procrastinate_jobs"
                " where task_name = 'whatsapp.answer'"
            )
        ).fetchall()
    assert (job["status"], job["attempts"]) == ("todo", 1)  # to be tried again later

    fake_openai.reset()  # the outage is over: the retry answers
    async with context.db.system() as conn:
        await conn.execute(
            "update procrastinate_jobs set scheduled_at = now() where task_name = 'whatsapp.answer'"
        )
    await run_jobs(context)
    assert await sent_texts(context, question) == ["Echo: Is anyone there?"]


# -- once per message, one contact at a time -------------------------------------------------------


async def test_a_message_is_answered_once_however_often_its_job_runs(
    admin, context, model_bot, fake_openai
):
    question = await receive(context, model_bot, "Hi")
    async with context.db.for_workspace(uuid.UUID(admin.workspace_id), "test") as conn:
        contact = await (
            await conn.execute("select contact_id from conversations limit 1")
        ).fetchone()
        await defer_answer(conn, question, contact["contact_id"])  # redelivered
    await run_jobs(context)
    await defer_answer_later(context, question)  # and once more, after it was answered
    await run_jobs(context)
    assert len(await answers_to(context, question)) == 1
    assert len(await outbox_of(context, question)) == 1
    assert len(fake_openai.chat_requests) == 1


async def defer_answer_later(context: AppContext, message_id: uuid.UUID) -> None:
    async with context.db.system() as conn:
        deferrer = task_app.configure_task("whatsapp.answer", connection=conn)
        await deferrer.defer_async(message_id=str(message_id))


async def test_one_contacts_messages_are_answered_one_at_a_time_in_order(
    context, model_bot, fake_openai
):
    """Two messages in quick succession (the same second, as Meta dates them) and a slow
    model: the second answer starts once the first is stored, and knows it; another contact
    is answered meanwhile."""
    at = datetime.now(UTC).replace(microsecond=0)
    first = await receive(context, model_bot, "How do I wash silk?", at=at)
    second = await receive(context, model_bot, "And cotton?", at=at)
    other = await receive(context, model_bot, "Hi", wa_id="919000000001", at=at)
    fake_openai.latency = 1.0
    try:
        passes = await run_jobs(context, concurrency=3)
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
    context, model_bot, fake_openai
):
    at = datetime.now(UTC).replace(microsecond=0)
    first = await receive(context, model_bot, "First", at=at - timedelta(seconds=5))
    await receive(context, model_bot, "Second", at=at)
    await run_jobs(context)
    first_request = next(
        r for r in fake_openai.chat_requests if r["messages"][-1]["content"] == "First"
    )
    assert first_request["messages"][1:] == [{"role": "user", "content": "First"}]
    assert len(await answers_to(context, first)) == 1
