"""The send API (seed 001's WhatsApp module): every kind of message reaches Meta in its wire
format, is stored on the bot's conversation with the contact, and answers our id, Meta's wamid
and the status; what Meta would refuse is refused first, with nothing stored or sent."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.fakes.whatsapp import BUSINESS_ACCOUNT_ID, PHONE_NUMBER_ID
from tests.fixtures.factories import create_api_key, create_chatbot
from tests.whatsapp.sending import (
    PHONE,
    WA_ID,
    rows,
    run_send_jobs,
    whatsapp_bot,
    wrote,
)

TEMPLATE = {"to": PHONE, "template_name": "hello_world"}


async def post(client, admin, bot_id: str, kind: str, body: dict[str, Any], **headers: str):
    return await client.post(
        f"/whatsapp/send/{kind}",
        params={"bot_id": bot_id},
        headers=headers or admin.headers,
        json=body,
    )


async def stored_message(context, message_id: str) -> dict[str, Any]:
    (message,) = await rows(context, "select * from public.messages where id = %s", message_id)
    return message


async def nothing_stored(context) -> bool:
    """No message of ours and no send (the contact's own messages aside)."""
    messages = await rows(context, "select id from public.messages where direction = 'outbound'")
    outbox = await rows(context, "select id from public.whatsapp_outbox")
    return messages == [] and outbox == []


SENDS: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    (
        "text",
        {"text": "Your order ships today.", "preview_url": True},
        {"type": "text", "text": {"body": "Your order ships today.", "preview_url": True}},
        "Your order ships today.",
    ),
    (
        "template",
        {"template_name": "hello_world"},  # the seed's curl: en_US by default
        {"type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}},
        "[template] hello_world",
    ),
    (
        "template",
        {
            "template_name": "order_update",
            "language_code": "en",
            "parameters": ["Asha", "ORD-9271"],
            "buttons": [
                {"type": "url", "text": "ORD-9271"},
                {"type": "quick_reply", "payload": "CANCEL_ORDER"},
            ],
        },
        {
            "type": "template",
            "template": {
                "name": "order_update",
                "language": {"code": "en"},
                "components": [
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "text": "Asha"},
                            {"type": "text", "text": "ORD-9271"},
                        ],
                    },
                    {
                        "type": "button",
                        "sub_type": "url",
                        "index": 0,
                        "parameters": [{"type": "text", "text": "ORD-9271"}],
                    },
                    {
                        "type": "button",
                        "sub_type": "quick_reply",
                        "index": 1,
                        "parameters": [{"type": "payload", "payload": "CANCEL_ORDER"}],
                    },
                ],
            },
        },
        "[template] order_update: Asha, ORD-9271, ORD-9271, CANCEL_ORDER",
    ),
    (
        "template",
        {"template_name": "otp", "parameters": {"code": "482913"}},
        {
            "type": "template",
            "template": {
                "name": "otp",
                "language": {"code": "en_US"},
                "components": [
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "parameter_name": "code", "text": "482913"}
                        ],
                    }
                ],
            },
        },
        "[template] otp: 482913",
    ),
    (
        "template",
        {
            "template_name": "new_product",
            "components": [
                {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://c.dn/a.jpg"}}]}
            ],
        },
        {
            "type": "template",
            "template": {
                "name": "new_product",
                "language": {"code": "en_US"},
                "components": [
                    {
                        "type": "header",
                        "parameters": [{"type": "image", "image": {"link": "https://c.dn/a.jpg"}}],
                    }
                ],
            },
        },
        "[template] new_product: https://c.dn/a.jpg",
    ),
    (
        "media",
        {"media_type": "image", "link": "https://cdn.example/red.jpg", "caption": "Red saree"},
        {"type": "image", "image": {"link": "https://cdn.example/red.jpg", "caption": "Red saree"}},
        "[image] Red saree",
    ),
    (
        "media",
        {"media_type": "document", "media_id": "4490709327384033", "filename": "invoice.pdf"},
        {"type": "document", "document": {"id": "4490709327384033", "filename": "invoice.pdf"}},
        "[document] invoice.pdf",
    ),
    (
        "media",
        {"media_type": "audio", "media_id": "1234567"},
        {"type": "audio", "audio": {"id": "1234567"}},
        "[audio]",
    ),
    (
        "interactive",
        {
            "type": "button",
            "header": {"type": "text", "text": "Your order"},
            "body": {"text": "Confirm delivery tomorrow?"},
            "footer": {"text": "CHICX"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
                    {"type": "reply", "reply": {"id": "no", "title": "No"}},
                ]
            },
        },
        {
            "type": "interactive",
            "interactive": {
                "type": "button",
                "header": {"type": "text", "text": "Your order"},
                "body": {"text": "Confirm delivery tomorrow?"},
                "footer": {"text": "CHICX"},
                "action": {
                    "buttons": [
                        {"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
                        {"type": "reply", "reply": {"id": "no", "title": "No"}},
                    ]
                },
            },
        },
        "[interactive] Confirm delivery tomorrow?",
    ),
    (
        "interactive",
        {
            "type": "list",
            "body": {"text": "What are you looking for?"},
            "action": {
                "button": "Browse",
                "sections": [
                    {"title": "Sarees", "rows": [{"id": "silk", "title": "Silk", "description": "Kanchipuram"}]},
                    {"title": "Kurtas", "rows": [{"id": "cotton", "title": "Cotton"}]},
                ],
            },
        },
        {
            "type": "interactive",
            "interactive": {
                "type": "list",
                "body": {"text": "What are you looking for?"},
                "action": {
                    "button": "Browse",
                    "sections": [
                        {
                            "title": "Sarees",
                            "rows": [{"id": "silk", "title": "Silk", "description": "Kanchipuram"}],
                        },
                        {"title": "Kurtas", "rows": [{"id": "cotton", "title": "Cotton"}]},
                    ],
                },
            },
        },
        "[interactive] What are you looking for?",
    ),
]  # fmt: skip


