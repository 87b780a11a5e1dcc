"""Chatbots and their FAQs, forms and actions through the admin API (integration guide §1)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from tests.fixtures.factories import Admin, add_faq, connect_openai, create_admin, create_chatbot

DOCUMENTED_FIELDS = {
    "name",
    "system_prompt",
    "model",
    "temperature",
    "max_tokens",
    "first_message",
    "placeholder_text",
    "theme",
    "is_active",
    "allowed_domains",
    "knowledge_base",
}
DEFAULT_THEME = {
    "primary_color": "#6366f1",
    "secondary_color": "#ffffff",
    "position": "bottom-right",
    "avatar": None,
}
CONTACT_FIELDS = [
    {"name": "full_name", "label": "Your name", "type": "text", "required": True},
    {"name": "email", "label": "Email", "type": "email", "required": True},
    {"name": "phone", "label": "Phone", "type": "phone"},
    {
        "name": "topic",
        "label": "Topic",
        "type": "select",
        "required": True,
        "options": ["Sales", "Support"],
    },
    {"name": "message", "label": "Message", "type": "textarea", "placeholder": "Tell us more"},
    {"name": "newsletter", "label": "Subscribe", "type": "checkbox"},
]


def field_names(response: httpx.Response) -> list[str]:
    body = response.json()
    assert body["success"] is False and body["code"] == "VALIDATION_ERROR", body
    return [e["field"] for e in body["errors"]]


async def add_agent(client: httpx.AsyncClient, anon_key: str, owner: Admin) -> dict[str, str]:
    """A user added to `owner`'s workspace as an agent; their headers select that workspace."""
    agent = await create_admin(client, anon_key, "agent")
    added = await client.post(
        f"/api/workspaces/{owner.workspace_id}/members",
        headers=owner.headers,
        json={"email": agent.email, "role": "agent"},
    )
    assert added.status_code == 201, added.text
    return {**agent.headers, "X-Workspace-Id": owner.workspace_id}


async def cache_version(context: Any, chatbot_id: str) -> int:
    async with context.db.system() as conn:
        row = await (
            await conn.execute("select cache_version from chatbots where id = %s", (chatbot_id,))
        ).fetchone()
    return int(row["cache_version"])


# -- chatbots ---------------------------------------------------------------------------------


