"""The official Supabase Python client, unchanged, against our local Supabase Auth on a real
port: what a Supabase app does (sign up, sign in, refresh, sign out, magic links, the admin
API) must work the way it does against supabase.co."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from supabase_auth.errors import AuthApiError

from backend.context import AppContext
from supabase import Client, create_client
from tests.fixtures.factories import PASSWORD, unique_email
from tests.fixtures.servers import LiveServer

# -- helpers ----------------------------------------------------------------------------------


@pytest.fixture
def connect(live_server: LiveServer, anon_key: str):
    """A new official client (its own session storage) for the live server."""

    def make(key: str = anon_key) -> Client:
        return create_client(live_server.url, key)

    return make


@pytest.fixture
def service(connect, service_key: str) -> Client:
    return connect(service_key)


def signed_up(connect, email: str | None = None, **data: Any) -> Client:
    sb = connect()
    sb.auth.sign_up(
        {"email": email or unique_email("sb"), "password": PASSWORD, "options": {"data": data}}
    )
    return sb


def api_error(call, *args: Any) -> AuthApiError:
    with pytest.raises(AuthApiError) as caught:
        call(*args)
    return caught.value


def fragment(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).fragment).items()}


# -- sign up, sign in, the user ---------------------------------------------------------------


async def test_sign_up_returns_a_session_for_the_new_user(connect):
    email = unique_email("Ada")
    sb = connect()
    response = sb.auth.sign_up(
        {"email": email, "password": PASSWORD, "options": {"data": {"full_name": "Ada"}}}
    )
    assert response.session is not None and response.session.access_token
    assert response.user is not None
    assert response.user.email == email.lower()
    assert response.user.user_metadata == {"full_name": "Ada"}
    # The client keeps the session: the user is signed in.
    assert sb.auth.get_user().user.id == response.user.id


async def test_sign_up_twice_with_the_same_email_is_refused(connect):
    email = unique_email("twice")
    signed_up(connect, email)
    error = api_error(connect().auth.sign_up, {"email": email, "password": PASSWORD})
    assert error.code == "user_already_exists"
    # E-mail addresses are case-insensitive.
    error = api_error(connect().auth.sign_up, {"email": email.upper(), "password": PASSWORD})
    assert error.code == "user_already_exists"


async def test_sign_in_with_password_and_get_the_user(connect):
    email = unique_email("signin")
    signed_up(connect, email, full_name="Grace")
    sb = connect()
    response = sb.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    assert response.session is not None
    assert response.session.token_type == "bearer"
    user = sb.auth.get_user().user
    assert (user.email, user.user_metadata["full_name"]) == (email, "Grace")
    assert user.id == response.user.id


async def test_a_wrong_password_reads_the_same_as_an_unknown_email(connect):
    email = unique_email("known")
    signed_up(connect, email)
    sign_in = connect().auth.sign_in_with_password
    wrong_password = api_error(sign_in, {"email": email, "password": "not-the-password"})
    unknown_email = api_error(sign_in, {"email": unique_email("nobody"), "password": PASSWORD})
    assert wrong_password.code == "invalid_credentials"
    assert (wrong_password.status, wrong_password.code, wrong_password.message) == (
        unknown_email.status,
        unknown_email.code,
        unknown_email.message,
    )
    assert email not in wrong_password.message


async def test_update_user_merges_metadata(connect):
    sb = signed_up(connect, full_name="Ada", plan="free")
    updated = sb.auth.update_user({"data": {"plan": "pro", "locale": "en"}}).user
    assert updated.user_metadata == {"full_name": "Ada", "plan": "pro", "locale": "en"}
    assert sb.auth.get_user().user.user_metadata == updated.user_metadata
    # New access tokens carry the new metadata.
    refreshed = sb.auth.refresh_session().session
    assert refreshed.user.user_metadata["plan"] == "pro"


# -- sessions: refresh and sign-out -----------------------------------------------------------


async def test_refresh_rotates_the_refresh_token(connect):
    sb = signed_up(connect)
    first = sb.auth.get_session()
    second = sb.auth.refresh_session().session
    assert second.refresh_token != first.refresh_token
    assert second.access_token != first.access_token
    assert connect().auth.get_user(second.access_token).user.id == first.user.id
    # The new one rotates again.
    third = connect().auth.refresh_session(second.refresh_token).session
    assert third.refresh_token not in {first.refresh_token, second.refresh_token}


async def test_reusing_a_rotated_refresh_token_revokes_the_whole_session(connect):
    sb = signed_up(connect)
    stolen = sb.auth.get_session().refresh_token
    current = sb.auth.refresh_session().session.refresh_token

    reused = api_error(connect().auth.refresh_session, stolen)
    assert reused.code == "refresh_token_already_used"
    # The leak ends the session for the thief and the owner alike.
    api_error(connect().auth.refresh_session, current)


async def test_reusing_a_token_ends_only_that_session(connect):
    email = unique_email("two-devices")
    phone = signed_up(connect, email)
    laptop = connect()
    laptop.auth.sign_in_with_password({"email": email, "password": PASSWORD})
    stolen = phone.auth.get_session().refresh_token
    phone.auth.refresh_session()
    api_error(connect().auth.refresh_session, stolen)
    assert laptop.auth.refresh_session().session is not None


async def test_sign_out_ends_the_session(connect):
    sb = signed_up(connect)
    session = sb.auth.get_session()
    sb.auth.sign_out()
    assert sb.auth.get_session() is None
    assert api_error(connect().auth.refresh_session, session.refresh_token).status == 400
    # As on Supabase, the access token of a signed-out session no longer reads the user.
    gone = api_error(connect().auth.get_user, session.access_token)
    assert (gone.status, gone.code) == (403, "session_not_found")


# -- magic links and one-time codes -----------------------------------------------------------


async def test_magic_link_request_queues_the_email(connect, context: AppContext):
    email = unique_email("magic")
    user_id = signed_up(connect, email).auth.get_user().user.id
    response = connect().auth.sign_in_with_otp({"email": email})
    # No session yet: it comes with the link, which a job sends.
    assert (response.user, response.session) == (None, None)
    async with context.db.system() as conn:
        cur = await conn.execute(
            "select args from procrastinate_jobs where task_name = 'auth.send_link_email'"
        )
        jobs = await cur.fetchall()
    assert [job["args"]["user_id"] for job in jobs] == [user_id]
    assert jobs[0]["args"]["link_type"] == "magiclink"


async def test_magic_link_for_an_unknown_email_without_sign_up_is_refused(connect):
    error = api_error(
        connect().auth.sign_in_with_otp,
        {"email": unique_email("stranger"), "options": {"should_create_user": False}},
    )
    assert error.status == 422


async def test_generated_link_token_hash_signs_in_once(connect, service: Client):
    email = unique_email("link")
    signed_up(connect, email)
    link = service.auth.admin.generate_link({"type": "magiclink", "email": email})
    assert link.user.email == email
    token_hash = link.properties.hashed_token

    sb = connect()
    response = sb.auth.verify_otp({"type": "magiclink", "token_hash": token_hash})
    assert response.session is not None
    assert sb.auth.get_user().user.email == email

    used = api_error(connect().auth.verify_otp, {"type": "magiclink", "token_hash": token_hash})
    assert used.code == "otp_expired"


async def test_generated_link_email_otp_signs_in(connect, service: Client):
    email = unique_email("otp")
    signed_up(connect, email)
    link = service.auth.admin.generate_link({"type": "magiclink", "email": email})
    otp = link.properties.email_otp
    assert len(otp) == 6 and otp.isdigit()

    response = connect().auth.verify_otp({"email": email, "token": otp, "type": "email"})
    assert response.session is not None and response.user.email == email
    # The code and the link are one credential: using one uses up the other.
    api_error(
        connect().auth.verify_otp,
        {"type": "magiclink", "token_hash": link.properties.hashed_token},
    )


async def test_a_wrong_email_otp_is_refused(connect, service: Client):
    email = unique_email("wrong-otp")
    signed_up(connect, email)
    link = service.auth.admin.generate_link({"type": "magiclink", "email": email})
    wrong = f"{(int(link.properties.email_otp) + 1) % 1_000_000:06d}"
    api_error(connect().auth.verify_otp, {"email": email, "token": wrong, "type": "email"})
    # The right code still works afterwards.
    ok = connect().auth.verify_otp(
        {"email": email, "token": link.properties.email_otp, "type": "email"}
    )
    assert ok.session is not None


# -- the link in the e-mail, opened by a browser ----------------------------------------------


async def open_link(url: str) -> httpx.Response:
    async with httpx.AsyncClient() as browser:
        return await browser.get(url, follow_redirects=False)


async def test_action_link_redirects_with_the_session_in_the_fragment(
    connect, service: Client, live_server: LiveServer
):
    email = unique_email("browser")
    signed_up(connect, email)
    welcome = f"{live_server.url}/welcome"
    link = service.auth.admin.generate_link(
        {"type": "magiclink", "email": email, "options": {"redirect_to": welcome}}
    )
    response = await open_link(link.properties.action_link)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(f"{welcome}#access_token=")
    session = fragment(location)
    assert session["token_type"] == "bearer" and session["type"] == "magiclink"
    assert connect().auth.get_user(session["access_token"]).user.email == email
    assert connect().auth.refresh_session(session["refresh_token"]).session is not None

    # A link works once; the second click lands with an error, not a session.
    again = await open_link(link.properties.action_link)
    assert again.status_code == 303
    assert "access_token" not in fragment(again.headers["location"])
    assert fragment(again.headers["location"])["error_code"] == "otp_expired"


@pytest.mark.parametrize(
    "outside",
    ["https://evil.example/steal", "//evil.example", "http://127.0.0.1.evil.example/"],
)
async def test_links_never_redirect_to_an_outside_host(
    connect, service: Client, live_server: LiveServer, outside: str
):
    email = unique_email("redirect")
    signed_up(connect, email)
    link = service.auth.admin.generate_link(
        {"type": "magiclink", "email": email, "options": {"redirect_to": outside}}
    )
    assert link.properties.redirect_to == live_server.url
    # Nor when the redirect is edited into the link afterwards.
    parts = urlsplit(link.properties.action_link)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    tampered = parts._replace(query=urlencode({**query, "redirect_to": outside})).geturl()
    response = await open_link(tampered)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(f"{live_server.url}#access_token=")
    assert "evil" not in urlsplit(location).netloc


# -- the admin API (service-role key) ---------------------------------------------------------


async def test_admin_creates_a_confirmed_user_who_can_sign_in(connect, service: Client):
    email = unique_email("customer")
    user = service.auth.admin.create_user(
        {
            "email": email,
            "password": PASSWORD,
            "email_confirm": True,
            "user_metadata": {"is_customer": True},
        }
    ).user
    assert user.email == email
    assert user.user_metadata == {"is_customer": True}
    assert user.email_confirmed_at is not None

    session = connect().auth.sign_in_with_password({"email": email, "password": PASSWORD})
    assert session.user.id == user.id

    duplicate = api_error(service.auth.admin.create_user, {"email": email, "password": PASSWORD})
    assert duplicate.code == "email_exists"


async def test_admin_lists_and_gets_users(connect, service: Client):
    first = signed_up(connect).auth.get_user().user
    second = service.auth.admin.create_user(
        {"email": unique_email("listed"), "password": PASSWORD, "email_confirm": True}
    ).user
    listed = service.auth.admin.list_users()
    assert {u.id for u in listed} == {first.id, second.id}
    assert service.auth.admin.get_user_by_id(first.id).user.email == first.email
    missing = api_error(service.auth.admin.get_user_by_id, "00000000-0000-4000-8000-000000000000")
    assert missing.status == 404


async def test_admin_api_refuses_the_anon_key_and_users(
    connect, live_server: LiveServer, anon_key: str
):
    refused = api_error(connect().auth.admin.list_users)
    assert (refused.status, refused.code) == (403, "not_admin")
    # A signed-in user's own token is no admin key either.
    user = signed_up(connect)
    token = user.auth.get_session().access_token
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        response = await http.get(
            "/auth/v1/admin/users",
            headers={"apikey": anon_key, "Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 403
    assert response.json()["error_code"] == "not_admin"


async def test_admin_api_without_a_key_is_unauthorized(live_server: LiveServer):
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        listed = await http.get("/auth/v1/admin/users")
        created = await http.post(
            "/auth/v1/admin/users", json={"email": unique_email("x"), "password": PASSWORD}
        )
    assert listed.status_code == created.status_code == 401
    assert listed.json()["error_code"] == "no_api_key"
