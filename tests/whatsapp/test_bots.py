"""The bot builder's `/bots/` (seed 001): a bot is a chatbot, and its WhatsApp numbers are
checked with Meta (the Graph API fake) before anything of them is stored."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from backend.context import AppContext
from tests.fakes.whatsapp import BUSINESS_ACCOUNT_ID, FakeGraph
from tests.fixtures.connections import stored_connections
from tests.fixtures.factories import Admin, create_chatbot
from tests.fixtures.whatsapp import VERIFY_TOKEN, connect_whatsapp

PRIMARY_ID = "106540352242922"
MARKETING_ID = "106540352242933"
TOKEN = "EAAGprimary-token-0001-abcd"
MARKETING_TOKEN = "EAAGmarketing-token-0002-wxyz"
APP_SECRET = "6f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e"
MARKETING_SECRET = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
SECRETS = (TOKEN, MARKETING_TOKEN, APP_SECRET, MARKETING_SECRET, VERIFY_TOKEN)


def whatsapp(**overrides: Any) -> dict[str, Any]:
    return {
        "is_whatsapp_enabled": True,
        "whatsapp_phone_number_id": PRIMARY_ID,
        "whatsapp_access_token": TOKEN,
        "whatsapp_app_secret": APP_SECRET,
        "whatsapp_verify_token": VERIFY_TOKEN,
        **overrides,
    }


def assert_no_secret(response: httpx.Response) -> None:
    for secret in SECRETS:
        assert secret not in response.text


async def refused(
    client: httpx.AsyncClient, admin: Admin, bot_id: str, body: dict[str, Any], status: int = 400
) -> list[str]:
    """The fields a refused `PUT /bots/{id}` names (it shows no secret either)."""
    response = await client.put(f"/bots/{bot_id}", headers=admin.headers, json=body)
    assert response.status_code == status, response.text
    assert_no_secret(response)
    return [e["field"] for e in response.json()["errors"]]


async def numbers(context: AppContext) -> dict[str, dict[str, Any]]:
    async with context.db.system() as conn:
        cur = await conn.execute("select * from public.whatsapp_numbers")
        return {r["phone_number_id"]: r for r in await cur.fetchall()}


async def wa_bot(context: AppContext, chatbot_id: str) -> dict[str, Any] | None:
    async with context.db.system() as conn:
        cur = await conn.execute(
            "select * from public.whatsapp_bots where chatbot_id = %s", (chatbot_id,)
        )
        return await cur.fetchone()


async def accounts(context: AppContext) -> set[str]:
    return {c["account"] for c in await stored_connections(context, "whatsapp")}


@pytest.fixture
def meta(graph: FakeGraph) -> FakeGraph:
    """Meta knows both numbers, each with its token."""
    graph.add_number(
        PRIMARY_ID, TOKEN, display_phone_number="+91 98765 00001", verified_name="CHICX"
    )
    graph.add_number(
        MARKETING_ID,
        MARKETING_TOKEN,
        display_phone_number="+91 98765 00002",
        verified_name="CHICX Offers",
    )
    return graph


async def test_a_bot_with_its_whatsapp_number_created_through_bots(
    whatsapp_api: tuple[httpx.AsyncClient, AppContext], admin: Admin, meta: FakeGraph
) -> None:
    client, context = whatsapp_api
    response = await client.post(
        "/bots/",
        headers=admin.headers,
        json={"name": "My Bot", "description": "A WhatsApp bot", **whatsapp()},
    )
    assert response.status_code == 201, response.text
    bot = response.json()
    assert_no_secret(response)
    assert bot["name"] == "My Bot" and bot["description"] == "A WhatsApp bot"
    assert bot["is_whatsapp_enabled"] is True
    assert bot["whatsapp_phone_number_id"] == PRIMARY_ID
    assert bot["whatsapp_display_phone_number"] == "+91 98765 00001"
    assert bot["whatsapp_verified_name"] == "CHICX"
    assert bot["whatsapp_quality_rating"] == "GREEN"
    assert bot["whatsapp_access_token_last4"] == TOKEN[-4:]
    assert bot["whatsapp_app_secret_set"] is True
    assert bot["whatsapp_verify_token_set"] is True
    assert bot["whatsapp_marketing_phone_number_id"] is None
    assert bot["whatsapp_webhook_url"] == f"{context.settings.base_url}/whatsapp/webhook"
    assert bot["created_at"] and bot["updated_at"]
    # Meta was asked for the number with its token.
    assert ("GET", f"/v22.0/{PRIMARY_ID}") in [(m, p) for m, p, _ in meta.requests]

    # The same record through the chatbots API.
    same = await client.get(f"/api/chatbots/{bot['id']}", headers=admin.headers)
    assert same.status_code == 200
    assert same.json()["data"]["name"] == "My Bot"

    # Stored: the number as Meta described it, its secrets encrypted, the verify token hashed.
    stored = await numbers(context)
    assert stored[PRIMARY_ID]["chatbot_id"] == stored[PRIMARY_ID]["chatbot_id"]
    assert str(stored[PRIMARY_ID]["chatbot_id"]) == bot["id"]
    assert stored[PRIMARY_ID]["role"] == "primary"
    assert stored[PRIMARY_ID]["verified_name"] == "CHICX"
    (connection,) = await stored_connections(context, "whatsapp")
    assert connection["account"] == PRIMARY_ID
    assert set(connection["secrets"]) == {"access_token", "app_secret", "verify_token"}
    assert context.secrets.decrypt(connection["secrets"]["access_token"]) == TOKEN
    assert not any(s in str(connection["secrets"]) for s in SECRETS)
    settings = await wa_bot(context, bot["id"])
    assert settings is not None and settings["enabled"]
    assert settings["verify_token_hash"] == hashlib.sha256(VERIFY_TOKEN.encode()).hexdigest()


async def test_a_chatbot_is_a_bot_and_a_bot_a_chatbot(
    whatsapp_api: tuple[httpx.AsyncClient, AppContext], admin: Admin, meta: FakeGraph
) -> None:
    client, _ = whatsapp_api
    chatbot = await create_chatbot(client, admin, name="Shop Helper", system_prompt="Be kind.")
    response = await client.get(f"/bots/{chatbot['id']}", headers=admin.headers)
    assert response.status_code == 200
    assert response.json()["name"] == "Shop Helper"
    assert response.json()["system_prompt"] == "Be kind."
    assert response.json()["is_whatsapp_enabled"] is False

    bot = await connect_whatsapp(
        client, admin, chatbot["id"], meta,
        phone_number_id=PRIMARY_ID, access_token=TOKEN, app_secret=APP_SECRET,
    )  # fmt: skip
    assert bot["is_whatsapp_enabled"] is True

    renamed = await client.put(
        f"/bots/{chatbot['id']}", headers=admin.headers, json={"name": "Renamed"}
    )
    assert renamed.status_code == 200
    assert renamed.json()["whatsapp_access_token_last4"] == TOKEN[-4:]  # kept
    through_chatbots = await client.get(f"/api/chatbots/{chatbot['id']}", headers=admin.headers)
    assert through_chatbots.json()["data"]["name"] == "Renamed"

    patched = await client.patch(
        f"/api/chatbots/{chatbot['id']}", headers=admin.headers, json={"name": "Patched"}
    )
    assert patched.status_code == 200
    assert (await client.get(f"/bots/{chatbot['id']}", headers=admin.headers)).json()[
        "name"
    ] == "Patched"


async def test_bots_are_listed_as_a_plain_array_paged_with_skip_and_limit(
    whatsapp_api: tuple[httpx.AsyncClient, AppContext], admin: Admin, other_admin: Admin
) -> None:
    client, _ = whatsapp_api
    for name in ("one", "two", "three"):
        response = await client.post("/bots/", headers=admin.headers, json={"name": name})
        assert response.status_code == 201, response.text
    await create_chatbot(client, other_admin, name="theirs")

    listed = await client.get("/bots/", headers=admin.headers)
    assert listed.status_code == 200
    assert [b["name"] for b in listed.json()] == ["one", "two", "three"]
    page = await client.get("/bots/?skip=1&limit=1", headers=admin.headers)
    assert [b["name"] for b in page.json()] == ["two"]
    assert (await client.get("/bots/?skip=5", headers=admin.headers)).json() == []
    assert (await client.get("/bots/?limit=0", headers=admin.headers)).status_code == 400


async def test_bots_need_an_admin_token(
    whatsapp_api: tuple[httpx.AsyncClient, AppContext], admin: Admin, other_admin: Admin
) -> None:
    client, _ = whatsapp_api
    assert (await client.get("/bots/")).status_code == 401
    assert (await client.post("/bots/", json={"name": "x"})).status_code == 401
    mine = (await client.post("/bots/", headers=admin.headers, json={"name": "mine"})).json()
    for method in ("GET", "PUT", "DELETE"):
        response = await client.request(
            method,
            f"/bots/{mine['id']}",
            headers=other_admin.headers,
            json={"name": "taken"} if method == "PUT" else None,
        )
        assert response.status_code == 404, (method, response.text)


async def test_a_token_meta_refuses_is_a_400_and_nothing_is_stored(
    whatsapp_api: tuple[httpx.AsyncClient, AppContext], admin: Admin, meta: FakeGraph
) -> None:
    client, context = whatsapp_api
    chatbot = await create_chatbot(client, admin, name="Before")
    response = await client.put(
        f"/bots/{chatbot['id']}",
        headers=admin.headers,
        json={"name": "After", **whatsapp(whatsapp_access_token="EAAGexpired-token-9999")},
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert [e["field"] for e in body["errors"]] == ["whatsapp_access_token"]
    assert "EAAGexpired-token-9999" not in response.text
    assert (await client.get(f"/bots/{chatbot['id']}", headers=admin.headers)).json()[
        "name"
    ] == "Before"
    assert await numbers(context) == {}
    assert await accounts(context) == set()
    assert await wa_bot(context, chatbot["id"]) is None

    # Creating one with it stores no chatbot either.
    created = await client.post(
        "/bots/",
        headers=admin.headers,
        json={"name": "New", **whatsapp(whatsapp_access_token="EAAGexpired-token-9999")},
    )
    assert created.status_code == 400
    assert [b["name"] for b in (await client.get("/bots/", headers=admin.headers)).json()] == [
        "Before"
    ]


async def test_an_unknown_number_or_business_account_is_a_400_naming_it(
    whatsapp_api: tuple[httpx.AsyncClient, AppContext], admin: Admin, meta: FakeGraph
) -> None:
    client, context = whatsapp_api
    chatbot = await create_chatbot(client, admin)
    assert await refused(
        client, admin, chatbot["id"], whatsapp(whatsapp_phone_number_id="999000111")
    ) == ["whatsapp_phone_number_id"]

    # A marketing number with the primary's token, which cannot send from it.
    assert await refused(
        client, admin, chatbot["id"], whatsapp(whatsapp_marketing_phone_number_id=MARKETING_ID)
    ) == ["whatsapp_marketing_access_token"]

    assert await refused(
        client, admin, chatbot["id"], whatsapp(whatsapp_business_account_id="555000111")
    ) == ["whatsapp_business_account_id"]
    assert await numbers(context) == {} and await accounts(context) == set()

    known = await client.put(
        f"/bots/{chatbot['id']}",
        headers=admin.headers,
        json=whatsapp(whatsapp_business_account_id=BUSINESS_ACCOUNT_ID),
    )
    assert known.status_code == 200, known.text
    assert known.json()["whatsapp_business_account_id"] == BUSINESS_ACCOUNT_ID


async def test_meta_out_of_reach_is_a_502_and_nothing_is_stored(
    whatsapp_api: tuple[httpx.AsyncClient, AppContext], admin: Admin, meta: FakeGraph
) -> None:
    client, context = whatsapp_api
    chatbot = await create_chatbot(client, admin)
    meta.fail_next(1, status=503)
    response = await client.put(f"/bots/{chatbot['id']}", headers=admin.headers, json=whatsapp())
    assert response.status_code == 502, response.text
    assert response.json()["code"] == "PROVIDER_UNAVAILABLE"
    meta.fail_next(1, code=130429)
    assert (
        await client.put(f"/bots/{chatbot['id']}", headers=admin.headers, json=whatsapp())
    ).status_code == 502
    assert await numbers(context) == {} and await accounts(context) == set()


async def test_meta_not_even_listening_is_a_502(
    database_url: str, admin: Admin, graph: FakeGraph
) -> None:
    from tests.conftest import app_with
    from tests.fixtures.servers import free_port

    async with app_with(database_url, whatsapp_api_url=f"http://127.0.0.1:{free_port()}") as (
        client,
        _,
    ):
        chatbot = await create_chatbot(client, admin)
        response = await client.put(
            f"/bots/{chatbot['id']}", headers=admin.headers, json=whatsapp()
        )
    assert response.status_code == 502, response.text


async def test_a_number_belongs_to_one_bot_on_the_whole_platform(
    whatsapp_api: tuple[httpx.AsyncClient, AppContext],
    admin: Admin,
    other_admin: Admin,
    meta: FakeGraph,
) -> None:
    client, context = whatsapp_api
    theirs = await create_chatbot(client, other_admin, name="Their bot")
    await connect_whatsapp(
        client, other_admin, theirs["id"], meta,
        phone_number_id=PRIMARY_ID, access_token=TOKEN, app_secret=APP_SECRET,
    )  # fmt: skip
    mine = await create_chatbot(client, admin, name="Mine")
    response = await client.put(f"/bots/{mine['id']}", headers=admin.headers, json=whatsapp())
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["code"] == "CONFLICT"
    assert [e["field"] for e in body["errors"]] == ["whatsapp_phone_number_id"]
    assert "Their bot" not in response.text and theirs["id"] not in response.text
    assert other_admin.workspace_id not in response.text
    assert await accounts(context) == {PRIMARY_ID}  # theirs only
    assert str((await numbers(context))[PRIMARY_ID]["chatbot_id"]) == theirs["id"]

    # Another bot of the same workspace neither.
    second = await create_chatbot(client, other_admin, name="Second")
    again = await client.post(
        "/bots/", headers=other_admin.headers, json={"name": "Third", **whatsapp()}
    )
    assert again.status_code == 409
    as_marketing = await client.put(
        f"/bots/{second['id']}",
        headers=other_admin.headers,
        json=whatsapp(
            whatsapp_phone_number_id=MARKETING_ID,
            whatsapp_access_token=MARKETING_TOKEN,
            whatsapp_marketing_phone_number_id=PRIMARY_ID,
        ),
    )
    assert as_marketing.status_code == 409
    assert [e["field"] for e in as_marketing.json()["errors"]] == [
        "whatsapp_marketing_phone_number_id"
    ]


async def test_enabling_needs_the_primary_number_and_its_secrets(
    whatsapp_api: tuple[httpx.AsyncClient, AppContext], admin: Admin, meta: FakeGraph
) -> None:
    client, context = whatsapp_api
    chatbot = await create_chatbot(client, admin)
    assert await refused(client, admin, chatbot["id"], {"is_whatsapp_enabled": True}) == [
        "whatsapp_phone_number_id"
    ]

    partial = await client.put(
        f"/bots/{chatbot['id']}",
        headers=admin.headers,
        json={"is_whatsapp_enabled": True, "whatsapp_phone_number_id": PRIMARY_ID},
    )
    assert partial.status_code == 400
    assert {e["field"] for e in partial.json()["errors"]} == {
        "whatsapp_access_token",
        "whatsapp_app_secret",
        "whatsapp_verify_token",
    }
    assert meta.requests == []  # refused before Meta was asked

    # Connected but off first; then switched on with the secrets still missing given.
    off = await client.put(
        f"/bots/{chatbot['id']}",
        headers=admin.headers,
        json={"whatsapp_phone_number_id": PRIMARY_ID, "whatsapp_access_token": TOKEN},
    )
    assert off.status_code == 200, off.text
    assert off.json()["is_whatsapp_enabled"] is False
    assert off.json()["whatsapp_app_secret_set"] is False
    assert await refused(
        client,
        admin,
        chatbot["id"],
        {"is_whatsapp_enabled": True, "whatsapp_app_secret": APP_SECRET},
    ) == ["whatsapp_verify_token"]
    on = await client.put(
        f"/bots/{chatbot['id']}",
        headers=admin.headers,
        json={
            "is_whatsapp_enabled": True,
            "whatsapp_app_secret": APP_SECRET,
            "whatsapp_verify_token": VERIFY_TOKEN,
        },
    )
    assert on.status_code == 200, on.text
    assert on.json()["is_whatsapp_enabled"] is True
    assert on.json()["whatsapp_access_token_last4"] == TOKEN[-4:]
    (connection,) = await stored_connections(context, "whatsapp")
    assert set(connection["secrets"]) == {"access_token", "app_secret", "verify_token"}


async def test_two_numbers_then_the_marketing_one_removed(
    whatsapp_api: tuple[httpx.AsyncClient, AppContext], admin: Admin, meta: FakeGraph
) -> None:
    client, context = whatsapp_api
    chatbot = await create_chatbot(client, admin)
    assert await refused(
        client, admin, chatbot["id"], whatsapp(whatsapp_marketing_phone_number_id=PRIMARY_ID)
    ) == ["whatsapp_marketing_phone_number_id"]

    both = await client.put(
        f"/bots/{chatbot['id']}",
        headers=admin.headers,
        json=whatsapp(
            whatsapp_marketing_phone_number_id=MARKETING_ID,
            whatsapp_marketing_access_token=MARKETING_TOKEN,
            whatsapp_marketing_app_secret=MARKETING_SECRET,
        ),
    )
    assert both.status_code == 200, both.text
    bot = both.json()
    assert_no_secret(both)
    assert bot["whatsapp_marketing_phone_number_id"] == MARKETING_ID
    assert bot["whatsapp_marketing_display_phone_number"] == "+91 98765 00002"
    assert bot["whatsapp_marketing_verified_name"] == "CHICX Offers"
    assert bot["whatsapp_marketing_access_token_last4"] == MARKETING_TOKEN[-4:]
    assert bot["whatsapp_marketing_app_secret_set"] is True
    assert {n: r["role"] for n, r in (await numbers(context)).items()} == {
        PRIMARY_ID: "primary",
        MARKETING_ID: "marketing",
    }
    assert await accounts(context) == {PRIMARY_ID, MARKETING_ID}
    for listed in (await client.get("/bots/", headers=admin.headers),):
        assert_no_secret(listed)

    removed = await client.put(
        f"/bots/{chatbot['id']}",
        headers=admin.headers,
        json={"whatsapp_marketing_phone_number_id": None},
    )
    assert removed.status_code == 200, removed.text
    assert removed.json()["whatsapp_marketing_phone_number_id"] is None
    assert removed.json()["whatsapp_phone_number_id"] == PRIMARY_ID
    assert set(await numbers(context)) == {PRIMARY_ID}
    assert await accounts(context) == {PRIMARY_ID}


async def test_switching_numbers_drops_the_old_one_and_keeps_the_token(
    whatsapp_api: tuple[httpx.AsyncClient, AppContext], admin: Admin, meta: FakeGraph
) -> None:
    client, context = whatsapp_api
    other = "106540352242944"
    meta.add_number(other, TOKEN, display_phone_number="+91 98765 00003")  # same business token
    chatbot = await create_chatbot(client, admin)
    await client.put(f"/bots/{chatbot['id']}", headers=admin.headers, json=whatsapp())
    switched = await client.put(
        f"/bots/{chatbot['id']}", headers=admin.headers, json={"whatsapp_phone_number_id": other}
    )
    assert switched.status_code == 200, switched.text
    assert switched.json()["whatsapp_display_phone_number"] == "+91 98765 00003"
    assert switched.json()["whatsapp_access_token_last4"] == TOKEN[-4:]
    assert switched.json()["is_whatsapp_enabled"] is True
    assert set(await numbers(context)) == {other}
    assert await accounts(context) == {other}
    (connection,) = await stored_connections(context, "whatsapp")
    assert context.secrets.decrypt(connection["secrets"]["app_secret"]) == APP_SECRET
    # The old number is free again for another bot.
    second = await client.post("/bots/", headers=admin.headers, json={"name": "2", **whatsapp()})
    assert second.status_code == 201, second.text


@pytest.mark.parametrize("through", ["/bots", "/api/chatbots"])
async def test_deleting_a_bot_removes_its_numbers_and_their_credentials(
    whatsapp_api: tuple[httpx.AsyncClient, AppContext],
    admin: Admin,
    meta: FakeGraph,
    through: str,
) -> None:
    client, context = whatsapp_api
    created = await client.post(
        "/bots/",
        headers=admin.headers,
        json={
            "name": "Doomed",
            **whatsapp(
                whatsapp_marketing_phone_number_id=MARKETING_ID,
                whatsapp_marketing_access_token=MARKETING_TOKEN,
            ),
        },
    )
    assert created.status_code == 201, created.text
    bot_id = created.json()["id"]
    # The marketing number took the primary's app secret (one Meta app).
    assert created.json()["whatsapp_marketing_app_secret_set"] is True
    keep = await create_chatbot(client, admin, name="Keeper")
    await connect_whatsapp(
        client, admin, keep["id"], meta,
        phone_number_id="106540352242955", access_token="EAAGkeeper-token-0003", app_secret=APP_SECRET,
    )  # fmt: skip

    response = await client.delete(f"{through}/{bot_id}", headers=admin.headers)
    assert response.status_code == 204
    assert (await client.get(f"/bots/{bot_id}", headers=admin.headers)).status_code == 404
    assert set(await numbers(context)) == {"106540352242955"}
    assert await accounts(context) == {"106540352242955"}
    assert await wa_bot(context, bot_id) is None


async def test_bad_values_are_400s_naming_the_field(
    whatsapp_api: tuple[httpx.AsyncClient, AppContext], admin: Admin, meta: FakeGraph
) -> None:
    client, context = whatsapp_api
    chatbot = await create_chatbot(client, admin)
    for body, field in (
        ({"whatsapp_phone_number_id": "+91 98765"}, "whatsapp_phone_number_id"),
        ({"whatsapp_access_token": "short"}, "whatsapp_access_token"),
        ({"whatsapp_access_token": None}, "whatsapp_access_token"),
        ({"is_whatsapp_enabled": None}, "is_whatsapp_enabled"),
        ({"whatsapp_app_secret": "has a space in it"}, "whatsapp_app_secret"),
        ({"whatsapp_secret": "x"}, "whatsapp_secret"),
        ({"whatsapp_app_secret": APP_SECRET}, "whatsapp_app_secret"),  # no number
    ):
        response = await client.put(f"/bots/{chatbot['id']}", headers=admin.headers, json=body)
        assert response.status_code == 400, (body, response.text)
        assert field in [e["field"] for e in response.json()["errors"]], (body, response.text)
    assert await wa_bot(context, chatbot["id"]) is None


async def test_each_number_has_its_own_pace(
    whatsapp_api: tuple[httpx.AsyncClient, AppContext], admin: Admin, meta: FakeGraph
) -> None:
    client, context = whatsapp_api
    bot = await create_chatbot(client, admin)
    # Before it has a marketing number, it cannot pace one; nothing is stored.
    fields = await refused(
        client, admin, bot["id"], whatsapp(whatsapp_marketing_messages_per_second=20)
    )
    assert fields == ["whatsapp_marketing_messages_per_second"]
    assert await numbers(context) == {}
    assert await refused(client, admin, bot["id"], whatsapp(whatsapp_messages_per_second=0)) == [
        "whatsapp_messages_per_second"
    ]

    response = await client.put(f"/bots/{bot['id']}", headers=admin.headers, json=whatsapp())
    assert response.status_code == 200, response.text
    assert response.json()["whatsapp_messages_per_second"] == 80  # Meta's default throughput

    response = await client.put(
        f"/bots/{bot['id']}",
        headers=admin.headers,
        json={
            "whatsapp_marketing_phone_number_id": MARKETING_ID,
            "whatsapp_marketing_access_token": MARKETING_TOKEN,
            "whatsapp_marketing_messages_per_second": 20,
            "whatsapp_messages_per_second": 250,
        },
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["whatsapp_messages_per_second"] == 250
    assert answer["whatsapp_marketing_messages_per_second"] == 20
    stored = await numbers(context)
    assert stored[PRIMARY_ID]["messages_per_second"] == 250
    assert stored[MARKETING_ID]["messages_per_second"] == 20