async def test_create_with_defaults(client, admin):
    response = await client.post("/api/chatbots", headers=admin.headers, json={"name": "Helper"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["success"] is True
    bot = body["data"]
    assert bot.keys() >= DOCUMENTED_FIELDS
    assert bot["workspace_id"] == admin.workspace_id
    uuid.UUID(bot["id"])
    assert {k: bot[k] for k in DOCUMENTED_FIELDS} == {
        "name": "Helper",
        "system_prompt": "",
        "model": "gpt-4o-mini",
        "temperature": 0.7,
        "max_tokens": 800,
        "first_message": "Hi! How can I help?",
        "placeholder_text": "Type your message...",
        "theme": DEFAULT_THEME,
        "is_active": True,
        "allowed_domains": [],
        "knowledge_base": "",
    }


async def test_create_with_every_documented_field(client, admin):
    fields = {
        "name": "Sales Bot",
        "system_prompt": "You sell shoes.",
        "model": "gpt-4o",
        "temperature": 0.25,
        "max_tokens": 1200,
        "first_message": "Looking for shoes?",
        "placeholder_text": "Ask about sizes…",
        "theme": {
            "primary_color": "#112233",
            "secondary_color": "#AABBCC",
            "position": "bottom-left",
            "avatar": "https://cdn.example.com/bot.png",
        },
        "is_active": False,
        "allowed_domains": [" Shop.Example.com ", "*.example.org", "localhost:3000"],
        "knowledge_base": "We sell shoes in sizes 36 to 46.",
    }
    bot = await create_chatbot(client, admin, **fields)
    expected = {
        **fields,
        "allowed_domains": ["shop.example.com", "*.example.org", "localhost:3000"],
    }
    assert {k: bot[k] for k in DOCUMENTED_FIELDS} == expected
    # A partial theme is completed with the defaults.
    partial = await create_chatbot(client, admin, theme={"primary_color": "#000000"})
    assert partial["theme"] == {**DEFAULT_THEME, "primary_color": "#000000"}


async def test_list_paginates_in_creation_order(client, admin):
    empty = await client.get("/api/chatbots", headers=admin.headers)
    assert empty.json() == {
        "success": True,
        "data": [],
        "pagination": {"page": 1, "limit": 20, "total": 0, "totalPages": 0},
    }
    ids = [(await create_chatbot(client, admin, name=f"Bot {i}"))["id"] for i in range(5)]

    seen: list[str] = []
    for page, size in ((1, 2), (2, 2), (3, 1)):
        response = await client.get(
            "/api/chatbots", headers=admin.headers, params={"page": page, "limit": 2}
        )
        assert response.status_code == 200
        body = response.json()
        assert body["success"] is True
        assert body["pagination"] == {"page": page, "limit": 2, "total": 5, "totalPages": 3}
        assert len(body["data"]) == size
        seen += [b["id"] for b in body["data"]]
    assert seen == ids

    past_the_end = await client.get(
        "/api/chatbots", headers=admin.headers, params={"page": 9, "limit": 2}
    )
    assert past_the_end.json()["data"] == []
    assert past_the_end.json()["pagination"]["total"] == 5

    for params, field in (
        ({"limit": 101}, "limit"),
        ({"limit": 0}, "limit"),
        ({"page": 0}, "page"),
    ):
        bad = await client.get("/api/chatbots", headers=admin.headers, params=params)
        assert bad.status_code == 400
        assert field_names(bad) == [field]


async def test_get_patch_and_delete(client, context, admin):
    bot = await create_chatbot(client, admin, name="Original", system_prompt="Be brief.")
    path = f"/api/chatbots/{bot['id']}"

    got = await client.get(path, headers=admin.headers)
    assert got.status_code == 200
    assert got.json() == {"success": True, "data": bot}

    version = await cache_version(context, bot["id"])
    renamed = await client.patch(path, headers=admin.headers, json={"name": "Renamed"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["data"]["name"] == "Renamed"
    # The name does not change what the bot answers: cached answers stay valid.
    assert await cache_version(context, bot["id"]) == version

    patched = await client.patch(
        path,
        headers=admin.headers,
        json={
            "system_prompt": "Be very brief.",
            "temperature": 0,
            "max_tokens": 16000,
            "theme": {"primary_color": "#123456", "position": "bottom-left"},
            "allowed_domains": ["example.com"],
            "is_active": False,
        },
    )
    assert patched.status_code == 200, patched.text
    data = patched.json()["data"]
    assert data["name"] == "Renamed"  # untouched fields keep their values
    assert data["model"] == bot["model"]
    assert (data["system_prompt"], data["temperature"], data["max_tokens"]) == (
        "Be very brief.",
        0,
        16000,
    )
    assert data["theme"]["primary_color"] == "#123456"
    assert data["theme"]["position"] == "bottom-left"
    assert data["allowed_domains"] == ["example.com"] and data["is_active"] is False
    assert data["updated_at"] > bot["updated_at"]
    # The prompt changes the answers: older cached answers no longer match.
    assert await cache_version(context, bot["id"]) > version

    assert (await client.get(path, headers=admin.headers)).json()["data"] == data
    # An empty PATCH changes nothing.
    unchanged = await client.patch(path, headers=admin.headers, json={})
    assert unchanged.status_code == 200 and unchanged.json()["data"] == data

    deleted = await client.delete(path, headers=admin.headers)
    assert deleted.status_code == 204 and deleted.content == b""
    for method in ("GET", "PATCH", "DELETE"):
        kwargs: dict[str, Any] = {"json": {"name": "x"}} if method == "PATCH" else {}
        gone = await client.request(method, path, headers=admin.headers, **kwargs)
        assert gone.status_code == 404, (method, gone.text)
        assert gone.json()["code"] == "NOT_FOUND"
    listed = await client.get("/api/chatbots", headers=admin.headers)
    assert listed.json()["data"] == []


async def test_patching_part_of_the_theme_keeps_the_rest(client, admin):
    theme = {
        "primary_color": "#112233",
        "secondary_color": "#445566",
        "position": "bottom-left",
        "avatar": "https://cdn.example.com/bot.png",
    }
    bot = await create_chatbot(client, admin, theme=theme)
    path = f"/api/chatbots/{bot['id']}"
    recoloured = await client.patch(
        path, headers=admin.headers, json={"theme": {"primary_color": "#000000"}}
    )
    assert recoloured.status_code == 200, recoloured.text
    assert recoloured.json()["data"]["theme"] == {**theme, "primary_color": "#000000"}
    # An explicit null removes the avatar.
    no_avatar = await client.patch(path, headers=admin.headers, json={"theme": {"avatar": None}})
    assert no_avatar.json()["data"]["theme"] == {
        **theme,
        "primary_color": "#000000",
        "avatar": None,
    }
    assert (await client.get(path, headers=admin.headers)).json()["data"][
        "theme"
    ] == no_avatar.json()["data"]["theme"]


async def test_unknown_and_malformed_ids(client, admin):
    missing = await client.get(f"/api/chatbots/{uuid.uuid4()}", headers=admin.headers)
    assert missing.status_code == 404
    malformed = await client.get("/api/chatbots/not-a-uuid", headers=admin.headers)
    assert malformed.status_code == 400
    assert field_names(malformed) == ["chatbot_id"]


async def test_requires_a_signed_in_admin(client):
    assert (await client.get("/api/chatbots")).status_code == 401
    assert (await client.post("/api/chatbots", json={"name": "x"})).status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"temperature": 3}, "temperature"),
        ({"temperature": -0.1}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 20000}, "max_tokens"),
        ({"model": "gpt-9-ultra"}, "model"),
        ({"model": ""}, "model"),
        ({"theme": {"primary_color": "red"}}, "theme.primary_color"),
        ({"theme": {"secondary_color": "#fff"}}, "theme.secondary_color"),
        ({"theme": {"position": "top-left"}}, "theme.position"),
        ({"theme": {"avatar": "javascript:alert(1)"}}, "theme.avatar"),
        ({"allowed_domains": ["https://shop.example.com/path"]}, "allowed_domains"),
        ({"allowed_domains": ["shop example.com"]}, "allowed_domains"),
        ({"colour": "blue"}, "colour"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
    ],
)
async def test_create_validation(client, admin, body, field):
    response = await client.post(
        "/api/chatbots", headers=admin.headers, json={"name": "Bot", **body}
    )
    assert response.status_code == 400, response.text
    assert field in field_names(response)
    assert (await client.get("/api/chatbots", headers=admin.headers)).json()["data"] == []