async def test_every_kind_of_message_reaches_meta_in_its_wire_format(whatsapp_api, graph, admin):
    client, context = whatsapp_api
    bot_id = await whatsapp_bot(client, context, admin, graph)
    await wrote(client, context)

    for n, (kind, fields, wire, content) in enumerate(SENDS, start=1):
        answer = await post(client, admin, bot_id, kind, {"to": PHONE, **fields})

        assert answer.status_code == 200, (kind, answer.text)
        assert len(graph.accepted) == n
        sent = graph.accepted[-1]
        body = answer.json()
        (queued,) = await rows(
            context, "select * from public.whatsapp_outbox where message_id = %s", body["id"]
        )
        assert sent["number"] == PHONE_NUMBER_ID
        assert sent["body"] == {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": WA_ID,
            **wire,
            "biz_opaque_callback_data": str(queued["id"]),
        }
        assert body == {
            "id": body["id"],
            "wamid": sent["wamid"],
            "status": "sent",
            "to": WA_ID,
            "error": None,
        }
        message = await stored_message(context, body["id"])
        assert (message["role"], message["direction"], message["channel"]) == (
            "system",
            "outbound",
            "whatsapp",
        )
        assert (message["kind"], message["content"]) == (wire["type"], content)
        assert (message["status"], message["provider_message_id"]) == ("sent", sent["wamid"])
        assert (queued["status"], queued["wamid"], queued["kind"]) == (
            "sent",
            sent["wamid"],
            "api",
        )

    (conversation,) = await rows(context, "select * from public.conversations")
    assert (conversation["channel"], conversation["channel_account"]) == (
        "whatsapp",
        PHONE_NUMBER_ID,
    )
    assert conversation["message_count"] == 1 + len(SENDS)  # the contact's message, and ours


