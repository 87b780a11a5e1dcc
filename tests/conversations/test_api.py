"""The omnichannel document's Conversation API: a workspace's conversations on every channel,
their messages, and closing one."""

from __future__ import annotations

import uuid

import pytest

from backend.conversations import repository as conversations
from backend.events import repository as events
from tests.fixtures.factories import (
    PASSWORD,
    chat,
    connect_openai,
    create_api_key,
    create_chatbot,
    unique_email,
)


async def _started(client, bot_id: str, visitor: str, message: str = "Hello there") -> str:
    answer = await chat(client, bot_id, message, visitor_id=visitor)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["conversation_id"])


async def _portal_chat(client, admin, anon_key, bot_id: str) -> tuple[str, str]:
    """A customer of the workspace chatting from the portal: their customer id and the
    conversation."""
    email = unique_email("customer")
    created = await client.post(
        "/api/customers", headers=admin.headers, json={"email": email, "password": PASSWORD}
    )
    assert created.status_code == 201, created.text
    session = await client.post(
        "/auth/v1/token?grant_type=password",
        headers={"apikey": anon_key},
        json={"email": email, "password": PASSWORD},
    )
    token = session.json()["access_token"]
    answer = await client.post(
        "/api/chat/message",
        headers={"Authorization": f"Bearer {token}"},
        json={"chatbot_id": bot_id, "visitor_id": "portal-tab", "message": "Hi from the portal"},
    )
    assert answer.status_code == 200, answer.text
    return created.json()["customer_id"], str(answer.json()["conversation_id"])


async def _whatsapp_conversation(context, admin, bot_id: str) -> str:
    conversation_id = uuid.uuid4()
    ws = uuid.UUID(admin.workspace_id)
    async with context.db.for_workspace(ws, "test") as conn:
        await conversations.create_conversation(
            conn,
            conversation_id=conversation_id,
            workspace_id=ws,
            chatbot_id=uuid.UUID(bot_id),
            visitor_id="wa:919876543210",
            channel="whatsapp",
            is_preview=False,
        )
    return str(conversation_id)


async def _listed(client, admin, **query) -> list[str]:
    response = await client.get("/api/conversations", headers=admin.headers, params=query)
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()["data"]]


async def test_conversations_of_every_channel_listed_and_filtered(
    client, context, admin, other_admin, anon_key, fake_openai
):
    bot = await create_chatbot(client, admin)
    widget = await _started(client, bot["id"], "visitor-1")
    customer_id, portal = await _portal_chat(client, admin, anon_key, bot["id"])
    whatsapp = await _whatsapp_conversation(context, admin, bot["id"])
    # The OpenAI-compatible API keeps its conversations as the API channel.
    await connect_openai(client, admin, fake_openai.key)
    key = (await create_api_key(client, admin, ["api"]))["key"]
    completed = await client.post(
        "/v1/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": bot["id"], "messages": [{"role": "user", "content": "Hi"}]},
    )
    assert completed.status_code == 200, completed.text
    [api] = set(await _listed(client, admin)) - {widget, portal, whatsapp}
    # A builder preview is not a conversation with anyone.
    preview = await client.post(
        "/api/chat/message",
        headers=admin.headers,
        json={"chatbot_id": bot["id"], "visitor_id": "builder", "message": "Testing",
              "preview_mode": True},
    )  # fmt: skip
    assert preview.status_code == 200, preview.text
    async with context.db.system() as conn:
        await conn.execute("update conversations set status = 'escalated' where id = %s", (portal,))

    response = await client.get("/api/conversations", headers=admin.headers)
    body = response.json()
    assert body["success"] is True
    assert body["pagination"] == {"page": 1, "limit": 20, "total": 4, "totalPages": 1}
    by_id = {c["id"]: c for c in body["data"]}
    assert set(by_id) == {widget, portal, whatsapp, api}
    assert {i: (c["channel"], c["status"]) for i, c in by_id.items()} == {
        widget: ("CHAT", "ACTIVE"),
        portal: ("PORTAL", "TRANSFERRED"),
        whatsapp: ("WHATSAPP", "ACTIVE"),
        api: ("API", "ACTIVE"),
    }
    assert by_id[widget]["messageCount"] == 2
    assert by_id[portal]["customerId"] == customer_id
    assert set(by_id[widget]) >= {"startedAt", "lastMessageAt", "summary", "chatbotId"}

    assert await _listed(client, admin, channel="CHAT") == [widget]
    assert await _listed(client, admin, channel="PORTAL") == [portal]
    assert await _listed(client, admin, channel="WHATSAPP") == [whatsapp]
    assert await _listed(client, admin, channel="API") == [api]
    assert await _listed(client, admin, channel="VOICE") == []
    assert await _listed(client, admin, status="TRANSFERRED") == [portal]
    assert set(await _listed(client, admin, status="ACTIVE")) == {widget, whatsapp, api}
    assert await _listed(client, admin, status="CLOSED") == []
    assert await _listed(client, admin, customerId=customer_id) == [portal]
    assert await _listed(client, admin, customerId=str(uuid.uuid4())) == []
    assert await _listed(client, admin, status="ACTIVE", channel="CHAT") == [widget]
    # Another workspace sees none of them.
    assert await _listed(client, other_admin) == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"status": "OPEN"}, "status"),
        ({"status": "active"}, "status"),
        ({"channel": "widget"}, "channel"),
        ({"channel": "SMS"}, "channel"),
        ({"customerId": "priya"}, "customerId"),
        ({"page": "0"}, "page"),
        ({"limit": "101"}, "limit"),
    ],
)
async def test_a_bad_filter_is_a_400_naming_it(client, admin, query, field):
    response = await client.get("/api/conversations", headers=admin.headers, params=query)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert [e["field"] for e in body["errors"]] == [field]


