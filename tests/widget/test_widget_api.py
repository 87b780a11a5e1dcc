"""The public widget API: config, messages, a visitor's history, forms, sites, identity."""

from __future__ import annotations

import json

import pytest

from backend.widget.identity import sign
from tests.fixtures.factories import add_faq, create_chatbot

FORM = {
    "name": "callback",
    "title": "Ask for a call back",
    "fields": [
        {"name": "name", "label": "Your name", "type": "text", "required": True},
        {"name": "email", "label": "E-mail", "type": "email", "required": True},
        {"name": "phone", "label": "Phone", "type": "phone"},
        {"name": "size", "label": "Size", "type": "select", "options": ["S", "M", "L"]},
        {"name": "newsletter", "label": "Newsletter", "type": "checkbox"},
    ],
    "submit_message": "Thanks, we will call you.",
}


@pytest.fixture
async def bot(client, admin):
    bot = await create_chatbot(
        client,
        admin,
        name="Chicx",
        first_message="Namaste!",
        placeholder_text="Ask away",
        theme={"primary_color": "#aa3366", "avatar": "https://cdn.chicx.example/a.png"},
    )
    await add_faq(client, admin, bot["id"], "Do you ship abroad?", "Only within India.")
    form = await client.post(f"/api/chatbots/{bot['id']}/forms", headers=admin.headers, json=FORM)
    assert form.status_code == 201, form.text
    bot["form"] = form.json()["data"]
    return bot


async def say(client, bot_id, message, visitor="v1", conversation_id=None, **extra):
    return await client.post(
        f"/api/widget/{bot_id}/message",
        json={
            "visitor_id": visitor,
            "message": message,
            "conversation_id": conversation_id,
            **extra,
        },
        headers=extra.pop("headers", None) or {},
    )