BAD: list[tuple[str, dict[str, Any], str]] = [
    ("text", {"text": "x" * 4097}, "text"),
    ("text", {"text": ""}, "text"),
    ("text", {"to": "", "text": "hi"}, "to"),
    ("text", {"to": "12", "text": "hi"}, "to"),
    ("template", {"template_name": ""}, "template_name"),
    ("template", {"template_name": "t", "language_code": "english"}, "language_code"),
    ("template", {"template_name": "t", "parameters": ["a"], "components": []}, "components"),
    ("template", {"template_name": "t", "buttons": [{"type": "quick_reply"}]}, "buttons.0.payload"),
    ("template", {"template_name": "t", "parameters": ["x" * 1025]}, "parameters"),
    ("media", {"media_type": "image"}, "link"),
    ("media", {"media_type": "image", "link": "https://a.b/c.jpg", "media_id": "1"}, "link"),
    ("media", {"media_type": "image", "link": "https://a.b/c.jpg", "caption": "x" * 1025}, "caption"),
    ("media", {"media_type": "audio", "media_id": "1", "caption": "hi"}, "caption"),
    ("media", {"media_type": "image", "media_id": "1", "filename": "a.jpg"}, "filename"),
    ("media", {"media_type": "gif", "media_id": "1"}, "media_type"),
    ("media", {"media_type": "image", "link": "ftp://a.b/c.jpg"}, "link"),
    ("interactive", {"type": "button", "body": {"text": "Pick"}, "action": {"buttons": []}}, "action.buttons"),
    (
        "interactive",
        {"type": "button", "body": {"text": "Pick"}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": str(n), "title": f"B{n}"}} for n in range(4)
        ]}},
        "action.buttons",
    ),
    (
        "interactive",
        {"type": "button", "body": {"text": "Pick"}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": "a", "title": "x" * 21}}
        ]}},
        "action.buttons.0.reply.title",
    ),
    (
        "interactive",
        {"type": "button", "body": {"text": "Pick"}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": "a", "title": "Yes"}},
            {"type": "reply", "reply": {"id": "a", "title": "No"}},
        ]}},
        "action.buttons",
    ),
    ("interactive", {"type": "button", "body": {"text": "x" * 1025}, "action": {}}, "body.text"),
    (
        "interactive",
        {"type": "button", "header": {"type": "text", "text": "x" * 61}, "body": {"text": "a"}, "action": {}},
        "header.text",
    ),
    ("interactive", {"type": "button", "footer": {"text": "x" * 61}, "body": {"text": "a"}, "action": {}}, "footer.text"),
    (
        "interactive",
        {"type": "list", "body": {"text": "Pick"}, "action": {"button": "x" * 21, "sections": [
            {"rows": [{"id": "a", "title": "A"}]}
        ]}},
        "action.button",
    ),
    (
        "interactive",
        {"type": "list", "body": {"text": "Pick"}, "action": {"button": "Menu", "sections": [
            {"title": f"S{s}", "rows": [{"id": f"{s}-{r}", "title": "Row"} for r in range(6)]}
            for s in range(2)
        ]}},
        "action.sections",
    ),
    (
        "interactive",
        {"type": "list", "body": {"text": "Pick"}, "action": {"button": "Menu", "sections": [
            {"rows": [{"id": "a", "title": "x" * 25}]}
        ]}},
        "action.sections.0.rows.0.title",
    ),
    (
        "interactive",
        {"type": "list", "body": {"text": "Pick"}, "action": {"button": "Menu", "sections": [
            {"rows": [{"id": "a", "title": "A", "description": "x" * 73}]}
        ]}},
        "action.sections.0.rows.0.description",
    ),
    (
        "interactive",
        {"type": "list", "body": {"text": "Pick"}, "action": {"button": "Menu", "sections": [
            {"rows": [{"id": "x" * 201, "title": "A"}]}
        ]}},
        "action.sections.0.rows.0.id",
    ),
    (
        "interactive",
        {"type": "list", "body": {"text": "Pick"}, "action": {"button": "Menu", "sections": [
            {"title": f"S{s}", "rows": [{"id": f"r{s}", "title": "Row"}]} for s in range(11)
        ]}},
        "action.sections",
    ),
]  # fmt: skip


