"""A bot's WhatsApp message history (`GET /whatsapp/messages/{bot_id}`): both directions, newest
first, with statuses and Meta's errors; one contact's; paged back with `before`."""

from __future__ import annotations

from typing import Any

from tests.fakes.whatsapp import PHONE_NUMBER_ID
from tests.fixtures.factories import create_api_key
from tests.whatsapp.sending import PHONE, WA_ID, rows, whatsapp_bot, wrote

OTHER_PHONE = "+919812345678"


async def send_text(client, admin, bot_id: str, text: str, to: str = PHONE) -> dict[str, Any]:
    answer = await client.post(
        "/whatsapp/send/text",
        params={"bot_id": bot_id},
        headers=admin.headers,
        json={"to": to, "text": text},
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def history(client, headers, bot_id: str, **query: Any):
    return await client.get(f"/whatsapp/messages/{bot_id}", headers=headers, params=query)


async def test_both_directions_newest_first_with_status_and_contact(whatsapp_api, graph, admin):
    client, context = whatsapp_api
    bot_id = await whatsapp_bot(client, context, admin, graph)
    await wrote(client, context, text="Where is my order?")
    sent = await send_text(client, admin, bot_id, "It ships today.")
    graph.fail_number(WA_ID, 131026)
    failed = await client.post(
        "/whatsapp/send/template",
        params={"bot_id": bot_id},
        headers=admin.headers,
        json={"to": PHONE, "template_name": "order_update", "parameters": ["Asha"]},
    )
    assert failed.status_code == 422, failed.text

    answer = await history(client, admin.headers, bot_id)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["next_before"] is None
    listed = body["messages"]
    assert [(m["direction"], m["role"], m["kind"], m["content"], m["status"]) for m in listed] == [
        ("outbound", "system", "template", "[template] order_update: Asha", "failed"),
        ("outbound", "system", "text", "It ships today.", "sent"),
        ("inbound", "user", "text", "Where is my order?", "delivered"),
    ]
    newest, middle, oldest = listed
    assert newest["id"] == failed.json()["id"]
    assert (newest["error_code"], newest["wamid"]) == ("131026", None)
    assert "Message undeliverable" in newest["error_message"]
    assert newest["details"]["name"] == "order_update"
    assert newest["details"]["parameters"] == ["Asha"]
    assert (middle["id"], middle["wamid"]) == (sent["id"], sent["wamid"])
    assert middle["details"] == {"body": "It ships today.", "preview_url": False}
    assert middle["status_changed_at"] is not None
    assert oldest["wamid"].startswith("wamid.")
    assert {m["contact"]["phone"] for m in listed} == {PHONE}
    assert {m["phone_number_id"] for m in listed} == {PHONE_NUMBER_ID}


async def test_one_contacts_messages_by_phone_in_any_format_or_by_id(whatsapp_api, graph, admin):
    client, context = whatsapp_api
    bot_id = await whatsapp_bot(client, context, admin, graph)
    await wrote(client, context, text="Hi from Asha")
    await wrote(client, context, OTHER_PHONE, text="Hi from Ravi")
    (asha,) = await rows(context, "select id from public.contacts where phone = %s", PHONE)

    for contact in (PHONE, WA_ID, "+91 98765-43210", str(asha["id"])):
        answer = await history(client, admin.headers, bot_id, contact=contact)
        assert answer.status_code == 200, answer.text
        assert [m["content"] for m in answer.json()["messages"]] == ["Hi from Asha"], contact

    nobody = await history(client, admin.headers, bot_id, contact="+447700900123")
    assert nobody.json()["messages"] == []
    invalid = await history(client, admin.headers, bot_id, contact="12")
    assert invalid.status_code == 400
    assert invalid.json()["errors"][0]["field"] == "contact"


async def test_pages_back_with_before(whatsapp_api, graph, admin):
    client, context = whatsapp_api
    bot_id = await whatsapp_bot(client, context, admin, graph)
    await wrote(client, context)
    for n in range(4):
        await send_text(client, admin, bot_id, f"Message {n}")

    first = (await history(client, admin.headers, bot_id, limit=2)).json()
    second = (
        await history(client, admin.headers, bot_id, limit=2, before=first["next_before"])
    ).json()
    third = (
        await history(client, admin.headers, bot_id, limit=2, before=second["next_before"])
    ).json()

    pages = [[m["content"] for m in page["messages"]] for page in (first, second, third)]
    assert pages == [["Message 3", "Message 2"], ["Message 1", "Message 0"], ["Hi"]]
    assert third["next_before"] is None
    by_time = await history(
        client, admin.headers, bot_id, before=first["messages"][1]["created_at"]
    )
    assert [m["content"] for m in by_time.json()["messages"]] == ["Message 1", "Message 0", "Hi"]


async def test_bad_queries_are_400s(whatsapp_api, graph, admin):
    client, context = whatsapp_api
    bot_id = await whatsapp_bot(client, context, admin, graph)

    for query, field in (
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"before": "yesterday"}, "before"),
        ({"before": "2026-12-07T10:00:00"}, "before"),
    ):
        answer = await history(client, admin.headers, bot_id, **query)
        assert answer.status_code == 400, (query, answer.text)
        assert answer.json()["errors"][0]["field"] == field


async def test_only_the_workspaces_own_bots_and_keys_with_whatsapp_read(
    whatsapp_api, graph, admin, other_admin
):
    client, context = whatsapp_api
    bot_id = await whatsapp_bot(client, context, admin, graph)
    await wrote(client, context, text="Hello")
    reader = await create_api_key(client, admin, ["whatsapp:read"])
    sender = await create_api_key(client, admin, ["whatsapp:send"])

    by_key = await history(client, {"X-API-Key": reader["key"]}, bot_id)
    wrong_scope = await history(client, {"X-API-Key": sender["key"]}, bot_id)
    theirs = await history(client, other_admin.headers, bot_id)

    assert by_key.status_code == 200, by_key.text
    assert [m["content"] for m in by_key.json()["messages"]] == ["Hello"]
    assert wrong_scope.status_code == 403
    assert theirs.status_code == 404