async def test_create_needs_a_name(client, admin):
    response = await client.post("/api/chatbots", headers=admin.headers, json={})
    assert response.status_code == 400
    assert field_names(response) == ["name"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": None}, "name"),
        ({"model": None}, "model"),
        ({"theme": None}, "theme"),
        ({"temperature": 3}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"model": "gpt-9-ultra"}, "model"),
        ({"theme": {"position": "middle"}}, "theme.position"),
        ({"allowed_domains": ["http://x.com"]}, "allowed_domains"),
        ({"unknown": 1}, "unknown"),
    ],
)
async def test_patch_validation(client, admin, body, field):
    bot = await create_chatbot(client, admin)
    response = await client.patch(f"/api/chatbots/{bot['id']}", headers=admin.headers, json=body)
    assert response.status_code == 400, response.text
    assert field in field_names(response)
    after = await client.get(f"/api/chatbots/{bot['id']}", headers=admin.headers)
    assert after.json()["data"] == bot


async def test_without_a_key_the_known_chat_models_are_accepted(client, admin):
    for model in ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1", "gpt-4.1-nano"):
        assert (await create_chatbot(client, admin, model=model))["model"] == model


async def test_with_a_key_the_model_must_be_one_the_key_can_use(client, admin, fake_openai):
    await connect_openai(client, admin, fake_openai.key)
    for model in ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1"):
        assert (await create_chatbot(client, admin, model=model))["model"] == model

    # Known to us, but not served to this key.
    refused = await client.post(
        "/api/chatbots", headers=admin.headers, json={"name": "Bot", "model": "gpt-4.1-nano"}
    )
    assert refused.status_code == 400
    [error] = refused.json()["errors"]
    assert error["field"] == "model" and "gpt-4o-mini" in error["message"]

    bot = await create_chatbot(client, admin)
    path = f"/api/chatbots/{bot['id']}"
    moved = await client.patch(path, headers=admin.headers, json={"model": "gpt-4.1"})
    assert moved.status_code == 200 and moved.json()["data"]["model"] == "gpt-4.1"
    stay = await client.patch(path, headers=admin.headers, json={"model": "gpt-4.1-nano"})
    assert stay.status_code == 400 and field_names(stay) == ["model"]


