"""Provider keys: the tenant's OpenAI key (integration guide §3) and the commerce API."""

from __future__ import annotations

import httpx

from tests.fixtures.connections import stored_connections
from tests.fixtures.factories import Admin, connect_openai, create_admin

CHAT_MODELS = {"gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1"}
COMMERCE_KEY = "shop-api-key-abcdefgh-9876"


async def add_agent(client: httpx.AsyncClient, anon_key: str, owner: Admin) -> dict[str, str]:
    agent = await create_admin(client, anon_key, "agent")
    added = await client.post(
        f"/api/workspaces/{owner.workspace_id}/members",
        headers=owner.headers,
        json={"email": agent.email, "role": "agent"},
    )
    assert added.status_code == 201, added.text
    return {**agent.headers, "X-Workspace-Id": owner.workspace_id}


async def stored_openai(context) -> list[dict]:
    return await stored_connections(context, "openai")


async def status_of(client: httpx.AsyncClient, headers: dict[str, str]) -> dict:
    response = await client.get("/api/openai/status", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


# -- OpenAI -----------------------------------------------------------------------------------


async def test_connect_a_valid_key(client, context, admin, fake_openai):
    assert await status_of(client, admin.headers) == {
        "connected": False,
        "status": None,
        "key_last4": None,
        "models": [],
        "validated_at": None,
        "last_error": None,
    }

    response = await client.post(
        "/api/openai/connect", headers=admin.headers, json={"api_key": f"  {fake_openai.key}\n"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["connected"] is True and body["status"] == "valid"
    assert body["key_last4"] == fake_openai.key[-4:]
    assert set(body["models"]) >= CHAT_MODELS
    assert body["validated_at"] and body["last_error"] is None
    # The key was checked with the provider, with the key itself.
    [check] = fake_openai.requests
    assert (check.method, check.path, check.api_key) == ("GET", "/v1/models", fake_openai.key)

    status = await status_of(client, admin.headers)
    assert {k: status[k] for k in ("connected", "status", "key_last4", "models")} == {
        "connected": True,
        "status": "valid",
        "key_last4": fake_openai.key[-4:],
        "models": body["models"],
    }

    # Encrypted at rest, and the configured keys decrypt it (whitespace trimmed).
    [row] = await stored_openai(context)
    assert str(row["workspace_id"]) == admin.workspace_id
    assert fake_openai.key not in row["secrets"]["api_key"]
    assert fake_openai.key not in str(row)
    assert context.secrets.decrypt(row["secrets"]["api_key"]) == fake_openai.key


async def test_the_key_is_never_returned(client, admin, fake_openai):
    key = fake_openai.key
    responses = [
        await client.post("/api/openai/connect", headers=admin.headers, json={"api_key": key}),
        await client.get("/api/openai/status", headers=admin.headers),
        await client.get("/api/openai/validate", headers=admin.headers),
        await client.get("/api/workspaces/current", headers=admin.headers),
        await client.get(f"/api/workspaces/{admin.workspace_id}", headers=admin.headers),
    ]
    for response in responses:
        assert response.status_code == 200, (response.request.url, response.text)
        assert key not in response.text
        assert key[:-4] not in response.text  # not even most of it
        assert "encrypted_api_key" not in response.text


async def test_reconnecting_replaces_the_key(client, context, admin, fake_openai):
    second = "sk-test-second-key-00000000000000ZZZZ"
    fake_openai.valid_keys.add(second)
    try:
        await connect_openai(client, admin, fake_openai.key)
        await connect_openai(client, admin, second)
    finally:
        fake_openai.valid_keys.discard(second)
    [row] = await stored_openai(context)
    assert context.secrets.decrypt(row["secrets"]["api_key"]) == second
    assert (await status_of(client, admin.headers))["key_last4"] == "ZZZZ"


async def test_an_invalid_key_is_refused_and_not_stored(client, context, admin, fake_openai):
    response = await client.post(
        "/api/openai/connect",
        headers=admin.headers,
        json={"api_key": "sk-not-a-real-key-000000000000"},
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert [e["field"] for e in body["errors"]] == ["api_key"]
    assert "sk-not-a-real-key" not in response.text
    assert (await status_of(client, admin.headers))["connected"] is False
    assert await stored_openai(context) == []


async def test_an_invalid_key_does_not_replace_a_valid_one(client, context, admin, fake_openai):
    await connect_openai(client, admin, fake_openai.key)
    response = await client.post(
        "/api/openai/connect", headers=admin.headers, json={"api_key": "sk-wrong-000000000000"}
    )
    assert response.status_code == 400
    [row] = await stored_openai(context)
    assert context.secrets.decrypt(row["secrets"]["api_key"]) == fake_openai.key


async def test_a_malformed_key_is_a_validation_error(client, admin, fake_openai):
    for body in ({}, {"api_key": "short"}, {"api_key": "x" * 501}):
        response = await client.post("/api/openai/connect", headers=admin.headers, json=body)
        assert response.status_code == 400
        assert [e["field"] for e in response.json()["errors"]] == ["api_key"]
    assert fake_openai.requests == []  # never sent to the provider


async def test_the_provider_down_is_a_502_and_nothing_is_stored(
    client, context, admin, fake_openai
):
    fake_openai.fail_next(5, 503)
    try:
        response = await client.post(
            "/api/openai/connect", headers=admin.headers, json={"api_key": fake_openai.key}
        )
    finally:
        fake_openai.reset()
    assert response.status_code == 502, response.text
    body = response.json()
    assert body["code"] == "PROVIDER_UNAVAILABLE" and body["success"] is False
    assert fake_openai.key not in response.text
    assert body["message"] == (
        "OpenAI answered HTTP 503 Service Unavailable (The engine is currently overloaded, please"
        " try again later.): the trouble is on OpenAI's side. Try again in a few minutes. The key"
        " was not checked, so it was not saved."
    )
    assert (await status_of(client, admin.headers))["connected"] is False
    assert await stored_openai(context) == []


async def test_openai_out_of_reach_says_once_what_failed_and_what_to_check(database_url, anon_key):
    from tests.conftest import app_with
    from tests.fixtures.servers import free_port

    port = free_port()
    async with app_with(database_url, openai_base_url=f"http://127.0.0.1:{port}/v1") as (
        client,
        context,
    ):
        admin = await create_admin(client, anon_key)
        response = await client.post(
            "/api/openai/connect", headers=admin.headers, json={"api_key": "sk-" + "a" * 40}
        )
        assert response.status_code == 502, response.text
        assert response.json()["message"] == (
            f"Could not reach OpenAI at 127.0.0.1:{port}: the connection was refused. Check the"
            " address (OPENAI_BASE_URL) and its port, and that the service is running. The key"
            " was not checked, so it was not saved."
        )
        assert await stored_openai(context) == []


async def test_validate_without_a_key_is_404(client, admin, fake_openai):
    response = await client.get("/api/openai/validate", headers=admin.headers)
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"
    assert fake_openai.requests == []


async def test_validate_a_working_key(client, admin, fake_openai):
    await connect_openai(client, admin, fake_openai.key)
    response = await client.get("/api/openai/validate", headers=admin.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["valid"] is True and body["error"] is None
    assert body["key_last4"] == fake_openai.key[-4:]
    assert set(body["models"]) >= CHAT_MODELS and body["validated_at"]


async def test_a_key_revoked_at_the_provider_becomes_invalid(client, context, admin, fake_openai):
    await connect_openai(client, admin, fake_openai.key)
    models = (await status_of(client, admin.headers))["models"]
    saved = set(fake_openai.valid_keys)
    fake_openai.valid_keys.clear()
    try:
        response = await client.get("/api/openai/validate", headers=admin.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["valid"] is False and body["error"]
        assert body["key_last4"] == fake_openai.key[-4:]
        status = await status_of(client, admin.headers)
        assert status["connected"] is True and status["status"] == "invalid"
        assert status["last_error"] and status["models"] == models
        [row] = await stored_openai(context)
        assert row["status"] == "invalid"
    finally:
        fake_openai.valid_keys.update(saved)

    # Once the provider accepts it again, validating restores it.
    again = await client.get("/api/openai/validate", headers=admin.headers)
    assert again.json()["valid"] is True
    status = await status_of(client, admin.headers)
    assert status["status"] == "valid" and status["last_error"] is None


async def test_validate_with_the_provider_down_is_a_502(client, admin, fake_openai):
    await connect_openai(client, admin, fake_openai.key)
    fake_openai.fail_next(5, 503)
    try:
        response = await client.get("/api/openai/validate", headers=admin.headers)
    finally:
        fake_openai.reset()
    assert response.status_code == 502
    assert response.json()["code"] == "PROVIDER_UNAVAILABLE"
    # An outage says nothing about the key: it stays valid.
    assert (await status_of(client, admin.headers))["status"] == "valid"


async def test_disconnect(client, context, admin, fake_openai):
    await connect_openai(client, admin, fake_openai.key)
    response = await client.delete("/api/openai/connect", headers=admin.headers)
    assert response.status_code == 204 and response.content == b""
    assert (await status_of(client, admin.headers))["connected"] is False
    assert await stored_openai(context) == []
    assert (await client.get("/api/openai/validate", headers=admin.headers)).status_code == 404
    assert (await client.delete("/api/openai/connect", headers=admin.headers)).status_code == 404


async def test_signed_in_admins_only(client, admin, fake_openai):
    assert (await client.get("/api/openai/status")).status_code == 401
    assert (
        await client.post("/api/openai/connect", json={"api_key": fake_openai.key})
    ).status_code == 401


# -- commerce ---------------------------------------------------------------------------------


async def test_commerce_connect_status_disconnect(client, context, admin):
    empty = await client.get("/api/connections/commerce", headers=admin.headers)
    assert empty.status_code == 200
    assert empty.json()["connected"] is False

    response = await client.put(
        "/api/connections/commerce",
        headers=admin.headers,
        json={"base_url": "https://shop.example.com/api/", "api_key": COMMERCE_KEY},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["connected"] is True and body["key_last4"] == "9876"
    assert body["base_url"] == "https://shop.example.com/api"
    assert COMMERCE_KEY not in response.text

    status = await client.get("/api/connections/commerce", headers=admin.headers)
    assert status.json() == body
    assert COMMERCE_KEY not in status.text

    [row] = await stored_connections(context, "commerce")
    assert COMMERCE_KEY not in row["secrets"]["api_key"]
    assert context.secrets.decrypt(row["secrets"]["api_key"]) == COMMERCE_KEY

    # PUT again replaces it.
    replaced = await client.put(
        "/api/connections/commerce",
        headers=admin.headers,
        json={"base_url": "http://shop.example.com:8080", "api_key": "other-key-1111"},
    )
    assert replaced.status_code == 200
    assert replaced.json()["key_last4"] == "1111"
    assert replaced.json()["base_url"] == "http://shop.example.com:8080"

    deleted = await client.delete("/api/connections/commerce", headers=admin.headers)
    assert deleted.status_code == 204
    after = await client.get("/api/connections/commerce", headers=admin.headers)
    assert after.json()["connected"] is False and after.json()["key_last4"] is None
    again = await client.delete("/api/connections/commerce", headers=admin.headers)
    assert again.status_code == 404


async def test_commerce_validation(client, context, admin):
    for body, field in (
        ({"base_url": "ftp://shop.example.com", "api_key": COMMERCE_KEY}, "base_url"),
        ({"base_url": "javascript:alert(1)", "api_key": COMMERCE_KEY}, "base_url"),
        ({"base_url": "shop.example.com", "api_key": COMMERCE_KEY}, "base_url"),
        ({"base_url": "https://shop.example.com", "api_key": ""}, "api_key"),
        ({"base_url": "https://shop.example.com"}, "api_key"),
    ):
        response = await client.put("/api/connections/commerce", headers=admin.headers, json=body)
        assert response.status_code == 400, (body, response.text)
        assert [e["field"] for e in response.json()["errors"]] == [field]
    assert await stored_connections(context, "commerce") == []


# -- roles and tenancy ------------------------------------------------------------------------


async def test_only_owners_and_admins_manage_keys(client, context, anon_key, admin, fake_openai):
    agent = await add_agent(client, anon_key, admin)
    commerce = {"base_url": "https://shop.example.com", "api_key": COMMERCE_KEY}

    refused = await client.post(
        "/api/openai/connect", headers=agent, json={"api_key": fake_openai.key}
    )
    assert refused.status_code == 403 and refused.json()["code"] == "FORBIDDEN"
    assert fake_openai.requests == []  # refused before the key is sent anywhere
    put = await client.put("/api/connections/commerce", headers=agent, json=commerce)
    assert put.status_code == 403
    assert await stored_openai(context) == []

    await connect_openai(client, admin, fake_openai.key)
    assert (
        await client.put("/api/connections/commerce", headers=admin.headers, json=commerce)
    ).status_code == 200
    # The agent sees that keys are connected, but may not remove them.
    assert (await status_of(client, agent))["connected"] is True
    assert (await client.delete("/api/openai/connect", headers=agent)).status_code == 403
    assert (await client.delete("/api/connections/commerce", headers=agent)).status_code == 403
    assert (await status_of(client, admin.headers))["connected"] is True

    # A second admin of the workspace may.
    second = await create_admin(client, anon_key, "second-admin")
    added = await client.post(
        f"/api/workspaces/{admin.workspace_id}/members",
        headers=admin.headers,
        json={"email": second.email, "role": "admin"},
    )
    assert added.status_code == 201
    as_second = {**second.headers, "X-Workspace-Id": admin.workspace_id}
    assert (await client.delete("/api/openai/connect", headers=as_second)).status_code == 204
    assert (await status_of(client, admin.headers))["connected"] is False


async def test_another_workspace_never_sees_the_connection(
    client, context, admin, other_admin, fake_openai
):
    await connect_openai(client, admin, fake_openai.key)
    await client.put(
        "/api/connections/commerce",
        headers=admin.headers,
        json={"base_url": "https://shop.example.com", "api_key": COMMERCE_KEY},
    )
    theirs = other_admin.headers

    assert (await status_of(client, theirs))["connected"] is False
    assert (await client.get("/api/openai/validate", headers=theirs)).status_code == 404
    assert (await client.delete("/api/openai/connect", headers=theirs)).status_code == 404
    commerce = await client.get("/api/connections/commerce", headers=theirs)
    assert commerce.json()["connected"] is False
    assert (await client.delete("/api/connections/commerce", headers=theirs)).status_code == 404
    # Naming the workspace does not get them in.
    foreign = {**theirs, "X-Workspace-Id": admin.workspace_id}
    assert (await client.get("/api/openai/status", headers=foreign)).status_code == 404

    # Their own key is theirs alone.
    await connect_openai(client, other_admin, fake_openai.key)
    assert len(await stored_openai(context)) == 2
    assert (await client.delete("/api/openai/connect", headers=theirs)).status_code == 204
    assert (await status_of(client, admin.headers))["connected"] is True
    assert (await client.get("/api/connections/commerce", headers=admin.headers)).json()[
        "connected"
    ] is True