async def test_config_has_the_documented_fields(client, bot):
    response = await client.get(
        f"/api/widget/{bot['id']}/config", headers={"Origin": "https://anywhere.example"}
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    body = response.json()
    assert body["chatbot_id"] == bot["id"] and body["name"] == "Chicx"
    assert body["theme"] == {
        "primary_color": "#aa3366",
        "secondary_color": "#ffffff",
        "position": "bottom-right",
        "avatar": "https://cdn.chicx.example/a.png",
    }
    assert (body["first_message"], body["placeholder_text"]) == ("Namaste!", "Ask away")
    assert [f["name"] for f in body["forms"]] == ["callback"]
    assert body["forms"][0]["fields"][1]["type"] == "email"
    assert [q["question"] for q in body["faqs"]] == ["Do you ship abroad?"]


async def test_a_browser_may_call_the_public_routes_from_any_site(client, bot):
    preflight = await client.options(
        f"/api/widget/{bot['id']}/message",
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in preflight.headers
    # Admin routes are not opened to other sites.
    admin_preflight = await client.options(
        "/api/chatbots",
        headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in admin_preflight.headers


async def test_unknown_and_inactive_bots_are_not_found(client, admin, bot):
    await client.patch(
        f"/api/chatbots/{bot['id']}", headers=admin.headers, json={"is_active": False}
    )
    for response in (
        await client.get(f"/api/widget/{bot['id']}/config"),
        await say(client, bot["id"], "hi"),
        await client.get(f"/api/widget/{bot['id']}/script.js"),
        await client.get("/api/widget/00000000-0000-0000-0000-000000000000/config"),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "NOT_FOUND"
        assert response.headers.get("access-control-allow-origin") in ("*", None)


async def test_a_visitor_chats_and_gets_their_history_back_and_no_one_else_does(client, bot):
    first = await say(client, bot["id"], "Do you ship abroad?")
    assert first.status_code == 200, first.text
    conversation_id = first.json()["conversation_id"]
    assert first.json()["message"] == "Only within India."
    await say(client, bot["id"], "Thanks", conversation_id=conversation_id)

    history = await client.get(
        f"/api/widget/{bot['id']}/conversations/{conversation_id}/messages",
        params={"visitor_id": "v1"},
    )
    assert history.status_code == 200
    messages = history.json()["messages"]
    assert [(m["role"], m["content"]) for m in messages[:2]] == [
        ("user", "Do you ship abroad?"),
        ("assistant", "Only within India."),
    ]
    assert len(messages) == 4

    for visitor in ("someone-else", ""):
        other = await client.get(
            f"/api/widget/{bot['id']}/conversations/{conversation_id}/messages",
            params={"visitor_id": visitor},
        )
        assert other.status_code in (404, 400)
    # Nor can another visitor continue it.
    hijack = await say(client, bot["id"], "hello", visitor="v2", conversation_id=conversation_id)
    assert hijack.status_code == 404


async def test_answers_stream_as_server_sent_events(client, bot):
    async with client.stream(
        "POST",
        f"/api/widget/{bot['id']}/message",
        json={"visitor_id": "v1", "message": "Do you ship abroad?", "stream": True},
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join([chunk async for chunk in response.aiter_text()])
    events = [block.split("\n", 1) for block in text.strip().split("\n\n")]
    assert events[-1][0] == "event: done"
    done = json.loads(events[-1][1].removeprefix("data: "))
    assert done["message"] == "Only within India." and done["conversation_id"]


async def test_a_bot_limited_to_some_sites_answers_only_them(client, admin, bot):
    await client.patch(
        f"/api/chatbots/{bot['id']}",
        headers=admin.headers,
        json={"allowed_domains": ["chicx.example"]},
    )
    url = f"/api/widget/{bot['id']}/config"
    for allowed in (
        {"Origin": "https://chicx.example"},
        {"Origin": "https://www.chicx.example"},
        {"Referer": "https://shop.chicx.example/sarees?id=1"},
        {"Origin": "http://test"},  # our own messenger page
    ):
        assert (await client.get(url, headers=allowed)).status_code == 200, allowed
    for refused in (
        {"Origin": "https://evil.example"},
        {"Origin": "https://chicx.example.evil.example"},
        {"Origin": "https://notchicx.example"},
        {},
    ):
        response = await client.get(url, headers=refused)
        assert response.status_code == 403 and response.json()["code"] == "FORBIDDEN", refused
    refused_message = await say(client, bot["id"], "hi", headers={"Origin": "https://evil.example"})
    assert refused_message.status_code == 403


async def test_a_form_submission_is_stored_and_becomes_a_lead(client, context, bot):
    conversation_id = (await say(client, bot["id"], "hello")).json()["conversation_id"]
    response = await client.post(
        "/api/forms/submit",
        json={
            "form_id": bot["form"]["id"],
            "conversation_id": conversation_id,
            "visitor_id": "v1",
            "submitted_data": {
                "name": "  Priya Raman ",
                "email": "Priya@Example.COM",
                "phone": "+91 98765 43210",
                "size": "M",
                "newsletter": True,
            },
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["success"] is True and body["message"] == "Thanks, we will call you."
    async with context.db.system() as conn:
        lead = await (
            await conn.execute("select * from leads where id = %s", (body["lead_id"],))
        ).fetchone()
        stored = await (
            await conn.execute(
                "select * from form_submissions where id = %s", (body["submission_id"],)
            )
        ).fetchone()
    assert (lead["name"], lead["email"], lead["phone"]) == (
        "Priya Raman",
        "priya@example.com",
        "+919876543210",
    )
    assert lead["source"] == "form" and str(lead["conversation_id"]) == conversation_id
    assert lead["notes"] == "Size: M\nNewsletter: True"
    assert stored["submitted_data"]["phone"] == "+919876543210"

    # The same person again: one lead, completed; and a customer of the workspace.
    again = await client.post(
        "/api/forms/submit",
        json={
            "form_id": bot["form"]["id"],
            "visitor_id": "v2",
            "submitted_data": {"name": "Priya R", "email": "priya@example.com"},
        },
    )
    assert again.status_code == 201 and again.json()["lead_id"] == body["lead_id"]
    async with context.db.system() as conn:
        counts = await (
            await conn.execute(
                "select (select count(*) from leads) as leads,"
                " (select count(*) from form_submissions) as submissions,"
                " (select string_agg(email || ' ' || phone, ',') from customers) as customers"
            )
        ).fetchone()
    assert (counts["leads"], counts["submissions"]) == (1, 2)
    assert counts["customers"] == "priya@example.com +919876543210"


async def test_a_forms_national_number_is_read_in_the_workspaces_country(client, admin, bot):
    def submit(visitor, phone):
        return client.post(
            "/api/forms/submit",
            json={
                "form_id": bot["form"]["id"],
                "visitor_id": visitor,
                "submitted_data": {"name": "Priya", "email": f"{visitor}@example.com",
                                   "phone": phone, "size": "M"},
            },
        )  # fmt: skip

    refused = await submit("v1", "98765 43210")  # whose country? the workspace has none
    assert refused.status_code == 400, refused.text
    assert refused.json()["errors"][0]["field"] == "submitted_data.phone"
    patched = await client.patch("/api/business/me", headers=admin.headers, json={"country": "IN"})
    assert patched.status_code == 200, patched.text
    accepted = await submit("v2", "98765 43210")
    assert accepted.status_code == 201, accepted.text
    leads = (await client.get("/api/leads", headers=admin.headers)).json()["leads"]
    assert [lead["phone"] for lead in leads] == ["+919876543210"]


async def test_a_bad_form_submission_says_what_is_wrong_and_stores_nothing(client, context, bot):
    response = await client.post(
        "/api/forms/submit",
        json={
            "form_id": bot["form"]["id"],
            "visitor_id": "v1",
            "submitted_data": {
                "email": "not-an-email",
                "phone": "98765",
                "size": "XXL",
                "shoe": "42",
            },
        },
    )
    assert response.status_code == 400
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert set(errors) == {
        "submitted_data.name",
        "submitted_data.email",
        "submitted_data.phone",
        "submitted_data.size",
        "submitted_data.shoe",
    }
    other = await client.post(
        "/api/forms/submit",
        json={
            "form_id": bot["form"]["id"],
            "visitor_id": "v9",
            "conversation_id": (await say(client, bot["id"], "hi")).json()["conversation_id"],
            "submitted_data": {"name": "A", "email": "a@example.com"},
        },
    )
    assert other.status_code == 404  # someone else's conversation
    missing = await client.post(
        "/api/forms/submit",
        json={
            "form_id": "00000000-0000-0000-0000-000000000000",
            "visitor_id": "v1",
            "submitted_data": {},
        },
    )
    assert missing.status_code == 404
    async with context.db.system() as conn:
        counts = await (
            await conn.execute(
                "select (select count(*) from form_submissions) as s,"
                " (select count(*) from leads) as l"
            )
        ).fetchone()
    assert (counts["s"], counts["l"]) == (0, 0)


async def test_a_verified_visitor_is_known_and_a_forged_one_is_anonymous(
    client, context, admin, other_admin, bot
):
    secret = (await client.get("/api/widget/identity-secret", headers=admin.headers)).json()[
        "data"
    ]["secret"]
    assert (
        secret
        == (await client.get("/api/widget/identity-secret", headers=admin.headers)).json()["data"][
            "secret"
        ]
    )  # made once
    verified = await say(
        client,
        bot["id"],
        "hi",
        visitor="v-signed",
        user_id="cust-42",
        user_hash=sign(secret, "cust-42"),
        user_email="priya@example.com",
    )
    forged = await say(
        client, bot["id"], "hi", visitor="v-forged", user_id="cust-42", user_hash="0" * 64
    )
    unsigned = await say(client, bot["id"], "hi", visitor="v-unsigned", user_id="cust-42")
    async with context.db.system() as conn:
        rows = {
            str(r["id"]): r
            for r in await (
                await conn.execute("select id, user_id, user_email from conversations")
            ).fetchall()
        }
    assert rows[verified.json()["conversation_id"]]["user_id"] == "cust-42"
    assert rows[verified.json()["conversation_id"]]["user_email"] == "priya@example.com"
    assert rows[forged.json()["conversation_id"]]["user_id"] is None
    assert rows[unsigned.json()["conversation_id"]]["user_id"] is None

    rotated = await client.post("/api/widget/identity-secret/rotate", headers=admin.headers)
    assert rotated.json()["data"]["secret"] != secret
    stranger = await client.get("/api/widget/identity-secret", headers=other_admin.headers)
    assert stranger.json()["data"]["secret"] not in (secret, rotated.json()["data"]["secret"])


async def test_a_signed_in_users_conversation_stays_theirs_on_a_shared_browser(client, admin, bot):
    """The visitor id lives in the browser; a conversation of a verified user is not handed to
    whoever uses that browser next, signed out or as someone else."""
    secret = (await client.get("/api/widget/identity-secret", headers=admin.headers)).json()[
        "data"
    ]["secret"]
    mine = {"user_id": "cust-1", "user_hash": sign(secret, "cust-1")}
    first = await say(client, bot["id"], "Where is my order?", visitor="shared", **mine)
    conversation_id = first.json()["conversation_id"]
    assert (
        await say(
            client, bot["id"], "hi", visitor="shared", conversation_id=conversation_id, **mine
        )
    ).status_code == 200
    other = {"user_id": "cust-2", "user_hash": sign(secret, "cust-2")}
    for identity in ({}, other):
        response = await say(
            client, bot["id"], "hi", visitor="shared", conversation_id=conversation_id, **identity
        )
        assert response.status_code == 404, identity
    url = f"/api/widget/{bot['id']}/conversations/{conversation_id}/messages"
    assert (await client.get(url, params={"visitor_id": "shared"})).status_code == 404
    own = await client.get(url, params={"visitor_id": "shared", **mine})
    assert own.status_code == 200 and len(own.json()["messages"]) == 4


async def test_visitors_behind_one_address_are_limited_per_bot_and_per_visitor(
    database_url, anon_key
):
    """One office or mobile-carrier address: each bot's visitors count against that bot's
    generous per-address limit, each visitor against their own tight one, and nothing against
    the per-address limit of the other anonymous routes."""
    from tests.conftest import app_with
    from tests.fixtures.factories import create_admin

    async with app_with(
        database_url,
        rate_limit_anonymous="2/minute",
        rate_limit_bot_address="6/minute",
        rate_limit_chat_visitor="3/minute",
    ) as (client, _):
        shop = await create_admin(client, anon_key, "shop")
        cafe = await create_admin(client, anon_key, "cafe")
        shop_bot = await create_chatbot(client, shop)
        cafe_bot = await create_chatbot(client, cafe)

        # Five visitors of the shop from one address: far over the anonymous limit (2), fine.
        for n in range(5):
            answer = await say(client, shop_bot["id"], "Hello", visitor=f"shop-{n}")
            assert answer.status_code == 200, answer.text
        # The café's visitors from the same address are not limited by the shop's.
        for n in range(3):
            answer = await say(client, cafe_bot["id"], "Hello", visitor="cafe-1")
            assert answer.status_code == 200, answer.text
            assert answer.headers["X-RateLimit-Limit"] == "3"
            assert answer.headers["X-RateLimit-Remaining"] == str(2 - n)
        # One visitor is limited tightly; another visitor of the same bot still gets through.
        refused = await say(client, cafe_bot["id"], "Hello?", visitor="cafe-1")
        assert refused.status_code == 429
        assert refused.json() == {
            "success": False,
            "status": "error",
            "code": "RATE_LIMIT_EXCEEDED",
            "message": "Too many messages, slow down a little",
            "errors": [],
        }
        assert refused.headers["X-RateLimit-Remaining"] == "0"
        assert int(refused.headers["X-RateLimit-Reset"]) > 0
        assert (await say(client, cafe_bot["id"], "Hi", visitor="cafe-2")).status_code == 200

        # One address cannot flood a bot: the shop's sixth request from it, the config read
        # included, is its last this minute.
        config = await client.get(f"/api/widget/{shop_bot['id']}/config")
        assert config.status_code == 200
        flood = await say(client, shop_bot["id"], "Hello", visitor="shop-new")
        assert flood.status_code == 429
        assert flood.headers["X-RateLimit-Limit"] == "6"