async def test_an_embedding_model_is_not_a_chat_model(client, admin, fake_openai):
    """The key's model list also names embedding models: a bot cannot chat with those."""
    await connect_openai(client, admin, fake_openai.key)
    status = (await client.get("/api/openai/status", headers=admin.headers)).json()
    assert "text-embedding-3-small" in status["models"]
    for model in ("text-embedding-3-small", "text-embedding-3-large"):
        response = await client.post(
            "/api/chatbots", headers=admin.headers, json={"name": "Bot", "model": model}
        )
        assert response.status_code == 400, response.text
        assert field_names(response) == ["model"]
        assert model not in response.json()["errors"][0]["message"]


async def test_another_workspace_cannot_see_or_touch_a_bot(client, context, admin, other_admin):
    bot = await create_chatbot(client, admin, name="Private")
    faq = await add_faq(client, admin, bot["id"], "Opening hours?", "9 to 5.")
    form = (
        await client.post(
            f"/api/chatbots/{bot['id']}/forms",
            headers=admin.headers,
            json={"name": "contact", "fields": CONTACT_FIELDS},
        )
    ).json()["data"]
    action = (
        await client.post(
            f"/api/chatbots/{bot['id']}/actions",
            headers=admin.headers,
            json={"name": "lookup", "url_template": "https://api.example.com/orders/{id}"},
        )
    ).json()["data"]
    base = f"/api/chatbots/{bot['id']}"
    # Adding parts invalidates the bot's cached answers, which touches its updated_at.
    bot = (await client.get(base, headers=admin.headers)).json()["data"]
    theirs = other_admin.headers

    listed = await client.get("/api/chatbots", headers=theirs)
    assert listed.json()["data"] == [] and listed.json()["pagination"]["total"] == 0
    assert (await client.get(base, headers=theirs)).status_code == 404
    assert (await client.patch(base, headers=theirs, json={"name": "Mine"})).status_code == 404
    assert (await client.delete(base, headers=theirs)).status_code == 404

    children = {
        "faqs": (faq["id"], {"question": "Q?", "answer": "A."}),
        "forms": (form["id"], {"name": "f", "fields": [{"name": "a", "label": "A"}]}),
        "actions": (action["id"], {"name": "steal", "url_template": "https://evil.example"}),
    }
    for kind, (child_id, body) in children.items():
        for method, path, kwargs in (
            ("GET", f"{base}/{kind}", {}),
            ("POST", f"{base}/{kind}", {"json": body}),
            ("PATCH", f"{base}/{kind}/{child_id}", {"json": {"is_active": False}}),
            ("DELETE", f"{base}/{kind}/{child_id}", {}),
        ):
            response = await client.request(method, path, headers=theirs, **kwargs)
            assert response.status_code == 404, (method, path, response.text)

    # Naming the other workspace does not help either.
    foreign = {**theirs, "X-Workspace-Id": admin.workspace_id}
    assert (await client.get(base, headers=foreign)).status_code == 404

    # Nothing changed.
    assert (await client.get(base, headers=admin.headers)).json()["data"] == bot
    for kind, expected in (("faqs", faq), ("forms", form), ("actions", action)):
        rows = (await client.get(f"{base}/{kind}", headers=admin.headers)).json()["data"]
        assert rows == [expected]
    async with context.db.system() as conn:
        count = await (await conn.execute("select count(*) as n from chatbots")).fetchone()
    assert count["n"] == 1


