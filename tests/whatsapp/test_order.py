"""A contact writing several messages in quick succession, as Meta delivers them (separate
POSTs, one POST with two, a duplicate), with the inbox and the answers each running four jobs at
once, a slow database and a slow model: the messages are kept in Meta's order and answered one
at a time in that order, each answer knowing the ones before, none twice."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from backend.context import AppContext
from backend.integrations.whatsapp.webhooks import SIGNATURE_HEADER
from tests.fakes import whatsapp as meta
from tests.fixtures.jobs import run_inbound_jobs
from tests.inbound.test_order import slow_database  # noqa: F401  (a fixture)
from tests.whatsapp.sending import rows
from tests.whatsapp.test_answers import (  # noqa: F401  (fixtures)
    answers_to,
    bot,
    model_bot,
    run_answers,
    sent_texts,
)

QUESTIONS = ["Hi", "How do I wash silk?", "And cotton?", "And wool?", "Thanks!"]


async def post(client: httpx.AsyncClient, *texts: str, at: str) -> bytes:
    """One of Meta's POSTs with the contact's messages; its exact body."""
    messages = [meta.text_message(meta.WA_ID, text, timestamp=at) for text in texts]
    raw = meta.encode(meta.webhook_body([meta.message_change(messages=messages)]))
    await repost(client, raw)
    return raw


async def repost(client: httpx.AsyncClient, raw: bytes) -> None:
    response = await client.post(
        "/whatsapp/webhook",
        content=raw,
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: meta.sign(raw)},
    )
    assert response.status_code == 200, response.text


async def questions(context: AppContext) -> list[dict[str, Any]]:
    return await rows(
        context,
        "select id, content from messages where role = 'user' order by created_at, id",
    )


@pytest.mark.usefixtures("model_bot", "slow_database")
async def test_messages_in_quick_succession_are_answered_one_at_a_time_in_order(
    client, context, fake_openai
):
    at = str(int(datetime.now(UTC).timestamp()))  # Meta dates them all the same second
    await post(client, QUESTIONS[0], at=at)  # the conversation is under way
    await run_inbound_jobs(context)
    await post(client, QUESTIONS[1], at=at)
    twice = await post(client, QUESTIONS[2], QUESTIONS[3], at=at)
    await post(client, QUESTIONS[4], at=at)
    await repost(client, twice)  # Meta sends duplicates
    await run_inbound_jobs(context, concurrency=4)

    stored = await questions(context)
    assert [q["content"] for q in stored] == QUESTIONS

    fake_openai.latency = 0.5
    try:
        await run_answers(context, concurrency=4)
    finally:
        fake_openai.latency = 0.0

    answers = [await answers_to(context, q["id"]) for q in stored]
    assert [len(a) for a in answers] == [1] * len(QUESTIONS)  # each once
    times = [a[0]["created_at"] for a in answers]
    assert times == sorted(times)
    assert len(fake_openai.chat_requests) == len(QUESTIONS)
    asked = {r["messages"][-1]["content"]: r["messages"][1:] for r in fake_openai.chat_requests}
    history: list[dict[str, str]] = []
    for question in QUESTIONS:  # each answer saw every question and answer before its own
        history.append({"role": "user", "content": question})
        assert asked[question] == history
        history.append({"role": "assistant", "content": f"Echo: {question}"})
    for q in stored:
        assert await sent_texts(context, q["id"]) == [f"Echo: {q['content']}"]
