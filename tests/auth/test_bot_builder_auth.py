"""The bot-builder document's auth endpoints (`/auth/register`, `/auth/token`, `/auth/me`,
`/auth/users`): against the local auth server, and in production shape, where Voxtro uses a
remote Supabase Auth through the official client (here: our own auth server on a real port)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from backend.app import create_app
from supabase import create_client
from tests.conftest import make_settings
from tests.fixtures.factories import PASSWORD, unique_email
from tests.fixtures.servers import LiveServer, free_port

WRONG_CREDENTIALS = "Incorrect e-mail or password"

# -- helpers ----------------------------------------------------------------------------------


async def register(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, full_name: str | None = "Ada"
) -> httpx.Response:
    body: dict[str, Any] = {"email": email, "password": password}
    if full_name is not None:
        body["full_name"] = full_name
    return await client.post("/auth/register", json=body)


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    # OAuth2 password flow: a form, with the e-mail as `username`.
    return await client.post("/auth/token", data={"username": email, "password": password})


async def signed_in(client: httpx.AsyncClient, label: str) -> tuple[str, dict[str, str]]:
    email = unique_email(label)
    assert (await register(client, email)).status_code == 201
    response = await login(client, email)
    assert response.status_code == 200, response.text
    return email, {"Authorization": f"Bearer {response.json()['access_token']}"}


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert (body["success"], body["status"], body["code"]) == (False, "error", code)
    return body


def error_fields(response: httpx.Response) -> set[str]:
    return {e["field"] for e in response.json()["errors"]}


# -- register ---------------------------------------------------------------------------------


async def test_register_creates_the_user(client):
    email = unique_email("Register")
    response = await register(client, email, full_name="Ada Lovelace")
    assert response.status_code == 201, response.text
    user = response.json()
    assert (user["email"], user["full_name"]) == (email.lower(), "Ada Lovelace")
    assert user["id"]
    assert "password" not in json.dumps(user)


async def test_register_twice_is_a_conflict(client):
    email = unique_email("dup")
    await register(client, email)
    again = await register(client, email.upper())
    body = assert_error(again, 409, "CONFLICT")
    assert error_fields(again) == {"email"}
    assert body["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "short@example.com", "password": "12345"}, "password"),
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"password": PASSWORD}, "email"),
    ],
)
async def test_register_validates_its_input(client, body, field):
    response = await client.post("/auth/register", json=body)
    assert_error(response, 400, "VALIDATION_ERROR")
    assert field in error_fields(response)


# -- token and me -----------------------------------------------------------------------------


async def test_token_with_the_password_form_then_me(client):
    email = unique_email("token")
    await register(client, email, full_name="Grace Hopper")
    response = await login(client, email)
    assert response.status_code == 200, response.text
    token = response.json()
    assert token["token_type"] == "bearer"
    assert token["access_token"] and token["refresh_token"]
    assert token["expires_in"] > 0

    me = await client.get("/auth/me", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert me.status_code == 200, me.text
    assert (me.json()["email"], me.json()["full_name"]) == (email, "Grace Hopper")


async def test_wrong_password_reads_like_an_unknown_user(client):
    email = unique_email("known")
    await register(client, email)
    wrong = await login(client, email, "not-the-password")
    unknown = await login(client, unique_email("nobody"))
    assert assert_error(wrong, 401, "UNAUTHORIZED")["message"] == WRONG_CREDENTIALS
    assert assert_error(unknown, 401, "UNAUTHORIZED")["message"] == WRONG_CREDENTIALS


async def test_token_wants_a_form_and_me_wants_a_token(client):
    email = unique_email("json")
    await register(client, email)
    as_json = await client.post("/auth/token", json={"username": email, "password": PASSWORD})
    assert_error(as_json, 400, "VALIDATION_ERROR")
    assert_error(await client.get("/auth/me"), 401, "UNAUTHORIZED")


# -- users of the caller's workspace ----------------------------------------------------------


async def test_users_lists_the_workspace_members_only(client):
    owner_email, owner = await signed_in(client, "owner")
    agent_email, _ = await signed_in(client, "agent")
    _, stranger = await signed_in(client, "stranger")

    alone = await client.get("/auth/users", headers=owner)
    assert alone.status_code == 200, alone.text
    assert [(u["email"], u["role"]) for u in alone.json()] == [(owner_email, "owner")]

    workspace_id = (await client.get("/api/workspaces", headers=owner)).json()["data"][0]["id"]
    added = await client.post(
        f"/api/workspaces/{workspace_id}/members",
        headers=owner,
        json={"email": agent_email, "role": "agent"},
    )
    assert added.status_code == 201, added.text

    listed = await client.get("/auth/users", headers=owner)
    assert {(u["email"], u["role"]) for u in listed.json()} == {
        (owner_email, "owner"),
        (agent_email, "agent"),
    }
    # Another workspace sees only its own people.
    theirs = await client.get("/auth/users", headers=stranger)
    assert owner_email not in {u["email"] for u in theirs.json()}
    assert len(theirs.json()) == 1


async def test_users_needs_a_signed_in_user(client):
    assert_error(await client.get("/auth/users"), 401, "UNAUTHORIZED")


# -- production shape: Voxtro on a remote Supabase Auth ---------------------------------------


@asynccontextmanager
async def voxtro_on(
    auth_url: str, database_url: str, anon_key: str, service_key: str
) -> AsyncIterator[httpx.AsyncClient]:
    """Voxtro configured for a remote Supabase Auth at `auth_url`, as in production."""
    app = create_app(
        make_settings(
            database_url,
            supabase_url=auth_url,
            supabase_service_role_key=service_key,
            supabase_anon_key=anon_key,
        )
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://voxtro") as client:
            yield client


@pytest.fixture
async def remote(
    database_url: str, live_server: LiveServer, anon_key: str, service_key: str
) -> AsyncIterator[httpx.AsyncClient]:
    async with voxtro_on(live_server.url, database_url, anon_key, service_key) as client:
        yield client


def sign_in_at(auth_url: str, anon_key: str, email: str, password: str = PASSWORD):
    return create_client(auth_url, anon_key).auth.sign_in_with_password(
        {"email": email, "password": password}
    )


async def test_remote_register_creates_the_user_in_supabase_auth(
    remote, live_server: LiveServer, anon_key: str
):
    email = unique_email("remote")
    response = await register(remote, email, full_name="Remote Ada")
    assert response.status_code == 201, response.text
    assert (response.json()["email"], response.json()["full_name"]) == (email, "Remote Ada")

    # The user lives in Supabase Auth: signing in there works.
    session = sign_in_at(live_server.url, anon_key, email)
    assert session.user.id == response.json()["id"]
    assert session.user.user_metadata["full_name"] == "Remote Ada"

    again = await register(remote, email)
    assert_error(again, 409, "CONFLICT")


async def test_remote_token_signs_in_through_supabase_auth(
    remote, live_server: LiveServer, anon_key: str
):
    email = unique_email("remote-token")
    await register(remote, email, full_name="Remote Grace")
    response = await login(remote, email)
    assert response.status_code == 200, response.text
    token = response.json()
    assert token["token_type"] == "bearer"

    headers = {"Authorization": f"Bearer {token['access_token']}"}
    me = await remote.get("/auth/me", headers=headers)
    assert (me.json()["email"], me.json()["full_name"]) == (email, "Remote Grace")
    # The token is Supabase Auth's own: it reads the user there too.
    user = create_client(live_server.url, anon_key).auth.get_user(token["access_token"]).user
    assert user.email == email

    wrong = await login(remote, email, "not-the-password")
    unknown = await login(remote, unique_email("nobody"))
    assert assert_error(wrong, 401, "UNAUTHORIZED")["message"] == WRONG_CREDENTIALS
    assert assert_error(unknown, 401, "UNAUTHORIZED")["message"] == WRONG_CREDENTIALS


async def test_remote_mode_serves_no_local_auth_server(remote):
    response = await remote.get("/auth/v1/health")
    assert response.status_code == 404


async def test_remote_refresh_token_stays_the_users(database_url, anon_key, service_key):
    """Voxtro signs the user in for them; it must not keep that session and refresh it in the
    background, which would rotate the refresh token the user holds and so sign them out."""
    port = free_port()
    # Tokens that expire in 11 s: a client refreshing ahead of expiry would do so within 1 s.
    short_lived = make_settings(
        database_url, public_url=f"http://127.0.0.1:{port}", access_token_ttl_seconds=11
    )
    with LiveServer(create_app(short_lived), port=port) as auth:
        async with voxtro_on(auth.url, database_url, anon_key, service_key) as voxtro:
            email = unique_email("keeps")
            await register(voxtro, email)
            token = (await login(voxtro, email)).json()
            await asyncio.sleep(2)
            refreshed = create_client(auth.url, anon_key).auth.refresh_session(
                token["refresh_token"]
            )
            assert refreshed.session is not None


class Unavailable:
    """A Supabase Auth that is down: every request gets 503."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":  # lifespan
            message = await receive()
            await send({"type": f"{message['type']}.complete"})
            return
        body = json.dumps({"message": "upstream connect error"}).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def test_remote_outage_is_not_reported_as_a_wrong_password(
    database_url, anon_key, service_key
):
    with LiveServer(Unavailable()) as down:
        async with voxtro_on(down.url, database_url, anon_key, service_key) as voxtro:
            signing_in = await login(voxtro, unique_email("outage"))
            registering = await register(voxtro, unique_email("outage"))
    body = assert_error(signing_in, 503, "SERVICE_UNAVAILABLE")
    assert body["message"] != WRONG_CREDENTIALS
    assert_error(registering, 503, "SERVICE_UNAVAILABLE")