async def test_an_agent_reads_but_cannot_change(client, anon_key, admin):
    bot = await create_chatbot(client, admin, name="Team Bot")
    faq = await add_faq(client, admin, bot["id"], "Refunds?", "Within 30 days.")
    agent = await add_agent(client, anon_key, admin)
    base = f"/api/chatbots/{bot['id']}"
    bot = (await client.get(base, headers=admin.headers)).json()["data"]  # after the FAQ

    listed = await client.get("/api/chatbots", headers=agent)
    assert listed.status_code == 200
    assert [b["id"] for b in listed.json()["data"]] == [bot["id"]]
    assert (await client.get(base, headers=agent)).json()["data"] == bot
    assert (await client.get(f"{base}/faqs", headers=agent)).json()["data"] == [faq]

    for method, path, kwargs in (
        ("POST", "/api/chatbots", {"json": {"name": "Agent Bot"}}),
        ("PATCH", base, {"json": {"name": "Hijacked"}}),
        ("DELETE", base, {}),
        ("POST", f"{base}/faqs", {"json": {"question": "Q?", "answer": "A."}}),
        ("PATCH", f"{base}/faqs/{faq['id']}", {"json": {"answer": "Never."}}),
        ("DELETE", f"{base}/faqs/{faq['id']}", {}),
        ("POST", f"{base}/forms", {"json": {"name": "f", "fields": CONTACT_FIELDS}}),
        ("POST", f"{base}/actions", {"json": {"name": "a", "url_template": "https://x.io"}}),
    ):
        response = await client.request(method, path, headers=agent, **kwargs)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["code"] == "FORBIDDEN"

    assert (await client.get(base, headers=admin.headers)).json()["data"] == bot
    assert (await client.get(f"{base}/faqs", headers=admin.headers)).json()["data"] == [faq]
    assert len((await client.get("/api/chatbots", headers=admin.headers)).json()["data"]) == 1


async def test_deleting_a_bot_deletes_its_parts(client, context, admin):
    bot = await create_chatbot(client, admin)
    await add_faq(client, admin, bot["id"], "Q?", "A.")
    await client.post(
        f"/api/chatbots/{bot['id']}/actions",
        headers=admin.headers,
        json={"name": "a", "url_template": "https://x.io", "headers": {"X-Key": "k"}},
    )
    assert (await client.delete(f"/api/chatbots/{bot['id']}", headers=admin.headers)).status_code
    async with context.db.system() as conn:
        for table in ("chatbot_faqs", "chatbot_actions"):
            row = await (await conn.execute(f"select count(*) as n from {table}")).fetchone()
            assert row["n"] == 0, table
    assert (
        await client.get(f"/api/chatbots/{bot['id']}/faqs", headers=admin.headers)
    ).status_code == 404


# -- FAQs -------------------------------------------------------------------------------------


