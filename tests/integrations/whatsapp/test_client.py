"""The Graph API client against the Graph fake over real HTTP: what it sends, what it reads
back, and how each of Meta's refusals and each network failure comes out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from backend.integrations.whatsapp.client import (
    GraphClient,
    GraphError,
    Sent,
    WhatsAppUnavailable,
)
from tests.fakes.whatsapp import (
    ACCESS_TOKEN,
    BUSINESS_ACCOUNT_ID,
    PHONE_NUMBER_ID,
    VERSION,
    FakeGraph,
)
from tests.fixtures.servers import free_port

TO = "919876543210"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeGraph]:
    with FakeGraph() as fake:
        yield fake


@pytest.fixture
def fake(server: FakeGraph) -> FakeGraph:
    server.reset()
    server.add_number(PHONE_NUMBER_ID, ACCESS_TOKEN, verified_name="CHICX")
    return server


@pytest.fixture
async def graph(fake: FakeGraph) -> AsyncIterator[GraphClient]:
    async with GraphClient(ACCESS_TOKEN, base_url=fake.url, version=VERSION) as client:
        yield client


SENDS: dict[str, dict[str, Any]] = {
    "text": {"type": "text", "text": {"body": "Your order ships today.", "preview_url": False}},
    "image": {"type": "image", "image": {"link": "https://cdn.example/a.jpg", "caption": "Red"}},
    "document": {"type": "document", "document": {"id": "4490709327384033", "filename": "x.pdf"}},
    "audio": {"type": "audio", "audio": {"id": "1234567890987654321"}},
    "video": {"type": "video", "video": {"link": "https://cdn.example/v.mp4"}},
    "sticker": {"type": "sticker", "sticker": {"id": "7654321"}},
    "template": {
        "type": "template",
        "template": {
            "name": "order_update",
            "language": {"code": "en_US"},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": "Asha"}]},
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": 0,
                    "parameters": [{"type": "text", "text": "ORD-9271"}],
                },
            ],
        },
    },
    "interactive_button": {
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "Confirm your order?"},
            "action": {"buttons": [{"type": "reply", "reply": {"id": "yes", "title": "Yes"}}]},
        },
    },
    "interactive_list": {
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": "Pick a category"},
            "action": {
                "button": "Categories",
                "sections": [{"title": "Wear", "rows": [{"id": "r1", "title": "Sarees"}]}],
            },
        },
    },
    "location": {
        "type": "location",
        "location": {"latitude": 19.07, "longitude": 72.87, "name": "Store"},
    },
    "reaction": {"type": "reaction", "reaction": {"message_id": "wamid.abc", "emoji": "👍"}},
}


@pytest.mark.parametrize("kind", SENDS)
async def test_every_message_type_goes_out_in_metas_envelope(
    graph: GraphClient, fake: FakeGraph, kind: str
) -> None:
    sent = await graph.send(PHONE_NUMBER_ID, {"to": TO, **SENDS[kind]})

    assert sent.wamid.startswith("wamid.")
    assert sent.wa_id == TO
    assert sent.message_status == ("accepted" if kind == "template" else None)
    [request] = fake.sent
    assert request["number"] == PHONE_NUMBER_ID
    assert request["token"] == ACCESS_TOKEN
    assert request["wamid"] == sent.wamid
    assert request["body"] == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": TO,
        **SENDS[kind],
    }


async def test_a_reply_keeps_its_context_and_callback_data(
    graph: GraphClient, fake: FakeGraph
) -> None:
    await graph.send(
        PHONE_NUMBER_ID,
        {
            "to": "+" + TO,
            "type": "text",
            "text": {"body": "Yes, it is in stock."},
            "context": {"message_id": "wamid.question"},
            "biz_opaque_callback_data": "outbox-42",
        },
    )
    body = fake.sent[0]["body"]
    assert body["context"] == {"message_id": "wamid.question"}
    assert body["biz_opaque_callback_data"] == "outbox-42"
    assert body["to"] == "+" + TO


async def test_phone_number_reads_the_numbers_details(graph: GraphClient) -> None:
    number = await graph.phone_number(PHONE_NUMBER_ID)

    assert number["id"] == PHONE_NUMBER_ID
    assert number["verified_name"] == "CHICX"
    assert number["quality_rating"] == "GREEN"
    assert number["throughput"] == {"level": "STANDARD"}
    assert "display_phone_number" in number


async def test_an_unknown_number_is_graphs_unsupported_request(graph: GraphClient) -> None:
    with pytest.raises(GraphError) as caught:
        await graph.phone_number("999999999999999")
    error = caught.value
    assert (error.http_status, error.code, error.subcode) == (400, 100, 33)
    assert "Unsupported get request" in error.message
    assert not (error.retryable or error.token_refused or error.window_closed)


async def test_templates_reads_every_page(graph: GraphClient, fake: FakeGraph) -> None:
    for i in range(230):
        fake.add_template(BUSINESS_ACCOUNT_ID, f"template_{i:03}", "en_US")

    templates = await graph.templates(BUSINESS_ACCOUNT_ID)

    assert [t["name"] for t in templates] == [f"template_{i:03}" for i in range(230)]
    assert {"name", "language", "status", "category", "components", "id"} <= set(templates[0])
    pages = [r for r in fake.requests if r[1].endswith("/message_templates")]
    assert len(pages) == 3
    assert pages[0][2]["limit"] == "100"
    assert "after" not in pages[0][2] and "after" in pages[1][2]


async def test_no_templates_is_an_empty_list(graph: GraphClient) -> None:
    assert await graph.templates(BUSINESS_ACCOUNT_ID) == []


@pytest.mark.parametrize(
    ("code", "retryable", "window_closed", "token_refused"),
    [
        (130429, True, False, False),
        (131056, True, False, False),
        (131057, True, False, False),
        (4, True, False, False),
        (80007, True, False, False),
        (131047, False, True, False),
        (131026, False, False, False),
        (132001, False, False, False),
        (190, False, False, True),
        (10, False, False, True),
        (200, False, False, True),
        (0, False, False, True),
        (100, False, False, False),
    ],
)
async def test_metas_error_codes(
    graph: GraphClient,
    fake: FakeGraph,
    code: int,
    retryable: bool,
    window_closed: bool,
    token_refused: bool,
) -> None:
    fake.fail_next(code=code)

    with pytest.raises(GraphError) as caught:
        await graph.send(PHONE_NUMBER_ID, {"to": TO, **SENDS["text"]})

    error = caught.value
    assert error.code == code
    assert error.fbtrace_id
    assert (error.retryable, error.window_closed, error.token_refused) == (
        retryable,
        window_closed,
        token_refused,
    )
    assert f"#{code}" in str(error)


async def test_a_closed_window_says_why(graph: GraphClient, fake: FakeGraph) -> None:
    fake.fail_next(code=131047)
    with pytest.raises(GraphError) as caught:
        await graph.send(PHONE_NUMBER_ID, {"to": TO, **SENDS["text"]})
    error = caught.value
    assert error.http_status == 400
    assert error.subcode == 2494010
    assert error.title == "Re-engagement message"
    assert error.details and "24 hours" in error.details
    assert "24 hours" in str(error)


async def test_a_transient_error_is_retryable_whatever_its_code(
    graph: GraphClient, fake: FakeGraph
) -> None:
    fake.fail_next(code=131000, is_transient=True)
    with pytest.raises(GraphError) as caught:
        await graph.send(PHONE_NUMBER_ID, {"to": TO, **SENDS["text"]})
    assert caught.value.is_transient and caught.value.retryable


async def test_a_refused_token_is_token_refused(fake: FakeGraph) -> None:
    async with GraphClient("EAAG-revoked", base_url=fake.url, version=VERSION) as graph:
        with pytest.raises(GraphError) as caught:
            await graph.send(PHONE_NUMBER_ID, {"to": TO, **SENDS["text"]})
    error = caught.value
    assert (error.http_status, error.code, error.type) == (401, 190, "OAuthException")
    assert error.token_refused and not error.retryable
    assert fake.sent[0]["token"] == "EAAG-revoked" and "wamid" not in fake.sent[0]


async def test_a_malformed_body_is_metas_invalid_parameter(
    graph: GraphClient, fake: FakeGraph
) -> None:
    with pytest.raises(GraphError) as caught:
        await graph.send(PHONE_NUMBER_ID, {"to": TO, "type": "text", "text": {"body": ""}})
    error = caught.value
    assert (error.http_status, error.code) == (400, 100)
    assert "text['body']" in error.message
    assert not error.retryable


async def test_a_5xx_without_a_graph_body_is_retryable(graph: GraphClient, fake: FakeGraph) -> None:
    fake.fail_next(status=503)
    with pytest.raises(GraphError) as caught:
        await graph.send(PHONE_NUMBER_ID, {"to": TO, **SENDS["text"]})
    error = caught.value
    assert (error.http_status, error.code) == (503, None)
    assert error.retryable and not error.token_refused
    assert "503" in str(error)


async def test_a_closed_port_is_unavailable_and_certainly_not_sent() -> None:
    port = free_port()
    async with GraphClient(
        ACCESS_TOKEN, base_url=f"http://127.0.0.1:{port}", version=VERSION
    ) as graph:
        with pytest.raises(WhatsAppUnavailable) as caught:
            await graph.send(PHONE_NUMBER_ID, {"to": TO, **SENDS["text"]})
    assert caught.value.sent is False
    assert str(caught.value).startswith(
        f"Could not reach the WhatsApp Cloud API at 127.0.0.1:{port}"
    )
    assert "WHATSAPP_API_URL" in str(caught.value)


async def test_no_answer_in_time_may_have_been_sent(fake: FakeGraph) -> None:
    fake.delay = 1.0
    async with GraphClient(ACCESS_TOKEN, base_url=fake.url, version=VERSION, timeout=0.2) as g:
        with pytest.raises(WhatsAppUnavailable) as caught:
            await g.send(PHONE_NUMBER_ID, {"to": TO, **SENDS["text"]})
    assert caught.value.sent is True
    assert "did not answer in time" in str(caught.value)


async def _raw_server(answer: bytes | None) -> tuple[asyncio.Server, str]:
    """A server that reads one request, then answers `answer` raw, or hangs up (None)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        if answer is not None:
            writer.write(answer)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