async def test_what_meta_would_refuse_is_a_400_naming_the_field_with_nothing_stored_or_sent(
    whatsapp_api, graph, admin
):
    client, context = whatsapp_api
    bot_id = await whatsapp_bot(client, context, admin, graph)
    await wrote(client, context)

    for kind, fields, field in BAD:
        answer = await post(client, admin, bot_id, kind, {"to": PHONE, **fields})

        assert answer.status_code == 400, (field, answer.text)
        assert answer.json()["code"] == "VALIDATION_ERROR"
        assert field in [e["field"] for e in answer.json()["errors"]], (field, answer.text)
    assert graph.sent == []
    assert await nothing_stored(context)


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        ("text", {"text": "Hello again"}),
        ("media", {"media_type": "image", "link": "https://cdn.example/a.jpg"}),
        ("interactive", {"type": "button", "body": {"text": "Pick"}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": "a", "title": "A"}}]}}),
    ],
)  # fmt: skip
async def test_outside_the_24_hour_window_only_a_template_goes(
    whatsapp_api, graph, admin, kind, fields
):
    client, context = whatsapp_api
    bot_id = await whatsapp_bot(client, context, admin, graph)
    await wrote(client, context, at=datetime.now(UTC) - timedelta(hours=25))

    refused = await post(client, admin, bot_id, kind, {"to": PHONE, **fields})

    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "WHATSAPP_WINDOW_CLOSED"
    assert "template" in refused.json()["message"]
    assert graph.sent == []
    assert await nothing_stored(context)

    template = await post(client, admin, bot_id, "template", TEMPLATE)
    assert template.status_code == 200, template.text
    assert len(graph.accepted) == 1


async def test_a_contact_who_never_wrote_gets_only_templates(whatsapp_api, graph, admin):
    client, context = whatsapp_api
    bot_id = await whatsapp_bot(client, context, admin, graph)

    refused = await post(client, admin, bot_id, "text", {"to": PHONE, "text": "Hi"})

    assert refused.status_code == 409
    assert refused.json()["code"] == "WHATSAPP_WINDOW_CLOSED"
    assert graph.sent == []


async def test_an_undeliverable_number_is_a_422_with_metas_error_on_the_stored_message(
    whatsapp_api, graph, admin
):
    client, context = whatsapp_api
    bot_id = await whatsapp_bot(client, context, admin, graph)
    graph.fail_number(WA_ID, 131026)

    answer = await post(client, admin, bot_id, "template", TEMPLATE)

    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert (body["code"], body["status"], body["wamid"], body["to"]) == (
        "WHATSAPP_REJECTED",
        "failed",
        None,
        WA_ID,
    )
    assert body["error"]["code"] == "131026"
    assert "Message undeliverable" in body["error"]["message"]
    assert "Message undeliverable" in body["message"]
    message = await stored_message(context, body["id"])
    assert (message["status"], message["error_code"]) == ("failed", "131026")
    assert "Message undeliverable" in message["error_message"]
    (queued,) = await rows(context, "select * from public.whatsapp_outbox")
    assert (queued["status"], queued["error_code"]) == ("failed", "131026")

    await run_send_jobs(context)  # the safety net finds it settled: nothing is sent again
    assert len(graph.sent) == 1


async def test_metas_re_engagement_error_closes_the_window_until_the_contact_writes(
    whatsapp_api, graph, admin
):
    client, context = whatsapp_api
    bot_id = await whatsapp_bot(client, context, admin, graph)
    await wrote(client, context, at=datetime.now(UTC) - timedelta(hours=2))
    graph.fail_next(1, code=131047)

    refused = await post(client, admin, bot_id, "text", {"to": PHONE, "text": "Hi"})
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "131047"

    again = await post(client, admin, bot_id, "text", {"to": PHONE, "text": "Hi?"})
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "WHATSAPP_WINDOW_CLOSED"
    assert len(graph.sent) == 1  # the second was never sent

    await asyncio.sleep(1.1)  # Meta's timestamps are whole seconds: a later one
    await wrote(client, context)  # the contact writes again
    reopened = await post(client, admin, bot_id, "text", {"to": PHONE, "text": "Hi!"})
    assert reopened.status_code == 200, reopened.text


async def test_meta_unavailable_answers_202_queued_and_the_job_sends_it_once(
    whatsapp_api, graph, admin
):
    client, context = whatsapp_api
    bot_id = await whatsapp_bot(client, context, admin, graph)
    graph.fail_next(1, status=503)

    answer = await post(client, admin, bot_id, "template", TEMPLATE)

    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert (body["status"], body["wamid"]) == ("queued", None)
    assert body["error"]["message"]
    assert (await stored_message(context, body["id"]))["status"] == "queued"

    await run_send_jobs(context)

    (sent,) = graph.accepted
    message = await stored_message(context, body["id"])
    assert (message["status"], message["provider_message_id"]) == ("sent", sent["wamid"])


