"""Self-test of the OpenAI fake: the real `openai` SDK must accept what it serves."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import openai
import pytest
from openai import AsyncOpenAI

from tests.fakes.openai import FakeOpenAI, Reply, ToolCall, cosine, embed_text, split_words

WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def fake(server: FakeOpenAI) -> FakeOpenAI:
    server.reset()
    server.latency = server.chunk_delay = 0.0
    return server


@pytest.fixture
async def client(fake: FakeOpenAI) -> AsyncIterator[AsyncOpenAI]:
    async with AsyncOpenAI(base_url=fake.base_url, api_key=fake.key, max_retries=0) as c:
        yield c


@pytest.fixture
def http(fake: FakeOpenAI) -> Iterator[httpx.Client]:
    headers = {"authorization": f"Bearer {fake.key}"}
    with httpx.Client(base_url=fake.base_url, headers=headers) as c:
        yield c


def sse_events(response: httpx.Response) -> list[str]:
    assert response.headers["content-type"].startswith("text/event-stream")
    text = response.text
    assert text.endswith("data: [DONE]\n\n")
    return [block.removeprefix("data: ") for block in text.split("\n\n") if block]


# -- models -------------------------------------------------------------------------------------


async def test_models_list(client: AsyncOpenAI, fake: FakeOpenAI) -> None:
    page = await client.models.list()
    ids = [m.id for m in page.data]
    assert ids == [
        "gpt-4o-mini",
        "gpt-4o",
        "gpt-4.1-mini",
        "gpt-4.1",
        "text-embedding-3-small",
        "text-embedding-3-large",
    ]
    assert all(m.object == "model" and m.created > 0 and m.owned_by for m in page.data)

    model = await client.models.retrieve("gpt-4o-mini")
    assert model.id == "gpt-4o-mini"
    with pytest.raises(openai.NotFoundError) as info:
        await client.models.retrieve("gpt-9")
    assert info.value.code == "model_not_found"
    assert fake.requests[0].headers["authorization"] == f"Bearer {fake.key}"


# -- chat completions ---------------------------------------------------------------------------


async def test_chat_completion_default_echo(client: AsyncOpenAI, fake: FakeOpenAI) -> None:
    messages: Any = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hello there, fake model"},
    ]
    completion = await client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    choice = completion.choices[0]
    assert completion.id.startswith("chatcmpl-")
    assert completion.object == "chat.completion"
    assert completion.model == "gpt-4o-mini"
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content == "Echo: Hello there, fake model"
    assert choice.message.tool_calls is None
    usage = completion.usage
    assert usage is not None
    assert usage.prompt_tokens == -(-len("Be brief.Hello there, fake model") // 4)
    assert usage.completion_tokens == -(-len("Echo: Hello there, fake model") // 4)
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 0
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 0
    assert fake.chat_requests == [{"model": "gpt-4o-mini", "messages": messages}]


async def test_chat_completion_scripted_content_and_usage(
    client: AsyncOpenAI, fake: FakeOpenAI
) -> None:
    fake.script(
        Reply(content="First.", prompt_tokens=100, completion_tokens=7, cached_tokens=64),
        "Second.",
    )
    messages: Any = [{"role": "user", "content": "hi"}]
    first = await client.chat.completions.create(model="gpt-4o", messages=messages)
    second = await client.chat.completions.create(model="gpt-4o", messages=messages)
    third = await client.chat.completions.create(model="gpt-4o", messages=messages)
    assert first.choices[0].message.content == "First."
    assert first.usage is not None and first.usage.total_tokens == 107
    assert first.usage.prompt_tokens_details is not None
    assert first.usage.prompt_tokens_details.cached_tokens == 64
    assert second.choices[0].message.content == "Second."
    assert third.choices[0].message.content == "Echo: hi"
    assert fake.scripted_remaining == 0


async def test_chat_completion_streaming(client: AsyncOpenAI, fake: FakeOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "stream me a few words please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: stream me a few words please"
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) == len(split_words(text)) > 3
    assert len({c.id for c in chunks}) == 1
    assert len({c.created for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    finish = chunks[-2]
    assert finish.choices[0].finish_reason == "stop"
    assert finish.choices[0].delta.content is None
    assert all(c.usage is None for c in chunks[:-1])
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.completion_tokens == -(-len(text) // 4)
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens


def test_streaming_wire_format(http: httpx.Client, fake: FakeOpenAI) -> None:
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "one two"}],
        "stream": True,
    }
    events = sse_events(http.post("/chat/completions", json=body))
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert [c["choices"][0]["delta"] for c in chunks] == [
        {"role": "assistant", "content": "", "refusal": None},
        {"content": "Echo:"},
        {"content": " one"},
        {"content": " two"},
        {},
    ]
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None] * 4 + ["stop"]
    assert all(c["object"] == "chat.completion.chunk" and c["usage"] is None for c in chunks)
    assert all("obfuscation" in c for c in chunks)


async def test_tool_call_non_streaming(client: AsyncOpenAI, fake: FakeOpenAI) -> None:
    fake.script(Reply(tool_calls=[ToolCall("get_weather", {"city": "Paris"}, id="call_abc")]))
    completion = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER_TOOL],
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls is not None
    (call,) = choice.message.tool_calls
    assert call.id == "call_abc"
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert isinstance(call.function.arguments, str)
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert fake.chat_requests[0]["tools"] == [WEATHER_TOOL]


async def test_tool_calls_streaming(client: AsyncOpenAI, fake: FakeOpenAI) -> None:
    fake.script(
        Reply(
            tool_calls=[
                ToolCall("get_weather", {"city": "Paris", "unit": "celsius"}),
                ToolCall("get_weather", '{"city":"Oslo"}'),
            ]
        )
    )
    stream = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Weather in Paris and Oslo?"}],
        tools=[WEATHER_TOOL],
        stream=True,
    )
    calls: dict[int, dict[str, str]] = {}
    finish_reasons = []
    fragments = []
    async for chunk in stream:
        choice = chunk.choices[0]
        finish_reasons.append(choice.finish_reason)
        for tc in choice.delta.tool_calls or []:
            fragments.append(tc)
            entry = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
            if tc.id:
                entry["id"] = tc.id
            if tc.function and tc.function.name:
                entry["name"] += tc.function.name
            if tc.function and tc.function.arguments:
                entry["arguments"] += tc.function.arguments
    assert finish_reasons[-1] == "tool_calls"
    assert [c["name"] for c in calls.values()] == ["get_weather", "get_weather"]
    assert all(c["id"].startswith("call_") for c in calls.values())
    assert json.loads(calls[0]["arguments"]) == {"city": "Paris", "unit": "celsius"}
    assert json.loads(calls[1]["arguments"]) == {"city": "Oslo"}
    firsts = [f for f in fragments if f.id]
    assert len(firsts) == 2
    assert all(f.type == "function" and f.function.arguments == "" for f in firsts)  # type: ignore[union-attr]
    later = [f for f in fragments if not f.id]
    assert len(later) > 2
    assert all(f.type is None and f.function.name is None for f in later)  # type: ignore[union-attr]


def test_chat_validation(http: httpx.Client) -> None:
    missing_model = http.post("/chat/completions", json={"messages": [{"role": "user"}]})
    assert missing_model.status_code == 400
    assert missing_model.json()["error"]["type"] == "invalid_request_error"

    empty = http.post("/chat/completions", json={"model": "gpt-4o", "messages": []})
    assert empty.status_code == 400
    assert empty.json()["error"]["param"] == "messages"

    unknown = http.post(
        "/chat/completions",
        json={"model": "gpt-5-nope", "messages": [{"role": "user", "content": "x"}]},
    )
    assert unknown.status_code == 404
    assert unknown.json() == {
        "error": {
            "message": "The model `gpt-5-nope` does not exist or you do not have access to it.",
            "type": "invalid_request_error",
            "param": None,
            "code": "model_not_found",
        }
    }
    assert unknown.headers["content-type"] == "application/json"


# -- embeddings ---------------------------------------------------------------------------------


async def test_embeddings_base64_default(client: AsyncOpenAI, fake: FakeOpenAI) -> None:
    texts = [
        "How do I get a refund for my order?",
        "I want a refund for my last order",
        "The weather in Paris is sunny today",
    ]
    response = await client.embeddings.create(model="text-embedding-3-small", input=texts)
    assert fake.embedding_requests[0]["encoding_format"] == "base64"
    vectors = [d.embedding for d in response.data]
    assert [d.index for d in response.data] == [0, 1, 2]
    assert all(len(v) == 1536 for v in vectors)
    assert vectors[0] == pytest.approx(embed_text(texts[0], 1536), abs=1e-6)
    assert sum(x * x for x in vectors[0]) == pytest.approx(1.0, abs=1e-4)
    similar = cosine(vectors[0], vectors[1])
    unrelated = cosine(vectors[0], vectors[2])
    assert similar > 0.5
    assert abs(unrelated) < 0.2
    assert similar > unrelated + 0.4
    assert response.usage.prompt_tokens == sum(-(-len(t) // 4) for t in texts)
    assert response.usage.total_tokens == response.usage.prompt_tokens

    large = await client.embeddings.create(model="text-embedding-3-large", input="refund")
    assert len(large.data[0].embedding) == 3072
    small = await client.embeddings.create(
        model="text-embedding-3-small", input="refund", dimensions=256, encoding_format="float"
    )
    assert len(small.data[0].embedding) == 256
    again = await client.embeddings.create(
        model="text-embedding-3-small", input="refund", dimensions=256, encoding_format="float"
    )
    assert again.data[0].embedding == small.data[0].embedding


# -- errors and retries -------------------------------------------------------------------------


async def test_bad_key(fake: FakeOpenAI) -> None:
    async with AsyncOpenAI(
        base_url=fake.base_url, api_key="sk-wrong-key-123456789", max_retries=0
    ) as bad:
        with pytest.raises(openai.AuthenticationError) as info:
            await bad.models.list()
    assert info.value.status_code == 401
    assert info.value.code == "invalid_api_key"
    assert isinstance(info.value.body, dict)
    assert info.value.body["type"] == "invalid_request_error"
    assert info.value.body["message"].startswith("Incorrect API key provided: sk-wrong")


def test_missing_key(fake: FakeOpenAI) -> None:
    response = httpx.get(fake.base_url + "/models")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_other_keys() -> None:
    with FakeOpenAI(valid_keys={"sk-test-a", "sk-test-b"}) as fake:
        assert fake.key in {"sk-test-a", "sk-test-b"}
        for key, status in (("sk-test-a", 200), ("sk-test-b", 200), ("sk-test-c", 401)):
            response = httpx.get(
                fake.base_url + "/models", headers={"authorization": f"Bearer {key}"}
            )
            assert response.status_code == status


async def test_scripted_rate_limit(client: AsyncOpenAI, fake: FakeOpenAI) -> None:
    fake.script(
        Reply(status=429, retry_after=2),
        Reply(status=429, error={"type": "insufficient_quota", "code": "insufficient_quota"}),
        "after the errors",
    )
    messages: Any = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.RateLimitError) as info:
        await client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert info.value.code == "rate_limit_exceeded"
    assert info.value.response.headers["retry-after"] == "2"
    assert info.value.request_id is not None
    with pytest.raises(openai.RateLimitError) as info:
        await client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert info.value.code == "insufficient_quota"
    completion = await client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert completion.choices[0].message.content == "after the errors"


async def test_sdk_retries_after_transient_failure(fake: FakeOpenAI) -> None:
    fake.script("recovered")
    fake.fail_next(1, 500)
    async with AsyncOpenAI(base_url=fake.base_url, api_key=fake.key, max_retries=2) as client:
        completion = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
    assert completion.choices[0].message.content == "recovered"
    assert len(fake.chat_requests) == 2
    assert fake.requests[1].headers["x-stainless-retry-count"] == "1"


async def test_fail_next_applies_to_any_endpoint(client: AsyncOpenAI, fake: FakeOpenAI) -> None:
    fake.fail_next(1, 503, error={"message": "overloaded"})
    with pytest.raises(openai.InternalServerError) as info:
        await client.embeddings.create(model="text-embedding-3-small", input="x")
    assert info.value.status_code == 503
    assert info.value.message.endswith("overloaded")
    await client.embeddings.create(model="text-embedding-3-small", input="x")


async def test_latency_and_chunk_delay(client: AsyncOpenAI, fake: FakeOpenAI) -> None:
    fake.latency = 0.1
    fake.chunk_delay = 0.02
    started = time.perf_counter()
    stream = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "a b c d e"}],
        stream=True,
    )
    chunks = [chunk async for chunk in stream]
    elapsed = time.perf_counter() - started
    assert elapsed >= 0.1 + 0.02 * (len(chunks) - 1)
