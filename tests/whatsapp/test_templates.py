"""A bot's message templates synced from Meta (every page of the business account's list),
listed, and a template send checked against the synced definition."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from backend.context import AppContext
from backend.errors import ValidationFailed
from backend.whatsapp import templates
from tests.fakes.whatsapp import BUSINESS_ACCOUNT_ID, FakeGraph
from tests.fixtures.factories import Admin, create_chatbot
from tests.fixtures.whatsapp import connect_whatsapp

NUMBER = "106540352242922"
TOKEN = "EAAGtemplates-token-0042"
SYNC = "/whatsapp/templates/sync"

CART_REMINDER = [
    {"type": "BODY", "text": "Hi {{1}}!\n\nYou left *{{2}}* in your cart worth {{3}}."},
    {
        "type": "BUTTONS",
        "buttons": [
            {"type": "URL", "text": "Complete Order", "url": "https://shop.example/checkout/{{1}}"}
        ],
    },
]
NAMED = [
    {"type": "HEADER", "format": "TEXT", "text": "Order {{order_id}}"},
    {"type": "BODY", "text": "Hi {{customer_name}}, order {{order_id}} is {{status}}."},
    {
        "type": "BUTTONS",
        "buttons": [
            {"type": "QUICK_REPLY", "text": "Stop"},
            {"type": "URL", "text": "Help", "url": "https://shop.example/help"},
        ],
    },
]
IMAGE_HEADER = [
    {"type": "HEADER", "format": "IMAGE"},
    {"type": "BODY", "text": "New arrival: {{1}}"},
]


@pytest.fixture
async def bot(
    whatsapp_api: tuple[httpx.AsyncClient, AppContext], admin: Admin, graph: FakeGraph
) -> str:
    client, _ = whatsapp_api
    chatbot = await create_chatbot(client, admin)
    await connect_whatsapp(
        client, admin, chatbot["id"], graph,
        phone_number_id=NUMBER, access_token=TOKEN, app_secret="app-secret-0042",
        business_account_id=BUSINESS_ACCOUNT_ID,
    )  # fmt: skip
    return str(chatbot["id"])


async def sync(client: httpx.AsyncClient, admin: Admin, bot_id: str) -> httpx.Response:
    return await client.post(SYNC, params={"bot_id": bot_id}, headers=admin.headers)


async def test_every_page_is_synced_and_what_meta_dropped_is_removed(
    whatsapp_api: tuple[httpx.AsyncClient, AppContext], admin: Admin, graph: FakeGraph, bot: str
) -> None:
    client, _ = whatsapp_api
    for i in range(230):
        graph.add_template(name=f"promo_{i:03}", category="MARKETING")
    graph.add_template(name="cart_reminder", language="en", components=CART_REMINDER)
    graph.add_template(name="cart_reminder", language="hi", status="PENDING")
    graph.requests.clear()

    response = await sync(client, admin, bot)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["synced"] == 232 and body["removed"] == 0
    assert len(body["templates"]) == 232
    pages = [q for m, p, q in graph.requests if p.endswith("/message_templates")]
    assert len(pages) == 3  # 100 a page

    listed = await client.get("/whatsapp/templates", params={"bot_id": bot}, headers=admin.headers)
    assert listed.status_code == 200
    assert len(listed.json()) == 232
    cart = await client.get(
        "/whatsapp/templates",
        params={"bot_id": bot, "name": "cart_reminder"},
        headers=admin.headers,
    )
    by_language = {t["language"]: t for t in cart.json()}
    assert set(by_language) == {"en", "hi"}
    assert by_language["en"]["components"] == CART_REMINDER
    assert by_language["en"]["status"] == "APPROVED"
    assert by_language["en"]["category"] == "UTILITY"
    assert by_language["en"]["parameter_format"] == "POSITIONAL"
    assert by_language["en"]["synced_at"]
    pending = await client.get(
        "/whatsapp/templates", params={"bot_id": bot, "status": "pending"}, headers=admin.headers
    )
    assert [(t["name"], t["language"]) for t in pending.json()] == [("cart_reminder", "hi")]

    # Meta deletes some: the next sync removes them here too.
    with graph._lock:
        graph.templates[BUSINESS_ACCOUNT_ID] = [
            t for t in graph.templates[BUSINESS_ACCOUNT_ID] if not t["name"].startswith("promo_1")
        ]
    again = await sync(client, admin, bot)
    assert again.json()["synced"] == 132 and again.json()["removed"] == 100
    listed = await client.get("/whatsapp/templates", params={"bot_id": bot}, headers=admin.headers)
    assert len(listed.json()) == 132


async def test_sync_needs_a_business_account(
    whatsapp_api: tuple[httpx.AsyncClient, AppContext],
    admin: Admin,
    other_admin: Admin,
    graph: FakeGraph,
) -> None:
    client, _ = whatsapp_api
    chatbot = await create_chatbot(client, admin)
    await connect_whatsapp(
        client, admin, chatbot["id"], graph,
        phone_number_id=NUMBER, access_token=TOKEN, app_secret="app-secret-0042",
    )  # fmt: skip
    response = await sync(client, admin, chatbot["id"])
    assert response.status_code == 409, response.text
    assert response.json()["errors"][0]["field"] == "whatsapp_business_account_id"
    listed = await client.get(
        "/whatsapp/templates", params={"bot_id": chatbot["id"]}, headers=admin.headers
    )
    assert listed.json() == []
    # Another workspace's bot is not found.
    assert (await sync(client, other_admin, chatbot["id"])).status_code == 404
    assert (
        await client.get(
            "/whatsapp/templates", params={"bot_id": chatbot["id"]}, headers=other_admin.headers
        )
    ).status_code == 404


async def test_meta_out_of_reach_is_a_502_and_a_refused_token_a_400_marking_it_invalid(
    whatsapp_api: tuple[httpx.AsyncClient, AppContext], admin: Admin, graph: FakeGraph, bot: str
) -> None:
    client, _ = whatsapp_api
    graph.add_template(name="order_update")
    assert (await sync(client, admin, bot)).json()["synced"] == 1

    graph.fail_next(1, status=503)
    down = await sync(client, admin, bot)
    assert down.status_code == 502, down.text

    graph.fail_next(1, code=190)
    refused = await sync(client, admin, bot)
    assert refused.status_code == 400, refused.text
    assert refused.json()["errors"][0]["field"] == "whatsapp_access_token"
    assert TOKEN not in refused.text
    shown = (await client.get(f"/bots/{bot}", headers=admin.headers)).json()
    assert shown["whatsapp_connection_status"] == "invalid"
    # What was synced before is still there.
    listed = await client.get("/whatsapp/templates", params={"bot_id": bot}, headers=admin.headers)
    assert [t["name"] for t in listed.json()] == ["order_update"]

    # Connecting the token again makes it valid.
    again = await client.put(
        f"/bots/{bot}", headers=admin.headers, json={"whatsapp_access_token": TOKEN}
    )
    assert again.json()["whatsapp_connection_status"] == "valid"


def body(*texts: str) -> dict[str, Any]:
    return {"type": "body", "parameters": [{"type": "text", "text": t} for t in texts]}


def url_button(index: int, suffix: str) -> dict[str, Any]:
    return {
        "type": "button",
        "sub_type": "url",
        "index": str(index),
        "parameters": [{"type": "text", "text": suffix}],
    }


async def check(
    context: AppContext,
    admin: Admin,
    name: str,
    components: list[dict[str, Any]],
    language: str = "en_US",
) -> None:
    async with context.db.system() as conn:
        await templates.check_send(
            conn,
            workspace_id=admin.workspace_id,
            business_account_id=BUSINESS_ACCOUNT_ID,
            name=name,
            language=language,
            components=components,
        )


def named(**values: str) -> list[dict[str, Any]]:
    return [{"type": "text", "parameter_name": k, "text": v} for k, v in values.items()]


async def test_a_template_send_is_checked_against_the_synced_definition(
    whatsapp_api: tuple[httpx.AsyncClient, AppContext], admin: Admin, graph: FakeGraph, bot: str
) -> None:
    client, context = whatsapp_api
    graph.add_template(name="cart_reminder", language="en", components=CART_REMINDER)
    graph.add_template(name="status", components=NAMED, parameter_format="NAMED")
    graph.add_template(name="new_product", components=IMAGE_HEADER)
    graph.add_template(name="paused", status="PAUSED")
    assert (await sync(client, admin, bot)).status_code == 200

    async def problems(name: str, components: list[dict[str, Any]], language: str = "en_US"):
        try:
            await check(context, admin, name, components, language)
        except ValidationFailed as exc:
            return [e["message"] for e in exc.errors]
        return []

    fits = [body("Asha", "Blue Saree", "Rs.2499"), url_button(0, "c/123")]
    assert await problems("cart_reminder", fits, "en") == []
    assert await problems("cart_reminder", [body("Asha", "Blue Saree")], "en") == [
        "the body takes 3 parameters, 2 given",
        "button 0 (a URL with a dynamic suffix) needs its parameter",
    ]
    quick = {"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": []}
    assert await problems("cart_reminder", [fits[0], quick], "en") == ["button 0 is a url button"]

    status_fits = [
        {"type": "header", "parameters": named(order_id="ORD-1")},
        {"type": "body", "parameters": named(customer_name="Asha", order_id="ORD-1", status="shipped")},
        {"type": "button", "sub_type": "quick_reply", "index": 0,
         "parameters": [{"type": "payload", "payload": "STOP"}]},
    ]  # fmt: skip
    assert await problems("status", status_fits) == []
    wrong = [
        {"type": "header", "parameters": named(order_id="ORD-1")},
        {"type": "body", "parameters": named(customer_name="Asha", state="shipped")},
        {"type": "button", "sub_type": "quick_reply", "index": 0,
         "parameters": [{"type": "text", "text": "STOP"}]},
        url_button(1, "x"),
    ]  # fmt: skip
    assert await problems("status", wrong) == [
        "the body needs the parameters order_id, status",
        "the body has no parameter state",
        "button 0 (a quick reply) takes a payload",
        "button 1 takes no parameter",
    ]

    image = {
        "type": "header",
        "parameters": [{"type": "image", "image": {"link": "https://x/y.jpg"}}],
    }
    assert await problems("new_product", [image, body("Saree")]) == []
    assert await problems("new_product", [body("Saree")]) == [
        "the header takes one image parameter"
    ]

    # Not synced (or not in that language): Meta has the last word.
    assert await problems("hello_world", [body("anything")]) == []
    assert await problems("cart_reminder", [], "hi") == []
    with pytest.raises(ValidationFailed, match="paused"):
        await check(context, admin, "paused", [body("a", "b")])


async def test_components_built_from_plain_values_fit_their_definition(
    whatsapp_api: tuple[httpx.AsyncClient, AppContext], admin: Admin, graph: FakeGraph, bot: str
) -> None:
    client, context = whatsapp_api
    graph.add_template(name="cart_reminder", language="en", components=CART_REMINDER)
    graph.add_template(name="status", components=NAMED, parameter_format="NAMED")
    synced = (await sync(client, admin, bot)).json()["templates"]
    cart = next(t for t in synced if t["name"] == "cart_reminder")
    status = next(t for t in synced if t["name"] == "status")

    built = templates.template_components(
        cart, body=["Asha", "Blue Saree", "Rs.2499"], buttons={0: "c/123"}
    )
    assert built == [body("Asha", "Blue Saree", "Rs.2499"), url_button(0, "c/123")]
    assert templates.problems(cart, built) == []
    built = templates.template_components(
        status,
        header={"order_id": "ORD-1"},
        body={"customer_name": "Asha", "order_id": "ORD-1", "status": "shipped"},
        buttons={0: "STOP"},
    )
    assert built[-1]["parameters"] == [{"type": "payload", "payload": "STOP"}]
    assert templates.problems(status, built) == []
    await check(context, admin, "status", built)