async def test_faq_create_list_update_delete(client, context, admin):
    bot = await create_chatbot(client, admin)
    base = f"/api/chatbots/{bot['id']}/faqs"
    version = await cache_version(context, bot["id"])

    created = await client.post(
        base,
        headers=admin.headers,
        json={
            "question": "What are your business hours?",
            "answer": "We're open 9 AM to 6 PM, Monday through Saturday.",
            "category": "hours",
            "question_variants": ["When do you open?", "Are you open on Sunday?"],
        },
    )
    assert created.status_code == 201, created.text
    faq = created.json()["data"]
    assert faq["chatbot_id"] == bot["id"]
    assert faq["category"] == "hours" and faq["is_active"] is True
    assert faq["question_variants"] == ["When do you open?", "Are you open on Sunday?"]
    assert await cache_version(context, bot["id"]) > version

    second = await add_faq(client, admin, bot["id"], "Where are you?", "Main Street 1.")
    assert second["category"] is None and second["question_variants"] == []
    listed = await client.get(base, headers=admin.headers)
    assert listed.json() == {"success": True, "data": [faq, second]}

    version = await cache_version(context, bot["id"])
    updated = await client.patch(
        f"{base}/{faq['id']}",
        headers=admin.headers,
        json={"answer": "9 to 6, Monday to Saturday.", "question_variants": ["Hours?"]},
    )
    assert updated.status_code == 200, updated.text
    data = updated.json()["data"]
    assert data["answer"] == "9 to 6, Monday to Saturday."
    assert data["question_variants"] == ["Hours?"]
    assert (data["question"], data["category"]) == (faq["question"], "hours")
    assert await cache_version(context, bot["id"]) > version

    deleted = await client.delete(f"{base}/{faq['id']}", headers=admin.headers)
    assert deleted.status_code == 204
    assert [f["id"] for f in (await client.get(base, headers=admin.headers)).json()["data"]] == [
        second["id"]
    ]
    again = await client.delete(f"{base}/{faq['id']}", headers=admin.headers)
    assert again.status_code == 404
    missing = await client.patch(f"{base}/{uuid.uuid4()}", headers=admin.headers, json={})
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"question": "", "answer": "A."}, "question"),
        ({"answer": "A."}, "question"),
        ({"question": "Q?", "answer": ""}, "answer"),
        ({"question": "Q?", "answer": "A.", "question_variants": ["v"] * 21}, "question_variants"),
        ({"question": "Q?", "answer": "A.", "questionVariants": []}, "questionVariants"),
    ],
)
async def test_faq_validation(client, admin, body, field):
    bot = await create_chatbot(client, admin)
    response = await client.post(
        f"/api/chatbots/{bot['id']}/faqs", headers=admin.headers, json=body
    )
    assert response.status_code == 400, response.text
    assert field in field_names(response)


async def test_faq_update_cannot_empty_the_question(client, admin):
    bot = await create_chatbot(client, admin)
    faq = await add_faq(client, admin, bot["id"], "Q?", "A.")
    path = f"/api/chatbots/{bot['id']}/faqs/{faq['id']}"
    empty = await client.patch(path, headers=admin.headers, json={"question": ""})
    assert empty.status_code == 400 and field_names(empty) == ["question"]
    null = await client.patch(path, headers=admin.headers, json={"question": None})
    assert null.status_code == 400
    listed = await client.get(f"/api/chatbots/{bot['id']}/faqs", headers=admin.headers)
    assert listed.json()["data"] == [faq]


# -- forms ------------------------------------------------------------------------------------


async def test_form_fields_keep_their_types_and_required_flags(client, admin):
    bot = await create_chatbot(client, admin)
    base = f"/api/chatbots/{bot['id']}/forms"
    created = await client.post(
        base,
        headers=admin.headers,
        json={"name": "contact", "title": "Contact us", "fields": CONTACT_FIELDS},
    )
    assert created.status_code == 201, created.text
    form = created.json()["data"]
    assert (form["name"], form["title"], form["is_active"]) == ("contact", "Contact us", True)
    assert form["submit_message"] == "Thank you! We will be in touch."
    by_name = {f["name"]: f for f in form["fields"]}
    assert [f["name"] for f in form["fields"]] == [f["name"] for f in CONTACT_FIELDS]
    assert {n: (f["type"], f["required"]) for n, f in by_name.items()} == {
        "full_name": ("text", True),
        "email": ("email", True),
        "phone": ("phone", False),
        "topic": ("select", True),
        "message": ("textarea", False),
        "newsletter": ("checkbox", False),
    }
    assert by_name["topic"]["options"] == ["Sales", "Support"]
    assert by_name["message"]["placeholder"] == "Tell us more"

    listed = await client.get(base, headers=admin.headers)
    assert listed.json()["data"] == [form]

    updated = await client.patch(
        f"{base}/{form['id']}",
        headers=admin.headers,
        json={"fields": [{"name": "date", "label": "When?", "type": "date", "required": True}]},
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["data"]["fields"] == [
        {
            "name": "date",
            "label": "When?",
            "type": "date",
            "required": True,
            "options": None,
            "placeholder": None,
        }
    ]
    assert updated.json()["data"]["title"] == "Contact us"
    assert (await client.delete(f"{base}/{form['id']}", headers=admin.headers)).status_code == 204
    assert (await client.get(base, headers=admin.headers)).json()["data"] == []


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ([{"name": "topic", "label": "Topic", "type": "select"}], "fields"),
        ([{"name": "topic", "label": "Topic", "type": "select", "options": []}], "fields"),
        (
            [{"name": "email", "label": "Email"}, {"name": "email", "label": "Email again"}],
            "fields",
        ),
        ([], "fields"),
        ([{"name": "x", "label": "X", "type": "colour"}], "fields.0.type"),
        ([{"name": "1st", "label": "First"}], "fields.0.name"),
        ([{"name": "x", "label": ""}], "fields.0.label"),
    ],
)
async def test_form_validation(client, admin, fields, field):
    bot = await create_chatbot(client, admin)
    base = f"/api/chatbots/{bot['id']}/forms"
    response = await client.post(
        base, headers=admin.headers, json={"name": "contact", "fields": fields}
    )
    assert response.status_code == 400, response.text
    assert field in field_names(response)
    assert (await client.get(base, headers=admin.headers)).json()["data"] == []


