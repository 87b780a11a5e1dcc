"""Meta's webhook, through HTTP with bodies in Meta's shapes signed as Meta signs them: the
handshake, the signature (nothing stored without it), several entries for numbers of two
workspaces, every inbound type stored with its details, duplicates stored once and answered
once, consent keywords, and the WhatsApp conversation where users look for it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from backend.context import AppContext
from backend.integrations.whatsapp.webhooks import SIGNATURE_HEADER
from tests.conftest import app_with
from tests.fakes import whatsapp as meta
from tests.fakes.whatsapp import (
    ACCESS_TOKEN,
    APP_SECRET,
    DISPLAY_PHONE_NUMBER,
    PHONE_NUMBER_ID,
    PROFILE_NAME,
    WA_ID,
    FakeGraph,
)
from tests.fixtures.factories import Admin, create_api_key, create_chatbot
from tests.fixtures.jobs import run_inbound_jobs
from tests.fixtures.whatsapp import connect_whatsapp

URL = "/whatsapp/webhook"
VERIFY_TOKEN = "a-verify-token-only-meta-knows"
OTHER_NUMBER_ID = "209876543210987"
OTHER_DISPLAY = "15550001111"
OTHER_SECRET = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
OTHER_WA_ID = "447700900123"
OTHER_VERIFY_TOKEN = "the-other-tenants-verify-token"


async def connect_bot(
    client: httpx.AsyncClient,
    admin: Admin,
    graph: FakeGraph,
    *,
    phone_number_id: str = PHONE_NUMBER_ID,
    app_secret: str = APP_SECRET,
    display: str = DISPLAY_PHONE_NUMBER,
    enabled: bool = True,
    verify_token: str = VERIFY_TOKEN,
) -> dict[str, Any]:
    """A chatbot of the admin's workspace with a WhatsApp number connected (Meta showing it as
    `display`)."""
    bot = await create_chatbot(client, admin, name="Shop assistant")
    await connect_whatsapp(
        client,
        admin,
        bot["id"],
        graph,
        phone_number_id=phone_number_id,
        access_token=ACCESS_TOKEN,
        app_secret=app_secret,
        verify_token=verify_token,
        display_phone_number=display,
        enabled=enabled,
    )
    return bot


@pytest.fixture
async def bot(client: httpx.AsyncClient, admin: Admin, graph: FakeGraph) -> dict[str, Any]:
    return await connect_bot(client, admin, graph)


async def post(
    client: httpx.AsyncClient,
    body: dict[str, Any],
    *,
    secret: str | None = APP_SECRET,
    status: int = 200,
) -> httpx.Response:
    """Deliver a body as Meta does: compact JSON signed with the app secret (unsigned when
    `secret` is None)."""
    raw = meta.encode(body)
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SIGNATURE_HEADER] = meta.sign(raw, secret)
    response = await client.post(URL, content=raw, headers=headers)
    assert response.status_code == status, response.text
    return response


async def deliver(client: httpx.AsyncClient, *messages: dict[str, Any], **change: Any) -> None:
    await post(client, meta.webhook_body([meta.message_change(messages=list(messages), **change)]))


async def fetch(context: AppContext, query: str, *args: Any) -> list[dict[str, Any]]:
    async with context.db.system() as conn:
        return await (await conn.execute(query, args)).fetchall()


async def count(context: AppContext, table: str) -> int:
    [row] = await fetch(context, f"select count(*) as n from {table}")
    return int(row["n"])


async def messages(context: AppContext) -> list[dict[str, Any]]:
    return await fetch(
        context,
        "select m.*, c.channel_account, c.phone, c.contact_id, c.chatbot_id as bot"
        " from messages m join conversations c on c.id = m.conversation_id"
        " order by m.created_at, m.id",
    )


async def answer_jobs(context: AppContext) -> list[dict[str, Any]]:
    return await fetch(
        context,
        "select args, lock, status::text from procrastinate_jobs"
        " where task_name = 'whatsapp.answer' order by id",
    )


async def contacts_of(client: httpx.AsyncClient, admin: Admin) -> list[dict[str, Any]]:
    response = await client.get("/flows/contacts/", headers=admin.headers)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


# -- the handshake --------------------------------------------------------------------------------


async def test_the_handshake_echoes_the_challenge_for_a_bots_verify_token(client, bot):
    response = await client.get(
        URL,
        params={
            "hub.mode": "subscribe",
            "hub.verify_token": VERIFY_TOKEN,
            "hub.challenge": "1158201444",
        },
    )
    assert response.status_code == 200
    assert response.text == "1158201444"
    assert response.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "not-the-token", "hub.challenge": "42"},
        {"hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"},
        {"hub.mode": "subscribe", "hub.challenge": "42"},
        {},
    ],
)
async def test_the_handshake_is_refused_without_a_known_token(client, bot, params):
    response = await client.get(URL, params=params)
    assert response.status_code == 403
    assert response.json()["code"] == "FORBIDDEN"
    assert "42" not in response.text


async def test_the_handshake_is_rate_limited_per_address(database_url):
    async with app_with(database_url, rate_limit_anonymous="2/minute") as (client, _):
        params = {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"}
        codes = [(await client.get(URL, params=params)).status_code for _ in range(3)]
    assert codes == [403, 403, 429]


# -- signatures -----------------------------------------------------------------------------------


async def nothing_stored(context: AppContext) -> None:
    assert await count(context, "inbound_events") == 0
    assert await count(context, "messages") == 0
    assert await count(context, "contacts") == 0
    assert await answer_jobs(context) == []


async def test_an_unsigned_body_is_refused_and_nothing_is_stored(client, context, bot):
    body = meta.webhook_body([meta.message_change(messages=[meta.text_message()])])
    response = await post(client, body, secret=None, status=401)
    assert response.json()["code"] == "UNAUTHORIZED"
    await run_inbound_jobs(context)
    await nothing_stored(context)


async def test_a_wrong_signature_is_refused_and_nothing_is_stored(client, context, bot):
    body = meta.webhook_body([meta.message_change(messages=[meta.text_message()])])
    await post(client, body, secret="not-the-app-secret", status=401)
    raw = meta.encode(body)  # signed, then changed on the way
    tampered = raw.replace(b'"Hi"', b'"Ho"')
    response = await client.post(URL, content=tampered, headers={SIGNATURE_HEADER: meta.sign(raw)})
    assert response.status_code == 401
    await post(client, body, secret="", status=401)
    await run_inbound_jobs(context)
    await nothing_stored(context)


async def test_a_body_signed_with_another_tenants_secret_is_refused(
    client, context, bot, other_admin, graph
):
    await connect_bot(
        client,
        other_admin,
        graph,
        phone_number_id=OTHER_NUMBER_ID,
        app_secret=OTHER_SECRET,
        verify_token=OTHER_VERIFY_TOKEN,
    )
    ours = meta.message_change(messages=[meta.text_message()])
    theirs = meta.message_change(OTHER_NUMBER_ID, OTHER_DISPLAY, OTHER_WA_ID, "Tom")
    theirs["value"]["messages"] = [meta.text_message(OTHER_WA_ID)]
    # Our number, with the other tenant's (valid) secret.
    await post(client, meta.webhook_body([ours]), secret=OTHER_SECRET, status=401)
    # Both numbers: whichever secret signs it, the other number's does not match.
    await post(client, meta.webhook_body([ours, theirs]), secret=APP_SECRET, status=401)
    await post(client, meta.webhook_body([theirs, ours]), secret=OTHER_SECRET, status=401)
    await run_inbound_jobs(context)
    await nothing_stored(context)


async def test_a_body_that_is_not_a_whatsapp_business_account_webhook_is_refused(
    client, context, bot
):
    body = {**meta.webhook_body([meta.message_change(messages=[meta.text_message()])])}
    body["object"] = "page"
    response = await post(client, body, status=400)
    assert response.json()["errors"][0]["field"] == "object"
    raw = b"{not json"
    response = await client.post(URL, content=raw, headers={SIGNATURE_HEADER: meta.sign(raw)})
    assert response.status_code == 400
    await nothing_stored(context)


async def test_changes_for_numbers_we_do_not_know_are_acknowledged_and_skipped(
    client, context, bot
):
    stranger = meta.message_change("999000111222333", messages=[meta.text_message()])
    await post(client, meta.webhook_body([stranger]), secret="someone-elses-app-secret")
    # Beside one of ours, the unknown number's change is skipped, ours kept.
    ours = meta.message_change(messages=[meta.text_message(body="Is the red saree in stock?")])
    await post(client, meta.webhook_body([stranger, ours]))
    await run_inbound_jobs(context)
    [message] = await messages(context)
    assert message["content"] == "Is the red saree in stock?"
    [event] = await fetch(context, "select payload from inbound_events")
    assert event["payload"]["phone_number_id"] == PHONE_NUMBER_ID


# -- what is stored ---------------------------------------------------------------------------------


async def test_a_text_message_makes_the_contact_the_conversation_and_an_answer_job(
    client, context, admin, bot
):
    wamid = "wamid.HBgMOTE5ODc2NTQzMjEwFQIAEhgg"
    response = await post(
        client,
        meta.webhook_body(
            [
                meta.message_change(
                    messages=[
                        meta.text_message(
                            body="Where is my order?", wamid=wamid, timestamp="1765100000"
                        )
                    ]
                )
            ]
        ),
    )
    assert response.json() == {"received": True}
    [event] = await fetch(context, "select * from inbound_events")
    assert (event["provider"], event["event_id"], event["type"]) == (
        "whatsapp",
        f"message:{wamid}",
        "message.text",
    )
    assert str(event["workspace_id"]) == admin.workspace_id
    assert event["payload"]["contact"] == {"wa_id": WA_ID, "profile_name": PROFILE_NAME}
    assert await count(context, "messages") == 0  # acknowledged before it is applied

    await run_inbound_jobs(context)
    [message] = await messages(context)
    assert message["role"] == "user" and message["direction"] == "inbound"
    assert (message["channel"], message["kind"], message["content"]) == (
        "whatsapp",
        "text",
        "Where is my order?",
    )
    assert message["provider_message_id"] == wamid
    assert message["created_at"].timestamp() == 1765100000  # Meta's time, not ours
    assert message["channel_account"] == PHONE_NUMBER_ID and str(message["bot"]) == bot["id"]
    assert message["phone"] == WA_ID

    [contact] = await contacts_of(client, admin)
    assert contact["phone"] == f"+{WA_ID}" and contact["first_name"] == PROFILE_NAME
    assert contact["identities"] == [
        {"channel": "whatsapp", "external_id": WA_ID, "profile_name": PROFILE_NAME}
    ]
    assert contact["last_inbound_at"]["whatsapp"].startswith("2025-12-07T")
    assert str(message["contact_id"]) == contact["id"]

    [job] = await answer_jobs(context)
    assert job["args"] == {"message_id": str(message["id"])}
    assert job["lock"] == f"whatsapp.answer:{contact['id']}"
    [event] = await fetch(context, "select processed_at, last_error from inbound_events")
    assert event["processed_at"] is not None and event["last_error"] is None


async def test_a_second_message_goes_to_the_same_conversation(client, context, bot):
    await deliver(client, meta.text_message(body="Hi"))
    await run_inbound_jobs(context)
    await deliver(client, meta.text_message(body="Do you ship to Pune?"), name="Asha R")
    await run_inbound_jobs(context)
    first, second = await messages(context)
    assert first["conversation_id"] == second["conversation_id"]
    [conversation] = await fetch(context, "select message_count from conversations")
    assert conversation["message_count"] == 2
    [identity] = await fetch(context, "select profile_name from contact_identities")
    assert identity["profile_name"] == "Asha R"  # the profile name follows WhatsApp's
    assert len(await answer_jobs(context)) == 2


EVERY_TYPE: list[tuple[dict[str, Any], str, str, bool]] = [
    # (message, kind, content, answered)
    (meta.text_message(body="Hello"), "text", "Hello", True),
    (meta.image_message(caption="Is this in red?"), "image", "[image] Is this in red?", True),
    (meta.image_message(), "image", "[image]", False),
    (
        meta.document_message(caption="my invoice"),
        "document",
        "[document] invoice.pdf: my invoice",
        True,
    ),
    (meta.audio_message(), "audio", "[voice message]", False),
    (meta.video_message(caption="unboxing"), "video", "[video] unboxing", True),
    (meta.sticker_message(), "sticker", "[sticker]", False),
    (meta.button_message(), "button", "Track Order", True),
    (meta.button_reply(), "interactive", "Yes", True),
    (
        meta.list_reply(description="Silk and cotton"),
        "interactive",
        "Sarees — Silk and cotton",
        True,
    ),
    (
        meta.location_message(name="Home", address="MG Road, Pune"),
        "location",
        "[location] Home, MG Road, Pune (37.4611978, -122.2164385)",
        False,
    ),
    (meta.contacts_message(), "contacts", "[contacts] Chandler Bing (+1 555-555-5555)", False),
    (meta.reaction_message(), "reaction", "[reaction] 👍", False),
    (
        meta.order_message(),
        "order",
        "[order] 2 x SAREE-RED, 1 x KURTA-BLUE (total 3897 INR)",
        False,
    ),
    (
        meta.system_message(),
        "system",
        f"[system] User A changed from {WA_ID} to 919812345678",
        False,
    ),
    (
        meta.unsupported_message(),
        "unsupported",
        "[unsupported] Message type is currently not supported.",
        False,
    ),
]


async def test_every_type_meta_sends_is_stored_with_its_details(client, context, bot):
    for n, (message, *_) in enumerate(EVERY_TYPE):
        message["timestamp"] = str(1765100000 + n)  # in this order
    await deliver(client, *[message for message, *_ in EVERY_TYPE])
    await run_inbound_jobs(context)
    stored = await messages(context)
    assert [(m["kind"], m["content"]) for m in stored] == [
        (kind, content) for _, kind, content, _ in EVERY_TYPE
    ]
    assert {m["provider_message_id"] for m in stored} == {m["id"] for m, *_ in EVERY_TYPE}
    details = {m["content"]: m["details"] for m in stored}
    image = details["[image] Is this in red?"]["media"]
    assert image["id"] == "1234567890987654321" and image["mime_type"] == "image/jpeg"
    assert image["caption"] == "Is this in red?" and image["sha256"]
    assert details["[document] invoice.pdf: my invoice"]["media"]["filename"] == "invoice.pdf"
    assert details["[voice message]"]["media"]["mime_type"] == "audio/ogg; codecs=opus"
    assert details["Yes"]["reply"] == {"type": "button_reply", "id": "yes", "title": "Yes"}
    assert details["Yes"]["context"]["id"] == "wamid.question"  # what it answers
    assert details["Track Order"]["button"]["payload"] == "TRACK_ORDER"
    assert details["Track Order"]["context"]["id"] == "wamid.template"
    location = details["[location] Home, MG Road, Pune (37.4611978, -122.2164385)"]["location"]
    assert location["latitude"] == 37.4611978 and location["address"] == "MG Road, Pune"
    assert details["[reaction] 👍"]["reaction"] == {"message_id": "wamid.reacted", "emoji": "👍"}
    shared = details["[contacts] Chandler Bing (+1 555-555-5555)"]["contacts"]
    assert shared[0]["phones"][0]["wa_id"] == "15555555555"
    order = details["[order] 2 x SAREE-RED, 1 x KURTA-BLUE (total 3897 INR)"]["order"]
    assert order["catalog_id"] == "354160437058781"
    [unsupported] = [m for m in stored if m["kind"] == "unsupported"]
    assert unsupported["details"]["errors"][0]["code"] == 131051

    # Only what has words to answer is answered, each once, in the contact's order.
    answered = [m["id"] for m, (_, _, _, answer) in zip(stored, EVERY_TYPE, strict=True) if answer]
    jobs = await answer_jobs(context)
    assert [job["args"]["message_id"] for job in jobs] == [str(i) for i in answered]
    assert len({job["lock"] for job in jobs}) == 1
    [conversation] = await fetch(context, "select message_count from conversations")
    assert conversation["message_count"] == len(EVERY_TYPE)


async def test_entries_for_numbers_of_two_workspaces_each_go_to_their_workspace(
    client, context, admin, other_admin, bot, graph
):
    # Two tenants' numbers on one Meta app (a tech provider's): one secret signs both.
    other_bot = await connect_bot(
        client,
        other_admin,
        graph,
        phone_number_id=OTHER_NUMBER_ID,
        display=OTHER_DISPLAY,
        verify_token=OTHER_VERIFY_TOKEN,
    )
    theirs = meta.message_change(
        OTHER_NUMBER_ID, OTHER_DISPLAY, OTHER_WA_ID, "Tom",
        messages=[meta.text_message(OTHER_WA_ID, body="Hello from London")],
    )  # fmt: skip
    body = meta.webhook_body(
        entries=[
            meta.entry(
                [
                    meta.message_change(
                        messages=[meta.text_message(body="Namaste", timestamp="1765100000")]
                    )
                ]
            ),
            meta.entry(
                [
                    theirs,
                    meta.status_change(statuses=[meta.status("wamid.unknown", "delivered")]),
                    meta.message_change(
                        messages=[meta.text_message(body="Still there?", timestamp="1765100001")]
                    ),
                ],
                waba_id="102290129340399",
            ),
        ]
    )
    await post(client, body)
    events = await fetch(context, "select workspace_id, type from inbound_events order by id")
    assert [(str(e["workspace_id"]), e["type"]) for e in events] == [
        (admin.workspace_id, "message.text"),
        (other_admin.workspace_id, "message.text"),
        (admin.workspace_id, "status.delivered"),
        (admin.workspace_id, "message.text"),
    ]
    await run_inbound_jobs(context)

    async def seen_by(who: Admin) -> list[tuple[str, str]]:
        response = await client.get(
            "/api/conversations", params={"channel": "WHATSAPP"}, headers=who.headers
        )
        assert response.status_code == 200, response.text
        found = []
        for conversation in response.json()["data"]:
            listed = await client.get(
                f"/api/conversations/{conversation['id']}/messages", headers=who.headers
            )
            found += [(conversation["chatbotId"], m["content"]) for m in listed.json()["data"]]
        return found

    assert await seen_by(admin) == [(bot["id"], "Namaste"), (bot["id"], "Still there?")]
    assert await seen_by(other_admin) == [(other_bot["id"], "Hello from London")]
    [theirs_contact] = await contacts_of(client, other_admin)
    assert theirs_contact["phone"] == f"+{OTHER_WA_ID}"
    assert [c["phone"] for c in await contacts_of(client, admin)] == [f"+{WA_ID}"]


# -- duplicates -------------------------------------------------------------------------------------


async def test_the_same_delivery_twice_is_stored_once_and_answered_once(client, context, bot):
    body = meta.webhook_body([meta.message_change(messages=[meta.text_message(body="Hi")])])
    await post(client, body)
    await post(client, body)  # Meta retries what it thinks failed
    assert await count(context, "inbound_events") == 1
    await run_inbound_jobs(context)
    await post(client, body)  # and again, once it was applied
    await run_inbound_jobs(context)
    assert await count(context, "inbound_events") == 1
    assert len(await messages(context)) == 1
    assert len(await answer_jobs(context)) == 1


async def test_a_message_in_two_deliveries_is_stored_once_and_answered_once(client, context, bot):
    repeated = meta.text_message(body="Hi", wamid="wamid.repeated")
    await deliver(client, repeated)
    await deliver(client, meta.text_message(body="Anyone?"), repeated)
    await run_inbound_jobs(context)
    assert sorted(m["content"] for m in await messages(context)) == ["Anyone?", "Hi"]
    assert len(await answer_jobs(context)) == 2
    [conversation] = await fetch(context, "select message_count from conversations")
    assert conversation["message_count"] == 2


async def test_a_message_twice_in_one_delivery_is_stored_once_and_answered_once(
    client, context, bot
):
    repeated = meta.text_message(body="Hi", wamid="wamid.twice")
    body = meta.webhook_body(
        [meta.message_change(messages=[repeated]), meta.message_change(messages=[repeated])]
    )
    await post(client, body)
    await run_inbound_jobs(context)
    assert [m["content"] for m in await messages(context)] == ["Hi"]
    assert await count(context, "inbound_events") == 1
    assert len(await answer_jobs(context)) == 1


# -- not answered -----------------------------------------------------------------------------------


async def test_a_bot_whose_whatsapp_is_off_stores_but_does_not_answer(
    client, context, admin, graph
):
    await connect_bot(client, admin, graph, enabled=False)
    await deliver(client, meta.text_message(body="Hello?"))
    await run_inbound_jobs(context)
    assert len(await messages(context)) == 1
    assert await answer_jobs(context) == []
    [event] = await fetch(context, "select last_error from inbound_events")
    assert "switched off" in event["last_error"]


async def test_an_escalated_conversation_is_not_answered_by_the_bot(client, context, bot):
    await deliver(client, meta.text_message(body="I want a person"))
    await run_inbound_jobs(context)
    async with context.db.system() as conn:  # a member took it over (the handoff)
        await conn.execute("update conversations set status = 'escalated'")
    await deliver(client, meta.text_message(body="Hello?"))
    await run_inbound_jobs(context)
    assert [m["content"] for m in await messages(context)] == ["I want a person", "Hello?"]
    assert len(await answer_jobs(context)) == 1  # the first one only


# -- consent ----------------------------------------------------------------------------------------


async def consent_events(context: AppContext) -> list[tuple[str, str]]:
    rows = await fetch(
        context, "select type, payload from events where type like 'contact.opted%%' order by id"
    )
    return [(r["type"], r["payload"]["source"]) for r in rows]


async def test_start_and_stop_change_marketing_consent_and_are_not_answered(
    client, context, admin, bot
):
    await deliver(client, meta.text_message(body="START"))
    await run_inbound_jobs(context)
    [contact] = await contacts_of(client, admin)
    assert contact["marketing_opt_in"] is True and contact["opt_in_source"] == "whatsapp:START"

    await deliver(client, meta.text_message(body="  stop "))
    await run_inbound_jobs(context)
    [contact] = await contacts_of(client, admin)
    assert contact["marketing_opt_in"] is False and contact["opt_in_source"] == "whatsapp:STOP"
    assert await consent_events(context) == [
        ("contact.opted_in", "whatsapp:START"),
        ("contact.opted_out", "whatsapp:STOP"),
    ]
    # Stored like any message, never answered; a sentence that mentions stop is no keyword.
    assert [m["content"] for m in await messages(context)] == ["START", "  stop "]
    assert await answer_jobs(context) == []
    await deliver(client, meta.text_message(body="Please stop the delivery"))
    await run_inbound_jobs(context)
    assert len(await answer_jobs(context)) == 1
    assert len(await consent_events(context)) == 2


async def test_the_workspaces_own_words_opt_out_and_in(client, context, admin, bot):
    async with context.db.system() as conn:  # the workspace's WhatsApp settings
        await conn.execute(
            "insert into whatsapp_settings (workspace_id, opt_out_words, opt_in_words)"
            " values (%s, %s, %s)",
            (admin.workspace_id, ["Unsubscribe", "बंद"], ["Subscribe"]),
        )
    await deliver(client, meta.text_message(body="subscribe"))
    await run_inbound_jobs(context)
    await deliver(client, meta.button_message(text="बंद", payload="STOP_PROMOS"))
    await run_inbound_jobs(context)
    assert await consent_events(context) == [
        ("contact.opted_in", "whatsapp:Subscribe"),
        ("contact.opted_out", "whatsapp:बंद"),
    ]
    assert await answer_jobs(context) == []


# -- where users look -------------------------------------------------------------------------------


async def test_the_whatsapp_conversation_shows_in_stats_conversations_and_analytics(
    client, context, admin, bot
):
    await deliver(client, meta.text_message(body="Hi"), meta.text_message(body="Order 1042?"))
    await run_inbound_jobs(context)
    key = (await create_api_key(client, admin, ["stats:read", "conversations:read", "api"]))["key"]
    headers = {"X-API-Key": key}

    listed = await client.get("/api/stats/conversations", headers=headers)
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    assert (item["channel"], item["phone"], item["message_count"]) == ("whatsapp", WA_ID, 2)
    searched = await client.get(
        "/api/stats/conversations", params={"search": "+91 98765"}, headers=headers
    )
    assert [i["id"] for i in searched.json()["items"]] == [item["id"]]

    overview = (await client.get("/api/stats/overview", headers=headers)).json()
    assert overview["total_conversations"] == 1 and overview["messages_today"] == 2

    whatsapp = await client.get(
        "/api/conversations", params={"channel": "WHATSAPP"}, headers=headers
    )
    [conversation] = whatsapp.json()["data"]
    assert (conversation["id"], conversation["channel"]) == (item["id"], "WHATSAPP")
    assert conversation["messageCount"] == 2
    web = await client.get("/api/conversations", params={"channel": "CHAT"}, headers=headers)
    assert web.json()["data"] == []

    dashboard = (await client.get("/api/analytics/dashboard", headers=headers)).json()["data"]
    assert dashboard["conversations"]["total"] == 1
    assert dashboard["conversations"]["active"] == 1


async def test_a_contact_who_is_a_customer_links_the_conversation(client, context, customer, bot):
    # The customer's phone is +91 98765 43210: the WhatsApp id the message comes from.
    await deliver(client, meta.text_message(body="Hi"))
    await run_inbound_jobs(context)
    [conversation] = await fetch(context, "select customer_id from conversations")
    assert str(conversation["customer_id"]) == customer.id
    conversations = await client.get(
        "/api/customers/portal/conversations", headers=customer.headers
    )
    assert conversations.status_code == 200, conversations.text
    assert len(conversations.json()["data"]) == 1  # the customer sees it in the portal


# -- system errors ----------------------------------------------------------------------------------


async def test_a_system_error_is_kept_and_changes_nothing(client, context, bot):
    body = meta.webhook_body([meta.errors_change(errors=[meta.error(130429)])])
    await post(client, body)
    await post(client, body)
    await run_inbound_jobs(context)
    [event] = await fetch(context, "select type, processed_at, last_error from inbound_events")
    assert event["type"] == "error" and event["processed_at"] is not None
    assert event["last_error"].startswith("system error 130429")
    assert await count(context, "messages") == 0