async def test_a_national_number_is_read_in_the_workspaces_country(whatsapp_api, graph, admin):
    client, context = whatsapp_api
    bot_id = await whatsapp_bot(client, context, admin, graph)
    patched = await client.patch("/api/business/me", headers=admin.headers, json={"country": "IN"})
    assert patched.status_code == 200, patched.text

    answer = await post(client, admin, bot_id, "template", {**TEMPLATE, "to": "98765 43210"})

    assert answer.status_code == 200, answer.text
    assert answer.json()["to"] == WA_ID
    assert graph.bodies()[0]["to"] == WA_ID


async def test_an_api_key_needs_the_whatsapp_send_scope(whatsapp_api, graph, admin):
    client, context = whatsapp_api
    bot_id = await whatsapp_bot(client, context, admin, graph)
    sender = await create_api_key(client, admin, ["whatsapp:send"])
    reader = await create_api_key(client, admin, ["api", "whatsapp:read"])

    sent = await post(client, admin, bot_id, "template", TEMPLATE, **{"X-API-Key": sender["key"]})
    refused = await post(
        client, admin, bot_id, "template", TEMPLATE, **{"X-API-Key": reader["key"]}
    )
    anonymous = await client.post(
        "/whatsapp/send/template", params={"bot_id": bot_id}, json=TEMPLATE
    )

    assert sent.status_code == 200, sent.text
    assert refused.status_code == 403
    assert anonymous.status_code == 401
    assert len(graph.accepted) == 1


async def test_another_workspaces_bot_is_a_404_and_a_bot_without_a_number_a_409(
    whatsapp_api, graph, admin, other_admin
):
    client, context = whatsapp_api
    theirs = await whatsapp_bot(client, context, other_admin, graph)
    plain = await create_chatbot(client, admin)
    disabled = await whatsapp_bot(
        client, context, admin, graph, phone_number_id="106540352242111", enabled=False
    )

    not_ours = await post(client, admin, theirs, "template", TEMPLATE)
    no_number = await post(client, admin, plain["id"], "template", TEMPLATE)
    switched_off = await post(client, admin, disabled, "template", TEMPLATE)

    assert not_ours.status_code == 404, not_ours.text
    assert no_number.status_code == 409, no_number.text
    assert no_number.json()["code"] == "WHATSAPP_NOT_CONFIGURED"
    assert switched_off.status_code == 409
    assert graph.sent == []
    assert await nothing_stored(context)


async def test_an_expired_token_marks_the_numbers_connection_invalid(whatsapp_api, graph, admin):
    client, context = whatsapp_api
    bot_id = await whatsapp_bot(client, context, admin, graph)
    graph.fail_next(1, code=190)

    answer = await post(client, admin, bot_id, "template", TEMPLATE)

    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "190"
    (connection,) = await rows(
        context,
        "select status, last_error from public.connections where provider = 'whatsapp'"
        " and account = %s",
        PHONE_NUMBER_ID,
    )
    assert connection["status"] == "invalid"
    assert "expired" in connection["last_error"]


async def test_a_template_send_must_fit_the_synced_definition(whatsapp_api, graph, admin):
    client, context = whatsapp_api
    bot_id = await whatsapp_bot(
        client, context, admin, graph, business_account_id=BUSINESS_ACCOUNT_ID
    )
    graph.add_template(name="order_update", language="en_US")  # "Hi {{1}}, your order {{2}} …"
    synced = await client.post(
        "/whatsapp/templates/sync", params={"bot_id": bot_id}, headers=admin.headers
    )
    assert synced.status_code == 200, synced.text
    order_update = {**TEMPLATE, "template_name": "order_update"}

    short = await post(client, admin, bot_id, "template", {**order_update, "parameters": ["Asha"]})
    fits = await post(
        client, admin, bot_id, "template", {**order_update, "parameters": ["Asha", "ORD-9271"]}
    )
    unknown = await post(client, admin, bot_id, "template", TEMPLATE)  # not synced: Meta decides

    assert short.status_code == 400, short.text
    assert short.json()["code"] == "VALIDATION_ERROR"
    assert "takes 2 parameters, 1 given" in short.json()["message"]
    assert fits.status_code == 200, fits.text
    assert unknown.status_code == 200, unknown.text
    assert len(graph.accepted) == 2
    assert len(await rows(context, "select id from public.whatsapp_outbox")) == 2
