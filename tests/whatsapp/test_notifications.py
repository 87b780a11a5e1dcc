"""The shop's WhatsApp notifications (CHICX integration guide §2.1-2.4, §4, §5.1, §6) through
HTTP, against the Graph API fake: what Meta receives, field by field, and what the shop reads."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from backend.context import AppContext
from tests.fakes.whatsapp import (
    ACCESS_TOKEN,
    BUSINESS_ACCOUNT_ID,
    PHONE_NUMBER_ID,
    WA_ID,
    FakeGraph,
)
from tests.fixtures.factories import Admin, create_api_key, create_chatbot
from tests.fixtures.whatsapp import connect_whatsapp
from tests.whatsapp.sending import APP_SECRET, wrote

MARKETING_NUMBER_ID = "206540352242933"
MARKETING_TOKEN = "EAAG" + "m" * 8 + "fake-marketing-token"

# §2.1's cURL, byte for byte.
DOC_OTP = """{
    "phone": "9876543210",
    "otp": "123456",
    "type": "forgot_password",
    "customer_name": "Priya"
  }"""
CART = {
    "phone": "9876543210",
    "customer_name": "Priya",
    "product_name": "Blue Silk Saree",
    "product_image": "https://chicx.in/images/saree.jpg",
    "cart_total": 2499.00,
    "checkout_url": "https://chicx.in/checkout/abc123",
}
ORDER = {
    "phone": "9876543210",
    "order_id": "ORD123456",
    "order_status": "Shipped",
    "tracking_url": "https://shiprocket.com/track/abc",
    "delivery_date": "2025-12-30",
}
PRODUCT = {
    "phones": ["9876543210", "9123456789", "9555555555"],
    "product_name": "Designer Lehenga",
    "product_price": 4999.00,
    "product_image": "https://chicx.in/images/lehenga.jpg",
    "product_url": "https://chicx.in/products/lehenga",
}


@pytest.fixture
def api(whatsapp_api: tuple[httpx.AsyncClient, AppContext]) -> tuple[httpx.AsyncClient, AppContext]:
    return whatsapp_api


@pytest.fixture
async def chicx(api, admin, graph) -> dict[str, Any]:
    """The workspace `chicx` (in India), its WhatsApp bot, and a key that sends notifications."""
    client, _ = api
    response = await client.patch(
        f"/api/workspaces/{admin.workspace_id}", headers=admin.headers, json={"slug": "chicx"}
    )
    assert response.status_code == 200, response.text
    await set_country(client, admin, "IN")
    bot_id = await whatsapp_bot(client, admin, graph)
    key = await create_api_key(client, admin, ["notifications:send"])
    return {"key": key["key"], "bot_id": bot_id, "admin": admin}


async def whatsapp_bot(
    client: httpx.AsyncClient,
    admin: Admin,
    graph: FakeGraph,
    phone_number_id: str = PHONE_NUMBER_ID,
    token: str = ACCESS_TOKEN,
) -> str:
    """A bot of the workspace with a WhatsApp number, connected as an admin does (with the
    business account whose templates it syncs); its id."""
    bot = await create_chatbot(client, admin)
    await connect_whatsapp(
        client, admin, bot["id"], graph,
        phone_number_id=phone_number_id, access_token=token, app_secret=APP_SECRET,
        business_account_id=BUSINESS_ACCOUNT_ID,
    )  # fmt: skip
    return str(bot["id"])


async def whatsapp_settings(client: httpx.AsyncClient, admin: Admin, **changes: Any) -> None:
    response = await client.put("/api/whatsapp/settings", headers=admin.headers, json=changes)
    assert response.status_code == 200, response.text


async def set_country(client: httpx.AsyncClient, admin: Admin, country: str | None) -> None:
    response = await client.patch(
        "/api/business/me", headers=admin.headers, json={"country": country}
    )
    assert response.status_code == 200, response.text


async def post(
    client: httpx.AsyncClient, key: str, route: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.post(f"/webhooks/chicx/{route}", headers={"X-CHICX-Secret": key}, json=body)


async def opt_out(
    client: httpx.AsyncClient, context: AppContext, phone: str, *, agreed_before: bool = True
) -> None:
    """The contact writes STOP to the bot on WhatsApp, having agreed to marketing before
    (START) or never been asked."""
    if agreed_before:
        await wrote(client, context, phone, text="START")
    await wrote(client, context, phone, text="STOP")


async def outbox(context: AppContext) -> list[dict[str, Any]]:
    async with context.db.system() as conn:
        cur = await conn.execute("select * from public.whatsapp_outbox order by created_at")
        return await cur.fetchall()


def text(value: str) -> dict[str, str]:
    return {"type": "text", "text": value}


# -- send-otp ------------------------------------------------------------------------------------


async def test_the_guides_curl_sends_the_otp_through_the_authentication_template(api, chicx, graph):
    client, context = api
    response = await client.post(
        "/webhooks/chicx/send-otp",
        headers={"Content-Type": "application/json", "X-CHICX-Secret": chicx["key"]},
        content=DOC_OTP,
    )
    assert response.status_code == 200, response.text
    (sent,) = graph.accepted
    answer = response.json()
    assert answer == {
        "status": "ok",
        "message": "OTP sent to 9876543210",
        "phone": "9876543210",
        "type": "forgot_password",
        "wa_message_id": sent["wamid"],
        "message_id": answer["message_id"],
    }
    assert sent["number"] == PHONE_NUMBER_ID and sent["token"] == ACCESS_TOKEN
    body = sent["body"]
    assert body["messaging_product"] == "whatsapp"
    assert body["to"] == "919876543210"
    assert body["type"] == "template"
    assert body["template"]["name"] == "otp"
    assert body["template"]["language"] == {"code": "en"}
    assert body["template"]["components"] == [
        {"type": "body", "parameters": [text("123456")]},
        {"type": "button", "sub_type": "url", "index": "0", "parameters": [text("123456")]},
    ]
    (row,) = await outbox(context)
    assert (row["kind"], row["status"], row["wamid"]) == ("otp", "sent", sent["wamid"])
    assert body["biz_opaque_callback_data"] == str(row["id"])


async def test_x_api_key_works_and_the_type_defaults_to_login(api, chicx, graph):
    client, _ = api
    response = await client.post(
        "/webhooks/chicx/send-otp",
        headers={"X-API-Key": chicx["key"]},
        json={"phone": "9876543210", "otp": "4821"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["type"] == "login"
    assert graph.bodies()[0]["template"]["components"][0] == {
        "type": "body",
        "parameters": [text("4821")],
    }


@pytest.mark.parametrize(
    "headers", [{}, {"X-CHICX-Secret": "vx_live_not-a-real-key"}, {"X-API-Key": "hunter2"}]
)
async def test_without_a_valid_key_is_401_and_sends_nothing(api, chicx, graph, headers):
    client, _ = api
    response = await client.post(
        "/webhooks/chicx/send-otp", headers=headers, json={"phone": "9876543210", "otp": "123456"}
    )
    assert response.status_code == 401, response.text
    assert (response.json()["status"], response.json()["code"]) == ("error", "UNAUTHORIZED")
    assert graph.sent == []


async def test_a_key_without_the_scope_is_403(api, chicx, graph):
    client, _ = api
    stats_key = await create_api_key(client, chicx["admin"], ["stats:read"])
    response = await post(
        client, stats_key["key"], "send-otp", {"phone": "9876543210", "otp": "1234"}
    )
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "FORBIDDEN"
    assert graph.sent == []


async def test_the_sixth_otp_to_a_phone_within_the_hour_is_429(api, chicx, graph):
    client, context = api
    otp = {"phone": "9876543210", "otp": "123456"}
    answers = await asyncio.gather(*(post(client, chicx["key"], "send-otp", otp) for _ in range(7)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] * 5 + [429] * 2, [a.text for a in answers]
    refused = next(a for a in answers if a.status_code == 429)
    assert (refused.json()["status"], refused.json()["code"]) == ("error", "RATE_LIMITED")
    assert 3500 <= int(refused.headers["Retry-After"]) <= 3600
    assert len(graph.accepted) == 5 and len(await outbox(context)) == 5
    # Another phone has its own five.
    other = await post(client, chicx["key"], "send-otp", {**otp, "phone": "9123456789"})
    assert other.status_code == 200, other.text


async def test_metas_refusal_is_the_guides_error_answer(api, chicx, graph):
    client, context = api
    graph.fail_number(WA_ID, 131026)
    body = {"phone": "9876543210", "otp": "123456", "type": "forgot_password"}
    response = await post(client, chicx["key"], "send-otp", body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] == "error"
    assert answer["message"].startswith("WhatsApp API error: (#131026) Message undeliverable")
    assert (answer["phone"], answer["type"], answer["code"]) == (
        "9876543210",
        "forgot_password",
        "WHATSAPP_API_ERROR",
    )
    assert "wa_message_id" not in answer
    (row,) = await outbox(context)
    assert (row["status"], row["error_code"]) == ("failed", "131026")
    # A refused OTP did not reach the person: it does not count against the five.
    graph.reset()
    graph.add_number(PHONE_NUMBER_ID, ACCESS_TOKEN)
    answers = [await post(client, chicx["key"], "send-otp", body) for _ in range(5)]
    assert [a.json()["status"] for a in answers] == ["ok"] * 5


async def test_a_send_meta_asks_to_retry_is_queued_and_answered_ok_without_a_wamid(
    api, chicx, graph
):
    client, context = api
    graph.fail_next(1, code=131056)  # the pair rate limit: a retry, six seconds on
    response = await post(client, chicx["key"], "order-update", ORDER)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] == "ok" and answer["wa_message_id"] is None
    assert answer["message"].startswith("Order update notification queued for 9876543210")
    (row,) = await outbox(context)
    assert (row["status"], row["error_code"]) == ("queued", "131056")
    # In a broadcast it counts as sent: its job sends it (re-sending it would send it twice).
    graph.fail_next(1, code=131056)
    phones = {**PRODUCT, "phones": ["9123456789", "9555555555"]}
    totals = (await post(client, chicx["key"], "new-product", phones)).json()
    assert (totals["sent_count"], totals["failed_count"], totals["total"]) == (2, 0, 2)
    assert len(graph.accepted) == 1


# -- phones ------------------------------------------------------------------------------------


async def test_a_national_number_gets_the_workspaces_country_code(api, chicx, graph):
    client, _ = api
    await set_country(client, chicx["admin"], "GB")
    response = await post(client, chicx["key"], "send-otp", {"phone": "7911123456", "otp": "1234"})
    assert response.status_code == 200, response.text
    assert graph.bodies()[-1]["to"] == "447911123456"
    international = {"phone": "+91 98765 43210", "otp": "1234"}
    assert (await post(client, chicx["key"], "send-otp", international)).status_code == 200
    assert graph.bodies()[-1]["to"] == "919876543210"


async def test_a_national_number_without_a_workspace_country_is_400(api, chicx, graph):
    client, _ = api
    await set_country(client, chicx["admin"], None)
    response = await post(client, chicx["key"], "send-otp", {"phone": "9876543210", "otp": "1234"})
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["field"] == "phone" and "country" in error["message"]
    assert graph.sent == []


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        ("send-otp", {"otp": "123456"}, "phone"),
        ("send-otp", {"phone": "9876543210"}, "otp"),
        ("send-otp", {"phone": "9876543210", "otp": "123"}, "otp"),
        ("send-otp", {"phone": "9876543210", "otp": "123456789"}, "otp"),
        ("send-otp", {"phone": "9876543210", "otp": "12a456"}, "otp"),
        ("send-otp", {"phone": "9876543210", "otp": 123456}, "otp"),
        ("send-otp", {"phone": "9876543210", "otp": "123456", "type": "signup"}, "type"),
        ("send-otp", {"phone": "12345", "otp": "123456"}, "phone"),
        ("cart-reminder", {**CART, "product_name": ""}, "product_name"),
        ("cart-reminder", {"phone": "9876543210"}, "product_name"),
        ("cart-reminder", {**CART, "cart_total": -1}, "cart_total"),
        ("cart-reminder", {**CART, "cart_total": None}, "cart_total"),
        ("cart-reminder", {**CART, "checkout_url": "chicx.in/checkout"}, "checkout_url"),
        ("cart-reminder", {**CART, "product_image": "ftp://chicx.in/a.jpg"}, "product_image"),
        ("order-update", {**ORDER, "order_status": ""}, "order_status"),
        ("order-update", {"phone": "9876543210", "order_status": "Shipped"}, "order_id"),
        ("new-product", {**PRODUCT, "phones": []}, "phones"),
        ("new-product", {**PRODUCT, "phones": ["9876543210"] * 1001}, "phones"),
        ("new-product", {**PRODUCT, "phones": ["9876543210", "42"]}, "phones[1]"),
        ("new-product", {**PRODUCT, "product_price": "cheap"}, "product_price"),
    ],
)
async def test_invalid_bodies_are_400_naming_the_field_and_send_nothing(
    api, chicx, graph, route, body, field
):
    client, context = api
    response = await post(client, chicx["key"], route, body)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert (answer["status"], answer["code"]) == ("error", "VALIDATION_ERROR")
    assert field in [e["field"] for e in answer["errors"]]
    assert graph.sent == [] and await outbox(context) == []


# -- templates and routing ---------------------------------------------------------------------


async def test_cart_reminder_template_goes_from_the_marketing_number(api, chicx, graph):
    client, _ = api
    await connect_whatsapp(
        client, chicx["admin"], chicx["bot_id"], graph,
        phone_number_id=MARKETING_NUMBER_ID, access_token=MARKETING_TOKEN,
        app_secret=APP_SECRET, role="marketing",
    )  # fmt: skip
    response = await post(client, chicx["key"], "cart-reminder", CART)
    assert response.status_code == 200, response.text
    (sent,) = graph.accepted
    assert response.json() == {
        "status": "ok",
        "message": "Cart reminder sent to 9876543210",
        "phone": "9876543210",
        "wa_message_id": sent["wamid"],
        "message_id": response.json()["message_id"],
    }
    assert (sent["number"], sent["token"]) == (MARKETING_NUMBER_ID, MARKETING_TOKEN)
    template = sent["body"]["template"]
    assert (template["name"], template["language"]) == ("cart_reminder", {"code": "en"})
    assert template["components"] == [
        {
            "type": "header",
            "parameters": [
                {"type": "image", "image": {"link": "https://chicx.in/images/saree.jpg"}}
            ],
        },
        {
            "type": "body",
            "parameters": [text("Priya"), text("Blue Silk Saree"), text("Rs.2499")],
        },
        {
            "type": "button",
            "sub_type": "url",
            "index": "0",
            "parameters": [text("checkout/abc123")],
        },
    ]
    # Transactional messages stay on the primary number.
    assert (await post(client, chicx["key"], "order-update", ORDER)).status_code == 200
    assert graph.accepted[-1]["number"] == PHONE_NUMBER_ID
    assert (
        await post(client, chicx["key"], "send-otp", {"phone": "9876543210", "otp": "1234"})
    ).status_code == 200
    assert graph.accepted[-1]["number"] == PHONE_NUMBER_ID


async def test_without_a_marketing_number_marketing_goes_from_the_primary(api, chicx, graph):
    client, _ = api
    body = {
        k: v for k, v in CART.items() if k not in ("customer_name", "product_image", "checkout_url")
    }
    response = await post(client, chicx["key"], "cart-reminder", {**body, "cart_total": 1250.5})
    assert response.status_code == 200, response.text
    (sent,) = graph.accepted
    assert sent["number"] == PHONE_NUMBER_ID
    # The optional values left out leave out their components; the name reads "there".
    assert sent["body"]["template"]["components"] == [
        {"type": "body", "parameters": [text("there"), text("Blue Silk Saree"), text("Rs.1250.50")]}
    ]


async def test_order_update_template_with_and_without_tracking(api, chicx, graph):
    client, _ = api
    response = await post(client, chicx["key"], "order-update", ORDER)
    assert response.status_code == 200, response.text
    (sent,) = graph.accepted
    assert response.json() == {
        "status": "ok",
        "message": "Order update notification sent to 9876543210",
        "order_id": "ORD123456",
        "order_status": "Shipped",
        "wa_message_id": sent["wamid"],
        "message_id": response.json()["message_id"],
    }
    template = sent["body"]["template"]
    assert template["name"] == "order_update"
    assert template["components"] == [
        {"type": "body", "parameters": [text("ORD123456"), text("Shipped")]},
        {"type": "button", "sub_type": "url", "index": "0", "parameters": [text("track/abc")]},
    ]
    untracked = {k: v for k, v in ORDER.items() if k != "tracking_url"}
    response = await post(
        client, chicx["key"], "order-update", {**untracked, "order_status": "Out for\n Delivery"}
    )
    assert response.status_code == 200, response.text
    assert graph.bodies()[-1]["template"]["components"] == [
        {"type": "body", "parameters": [text("ORD123456"), text("Out for Delivery")]}
    ]


async def test_a_synced_url_button_gets_the_part_after_its_fixed_start(api, chicx, graph):
    client, _ = api
    graph.add_template(
        name="order_update",
        language="en",
        components=[
            {"type": "BODY", "text": "Your order #{{1}} is now *{{2}}*."},
            {
                "type": "BUTTONS",
                "buttons": [
                    {
                        "type": "URL",
                        "text": "Track Order",
                        "url": "https://shiprocket.com/track/{{1}}",
                    }
                ],
            },
        ],
    )
    synced = await client.post(
        "/whatsapp/templates/sync",
        params={"bot_id": chicx["bot_id"]},
        headers=chicx["admin"].headers,
    )
    assert synced.status_code == 200, synced.text
    assert (await post(client, chicx["key"], "order-update", ORDER)).status_code == 200
    button = graph.bodies()[-1]["template"]["components"][-1]
    assert button["parameters"] == [text("abc")]


async def test_the_workspaces_template_names_and_language_are_used(api, chicx, graph):
    client, _ = api
    await whatsapp_settings(
        client, chicx["admin"], otp_template="chicx_login_code", template_language="en_US"
    )
    assert (
        await post(client, chicx["key"], "send-otp", {"phone": "9876543210", "otp": "1234"})
    ).status_code == 200
    template = graph.bodies()[-1]["template"]
    assert (template["name"], template["language"]) == ("chicx_login_code", {"code": "en_US"})


# -- consent -----------------------------------------------------------------------------------


@pytest.mark.parametrize("agreed_before", [True, False])
async def test_marketing_is_never_sent_to_a_contact_who_opted_out(api, chicx, graph, agreed_before):
    client, context = api
    await opt_out(client, context, "+919876543210", agreed_before=agreed_before)
    response = await post(client, chicx["key"], "cart-reminder", CART)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["status"], answer["code"], answer["phone"]) == (
        "error",
        "OPTED_OUT",
        "9876543210",
    )
    assert "opted out" in answer["message"]
    assert graph.sent == [] and await outbox(context) == []
    # An order update is not marketing: it goes.
    assert (await post(client, chicx["key"], "order-update", ORDER)).json()["status"] == "ok"
    assert len(graph.accepted) == 1


# -- new-product -------------------------------------------------------------------------------


async def test_new_product_totals_count_each_phone_once_and_the_failures(api, chicx, graph):
    client, context = api
    graph.fail_number("919123456789", 131026)
    await opt_out(client, context, "+919555555555")
    phones = [*PRODUCT["phones"], "+91 98765 43210", "9000000001"]  # one given twice
    response = await post(client, chicx["key"], "new-product", {**PRODUCT, "phones": phones})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert {k: answer[k] for k in ("status", "message", "sent_count", "failed_count", "total")} == {
        "status": "ok",
        "message": "New product broadcast completed",
        "sent_count": 2,
        "failed_count": 2,
        "total": 4,
    }
    reasons = {f["phone"]: f["message"] for f in answer["failed"]}
    assert reasons["9123456789"].startswith("WhatsApp API error: (#131026)")
    assert "opted out" in reasons["9555555555"]
    assert sorted(b["to"] for b in graph.bodies()) == ["919000000001", "919876543210"]
    template = graph.bodies()[0]["template"]
    assert template["name"] == "new_product"
    assert template["components"] == [
        {
            "type": "header",
            "parameters": [
                {"type": "image", "image": {"link": "https://chicx.in/images/lehenga.jpg"}}
            ],
        },
        {"type": "body", "parameters": [text("Designer Lehenga"), text("4999")]},
        {
            "type": "button",
            "sub_type": "url",
            "index": "0",
            "parameters": [text("products/lehenga")],
        },
    ]
    assert sorted(r["kind"] for r in await outbox(context)) == ["new_product"] * 3


# -- the sender ---------------------------------------------------------------------------------


async def test_two_whatsapp_bots_are_409_until_the_settings_name_one(api, chicx, graph):
    client, _ = api
    second = await whatsapp_bot(
        client, chicx["admin"], graph, phone_number_id=MARKETING_NUMBER_ID, token=MARKETING_TOKEN
    )
    otp = {"phone": "9876543210", "otp": "1234"}
    response = await post(client, chicx["key"], "send-otp", otp)
    assert response.status_code == 409, response.text
    assert "notification_chatbot_id" in response.json()["message"]
    assert graph.sent == []
    await whatsapp_settings(client, chicx["admin"], notification_chatbot_id=second)
    response = await post(client, chicx["key"], "send-otp", otp)
    assert response.status_code == 200, response.text
    assert graph.accepted[-1]["number"] == MARKETING_NUMBER_ID


async def test_without_a_whatsapp_bot_is_409(api, admin, graph):
    client, _ = api
    response = await client.patch(
        f"/api/workspaces/{admin.workspace_id}", headers=admin.headers, json={"slug": "chicx"}
    )
    assert response.status_code == 200
    key = await create_api_key(client, admin, ["notifications:send"])
    response = await post(client, key["key"], "send-otp", {"phone": "+919876543210", "otp": "1234"})
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "WHATSAPP_NOT_CONFIGURED"
