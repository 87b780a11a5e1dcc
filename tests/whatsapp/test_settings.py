"""A workspace's WhatsApp settings (`/api/whatsapp/settings`): the notification bot, the
template names and language, and the opt-out/opt-in words."""

from __future__ import annotations

import httpx

from backend.context import AppContext
from tests.fakes.whatsapp import FakeGraph
from tests.fixtures.factories import Admin, create_chatbot
from tests.fixtures.whatsapp import connect_whatsapp

URL = "/api/whatsapp/settings"
DEFAULTS = {
    "notification_chatbot_id": None,
    "otp_template": "otp",
    "cart_reminder_template": "cart_reminder",
    "order_update_template": "order_update",
    "new_product_template": "new_product",
    "template_language": "en",
    "opt_out_words": [],
    "opt_in_words": [],
}


async def whatsapp_bot(
    client: httpx.AsyncClient, admin: Admin, graph: FakeGraph, number: str, *, enabled: bool
) -> str:
    chatbot = await create_chatbot(client, admin)
    await connect_whatsapp(
        client, admin, chatbot["id"], graph,
        phone_number_id=number, access_token=f"EAAGtoken-of-{number}", app_secret="app-secret-1234",
        enabled=enabled,
    )  # fmt: skip
    return str(chatbot["id"])


async def test_defaults_until_changed_then_what_was_given(
    whatsapp_api: tuple[httpx.AsyncClient, AppContext], admin: Admin, other_admin: Admin
) -> None:
    client, _ = whatsapp_api
    response = await client.get(URL, headers=admin.headers)
    assert response.status_code == 200, response.text
    assert {k: v for k, v in response.json().items() if k in DEFAULTS} == DEFAULTS

    changed = await client.put(
        URL,
        headers=admin.headers,
        json={
            "otp_template": "login_code",
            "template_language": "en_US",
            "opt_out_words": ["  Unsubscribe ", "STOP ALL", "unsubscribe", "", "Stop   all"],
            "opt_in_words": ["subscribe"],
        },
    )
    assert changed.status_code == 200, changed.text
    got = (await client.get(URL, headers=admin.headers)).json()
    assert got["otp_template"] == "login_code"
    assert got["template_language"] == "en_US"
    assert got["cart_reminder_template"] == "cart_reminder"  # left as it was
    assert got["opt_out_words"] == ["Unsubscribe", "STOP ALL"]
    assert got["opt_in_words"] == ["subscribe"]

    again = await client.put(URL, headers=admin.headers, json={"order_update_template": "status"})
    assert again.json()["otp_template"] == "login_code"
    assert again.json()["order_update_template"] == "status"
    # Another workspace still has the defaults.
    theirs = (await client.get(URL, headers=other_admin.headers)).json()
    assert {k: v for k, v in theirs.items() if k in DEFAULTS} == DEFAULTS
    assert (await client.get(URL)).status_code == 401


async def test_bad_settings_are_400s_and_change_nothing(
    whatsapp_api: tuple[httpx.AsyncClient, AppContext], admin: Admin
) -> None:
    client, _ = whatsapp_api
    await client.put(URL, headers=admin.headers, json={"opt_in_words": ["yes please"]})
    for body, field in (
        ({"opt_out_words": [f"word{i}" for i in range(51)]}, "opt_out_words"),
        ({"opt_in_words": ["x" * 41]}, "opt_in_words"),
        ({"otp_template": "Login Code"}, "otp_template"),
        ({"otp_template": None}, "otp_template"),
        ({"template_language": "english"}, "template_language"),
        ({"opt_out_words": None}, "opt_out_words"),
        ({"unknown": 1}, "unknown"),
    ):
        response = await client.put(URL, headers=admin.headers, json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["code"] == "VALIDATION_ERROR"
        assert response.json()["errors"][0]["field"].startswith(field), body
    got = (await client.get(URL, headers=admin.headers)).json()
    assert got["opt_in_words"] == ["yes please"]
    assert got["opt_out_words"] == [] and got["otp_template"] == "otp"
    fifty = [f"word{i}" for i in range(50)]
    ok = await client.put(URL, headers=admin.headers, json={"opt_out_words": fifty})
    assert ok.status_code == 200 and ok.json()["opt_out_words"] == fifty


async def test_the_notification_bot_is_a_whatsapp_enabled_bot_of_the_workspace(
    whatsapp_api: tuple[httpx.AsyncClient, AppContext],
    admin: Admin,
    other_admin: Admin,
    graph: FakeGraph,
) -> None:
    client, _ = whatsapp_api
    enabled = await whatsapp_bot(client, admin, graph, "100000000000001", enabled=True)
    disabled = await whatsapp_bot(client, admin, graph, "100000000000002", enabled=False)
    plain = (await create_chatbot(client, admin))["id"]
    theirs = await whatsapp_bot(client, other_admin, graph, "100000000000003", enabled=True)
    for refused in (disabled, plain, theirs, "00000000-0000-0000-0000-000000000000"):
        response = await client.put(
            URL, headers=admin.headers, json={"notification_chatbot_id": refused}
        )
        assert response.status_code == 400, response.text
        assert response.json()["errors"][0]["field"] == "notification_chatbot_id"
    assert (await client.get(URL, headers=admin.headers)).json()["notification_chatbot_id"] is None

    chosen = await client.put(URL, headers=admin.headers, json={"notification_chatbot_id": enabled})
    assert chosen.status_code == 200
    assert chosen.json()["notification_chatbot_id"] == enabled
    cleared = await client.put(URL, headers=admin.headers, json={"notification_chatbot_id": None})
    assert cleared.json()["notification_chatbot_id"] is None

    # Deleting the chosen bot leaves no dangling choice.
    await client.put(URL, headers=admin.headers, json={"notification_chatbot_id": enabled})
    assert (await client.delete(f"/bots/{enabled}", headers=admin.headers)).status_code == 204
    assert (await client.get(URL, headers=admin.headers)).json()["notification_chatbot_id"] is None
