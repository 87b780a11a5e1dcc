from __future__ import annotations

from tests.fixtures.factories import create_admin, sign_up, unique_email


async def test_first_use_creates_a_personal_workspace_owned_by_the_admin(client, anon_key):
    session = await sign_up(client, anon_key, email=unique_email("first"))
    headers = {"Authorization": f"Bearer {session['access_token']}"}
    first = await client.get("/api/workspaces", headers=headers)
    assert first.status_code == 200
    [workspace] = first.json()["data"]
    assert workspace["role"] == "owner"
    assert workspace["slug"].startswith("first")
    # Only once.
    again = await client.get("/api/workspaces", headers=headers)
    assert [w["id"] for w in again.json()["data"]] == [workspace["id"]]


async def test_create_and_select_a_workspace_with_the_header(client, admin):
    created = await client.post(
        "/api/workspaces", headers=admin.headers, json={"name": "Chicx Store", "slug": "chicx"}
    )
    assert created.status_code == 201, created.text
    chicx = created.json()["data"]
    assert (chicx["slug"], chicx["role"]) == ("chicx", "owner")

    listed = await client.get("/api/workspaces", headers=admin.headers)
    assert {w["slug"] for w in listed.json()["data"]} >= {"chicx"}

    # Keys made with X-Workspace-Id belong to that workspace only.
    selected = {**admin.headers, "X-Workspace-Id": chicx["id"]}
    await client.post("/api/api-keys", headers=selected, json={"name": "shop", "scopes": ["api"]})
    in_chicx = await client.get("/api/api-keys", headers=selected)
    in_personal = await client.get("/api/api-keys", headers=admin.headers)
    assert [k["name"] for k in in_chicx.json()["data"]] == ["shop"]
    assert in_personal.json()["data"] == []


async def test_slugs_are_unique_and_validated(client, admin, other_admin):
    ok = await client.post(
        "/api/workspaces", headers=admin.headers, json={"name": "A", "slug": "acme"}
    )
    assert ok.status_code == 201
    taken = await client.post(
        "/api/workspaces", headers=other_admin.headers, json={"name": "B", "slug": "acme"}
    )
    assert taken.status_code == 409
    bad = await client.post(
        "/api/workspaces", headers=admin.headers, json={"name": "C", "slug": "Not A Slug!"}
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "slug"
    # A generated slug never collides.
    same_name = await client.post(
        "/api/workspaces", headers=other_admin.headers, json={"name": "Acme"}
    )
    assert same_name.status_code == 201
    assert same_name.json()["data"]["slug"] != "acme"


async def test_malformed_or_unknown_workspace_header(client, admin):
    malformed = await client.get(
        "/api/api-keys", headers={**admin.headers, "X-Workspace-Id": "nope"}
    )
    assert malformed.status_code == 400
    assert malformed.json()["errors"][0]["field"] == "X-Workspace-Id"
    unknown = await client.get(
        "/api/api-keys",
        headers={**admin.headers, "X-Workspace-Id": "00000000-0000-0000-0000-000000000000"},
    )
    assert unknown.status_code == 404


async def test_members_roles_and_the_last_owner(client, anon_key, admin):
    agent = await create_admin(client, anon_key, "agent")
    ws = admin.workspace_id
    added = await client.post(
        f"/api/workspaces/{ws}/members",
        headers=admin.headers,
        json={"email": agent.email, "role": "agent"},
    )
    assert added.status_code == 201, added.text
    assert added.json()["data"]["role"] == "agent"

    duplicate = await client.post(
        f"/api/workspaces/{ws}/members",
        headers=admin.headers,
        json={"email": agent.email, "role": "agent"},
    )
    assert duplicate.status_code == 409
    nobody = await client.post(
        f"/api/workspaces/{ws}/members",
        headers=admin.headers,
        json={"email": unique_email("ghost"), "role": "agent"},
    )
    assert nobody.status_code == 404

    # The agent now sees the workspace, but may not manage it.
    as_agent = {**agent.headers, "X-Workspace-Id": ws}
    seen = await client.get(f"/api/workspaces/{ws}/members", headers=agent.headers)
    assert sorted(m["email"] for m in seen.json()["data"]) == sorted([admin.email, agent.email])
    assert (
        await client.patch(f"/api/workspaces/{ws}", headers=agent.headers, json={"name": "x"})
    ).status_code == 403
    assert (await client.get("/api/api-keys", headers=as_agent)).status_code == 403
    assert (
        await client.post(
            f"/api/workspaces/{ws}/members",
            headers=agent.headers,
            json={"email": admin.email, "role": "owner"},
        )
    ).status_code == 403

    # The only owner can neither be demoted nor removed.
    demote = await client.patch(
        f"/api/workspaces/{ws}/members/{admin.user_id}",
        headers=admin.headers,
        json={"role": "admin"},
    )
    assert demote.status_code == 409
    remove = await client.delete(
        f"/api/workspaces/{ws}/members/{admin.user_id}", headers=admin.headers
    )
    assert remove.status_code == 409

    # Promote the agent to owner; then the first owner may step down.
    promote = await client.patch(
        f"/api/workspaces/{ws}/members/{agent.user_id}",
        headers=admin.headers,
        json={"role": "owner"},
    )
    assert promote.json()["data"]["role"] == "owner"
    step_down = await client.patch(
        f"/api/workspaces/{ws}/members/{admin.user_id}",
        headers=admin.headers,
        json={"role": "agent"},
    )
    assert step_down.status_code == 200


async def test_an_agent_may_leave(client, anon_key, admin):
    agent = await create_admin(client, anon_key, "leaver")
    ws = admin.workspace_id
    await client.post(
        f"/api/workspaces/{ws}/members",
        headers=admin.headers,
        json={"email": agent.email, "role": "agent"},
    )
    left = await client.delete(
        f"/api/workspaces/{ws}/members/{agent.user_id}", headers=agent.headers
    )
    assert left.status_code == 204
    assert (await client.get(f"/api/workspaces/{ws}", headers=agent.headers)).status_code == 404


async def test_rename_and_delete(client, admin):
    ws = admin.workspace_id
    renamed = await client.patch(
        f"/api/workspaces/{ws}", headers=admin.headers, json={"name": "Renamed"}
    )
    assert renamed.json()["data"]["name"] == "Renamed"
    assert (await client.delete(f"/api/workspaces/{ws}", headers=admin.headers)).status_code == 204
    assert (await client.get(f"/api/workspaces/{ws}", headers=admin.headers)).status_code == 404


async def test_customers_cannot_use_admin_endpoints(client, anon_key):
    session = await sign_up(
        client, anon_key, email=unique_email("cust"), data={"is_customer": True}
    )
    headers = {"Authorization": f"Bearer {session['access_token']}"}
    response = await client.get("/api/workspaces", headers=headers)
    assert response.status_code == 403
    assert response.json()["code"] == "FORBIDDEN"
