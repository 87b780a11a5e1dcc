"""The job queue, end to end: jobs exist only if their transaction commits, the worker runs
them against a fake Resend on a real port, failed sends are retried with backoff, and a job
left behind by a worker that died is run again. What matters to a user: the sign-in e-mail
arrives once, its link works, and nothing is lost or duplicated."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import procrastinate
import pytest

from backend.auth.gotrue.tasks import send_link_email
from backend.context import AppContext
from backend.tasks import (
    PROVIDER_RETRY,
    TASK_MODULES,
    enqueue,
    retry_stalled_jobs,
    run_worker,
    task_app,
)
from tests.conftest import RESEND_KEY, make_settings
from tests.fakes.resend import FakeResend

TASK = "auth.send_link_email"


# -- fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture
async def worker_context(database_url: str, resend: FakeResend) -> AsyncIterator[AppContext]:
    """What `voxtro worker` builds, with e-mail going to the fake Resend."""
    ctx = AppContext.build(
        make_settings(database_url, resend_api_key=RESEND_KEY, resend_api_url=resend.url)
    )
    await ctx.db.open()
    try:
        yield ctx
    finally:
        await ctx.db.close()


async def run_jobs(ctx: AppContext) -> None:
    """One worker pass: run every job that is due, then stop."""
    await asyncio.wait_for(run_worker(ctx, concurrency=1, wait=False), timeout=60)


async def jobs(context: AppContext, task_name: str | None = TASK) -> list[dict[str, Any]]:
    async with context.db.system() as conn:
        cur = await conn.execute(
            "select id, task_name, status::text as status, attempts, args,"
            " scheduled_at, scheduled_at > now() as in_future"
            " from procrastinate_jobs where %(t)s::text is null or task_name = %(t)s order by id",
            {"t": task_name},
        )
        return await cur.fetchall()


async def live_tokens(context: AppContext, user_id: str) -> int:
    async with context.db.system() as conn:
        row = await (
            await conn.execute(
                "select count(*) as n from auth.one_time_tokens where user_id = %s", (user_id,)
            )
        ).fetchone()
    assert row is not None
    return int(row["n"])


async def request_link(client, anon_key: str, email: str) -> None:
    response = await client.post(
        "/auth/v1/otp", headers={"apikey": anon_key}, json={"email": email}
    )
    assert response.status_code == 200, response.text


def sign_in_link(text: str | None) -> str:
    assert text
    links = [word for word in text.split() if "/auth/v1/verify?token=" in word]
    assert len(links) == 1, text
    return links[0]


async def assert_link_signs_in(client, link: str, user_id: str) -> None:
    url = urlsplit(link)
    response = await client.get(f"{url.path}?{url.query}", follow_redirects=False)
    assert response.status_code == 303, response.text
    fragment = parse_qs(urlsplit(response.headers["location"]).fragment)
    assert "access_token" in fragment, response.headers["location"]
    user = await client.get(
        "/auth/v1/user", headers={"Authorization": f"Bearer {fragment['access_token'][0]}"}
    )
    assert user.status_code == 200, user.text
    assert user.json()["id"] == user_id


async def crash_a_worker_holding(context: AppContext) -> int:
    """A worker takes the next job (it is `doing`) and dies: its heartbeat stops."""
    manager = task_app.job_manager
    worker_id = await manager.register_worker()
    job = await manager.fetch_job(queues=None, worker_id=worker_id)
    assert job is not None and job.task_name == TASK
    async with context.db.system() as conn:
        await conn.execute(
            "update procrastinate_workers set last_heartbeat = now() - interval '1 day'"
            " where id = %s",
            (worker_id,),
        )
    assert [j["status"] for j in await jobs(context)] == ["doing"]
    # Left alone, nobody else would ever take it.
    other = await manager.register_worker()
    try:
        assert await manager.fetch_job(queues=None, worker_id=other) is None
    finally:
        await manager.unregister_worker(other)
    assert job.id is not None
    return job.id


# -- a job exists if and only if its transaction committed -----------------------------------


async def test_job_enqueued_in_a_rolled_back_transaction_does_not_exist(context, admin):
    class Abort(Exception):
        pass

    with pytest.raises(Abort):
        async with context.db.system() as conn:
            await enqueue(
                conn, send_link_email, user_id=admin.user_id, link_type="magiclink", redirect_to=""
            )
            raise Abort
    assert await jobs(context, None) == []

    async with context.db.system() as conn:
        job_id = await enqueue(
            conn, send_link_email, user_id=admin.user_id, link_type="magiclink", redirect_to=""
        )
    [job] = await jobs(context, None)
    assert (job["id"], job["task_name"], job["status"]) == (job_id, TASK, "todo")
    assert job["args"] == {"user_id": admin.user_id, "link_type": "magiclink", "redirect_to": ""}


async def test_enqueue_from_a_tenant_transaction_keeps_it_under_rls(context, admin):
    claims = {"role": "authenticated", "sub": admin.user_id}

    class Abort(Exception):
        pass

    with pytest.raises(Abort):
        async with context.db.as_claims(claims) as conn:
            await enqueue(
                conn, send_link_email, user_id=admin.user_id, link_type="magiclink", redirect_to=""
            )
            role = await (await conn.execute("select current_user as r")).fetchone()
            assert role == {"r": "authenticated"}  # the rest of the transaction stays under RLS
            raise Abort
    assert await jobs(context, None) == []

    async with context.db.as_claims(claims) as conn:
        await enqueue(
            conn, send_link_email, user_id=admin.user_id, link_type="magiclink", redirect_to=""
        )
        role = await (await conn.execute("select current_user as r")).fetchone()
        assert role == {"r": "authenticated"}
    assert len(await jobs(context)) == 1


async def test_otp_request_enqueues_exactly_one_link_email(client, anon_key, context, admin):
    await request_link(client, anon_key, admin.email)

    [job] = await jobs(context, None)
    assert job["task_name"] == TASK and job["status"] == "todo"
    assert job["args"]["user_id"] == admin.user_id
    assert job["args"]["link_type"] == "magiclink"
    # No secret waits in the queue: the token is made by the job.
    assert await live_tokens(context, admin.user_id) == 0


async def test_otp_request_that_fails_validation_enqueues_nothing(client, anon_key, context):
    response = await client.post(
        "/auth/v1/otp", headers={"apikey": anon_key}, json={"email": "not-an-email"}
    )
    assert response.status_code in (400, 422), response.text
    assert await jobs(context, None) == []


# -- the worker sends the e-mail, and the link in it works ------------------------------------


async def test_worker_emails_a_working_sign_in_link(
    client, anon_key, context, admin, resend, worker_context
):
    await request_link(client, anon_key, admin.email)

    await run_jobs(worker_context)

    [mail] = resend.sent
    assert mail.to == [admin.email]
    assert mail.sender == worker_context.settings.email_from
    assert mail.api_key == RESEND_KEY
    assert mail.idempotency_key
    link = sign_in_link(mail.text)
    assert mail.html and "/auth/v1/verify?token=" in mail.html
    assert await jobs(context) == []  # succeeded (and deleted)

    await assert_link_signs_in(client, link, admin.user_id)
    # The link is single-use.
    url = urlsplit(link)
    again = await client.get(f"{url.path}?{url.query}", follow_redirects=False)
    assert again.status_code == 303
    assert "access_token" not in urlsplit(again.headers["location"]).fragment


async def test_without_resend_key_the_job_succeeds_without_sending(
    client, anon_key, context, admin, resend
):
    await request_link(client, anon_key, admin.email)

    await run_jobs(context)  # the test app's settings have no RESEND_API_KEY

    assert resend.requests == 0
    assert await jobs(context) == []
    assert await live_tokens(context, admin.user_id) > 0  # the link was issued (and logged)


async def test_link_email_for_a_deleted_user_is_dropped(context, admin, resend, worker_context):
    async with context.db.system() as conn:
        await enqueue(
            conn, send_link_email, user_id=admin.user_id, link_type="magiclink", redirect_to=""
        )
        await conn.execute("delete from auth.users where id = %s", (admin.user_id,))

    await run_jobs(worker_context)

    assert resend.requests == 0
    assert await jobs(context) == []


# -- retries ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 429])
async def test_transient_resend_failure_is_retried_with_backoff_and_sent_once(
    client, anon_key, context, admin, resend, worker_context, status
):
    await request_link(client, anon_key, admin.email)
    resend.fail_next(1, status)

    await run_jobs(worker_context)

    assert resend.sent == [] and resend.requests == 1
    [job] = await jobs(context)
    assert job["status"] == "todo"
    assert job["attempts"] == 1
    assert job["in_future"], "a failed send must wait (backoff) before the next attempt"

    # Time passes: the retry is due.
    async with context.db.system() as conn:
        await conn.execute(
            "update procrastinate_jobs set scheduled_at = now() where id = %s", (job["id"],)
        )
    await run_jobs(worker_context)

    [mail] = resend.sent
    assert mail.to == [admin.email]
    assert resend.requests == 2
    assert await jobs(context) == []  # succeeded (and deleted): nothing todo, doing or failed
    await assert_link_signs_in(client, sign_in_link(mail.text), admin.user_id)


@pytest.mark.parametrize("status", [401, 403, 422])
async def test_a_permanent_resend_failure_is_not_retried(
    client, anon_key, context, admin, resend, worker_context, status
):
    """A refused key or a rejected payload will not succeed later: the job fails at once (and
    stays, as `failed`, for someone to look at) instead of retrying for hours."""
    await request_link(client, anon_key, admin.email)
    resend.fail_next(1, status)

    await run_jobs(worker_context)

    assert resend.sent == []
    [job] = await jobs(context)
    assert (job["status"], job["attempts"]) == ("failed", 1)


async def test_job_fails_after_its_last_attempt(
    client, anon_key, context, admin, resend, worker_context
):
    """Nothing is lost silently: after the last attempt the job stays, as `failed`."""
    await request_link(client, anon_key, admin.email)
    [job] = await jobs(context)
    async with context.db.system() as conn:  # the first run and its 12 retries failed
        await conn.execute(
            "update procrastinate_jobs set attempts = %s where id = %s",
            (PROVIDER_RETRY.max_attempts, job["id"]),
        )
    resend.fail_next(1, 500)

    await run_jobs(worker_context)

    assert resend.sent == []
    [job] = await jobs(context)
    assert job["status"] == "failed"


# -- a worker that died mid-job ---------------------------------------------------------------


async def test_stalled_job_of_a_dead_worker_is_run_again(
    client, anon_key, context, admin, resend, worker_context
):
    await request_link(client, anon_key, admin.email)
    await crash_a_worker_holding(context)

    await retry_stalled_jobs.defer_async(timestamp=0)
    await run_jobs(worker_context)

    assert await live_tokens(context, admin.user_id) > 0
    assert await jobs(context) == []  # succeeded: nothing left todo, doing or failed
    [mail] = resend.sent
    assert mail.to == [admin.email]
    await assert_link_signs_in(client, sign_in_link(mail.text), admin.user_id)


async def test_running_job_of_a_live_worker_is_left_alone(context, admin, resend, worker_context):
    async with context.db.system() as conn:
        await enqueue(
            conn, send_link_email, user_id=admin.user_id, link_type="magiclink", redirect_to=""
        )
    manager = task_app.job_manager
    worker_id = await manager.register_worker()  # alive: fresh heartbeat
    job = await manager.fetch_job(queues=None, worker_id=worker_id)
    assert job is not None
    try:
        await retry_stalled_jobs.defer_async(timestamp=0)
        await run_jobs(worker_context)

        assert [j["status"] for j in await jobs(context)] == ["doing"]
        assert resend.requests == 0
    finally:
        await manager.unregister_worker(worker_id)


async def test_worker_dying_after_the_send_does_not_email_twice(
    client, anon_key, context, admin, resend, worker_context
):
    """The worker sent the e-mail, then died before recording success; the stalled job is
    run again. The user should still get one e-mail, and its link should work."""
    await request_link(client, anon_key, admin.email)
    manager = task_app.job_manager
    worker_id = await manager.register_worker()
    job = await manager.fetch_job(queues=None, worker_id=worker_id)
    assert job is not None
    # The dying worker ran the job (exactly as the worker calls it) up to its end...
    job_context = procrastinate.JobContext(
        app=task_app,
        job=job,
        additional_context={"app": worker_context},
        start_timestamp=time.time(),
        abort_reason=lambda: None,
    )
    await send_link_email(job_context, **job.task_kwargs)
    assert len(resend.sent) == 1
    # ...and died before marking it succeeded.
    async with context.db.system() as conn:
        await conn.execute(
            "update procrastinate_workers set last_heartbeat = now() - interval '1 day'"
            " where id = %s",
            (worker_id,),
        )

    await retry_stalled_jobs.defer_async(timestamp=0)
    await run_jobs(worker_context)

    assert await jobs(context) == []
    assert len(resend.sent) == 1, [m.idempotency_key for m in resend.sent]
    await assert_link_signs_in(client, sign_in_link(resend.sent[0].text), admin.user_id)


# -- the fake itself --------------------------------------------------------------------------


async def test_fake_resend_speaks_resends_wire_format(resend):
    body = {"from": "a@voxtro.io", "to": ["b@example.com"], "subject": "s", "text": "t"}
    auth = {"Authorization": f"Bearer {RESEND_KEY}"}
    async with httpx.AsyncClient(base_url=resend.url) as http:
        first = await http.post("/emails", json=body, headers={**auth, "Idempotency-Key": "k1"})
        assert first.status_code == 200
        assert first.headers["content-type"].startswith("application/json")
        assert set(first.json()) == {"id"}
        again = await http.post("/emails", json=body, headers={**auth, "Idempotency-Key": "k1"})
        assert again.json() == first.json()
        changed = await http.post(
            "/emails", json={**body, "text": "u"}, headers={**auth, "Idempotency-Key": "k1"}
        )
        assert changed.status_code == 409
        assert changed.json()["name"] == "invalid_idempotent_request"
        assert len(resend.sent) == 1 and resend.sent[0].idempotency_key == "k1"

        assert (await http.post("/emails", json=body)).json()["name"] == "missing_api_key"
        wrong = await http.post("/emails", json=body, headers={"Authorization": "Bearer nope"})
        assert (wrong.status_code, wrong.json()["name"]) == (403, "invalid_api_key")

        resend.fail_next(1, 429)
        limited = await http.post("/emails", json=body, headers=auth)
        assert limited.status_code == 429 and limited.headers["retry-after"]
        assert limited.json()["statusCode"] == 429
        assert limited.json()["name"] == "rate_limit_exceeded"
        resend.fail_next(1, 500)
        failed = await http.post("/emails", json=body, headers=auth)
        assert failed.json() == {
            "statusCode": 500,
            "name": "application_error",
            "message": failed.json()["message"],
        }
        assert len(resend.sent) == 1


def test_every_module_that_declares_jobs_is_known_to_the_worker() -> None:
    """`voxtro worker` imports TASK_MODULES, found by file name: a job declared anywhere but a
    domain's `tasks.py` would never run."""
    root = Path(__file__).resolve().parent.parent / "backend"
    declaring = {
        ".".join(("backend", *path.relative_to(root).with_suffix("").parts))
        for path in root.rglob("*.py")
        if "@task_app.task(" in path.read_text()
    }
    assert declaring and declaring <= set(TASK_MODULES)