async def test_conversations_are_paged_latest_first(client, admin):
    bot = await create_chatbot(client, admin)
    started = [await _started(client, bot["id"], f"visitor-{n}") for n in range(3)]
    first = (await client.get("/api/conversations?limit=2", headers=admin.headers)).json()
    assert [c["id"] for c in first["data"]] == [started[2], started[1]]
    assert first["pagination"] == {"page": 1, "limit": 2, "total": 3, "totalPages": 2}
    second = (await client.get("/api/conversations?limit=2&page=2", headers=admin.headers)).json()
    assert [c["id"] for c in second["data"]] == [started[0]]
    past = (await client.get("/api/conversations?limit=2&page=3", headers=admin.headers)).json()
    assert past["data"] == []
    assert past["pagination"] == {"page": 3, "limit": 2, "total": 3, "totalPages": 2}


async def test_a_conversations_messages_oldest_first_and_paged(client, admin, other_admin):
    bot = await create_chatbot(client, admin)
    conversation = await _started(client, bot["id"], "visitor-1", "Hello there")
    again = await chat(
        client, bot["id"], "Thanks!", visitor_id="visitor-1", conversation_id=conversation
    )
    assert again.status_code == 200, again.text
    url = f"/api/conversations/{conversation}/messages"
    body = (await client.get(url, headers=admin.headers)).json()
    assert body["success"] is True
    assert body["pagination"] == {"page": 1, "limit": 50, "total": 4, "totalPages": 1}
    assert [(m["role"], m["channel"], m["status"]) for m in body["data"]] == [
        ("USER", "CHAT", "DELIVERED"),
        ("ASSISTANT", "CHAT", "DELIVERED"),
        ("USER", "CHAT", "DELIVERED"),
        ("ASSISTANT", "CHAT", "DELIVERED"),
    ]
    first = body["data"][0]
    assert first["content"] == "Hello there"
    assert first["aiCost"] == 0 and first["cachedResponse"] is False
    assert set(first) == {
        "id", "role", "content", "channel", "status", "createdAt", "aiCost", "cachedResponse"
    }  # fmt: skip
    page = (await client.get(f"{url}?page=2&limit=3", headers=admin.headers)).json()
    assert [m["id"] for m in page["data"]] == [body["data"][3]["id"]]
    assert page["pagination"]["totalPages"] == 2
    # Another workspace's conversation, or none at all, is not found.
    assert (await client.get(url, headers=other_admin.headers)).status_code == 404
    missing = await client.get(f"/api/conversations/{uuid.uuid4()}/messages", headers=admin.headers)
    assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"


async def _closed_events(context, conversation: str) -> int:
    async with context.db.system() as conn:
        found = await events.list_for_subject(conn, uuid.UUID(conversation))
    return sum(e["type"] == "conversation.closed" for e in found)