async def test_form_update_checks_fields_too(client, admin):
    bot = await create_chatbot(client, admin)
    base = f"/api/chatbots/{bot['id']}/forms"
    form = (
        await client.post(base, headers=admin.headers, json={"name": "c", "fields": CONTACT_FIELDS})
    ).json()["data"]
    for fields in (
        [{"name": "t", "label": "T", "type": "select"}],
        [{"name": "a", "label": "A"}, {"name": "a", "label": "B"}],
    ):
        response = await client.patch(
            f"{base}/{form['id']}", headers=admin.headers, json={"fields": fields}
        )
        assert response.status_code == 400 and field_names(response) == ["fields"]
    assert (await client.get(base, headers=admin.headers)).json()["data"] == [form]


# -- actions ----------------------------------------------------------------------------------

SECRET = "Bearer sk-shop-very-secret-token-1234"


async def test_action_headers_are_encrypted_and_never_returned(client, context, admin):
    bot = await create_chatbot(client, admin)
    base = f"/api/chatbots/{bot['id']}/actions"
    created = await client.post(
        base,
        headers=admin.headers,
        json={
            "name": "order_status",
            "description": "Look up an order",
            "method": "GET",
            "url_template": "https://shop.example.com/orders/{order_id}",
            "headers": {"Authorization": SECRET, "X-Shop": "shop-header-value-42"},
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}},
                "required": ["order_id"],
            },
        },
    )
    assert created.status_code == 201, created.text
    action = created.json()["data"]
    assert action["header_names"] == ["Authorization", "X-Shop"]
    assert "headers" not in action and "encrypted_headers" not in action
    assert action["parameters"]["required"] == ["order_id"]
    assert (action["method"], action["is_active"]) == ("GET", True)
    for secret in (SECRET, "shop-header-value-42"):
        assert secret not in created.text

    listed = await client.get(base, headers=admin.headers)
    assert listed.json()["data"] == [action]
    assert SECRET not in listed.text

    async with context.db.system() as conn:
        row = await (
            await conn.execute(
                "select encrypted_headers from chatbot_actions where id = %s", (action["id"],)
            )
        ).fetchone()
    stored = row["encrypted_headers"]
    assert stored and SECRET not in stored and "sk-shop" not in stored
    assert "shop-header-value-42" not in stored
    assert json.loads(context.secrets.decrypt(stored)) == {
        "Authorization": SECRET,
        "X-Shop": "shop-header-value-42",
    }

    # Changing something else keeps the headers; new headers replace them; {} clears them.
    path = f"{base}/{action['id']}"
    renamed = await client.patch(path, headers=admin.headers, json={"description": "Orders"})
    assert renamed.json()["data"]["header_names"] == ["Authorization", "X-Shop"]
    replaced = await client.patch(
        path, headers=admin.headers, json={"headers": {"X-Api-Key": "another-secret-value"}}
    )
    assert replaced.status_code == 200
    assert replaced.json()["data"]["header_names"] == ["X-Api-Key"]
    assert "another-secret-value" not in replaced.text
    cleared = await client.patch(path, headers=admin.headers, json={"headers": {}})
    assert cleared.json()["data"]["header_names"] == []
    async with context.db.system() as conn:
        row = await (
            await conn.execute(
                "select encrypted_headers from chatbot_actions where id = %s", (action["id"],)
            )
        ).fetchone()
    assert row["encrypted_headers"] is None

    assert (await client.delete(path, headers=admin.headers)).status_code == 204
    assert (await client.get(base, headers=admin.headers)).json()["data"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"parameters": {"type": "object", "properties": {"id": {"type": "nonsense"}}}},
            "parameters",
        ),
        ({"parameters": {"type": "object", "required": "id"}}, "parameters"),
        ({"parameters": {"type": "array", "items": {"type": "string"}}}, "parameters"),
        ({"parameters": {"properties": {}}}, "parameters"),
        ({"name": "capture_lead"}, "name"),
        ({"name": "handoff_to_human"}, "name"),
        ({"name": "has space"}, "name"),
        ({"url_template": "ftp://files.example.com/x"}, "url_template"),
        ({"url_template": "javascript:alert(1)"}, "url_template"),
        ({"url_template": "/relative/path"}, "url_template"),
        ({"method": "TRACE"}, "method"),
        ({"secret": "x"}, "secret"),
    ],
)
async def test_action_validation(client, admin, body, field):
    bot = await create_chatbot(client, admin)
    base = f"/api/chatbots/{bot['id']}/actions"
    response = await client.post(
        base,
        headers=admin.headers,
        json={"name": "lookup", "url_template": "https://api.example.com/x", **body},
    )
    assert response.status_code == 400, response.text
    assert field in field_names(response)
    assert (await client.get(base, headers=admin.headers)).json()["data"] == []


