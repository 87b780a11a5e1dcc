from __future__ import annotations

import hashlib

from tests.fixtures.factories import create_admin, create_api_key


async def test_a_key_is_shown_once_and_stored_only_as_a_hash(client, context, admin):
    created = await client.post(
        "/api/api-keys",
        headers=admin.headers,
        json={"name": "shop backend", "scopes": ["api", "stats:read"]},
    )
    assert created.status_code == 201, created.text
    key = created.json()["data"]
    assert key["key"].startswith("vx_live_") and len(key["key"]) > 40
    assert key["key"].startswith(key["prefix"])
    assert key["scopes"] == ["api", "stats:read"]

    listed = await client.get("/api/api-keys", headers=admin.headers)
    [row] = listed.json()["data"]
    assert "key" not in row and row["prefix"] == key["prefix"]

    async with context.db.system() as conn:
        stored = await (await conn.execute("select key_hash from api_keys")).fetchone()
    assert stored["key_hash"] == hashlib.sha256(key["key"].encode()).hexdigest()
    assert key["key"] not in str(stored)


async def test_a_key_authenticates_in_either_header_for_its_workspace(client, admin, other_admin):
    key = (await create_api_key(client, admin, ["api", "stats:read"]))["key"]
    for headers in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}):
        current = await client.get("/api/workspaces/current", headers=headers)
        assert current.status_code == 200, current.text
        data = current.json()["data"]
        assert (data["id"], data["principal"]) == (admin.workspace_id, "api_key")
        assert data["scopes"] == ["api", "stats:read"]
        # X-Workspace-Id cannot move a key to another workspace.
        moved = await client.get(
            "/api/workspaces/current",
            headers={**headers, "X-Workspace-Id": other_admin.workspace_id},
        )
        assert moved.json()["data"]["id"] == admin.workspace_id
        # Endpoints for signed-in admins refuse keys clearly.
        refused = await client.get("/auth/users", headers=headers)
        assert refused.status_code == 403
        assert "API key" in refused.json()["message"]


async def test_a_key_without_the_scope_is_forbidden(client, admin):
    key = (await create_api_key(client, admin, ["stats:read"]))["key"]
    response = await client.get("/api/workspaces/current", headers={"X-API-Key": key})
    assert response.status_code == 403
    assert "'api' scope" in response.json()["message"]


async def test_revoked_and_unknown_keys_are_refused(client, context, admin):
    key = await create_api_key(client, admin)
    assert (
        await client.delete(f"/api/api-keys/{key['id']}", headers=admin.headers)
    ).status_code == 204
    for candidate in (key["key"], "vx_live_" + "x" * 43):
        response = await client.get("/api/workspaces", headers={"X-API-Key": candidate})
        assert response.status_code == 401
        assert response.json()["code"] == "UNAUTHORIZED"
    # Revoking twice: the key is gone.
    assert (
        await client.delete(f"/api/api-keys/{key['id']}", headers=admin.headers)
    ).status_code == 404


async def test_key_use_is_recorded(client, context, admin):
    key = await create_api_key(client, admin)
    await client.get("/api/workspaces/current", headers={"X-API-Key": key["key"]})
    listed = await client.get("/api/api-keys", headers=admin.headers)
    assert listed.json()["data"][0]["last_used_at"] is not None


async def test_bad_input_is_refused_and_changes_nothing(client, admin):
    for body in (
        {"name": "", "scopes": ["api"]},
        {"name": "x", "scopes": ["everything"]},
        {"name": "x", "scopes": []},
        {"scopes": ["api"]},
    ):
        response = await client.post("/api/api-keys", headers=admin.headers, json=body)
        assert response.status_code == 400, body
        assert response.json()["code"] == "VALIDATION_ERROR"
    assert (await client.get("/api/api-keys", headers=admin.headers)).json()["data"] == []


async def test_only_owners_and_admins_manage_keys(client, anon_key, admin):
    agent = await create_admin(client, anon_key, "agent")
    await client.post(
        f"/api/workspaces/{admin.workspace_id}/members",
        headers=admin.headers,
        json={"email": agent.email, "role": "agent"},
    )
    headers = {**agent.headers, "X-Workspace-Id": admin.workspace_id}
    response = await client.post(
        "/api/api-keys", headers=headers, json={"name": "x", "scopes": ["api"]}
    )
    assert response.status_code == 403
