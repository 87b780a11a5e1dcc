"""Requests that used to end in a server error (found by fuzzing the whole API) now get a 400 in
the platform's error body, and change nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from backend.context import AppContext
from tests.fixtures.factories import Admin, add_faq, create_chatbot


def assert_refused(response: httpx.Response, field: str | None = None) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["success"] is False and body["status"] == "error"
    assert body["code"] in {"VALIDATION_ERROR", "BAD_REQUEST"}, body
    assert body["message"]
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


async def count(context: AppContext, table: str) -> int:
    async with context.db.system() as conn:
        row = await (await conn.execute(f"select count(*) as n from public.{table}")).fetchone()
    return int(row["n"]) if row else 0


# -- NUL characters, which PostgreSQL text cannot hold ----------------------------------------


async def test_nul_characters_are_refused_in_every_kind_of_input(
    client: httpx.AsyncClient, admin: Admin, anon_key: str, context: AppContext
):
    bot = await create_chatbot(client, admin)
    h = admin.headers
    answers = {
        "chat message": await client.post(
            "/api/chat/message",
            json={"chatbot_id": bot["id"], "visitor_id": "v1", "message": "hello\u0000there"},
        ),
        "bot name": await client.post("/api/chatbots", headers=h, json={"name": "Bot\u0000"}),
        "bot rename": await client.patch(
            f"/api/chatbots/{bot['id']}", headers=h, json={"name": "\u0000"}
        ),
        "FAQ": await client.post(
            f"/api/chatbots/{bot['id']}/faqs",
            headers=h,
            json={"question": "Hours?", "answer": "9\u0000to5"},
        ),
        "knowledge text": await client.patch(
            f"/api/chatbots/{bot['id']}", headers=h, json={"knowledge_base": "We\u0000sell"}
        ),
        "a key of an object": await client.post(
            f"/api/chatbots/{bot['id']}/actions",
            headers=h,
            json={
                "name": "lookup",
                "url_template": "https://api.example.com/x",
                "headers": {"X-\u0000": "v"},
            },
        ),
        "customer search": await client.get("/api/customers?search=%00", headers=h),
        "sign-in link": await client.post(
            "/api/customers/send-login-link?email=a%00@example.com", headers=h
        ),
        "magic link (local auth)": await client.post(
            "/auth/v1/otp", headers={"apikey": anon_key}, json={"email": "a\u0000@example.com"}
        ),
        "password sign-in form": await client.post(
            "/auth/token", data={"username": "a@example.com", "password": "x\x00y"}
        ),
    }
    for name, response in answers.items():
        assert response.status_code == 400, (name, response.text)
        assert response.json()["code"] == "VALIDATION_ERROR", name
    # Supabase clients read GoTrue's own fields too.
    assert answers["magic link (local auth)"].json()["error_code"] == "validation_failed"

    assert await count(context, "chatbots") == 1
    assert await count(context, "chatbot_faqs") == 0
    assert await count(context, "conversations") == 0
    got = await client.get(f"/api/chatbots/{bot['id']}", headers=h)
    assert got.json()["data"]["name"] == "Support Bot"


async def test_text_that_merely_mentions_the_escape_is_kept(
    client: httpx.AsyncClient, admin: Admin
):
    # A backslash, then "u0000": text, not a NUL.
    bot = await create_chatbot(client, admin, description="type \\u0000 to end a C string")
    assert bot["description"] == "type \\u0000 to end a C string"


# -- nesting ----------------------------------------------------------------------------------


async def test_deeply_nested_json_is_refused(
    client: httpx.AsyncClient, admin: Admin, anon_key: str, context: AppContext
):
    bot = await create_chatbot(client, admin)
    parameters = {"type": "object", "properties": {"x": nested(900)}}
    answers = {
        "action parameters": await client.post(
            f"/api/chatbots/{bot['id']}/actions",
            headers=admin.headers,
            json={
                "name": "deep",
                "url_template": "https://api.example.com",
                "parameters": parameters,
            },
        ),
        "user metadata": await client.put(
            "/auth/v1/user",
            headers={**admin.headers, "apikey": anon_key},
            json={"data": nested(900)},
        ),
    }
    deep = ("[" * 5000 + "]" * 5000).encode()
    for name, path in {
        "VAPI webhook": "/api/webhooks/vapi",
        "Bolna webhook": f"/api/webhooks/bolna/{uuid.uuid4().hex}",
    }.items():
        answers[name] = await client.post(
            path, content=deep, headers={"Content-Type": "application/json"}
        )
    for name, response in answers.items():
        assert response.status_code == 400, (name, response.text)
        assert response.json()["code"] == "VALIDATION_ERROR", name
    assert await count(context, "chatbot_actions") == 0


async def test_ordinary_nesting_and_brackets_in_text_pass(client: httpx.AsyncClient, admin: Admin):
    bot = await create_chatbot(client, admin, description="[" * 100 + "{" * 100)
    response = await client.post(
        f"/api/chatbots/{bot['id']}/actions",
        headers=admin.headers,
        json={
            "name": "lookup",
            "url_template": "https://api.example.com/orders/{id}",
            "parameters": {"type": "object", "properties": {"id": {"type": "string"}}},
        },
    )
    assert response.status_code == 201, response.text


# -- page numbers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/chatbots",
        "/api/customers",
        "/api/customers/tickets",
        "/api/notifications/emails",
    ],
)
async def test_page_numbers_past_any_list_are_refused(
    client: httpx.AsyncClient, admin: Admin, path: str
):
    for page in (2**31, 2**63, 10**30):
        assert_refused(await client.get(f"{path}?page={page}", headers=admin.headers), "page")
    assert (await client.get(f"{path}?page=1000000", headers=admin.headers)).status_code == 200


# -- explicit nulls in a PATCH ----------------------------------------------------------------


async def test_null_for_a_required_field_in_a_patch_is_refused(
    client: httpx.AsyncClient, admin: Admin
):
    bot = await create_chatbot(client, admin)
    base = f"/api/chatbots/{bot['id']}"
    form = await client.post(
        f"{base}/forms",
        headers=admin.headers,
        json={"name": "contact", "fields": [{"name": "email", "label": "E-mail"}]},
    )
    action = await client.post(
        f"{base}/actions",
        headers=admin.headers,
        json={"name": "lookup", "url_template": "https://api.example.com/x"},
    )
    assert form.status_code == action.status_code == 201
    form_id, action_id = form.json()["data"]["id"], action.json()["data"]["id"]

    assert_refused(
        await client.patch(f"{base}/forms/{form_id}", headers=admin.headers, json={"fields": None}),
        "fields",
    )
    assert_refused(
        await client.patch(
            f"{base}/actions/{action_id}", headers=admin.headers, json={"parameters": None}
        ),
        "parameters",
    )
    forms = (await client.get(f"{base}/forms", headers=admin.headers)).json()["data"]
    assert forms[0]["fields"][0]["name"] == "email"

    # What may be cleared still can be.
    faq = await add_faq(client, admin, bot["id"], "Hours?", "9 to 5")
    cleared = await client.patch(
        f"{base}/faqs/{faq['id']}", headers=admin.headers, json={"category": None}
    )
    assert cleared.status_code == 200, cleared.text


# -- identities, slugs and keys that do not fit where they go ---------------------------------


async def test_a_non_ascii_user_hash_is_refused(client: httpx.AsyncClient, admin: Admin):
    bot = await create_chatbot(client, admin)
    conversation = uuid.uuid4()
    for user_hash in ("é" * 64, "€"):
        history = await client.get(
            f"/api/widget/{bot['id']}/conversations/{conversation}/messages",
            params={"visitor_id": "v1", "user_id": "u1", "user_hash": user_hash},
        )
        assert_refused(history, "user_hash")
        message = {"visitor_id": "v1", "message": "hi", "user_id": "u1", "user_hash": user_hash}
        assert_refused(
            await client.post(f"/api/widget/{bot['id']}/message", json=message), "user_hash"
        )
        assert_refused(
            await client.post("/api/chat/message", json={**message, "chatbot_id": bot["id"]}),
            "user_hash",
        )


async def test_a_workspace_slug_that_cannot_be_a_header_name_is_refused(
    client: httpx.AsyncClient,
):
    response = await client.post("/webhooks/%E2%82%AC/confirm-order", json={})
    assert_refused(response, "slug")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/openai/connect", {"api_key": "sk-tést-0123456789"}, "api_key"),
        (
            "/api/voice/connect",
            {"private_key": "prïvate-key", "public_key": "public-key"},
            "private_key",
        ),
        (
            "/api/connections/commerce",
            {"base_url": "https://shop.example.com", "api_key": "ключ-123"},
            "api_key",
        ),
        (
            "/api/bolna/connection",
            {"api_key": "bn-ключ-12345", "agent_id": "agent-1"},
            "api_key",
        ),
    ],
)
async def test_provider_keys_that_cannot_go_in_a_header_are_refused_when_saved(
    client: httpx.AsyncClient, admin: Admin, path: str, body: dict[str, Any], field: str
):
    method = "PUT" if path in {"/api/connections/commerce", "/api/bolna/connection"} else "POST"
    response = await client.request(method, path, headers=admin.headers, json=body)
    assert_refused(response, field)


async def test_action_headers_that_http_cannot_carry_are_refused(
    client: httpx.AsyncClient, admin: Admin
):
    bot = await create_chatbot(client, admin)
    for headers in ({"X-Key": "clé"}, {"Bad Header": "v"}, {"X-Key": "a\r\nInjected: 1"}):
        response = await client.post(
            f"/api/chatbots/{bot['id']}/actions",
            headers=admin.headers,
            json={
                "name": "lookup",
                "url_template": "https://api.example.com/x",
                "headers": headers,
            },
        )
        assert_refused(response, "headers")
