"""E-mail notifications, end to end: admins and integrations send e-mail through Resend (faked
on a real port) once per request however the delivery job is retried; a website's contact form
reaches the workspace with the visitor's words escaped; without a Resend key every e-mail waits
in an outbox the admin can read; and no workspace sees another's mail."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import httpx
import pytest
from psycopg import errors as pg_errors

from backend.context import AppContext
from backend.db import set_claims
from backend.integrations.resend.client import ResendError
from backend.notifications.tasks import deliver
from backend.tasks import TASK_MODULES, run_worker
from tests.conftest import RESEND_KEY, app_with
from tests.fakes.resend import FakeResend
from tests.fixtures.factories import (
    create_admin,
    create_api_key,
    create_chatbot,
    sign_up,
    unique_email,
)

TASK = "notifications.send_email"
EMAIL = {
    "to_email": "shopper@example.com",
    "subject": "Your order has shipped",
    "html_content": '<h1>On its way</h1><p>Track it <a href="https://shop.example/t/1">here</a>.</p>',
    "from_name": "Raman Silks",
}


# -- fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture
async def sending(
    database_url: str, resend: FakeResend
) -> AsyncIterator[tuple[httpx.AsyncClient, AppContext]]:
    """An app whose e-mail goes to the fake Resend (the default test app has no key)."""
    async with app_with(database_url, resend_api_key=RESEND_KEY, resend_api_url=resend.url) as (
        client,
        ctx,
    ):
        yield client, ctx


async def run_jobs(ctx: AppContext) -> None:
    """One worker pass: every job that is due, then stop."""
    await asyncio.wait_for(run_worker(ctx, concurrency=1, wait=False), timeout=60)


async def jobs(context: AppContext) -> list[dict[str, Any]]:
    async with context.db.system() as conn:
        cur = await conn.execute(
            "select id, status::text as status, attempts from procrastinate_jobs"
            " where task_name = %s order by id",
            (TASK,),
        )
        return await cur.fetchall()


async def make_retry_due(context: AppContext) -> None:
    """Time passes: the backoff of a failed attempt is over."""
    async with context.db.system() as conn:
        await conn.execute(
            "update procrastinate_jobs set scheduled_at = now()"
            " where task_name = %s and status = 'todo'",
            (TASK,),
        )


async def send(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> httpx.Response:
    return await client.post("/api/notifications/email", headers=headers, json={**EMAIL, **body})


async def email(client: httpx.AsyncClient, admin, email_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/notifications/emails/{email_id}", headers=admin.headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def email_count(context: AppContext) -> int:
    async with context.db.system() as conn:
        row = await (await conn.execute("select count(*) as n from public.emails")).fetchone()
    assert row is not None
    return int(row["n"])


# -- sending ------------------------------------------------------------------------------------


async def test_an_admins_email_is_sent_once_as_written_and_recorded(admin, resend, sending):
    client, ctx = sending
    response = await send(client, admin.headers)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body == {"success": True, "id": body["id"], "status": "queued"}

    await run_jobs(ctx)
    await run_jobs(ctx)  # nothing left to do: no second e-mail

    [mail] = resend.sent
    assert mail.to == ["shopper@example.com"]
    assert mail.sender == "Raman Silks <no-reply@voxtro.io>"
    assert mail.subject == "Your order has shipped"
    assert mail.html == EMAIL["html_content"]  # the admin's HTML, exactly as given
    assert mail.text == "On its way\n\nTrack it here (https://shop.example/t/1)."
    assert mail.idempotency_key == f"voxtro-email-{body['id']}"
    assert mail.api_key == RESEND_KEY

    stored = await email(client, admin, body["id"])
    assert stored["status"] == "sent"
    assert stored["provider_id"] == mail.id
    assert stored["sent_at"] is not None and stored["attempts"] == 1
    assert (stored["kind"], stored["to_email"], stored["html"]) == (
        "notification",
        "shopper@example.com",
        EMAIL["html_content"],
    )
    assert await jobs(ctx) == []


async def test_a_from_name_with_punctuation_is_quoted(admin, resend, sending):
    client, ctx = sending
    response = await send(client, admin.headers, from_name="Raman Silks, Chennai")
    assert response.status_code == 202, response.text
    await run_jobs(ctx)
    [mail] = resend.sent
    assert mail.sender == '"Raman Silks, Chennai" <no-reply@voxtro.io>'


async def test_an_api_key_needs_the_notifications_scope(client, admin, resend, sending):
    key_client, ctx = sending
    allowed = await create_api_key(client, admin, ["notifications:send"])
    other = await create_api_key(client, admin, ["api", "stats:read"])

    refused = await send(key_client, {"X-API-Key": other["key"]})
    assert refused.status_code == 403, refused.text
    assert "notifications:send" in refused.json()["message"]
    assert await email_count(ctx) == 0

    accepted = await send(key_client, {"X-API-Key": allowed["key"]})
    assert accepted.status_code == 202, accepted.text
    await run_jobs(ctx)
    assert [m.to for m in resend.sent] == [["shopper@example.com"]]
    stored = await email(client, admin, accepted.json()["id"])
    assert stored["status"] == "sent"


async def test_an_anonymous_caller_cannot_send(client):
    response = await client.post("/api/notifications/email", json=EMAIL)
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("to_email", "not-an-address"),
        ("to_email", "Someone <shopper@example.com>, other@example.com"),
        ("subject", "Hello\r\nBcc: everyone@example.com"),
        ("subject", "Hello\nthere"),
        ("subject", ""),
        ("subject", "x" * 201),
        ("html_content", "<p>" + "x" * (200 * 1024) + "</p>"),
        ("html_content", "   "),
        ("from_name", 'Support" <ceo@example.com>'),
        ("from_name", "Support\r\nReply-To: x@example.com"),
        ("from_name", "x" * 101),
    ],
)
async def test_invalid_emails_are_refused_and_nothing_is_stored(
    client, context, admin, field, value
):
    response = await send(client, admin.headers, **{field: value})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert await email_count(context) == 0
    assert await jobs(context) == []


async def test_unknown_fields_are_refused(client, admin):
    response = await send(client, admin.headers, bcc=["everyone@example.com"])
    assert response.status_code == 400


async def test_resend_failing_twice_is_retried_and_delivers_once(admin, context, resend, sending):
    client, ctx = sending
    resend.fail_next(2, 500)
    response = await send(client, admin.headers)
    email_id = response.json()["id"]

    await run_jobs(ctx)
    stored = await email(client, admin, email_id)
    assert (stored["status"], stored["attempts"]) == ("queued", 1)
    assert "application_error" in stored["error"]
    [job] = await jobs(context)
    assert job["status"] == "todo"  # waiting out its backoff

    await make_retry_due(context)
    await run_jobs(ctx)
    await make_retry_due(context)
    await run_jobs(ctx)

    assert resend.requests == 3
    [mail] = resend.sent
    assert mail.idempotency_key == f"voxtro-email-{email_id}"
    stored = await email(client, admin, email_id)
    assert (stored["status"], stored["attempts"]) == ("sent", 3)
    assert stored["provider_id"] == mail.id and stored["error"] is None
    assert await jobs(context) == []


async def test_a_job_run_again_after_resend_accepted_does_not_send_twice(
    admin, context, resend, sending
):
    """A worker that died after Resend accepted the e-mail but before recording it: the job
    runs again (stalled jobs are handed back), and the idempotency key keeps it one e-mail."""
    client, ctx = sending
    email_id = (await send(client, admin.headers)).json()["id"]
    await run_jobs(ctx)
    assert len(resend.sent) == 1
    async with context.db.system() as conn:  # as if the success was never recorded
        await conn.execute(
            "update public.emails set status = 'queued', provider_id = null where id = %s",
            (email_id,),
        )
    await deliver(ctx, UUID(email_id))
    assert len(resend.sent) == 1 and resend.requests == 2
    stored = await email(client, admin, email_id)
    assert stored["status"] == "sent" and stored["provider_id"] == resend.sent[0].id


async def test_an_email_resend_refuses_is_failed_without_retrying(admin, context, resend, sending):
    client, ctx = sending
    resend.fail_next(1, 422)
    email_id = (await send(client, admin.headers)).json()["id"]
    await run_jobs(ctx)
    stored = await email(client, admin, email_id)
    assert (stored["status"], stored["attempts"]) == ("failed", 1)
    assert "validation_error" in stored["error"]
    assert resend.sent == []
    assert [j["status"] for j in await jobs(context)] == ["failed"]


async def test_a_failure_on_the_last_attempt_marks_the_email_failed(admin, resend, sending):
    """The queue gives up after its last attempt: the record must not stay `queued`."""
    client, ctx = sending
    email_id = (await send(client, admin.headers)).json()["id"]
    async with ctx.db.system() as conn:  # the queued job is not needed here
        await conn.execute("delete from procrastinate_jobs where task_name = %s", (TASK,))
    resend.fail_next(1, 500)
    with pytest.raises(ResendError):
        await deliver(ctx, UUID(email_id), last_attempt=True)
    stored = await email(client, admin, email_id)
    assert stored["status"] == "failed" and "application_error" in stored["error"]
    assert resend.sent == []


async def test_the_same_idempotency_key_sends_one_email(
    client, admin, other_admin, resend, sending
):
    key_client, ctx = sending
    headers = {**admin.headers, "Idempotency-Key": "order-1042-shipped"}
    first = await send(key_client, headers)
    again = await send(key_client, headers)
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers

    different = await send(key_client, headers, subject="Something else")
    assert different.status_code == 409, different.text

    # Keys are the workspace's own: another workspace may use the same one.
    theirs = await send(
        key_client, {**other_admin.headers, "Idempotency-Key": "order-1042-shipped"}
    )
    assert theirs.status_code == 202 and theirs.json()["id"] != first.json()["id"]

    await run_jobs(ctx)
    assert len(resend.sent_to("shopper@example.com")) == 2  # one per workspace

    after = await send(key_client, headers)
    assert after.json() == {"success": True, "id": first.json()["id"], "status": "sent"}
    await run_jobs(ctx)
    assert len(resend.sent) == 2
    listed = await client.get("/api/notifications/emails", headers=admin.headers)
    assert listed.json()["pagination"]["total"] == 1


# -- without a Resend key: the outbox --------------------------------------------------------


async def test_without_a_resend_key_emails_wait_in_a_readable_outbox(client, context, admin):
    response = await send(client, admin.headers)
    assert response.status_code == 202, response.text
    email_id = response.json()["id"]

    await run_jobs(context)

    stored = await email(client, admin, email_id)
    assert stored["status"] == "outbox"
    assert stored["html"] == EMAIL["html_content"]
    assert stored["attempts"] == 0 and stored["sent_at"] is None
    outbox = await client.get("/api/notifications/emails?status=outbox", headers=admin.headers)
    assert [e["id"] for e in outbox.json()["data"]] == [email_id]
    assert "html" not in outbox.json()["data"][0]  # the list stays light
    sent = await client.get("/api/notifications/emails?status=sent", headers=admin.headers)
    assert sent.json()["data"] == [] and sent.json()["pagination"]["total"] == 0


async def test_the_list_is_paged_newest_first(client, context, admin):
    ids = []
    for n in range(3):
        response = await send(client, admin.headers, subject=f"Update {n}")
        ids.append(response.json()["id"])
    page = await client.get("/api/notifications/emails?limit=2", headers=admin.headers)
    assert page.status_code == 200, page.text
    body = page.json()
    assert [e["id"] for e in body["data"]] == [ids[2], ids[1]]
    assert body["pagination"] == {"page": 1, "limit": 2, "total": 3, "totalPages": 2}
    last = await client.get("/api/notifications/emails?limit=2&page=2", headers=admin.headers)
    assert [e["id"] for e in last.json()["data"]] == [ids[0]]
    beyond = await client.get("/api/notifications/emails?limit=2&page=9", headers=admin.headers)
    assert beyond.json()["data"] == [] and beyond.json()["pagination"]["total"] == 3


# -- the contact form ---------------------------------------------------------------------------

CONTACT = {
    "name": "Meera <b>K</b>",
    "email": "meera@example.com",
    "phone": "+91 98765 43210",
    "message": "Hello!\n<script>alert('pwned')</script> & <img src=x onerror=alert(1)>",
}


async def test_a_contact_message_reaches_the_workspace_escaped(client, admin, resend, sending):
    key_client, ctx = sending
    bot = await create_chatbot(client, admin)
    profile = await client.patch(
        "/api/business/me", headers=admin.headers, json={"email": "hello@raman.example"}
    )
    assert profile.status_code == 200, profile.text

    response = await key_client.post(
        "/api/notifications/contact",
        headers={"Origin": "https://raman.example"},
        json={"chatbot_id": bot["id"], "subject": "Bulk order", **CONTACT},
    )
    assert response.status_code == 202, response.text
    await run_jobs(ctx)

    [mail] = resend.sent
    assert mail.to == ["hello@raman.example"]
    assert mail.subject == "Contact form: Bulk order"
    assert mail.html is not None
    assert "<script>" not in mail.html and "<img" not in mail.html and "<b>" not in mail.html
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt; &amp; &lt;img" in mail.html
    assert "Meera &lt;b&gt;K&lt;/b&gt;" in mail.html
    assert 'href="mailto:meera@example.com"' in mail.html
    assert "+919876543210" in mail.html and "https://raman.example" in mail.html
    assert mail.text is not None and "<script>alert('pwned')</script>" in mail.text  # plain text

    stored = await email(client, admin, response.json()["id"])
    assert stored["html"] == mail.html
    assert (stored["kind"], stored["chatbot_id"], stored["status"]) == (
        "contact",
        bot["id"],
        "sent",
    )


async def test_without_a_business_email_the_owner_gets_the_message(client, context, admin):
    bot = await create_chatbot(client, admin)
    response = await client.post(
        "/api/notifications/contact", json={"chatbot_id": bot["id"], **CONTACT}
    )
    assert response.status_code == 202, response.text
    stored = await email(client, admin, response.json()["id"])
    assert stored["to_email"] == admin.email
    assert stored["subject"] == "New message from Meera <b>K</b>"  # a header: plain text


async def test_a_visitors_address_cannot_add_recipients_to_a_reply(client, admin):
    bot = await create_chatbot(client, admin)
    response = await client.post(
        "/api/notifications/contact",
        json={**CONTACT, "chatbot_id": bot["id"], "email": "a?cc=victim@example.com"},
    )
    if response.status_code == 400:  # refused as an address: as good
        return
    stored = await email(client, admin, response.json()["id"])
    assert 'href="mailto:a%3Fcc%3Dvictim@example.com"' in stored["html"]


async def test_the_contact_form_respects_the_bots_sites_and_state(client, admin):
    bot = await create_chatbot(client, admin, allowed_domains=["raman.example"])
    elsewhere = await client.post(
        "/api/notifications/contact",
        headers={"Origin": "https://evil.example"},
        json={"chatbot_id": bot["id"], **CONTACT},
    )
    assert elsewhere.status_code == 403
    unknown = await client.post(
        "/api/notifications/contact",
        json={"chatbot_id": "00000000-0000-4000-8000-000000000000", **CONTACT},
    )
    assert unknown.status_code == 404
    off = await create_chatbot(client, admin, is_active=False)
    inactive = await client.post(
        "/api/notifications/contact", json={"chatbot_id": off["id"], **CONTACT}
    )
    assert inactive.status_code == 404
    listed = await client.get("/api/notifications/emails", headers=admin.headers)
    assert listed.json()["data"] == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "nope"),
        ("name", "Meera\r\nBcc: all@example.com"),
        ("subject", "Hi\nBcc: all@example.com"),
        ("message", "   "),
        ("message", "x" * 5001),
        ("phone", "12345"),
    ],
)
async def test_invalid_contact_messages_are_refused(client, context, admin, field, value):
    bot = await create_chatbot(client, admin)
    response = await client.post(
        "/api/notifications/contact", json={"chatbot_id": bot["id"], **CONTACT, field: value}
    )
    assert response.status_code == 400, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert await email_count(context) == 0


async def test_a_visitor_is_rate_limited(database_url, anon_key):
    async with app_with(database_url, rate_limit_chat_visitor="2/minute") as (client, _):
        admin = await create_admin(client, anon_key)
        bot = await create_chatbot(client, admin)
        body = {"chatbot_id": bot["id"], **CONTACT, "visitor_id": "v-1"}
        codes = [
            (await client.post("/api/notifications/contact", json=body)).status_code
            for _ in range(3)
        ]
        assert codes == [202, 202, 429]
        other = await client.post("/api/notifications/contact", json={**body, "visitor_id": "v-2"})
        assert other.status_code == 202


# -- tenancy and roles --------------------------------------------------------------------------


async def test_another_workspace_cannot_read_the_emails(client, admin, other_admin):
    email_id = (await send(client, admin.headers)).json()["id"]
    theirs = await client.get(f"/api/notifications/emails/{email_id}", headers=other_admin.headers)
    assert theirs.status_code == 404 and theirs.json()["code"] == "NOT_FOUND"
    listed = await client.get("/api/notifications/emails", headers=other_admin.headers)
    assert listed.json()["data"] == [] and listed.json()["pagination"]["total"] == 0
    # An API key of theirs cannot list anything (the list is for admins).
    key = await create_api_key(client, other_admin, ["notifications:send"])
    by_key = await client.get("/api/notifications/emails", headers={"X-API-Key": key["key"]})
    assert by_key.status_code == 403


async def test_members_cannot_forge_or_change_the_record(client, context, admin):
    """Only the backend writes e-mails: not even an owner, through SQL under their claims."""
    email_id = (await send(client, admin.headers)).json()["id"]
    claims = {"sub": admin.user_id, "role": "authenticated", "email": admin.email}
    async with context.db.pool.connection() as conn:
        for statement, params in [
            (
                "insert into public.emails (workspace_id, kind, to_email, subject, html, text)"
                " values (%s, 'notification', 'x@example.com', 's', 'h', 't')",
                (admin.workspace_id,),
            ),
            ("update public.emails set status = 'sent' where id = %s returning id", (email_id,)),
            ("delete from public.emails where id = %s returning id", (email_id,)),
        ]:
            async with conn.transaction(force_rollback=True):
                await set_claims(conn, claims)
                try:
                    cur = await conn.execute(statement, params)
                except pg_errors.InsufficientPrivilege:
                    continue
                assert await cur.fetchall() == [], statement  # no row it may change
    stored = await email(client, admin, email_id)
    assert stored["status"] == "queued"


async def test_an_agent_cannot_send_or_read_emails(client, anon_key, admin):
    agent_email = unique_email("agent")
    session = await sign_up(client, anon_key, email=agent_email)
    added = await client.post(
        f"/api/workspaces/{admin.workspace_id}/members",
        headers=admin.headers,
        json={"email": agent_email, "role": "agent"},
    )
    assert added.status_code in (200, 201), added.text
    headers = {
        "Authorization": f"Bearer {session['access_token']}",
        "X-Workspace-Id": admin.workspace_id,
    }
    assert (await send(client, headers)).status_code == 403
    assert (await client.get("/api/notifications/emails", headers=headers)).status_code == 403


def test_the_worker_knows_the_delivery_job():
    """`voxtro worker` imports only TASK_MODULES: a job module missing there is a job that no
    standalone worker can run."""
    assert "backend.notifications.tasks" in TASK_MODULES
