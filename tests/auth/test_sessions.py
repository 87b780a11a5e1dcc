"""Signing out ends access: a token whose session has ended is refused by every route, not only
by `/auth/v1/user`, although the JWT itself stays valid until it expires."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import jwt

from backend.context import AppContext
from tests.conftest import app_with
from tests.fixtures.factories import Admin, create_admin, create_chatbot


def session_id(admin: Admin) -> uuid.UUID:
    return uuid.UUID(jwt.decode(admin.token, options={"verify_signature": False})["session_id"])


# One request of each admin route family, as a signed-in console would make them.
def admin_requests(admin: Admin, bot_id: str) -> list[tuple[str, str, dict[str, object] | None]]:
    return [
        ("POST", "/api/api-keys", {"name": "after logout", "scopes": ["api"]}),
        ("GET", "/api/api-keys", None),
        ("GET", "/api/widget/identity-secret", None),
        ("POST", "/api/widget/identity-secret/rotate", None),
        ("GET", "/api/workspaces", None),
        ("POST", "/api/workspaces", {"name": "Another"}),
        ("GET", "/api/chatbots", None),
        ("POST", "/api/chatbots", {"name": "After logout"}),
        ("PATCH", f"/api/chatbots/{bot_id}", {"name": "Renamed"}),
        ("GET", f"/api/chatbots/{bot_id}", None),
        ("GET", "/api/customers", None),
        ("GET", "/api/openai/status", None),
        ("GET", "/api/analytics/dashboard", None),
        ("GET", "/auth/me", None),
        ("GET", "/auth/users", None),
    ]


async def _all_refused(
    client: httpx.AsyncClient, admin: Admin, bot_id: str
) -> list[tuple[str, int]]:
    accepted = []
    for method, path, body in admin_requests(admin, bot_id):
        response = await client.request(method, path, headers=admin.headers, json=body)
        if response.status_code != 401:
            accepted.append((f"{method} {path}", response.status_code))
        else:
            assert response.json()["code"] == "UNAUTHORIZED"
    return accepted


async def test_after_logout_every_admin_route_refuses_the_token(
    client: httpx.AsyncClient, admin: Admin, anon_key: str, context: AppContext
):
    bot = await create_chatbot(client, admin)
    # Accepted while signed in (the first one makes a key).
    before = [
        (await client.request(m, p, headers=admin.headers, json=b)).status_code
        for m, p, b in admin_requests(admin, bot["id"])[:3]
    ]
    assert all(s < 300 for s in before), before

    response = await client.post("/auth/v1/logout", headers={**admin.headers, "apikey": anon_key})
    assert response.status_code == 204

    assert await _all_refused(client, admin, bot["id"]) == []
    # Nothing was made with the dead token: the one key is the one made before.
    async with context.db.system() as conn:
        keys = await (await conn.execute("select name from public.api_keys")).fetchall()
    assert [k["name"] for k in keys] == ["after logout"]


async def test_a_session_ended_elsewhere_is_refused_within_the_window(
    client: httpx.AsyncClient, anon_key: str, database_url: str
):
    """Supabase Auth ends sessions in its own process (sign-out from another device, an admin
    removing the user): this one only sees the row gone from auth.sessions."""
    admin = await create_admin(client, anon_key, "elsewhere")
    window = 0.5
    async with app_with(database_url, session_check_seconds=window) as (other, context):
        bot = await create_chatbot(other, admin)
        assert (await other.get("/auth/me", headers=admin.headers)).status_code == 200

        async with context.db.system() as conn:
            await conn.execute("delete from auth.sessions where id = %s", (session_id(admin),))

        await asyncio.sleep(window)
        assert await _all_refused(other, admin, bot["id"]) == []


async def test_other_sessions_of_the_user_keep_working(
    client: httpx.AsyncClient, admin: Admin, anon_key: str
):
    second = await client.post(
        "/auth/v1/token?grant_type=password",
        headers={"apikey": anon_key},
        json={"email": admin.email, "password": "correct-horse-battery-9"},
    )
    assert second.status_code == 200, second.text
    other_device = {"Authorization": f"Bearer {second.json()['access_token']}"}

    response = await client.post(
        "/auth/v1/logout?scope=local", headers={**admin.headers, "apikey": anon_key}
    )
    assert response.status_code == 204

    assert (await client.get("/api/chatbots", headers=admin.headers)).status_code == 401
    assert (await client.get("/api/chatbots", headers=other_device)).status_code == 200


async def test_a_session_past_its_hard_end_is_refused(
    client: httpx.AsyncClient, anon_key: str, database_url: str
):
    # Supabase's time-boxed sessions carry `not_after`.
    admin = await create_admin(client, anon_key, "timeboxed")
    async with app_with(database_url, session_check_seconds=0) as (other, context):
        assert (await other.get("/api/chatbots", headers=admin.headers)).status_code == 200
        async with context.db.system() as conn:
            await conn.execute(
                "update auth.sessions set not_after = now() - interval '1 second' where id = %s",
                (session_id(admin),),
            )
        assert (await other.get("/api/chatbots", headers=admin.headers)).status_code == 401