async def test_a_connection_cut_after_sending_may_have_been_sent() -> None:
    server, url = await _raw_server(None)
    async with server, GraphClient(ACCESS_TOKEN, base_url=url, version=VERSION) as graph:
        with pytest.raises(WhatsAppUnavailable) as caught:
            await graph.send(PHONE_NUMBER_ID, {"to": TO, **SENDS["text"]})
    assert caught.value.sent is True
    assert "closed before an answer came" in str(caught.value)


async def test_an_answer_without_a_message_id_is_an_unknown_outcome() -> None:
    body = b'{"messaging_product":"whatsapp","messages":[]}'
    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    server, url = await _raw_server(answer)
    async with server, GraphClient(ACCESS_TOKEN, base_url=url, version=VERSION) as graph:
        with pytest.raises(WhatsAppUnavailable) as caught:
            await graph.send(PHONE_NUMBER_ID, {"to": TO, **SENDS["text"]})
    assert caught.value.sent is True


async def test_the_version_may_be_given_without_its_v(fake: FakeGraph) -> None:
    async with GraphClient(ACCESS_TOKEN, base_url=fake.url + "/", version="22.0") as graph:
        sent = await graph.send(PHONE_NUMBER_ID, {"to": TO, **SENDS["text"]})
    assert isinstance(sent, Sent)
    assert fake.requests[0][1] == f"/{VERSION}/{PHONE_NUMBER_ID}/messages"