async def test_closing_a_conversation_once(client, context, admin, other_admin):
    bot = await create_chatbot(client, admin)
    conversation = await _started(client, bot["id"], "visitor-1")
    url = f"/api/conversations/{conversation}/close"

    # Another workspace cannot close it, nor can a reason the document does not have.
    theirs = await client.post(url, headers=other_admin.headers, json={"reason": "SPAM"})
    assert theirs.status_code == 404, theirs.text
    bad = await client.post(url, headers=admin.headers, json={"reason": "BORED"})
    assert bad.status_code == 400 and [e["field"] for e in bad.json()["errors"]] == ["reason"]
    assert await _listed(client, admin, status="ACTIVE") == [conversation]

    closed = await client.post(
        url, headers=admin.headers, json={"reason": "RESOLVED", "summary": "Order tracked"}
    )
    assert closed.status_code == 200, closed.text
    data = closed.json()["data"]
    assert (data["id"], data["status"], data["closeReason"], data["summary"]) == (
        conversation,
        "CLOSED",
        "RESOLVED",
        "Order tracked",
    )
    assert data["closedAt"] is not None
    assert await _listed(client, admin, status="CLOSED") == [conversation]

    twice = await client.post(url, headers=admin.headers, json={"reason": "SPAM"})
    assert twice.status_code == 409 and twice.json()["code"] == "CONFLICT"
    listed = (await client.get("/api/conversations", headers=admin.headers)).json()["data"]
    assert listed[0]["closeReason"] == "RESOLVED"
    assert await _closed_events(context, conversation) == 1
    missing = await client.post(
        f"/api/conversations/{uuid.uuid4()}/close", headers=admin.headers, json={"reason": "OTHER"}
    )
    assert missing.status_code == 404


async def test_a_transferred_conversation_can_be_closed(client, context, admin):
    bot = await create_chatbot(client, admin)
    conversation = await _started(client, bot["id"], "visitor-1")
    async with context.db.system() as conn:
        await conn.execute(
            "update conversations set status = 'escalated', summary = 'Wants a refund'"
            " where id = %s",
            (conversation,),
        )
    closed = await client.post(
        f"/api/conversations/{conversation}/close",
        headers=admin.headers,
        json={"reason": "NO_RESPONSE"},
    )
    assert closed.status_code == 200, closed.text
    # Without a summary of its own, the close keeps the one the conversation had.
    assert closed.json()["data"]["summary"] == "Wants a refund"
    assert closed.json()["data"]["closeReason"] == "NO_RESPONSE"


async def test_api_keys_need_the_conversation_scopes(client, admin, other_admin):
    bot = await create_chatbot(client, admin)
    conversation = await _started(client, bot["id"], "visitor-1")
    messages = f"/api/conversations/{conversation}/messages"
    close = f"/api/conversations/{conversation}/close"

    def keyed(key: dict) -> dict[str, str]:
        return {"X-API-Key": key["key"]}

    api_only = keyed(await create_api_key(client, admin, ["api"]))
    for response in (
        await client.get("/api/conversations", headers=api_only),
        await client.get(messages, headers=api_only),
        await client.post(close, headers=api_only, json={"reason": "RESOLVED"}),
    ):
        assert response.status_code == 403 and response.json()["code"] == "FORBIDDEN"

    reader = keyed(await create_api_key(client, admin, ["conversations:read"]))
    assert await _listed(client, admin) == [conversation]
    listed = await client.get("/api/conversations", headers=reader)
    assert [c["id"] for c in listed.json()["data"]] == [conversation]
    assert (await client.get(messages, headers=reader)).status_code == 200
    refused = await client.post(close, headers=reader, json={"reason": "RESOLVED"})
    assert refused.status_code == 403

    writer = keyed(await create_api_key(client, admin, ["conversations:write"]))
    assert (await client.get("/api/conversations", headers=writer)).status_code == 403
    closed = await client.post(close, headers=writer, json={"reason": "SPAM"})
    assert closed.status_code == 200, closed.text

    # A key reads its own workspace only.
    theirs = keyed(await create_api_key(client, other_admin, ["conversations:read"]))
    assert (await client.get("/api/conversations", headers=theirs)).json()["data"] == []
    assert (await client.get(messages, headers=theirs)).status_code == 404
    assert (await client.get("/api/conversations")).status_code == 401