async def test_action_update_validation(client, admin):
    bot = await create_chatbot(client, admin)
    base = f"/api/chatbots/{bot['id']}/actions"
    action = (
        await client.post(
            base, headers=admin.headers, json={"name": "lookup", "url_template": "https://x.io"}
        )
    ).json()["data"]
    path = f"{base}/{action['id']}"
    for body, field in (
        ({"name": "capture_lead"}, "name"),
        ({"url_template": "file:///etc/passwd"}, "url_template"),
        ({"parameters": {"type": "array"}}, "parameters"),
    ):
        response = await client.patch(path, headers=admin.headers, json=body)
        assert response.status_code == 400, response.text
        assert field in field_names(response)
    assert (await client.get(base, headers=admin.headers)).json()["data"] == [action]


async def test_action_names_are_unique_per_bot(client, admin):
    bot = await create_chatbot(client, admin)
    other_bot = await create_chatbot(client, admin, name="Other")
    body = {"name": "lookup", "url_template": "https://api.example.com/x"}
    base = f"/api/chatbots/{bot['id']}/actions"
    first = await client.post(base, headers=admin.headers, json=body)
    assert first.status_code == 201

    duplicate = await client.post(base, headers=admin.headers, json=body)
    assert duplicate.status_code == 409, duplicate.text
    assert duplicate.json()["code"] == "CONFLICT" and "lookup" in duplicate.json()["message"]

    # The same name on another bot is fine.
    elsewhere = await client.post(
        f"/api/chatbots/{other_bot['id']}/actions", headers=admin.headers, json=body
    )
    assert elsewhere.status_code == 201

    # Renaming onto a taken name conflicts too, and the request stays usable afterwards.
    second = (
        await client.post(base, headers=admin.headers, json={**body, "name": "search"})
    ).json()["data"]
    clash = await client.patch(
        f"{base}/{second['id']}", headers=admin.headers, json={"name": "lookup"}
    )
    assert clash.status_code == 409
    names = [a["name"] for a in (await client.get(base, headers=admin.headers)).json()["data"]]
    assert names == ["lookup", "search"]
