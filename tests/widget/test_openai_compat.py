"""Any Voxtro bot through the official `openai` SDK, with a workspace API key."""

from __future__ import annotations

import openai
import pytest

from tests.fixtures.factories import add_faq, connect_openai, create_api_key, create_chatbot


@pytest.fixture
async def sdk(client, admin, live_server, fake_openai):
    await connect_openai(client, admin, fake_openai.key)
    key = (await create_api_key(client, admin, ["api"]))["key"]
    async with openai.AsyncOpenAI(
        base_url=f"{live_server.url}/v1", api_key=key, max_retries=0
    ) as c:
        yield c


async def test_completion_through_the_sdk(client, admin, sdk, context):
    bot = await create_chatbot(client, admin)
    response = await sdk.chat.completions.create(
        model=bot["id"],
        messages=[
            {"role": "system", "content": "ignored: the bot's prompt rules"},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "What can you do?"},
        ],
    )
    assert response.choices[0].message.content == "Echo: What can you do?"
    assert response.choices[0].finish_reason == "stop"
    assert response.usage is not None and response.usage.completion_tokens > 0
    async with context.db.system() as conn:
        row = await (
            await conn.execute(
                "select channel, message_count from conversations where chatbot_id = %s",
                (bot["id"],),
            )
        ).fetchone()
    assert row == {"channel": "api", "message_count": 2}


async def test_streaming_through_the_sdk(client, admin, sdk):
    bot = await create_chatbot(client, admin)
    await add_faq(client, admin, bot["id"], "Where are you?", "On MG Road.")
    stream = await sdk.chat.completions.create(
        model=bot["id"],
        messages=[{"role": "user", "content": "tell me a story"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage = "", None
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
        if chunk.usage is not None:
            usage = chunk.usage
    assert text == "Echo: tell me a story"
    assert usage is not None and usage.total_tokens > 0

    # An FAQ answer (no model) streams whole.
    stream = await sdk.chat.completions.create(
        model=bot["id"], messages=[{"role": "user", "content": "Where are you?"}], stream=True
    )
    parts = [
        c.choices[0].delta.content async for c in stream if c.choices and c.choices[0].delta.content
    ]
    assert "".join(parts) == "On MG Road."


async def test_unknown_bots_and_bad_keys(client, admin, other_admin, sdk, live_server):
    theirs = await create_chatbot(client, other_admin)
    for model in (theirs["id"], "gpt-4o", "00000000-0000-0000-0000-000000000000"):
        with pytest.raises(openai.NotFoundError):
            await sdk.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "x"}]
            )
    async with openai.AsyncOpenAI(
        base_url=f"{live_server.url}/v1", api_key="vx_live_nope", max_retries=0
    ) as bad:
        with pytest.raises(openai.AuthenticationError):
            await bad.chat.completions.create(
                model=theirs["id"], messages=[{"role": "user", "content": "x"}]
            )
    mine = await create_chatbot(client, admin)
    with pytest.raises(openai.BadRequestError):  # as OpenAI answers an invalid request
        await sdk.chat.completions.create(
            model=mine["id"], messages=[{"role": "assistant", "content": "x"}]
        )
