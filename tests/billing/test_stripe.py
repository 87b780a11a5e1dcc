"""Stripe billing end to end, against a fake Stripe on a real port that stripe-python talks to,
with webhooks signed the way Stripe signs them: credits bought once however often Stripe
delivers the event, signatures checked before anything is stored, plans whose usage reaches
Stripe's meter once per usage row even when the reporting job fails or is killed half-way,
payment failures that pause a workspace after the grace period, and clear answers when billing
is not configured."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
import pytest

from backend.billing import meter, webhooks
from backend.billing import tasks as billing_tasks
from backend.context import AppContext
from backend.inbound import service as inbound
from backend.integrations.stripe.client import StripeFailure
from backend.seed import DEMO_WORKSPACE, seed_demo
from backend.tasks import TASK_MODULES, enqueue, run_worker
from tests.conftest import app_with
from tests.fakes.openai import FakeOpenAI
from tests.fakes.stripe import (
    METER_EVENT_NAME,
    SECRET_KEY,
    WEBHOOK_SECRET,
    FakeStripe,
    event,
    signature_header,
)
from tests.fixtures.factories import (
    Admin,
    chat,
    connect_openai,
    create_admin,
    create_chatbot,
    sign_up,
    unique_email,
)

FREE_CREDITS = Decimal("5")

# stripe-python hands httpx its form body as `data=` bytes, which httpx deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")

# -- fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def stripe_server() -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        yield fake


@pytest.fixture
def fake_stripe(stripe_server: FakeStripe) -> FakeStripe:
    stripe_server.reset()
    return stripe_server


@pytest.fixture
async def billing(
    database_url: str, fake_stripe: FakeStripe, fake_openai: FakeOpenAI
) -> AsyncIterator[tuple[httpx.AsyncClient, AppContext]]:
    """An app with Stripe configured (the default test app has no STRIPE_SECRET_KEY)."""
    async with app_with(
        database_url,
        stripe_secret_key=SECRET_KEY,
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_api_base=fake_stripe.url,
        free_credits=float(FREE_CREDITS),
        openai_base_url=fake_openai.base_url,
    ) as (client, ctx):
        yield client, ctx


@pytest.fixture
async def owner(billing: tuple[httpx.AsyncClient, AppContext], anon_key: str) -> Admin:
    """An admin whose personal workspace was created while billing was configured."""
    client, _ = billing
    return await create_admin(client, anon_key, "owner")


async def run_jobs(ctx: AppContext) -> None:
    """One worker pass: every job that is due, then stop."""
    await asyncio.wait_for(run_worker(ctx, concurrency=1, wait=False), timeout=60)


async def deliver(
    client: httpx.AsyncClient,
    evt: dict[str, Any],
    *,
    secret: str = WEBHOOK_SECRET,
    timestamp: int | None = None,
    signature: str | None = "sign",
) -> httpx.Response:
    """POST an event to our webhook, signed over its exact bytes as Stripe signs it."""
    body = json.dumps(evt)
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        headers["Stripe-Signature"] = signature_header(body, secret, timestamp)
    elif signature is not None:
        headers["Stripe-Signature"] = signature
    return await client.post("/api/webhooks/stripe", content=body, headers=headers)


async def process(ctx: AppContext, event_id: str) -> None:
    """Run the job of a stored event (as its `inbound.process` job would)."""
    [row] = await fetch(ctx, "select id from inbound_events where event_id = %s", event_id)
    await inbound.process(ctx.db, row["id"])


async def fetch(ctx: AppContext, query: str, *args: Any) -> list[dict[str, Any]]:
    async with ctx.db.system() as conn:
        return await (await conn.execute(query, args)).fetchall()


async def credits_of(client: httpx.AsyncClient, admin: Admin) -> dict[str, Any]:
    response = await client.get("/api/business/credits", headers=admin.headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def overview(client: httpx.AsyncClient, admin: Admin) -> dict[str, Any]:
    response = await client.get("/api/billing", headers=admin.headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def add_plan(ctx: AppContext, fake: FakeStripe, code: str = "growth") -> dict[str, str]:
    plan = {
        "code": code,
        "fee": fake.add_price(unit_amount=4900),
        "usage": fake.add_price(metered=True),
    }
    async with ctx.db.system() as conn:
        await conn.execute(
            "insert into billing_plans (code, name, fee_price_id, usage_price_id, included_usage)"
            " values (%s, %s, %s, %s, 20)",
            (code, code.title(), plan["fee"], plan["usage"]),
        )
    return plan


async def subscribe(
    client: httpx.AsyncClient, ctx: AppContext, fake: FakeStripe, admin: Admin, plan: str
) -> dict[str, Any]:
    """Subscribe through Checkout as a person would: the session, its payment, its event."""
    response = await client.post(
        "/api/billing/subscribe", headers=admin.headers, json={"plan": plan}
    )
    assert response.status_code == 200, response.text
    session = fake.complete_checkout(response.json()["data"]["session_id"])
    assert (await deliver(client, event("checkout.session.completed", session))).status_code == 200
    await run_jobs(ctx)
    return session


async def seed_usage(
    ctx: AppContext,
    workspace_id: str,
    costs: list[str],
    *,
    ago: timedelta = timedelta(0),
    **extra: Any,
) -> list[UUID]:
    """Usage rows as the chat engine writes them, with these costs (US dollars)."""
    ids = []
    async with ctx.db.system() as conn:
        for cost in costs:
            row = await (
                await conn.execute(
                    "insert into token_usage (workspace_id, service, channel, model,"
                    " prompt_tokens, completion_tokens, total_tokens, cost, price_version,"
                    " is_preview, created_at)"
                    " values (%s, 'OPENAI_GPT', 'CHAT', 'gpt-4o', 100, 10, 110, %s, '2026-11-01',"
                    " %s, now() - %s) returning id",
                    (workspace_id, Decimal(cost), extra.get("is_preview", False), ago),
                )
            ).fetchone()
            assert row is not None
            ids.append(row["id"])
    return ids


async def reports(ctx: AppContext) -> list[dict[str, Any]]:
    return await fetch(
        ctx, "select usage_id, status, value, reason from usage_meter_reports order by usage_id"
    )


async def outbox(ctx: AppContext) -> list[dict[str, Any]]:
    return await fetch(
        ctx, "select usage_id, stripe_customer_id, value from meter_outbox order by created_at"
    )


def meter_value(cost: Decimal) -> int:
    return int(cost * 1_000_000)  # costs have 6 decimals: exact


def subscription_of(session: dict[str, Any], status: str, **extra: Any) -> dict[str, Any]:
    """The subscription a Checkout session created, as its events carry it."""
    return {
        "id": session["subscription"],
        "object": "subscription",
        "customer": session["customer"],
        "status": status,
        **extra,
    }


def invoice_of(session: dict[str, Any], invoice_id: str, status: str = "open") -> dict[str, Any]:
    return {
        "id": invoice_id,
        "object": "invoice",
        "customer": session["customer"],
        "subscription": session["subscription"],
        "status": status,
    }


async def account_of(ctx: AppContext, admin: Admin) -> dict[str, Any]:
    [row] = await fetch(
        ctx,
        "select billing_mode, plan, subscription_status, payment_failed_at, failed_invoice_id,"
        " is_paused, paused_reason from billing_accounts where workspace_id = %s",
        admin.workspace_id,
    )
    return row


async def stripe_jobs(ctx: AppContext) -> list[str]:
    rows = await fetch(
        ctx,
        "select status::text from procrastinate_jobs"
        " where task_name = 'inbound.process' order by id",
    )
    return [r["status"] for r in rows]


async def give_up_stripe_jobs(ctx: AppContext) -> None:
    """The events' jobs ran out of retries (say, the database was down through all of them)."""
    async with ctx.db.system() as conn:
        await conn.execute(
            "update procrastinate_jobs set status = 'failed'"
            " where task_name = 'inbound.process' and status = 'todo'"
        )


# -- the free allowance -------------------------------------------------------------------------


async def test_a_new_workspace_starts_prepaid_with_the_free_credits(billing, owner):
    client, _ = billing
    credits = await credits_of(client, owner)
    assert credits["totalCredits"] == 5.0 and credits["availableCredits"] == 5.0
    billing_state = await overview(client, owner)
    assert billing_state["mode"] == "prepaid"
    assert billing_state["available_credits"] == 5.0
    assert billing_state["has_stripe_customer"] is False
    [grant] = billing_state["grants"]
    assert (grant["source"], grant["amount"], grant["reference"]) == (
        "free",
        5.0,
        owner.workspace_id,
    )

    # A second workspace of the same admin gets its own allowance, once.
    created = await client.post("/api/workspaces", headers=owner.headers, json={"name": "Second"})
    assert created.status_code == 201, created.text
    second = created.json()["data"]["id"]
    rows = await fetch(
        billing[1],
        "select workspace_id::text, amount from credit_grants where source = 'free' order by 1",
    )
    assert sorted(r["workspace_id"] for r in rows) == sorted([owner.workspace_id, second])
    assert all(r["amount"] == FREE_CREDITS for r in rows)


async def test_the_demo_workspace_gets_the_free_credits_too(billing):
    _, ctx = billing
    await seed_demo(ctx, password="a-demo-password-1")
    await seed_demo(ctx, password="a-demo-password-1")  # `voxtro dev` seeds at every start
    rows = await fetch(
        ctx,
        "select g.amount, a.billing_mode from credit_grants g"
        " join workspaces w on w.id = g.workspace_id"
        " join billing_accounts a on a.workspace_id = w.id where w.name = %s",
        DEMO_WORKSPACE,
    )
    assert [(r["amount"], r["billing_mode"]) for r in rows] == [(FREE_CREDITS, "prepaid")]


async def test_without_stripe_a_new_workspace_has_no_billing_and_billing_says_so(
    client, admin, context
):
    assert (await credits_of(client, admin))["totalCredits"] == 0.0
    assert await fetch(context, "select * from billing_accounts") == []
    for method, path, body in [
        ("GET", "/api/billing", None),
        ("POST", "/api/billing/checkout", {"amount": 10}),
        ("POST", "/api/billing/subscribe", {"plan": "growth"}),
        ("POST", "/api/billing/portal", None),
    ]:
        response = await client.request(method, path, headers=admin.headers, json=body)
        assert response.status_code == 503, (path, response.text)
        assert response.json()["code"] == "BILLING_NOT_CONFIGURED"
        assert "voxtro credits grant" in response.json()["message"]
    webhook = await deliver(client, event("customer.created", {"id": "cus_x"}))
    assert webhook.status_code == 503
    assert webhook.json()["code"] == "BILLING_NOT_CONFIGURED"
    assert await fetch(context, "select * from inbound_events") == []


# -- buying credits -------------------------------------------------------------------------------


async def test_checkout_creates_the_customer_once_and_reuses_it(billing, owner, fake_stripe):
    client, ctx = billing
    first = await client.post("/api/billing/checkout", headers=owner.headers, json={"amount": 10.5})
    assert first.status_code == 200, first.text
    second = await client.post(
        "/api/billing/checkout", headers=owner.headers, json={"amount": "250.00"}
    )
    assert second.status_code == 200, second.text

    [customer] = fake_stripe.customers.values()
    assert customer["metadata"] == {"workspace_id": owner.workspace_id}
    for response, cents in [(first, 1050), (second, 25000)]:
        assert response.json()["success"] is True
        body = response.json()["data"]
        assert set(body) == {"url", "session_id"}
        session = fake_stripe.sessions[body["session_id"]]
        assert body["url"] == session["url"]
        assert session["customer"] == customer["id"]
        assert session["mode"] == "payment"
        assert session["amount_total"] == cents
        assert session["client_reference_id"] == owner.workspace_id
        assert session["metadata"]["workspace_id"] == owner.workspace_id
        assert session["success_url"].endswith("session_id={CHECKOUT_SESSION_ID}")
    [account] = await fetch(
        ctx,
        "select stripe_customer_id from billing_accounts where workspace_id = %s",
        owner.workspace_id,
    )
    assert account["stripe_customer_id"] == customer["id"]
    assert (await overview(client, owner))["has_stripe_customer"] is True


async def test_a_checkout_amount_out_of_range_is_refused(billing, owner, fake_stripe):
    client, _ = billing
    for amount in [4.99, 10_000.01, 10.001, "ten", None, -5]:
        response = await client.post(
            "/api/billing/checkout", headers=owner.headers, json={"amount": amount}
        )
        assert response.status_code == 400, (amount, response.text)
        assert response.json()["code"] == "VALIDATION_ERROR"
        assert response.json()["errors"][0]["field"] == "amount"
    assert fake_stripe.requests == []
    # The bounds themselves are allowed.
    for amount in [5, 10_000]:
        response = await client.post(
            "/api/billing/checkout", headers=owner.headers, json={"amount": amount}
        )
        assert response.status_code == 200, (amount, response.text)


async def test_return_urls_must_be_ours(billing, owner, fake_stripe):
    client, _ = billing
    response = await client.post(
        "/api/billing/checkout",
        headers=owner.headers,
        json={"amount": 10, "success_url": "https://evil.example/phish"},
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "success_url", "message": "not an allowed URL"}]
    ours = await client.post(
        "/api/billing/checkout",
        headers=owner.headers,
        json={"amount": 10, "success_url": "http://test/console/billing?ok=1"},
    )
    assert ours.status_code == 200, ours.text
    session = fake_stripe.sessions[ours.json()["data"]["session_id"]]
    assert session["success_url"] == (
        "http://test/console/billing?ok=1&session_id={CHECKOUT_SESSION_ID}"
    )


async def test_a_top_up_is_credited_once_however_often_stripe_delivers_it(
    billing, owner, fake_stripe
):
    client, ctx = billing
    response = await client.post(
        "/api/billing/checkout", headers=owner.headers, json={"amount": 12.34}
    )
    session = fake_stripe.complete_checkout(response.json()["data"]["session_id"])
    completed = event("checkout.session.completed", session)

    for _ in range(3):  # Stripe retries a delivery it thinks failed
        answer = await deliver(client, completed)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"received": True}
    # The same payment confirmed again under another event id (async payment methods do this).
    again = await deliver(client, event("checkout.session.async_payment_succeeded", session))
    assert again.status_code == 200
    await run_jobs(ctx)
    await run_jobs(ctx)  # a second pass finds nothing left to do

    credits = await credits_of(client, owner)
    assert credits["totalCredits"] == pytest.approx(17.34)  # 5 free + 12.34 bought
    assert credits["availableCredits"] == pytest.approx(17.34)
    grants = await fetch(
        ctx, "select amount, reference from credit_grants where source = 'checkout'"
    )
    assert grants == [{"amount": Decimal("12.3400"), "reference": session["id"]}]
    events = await fetch(
        ctx, "select event_id, processed_at, attempts from inbound_events order by id"
    )
    assert len(events) == 2  # one row per event id
    assert all(e["processed_at"] is not None and e["attempts"] == 1 for e in events)
    assert (await overview(client, owner))["mode"] == "prepaid"


async def test_an_unpaid_session_credits_nothing_until_its_payment_succeeds(
    billing, owner, fake_stripe
):
    client, ctx = billing
    response = await client.post(
        "/api/billing/checkout", headers=owner.headers, json={"amount": 20}
    )
    pending = fake_stripe.complete_checkout(
        response.json()["data"]["session_id"], payment_status="unpaid"
    )
    await deliver(client, event("checkout.session.completed", pending))
    await run_jobs(ctx)
    assert (await credits_of(client, owner))["totalCredits"] == 5.0

    paid = fake_stripe.complete_checkout(pending["id"])
    await deliver(client, event("checkout.session.async_payment_succeeded", paid))
    await run_jobs(ctx)
    assert (await credits_of(client, owner))["totalCredits"] == 25.0


async def test_bad_stale_or_missing_signatures_are_refused_and_nothing_is_stored(
    billing, owner, fake_stripe
):
    client, ctx = billing
    response = await client.post(
        "/api/billing/checkout", headers=owner.headers, json={"amount": 50}
    )
    session = fake_stripe.complete_checkout(response.json()["data"]["session_id"])
    completed = event("checkout.session.completed", session)
    body = json.dumps(completed)

    attempts = {
        "wrong secret": await deliver(client, completed, secret="whsec_someone_else"),
        "stale": await deliver(client, completed, timestamp=int(time.time()) - 301),
        # Signed "in the future": a captured signature would stay good until then.
        "an hour ahead": await deliver(client, completed, timestamp=int(time.time()) + 3600),
        "just past the tolerance ahead": await deliver(
            client, completed, timestamp=int(time.time()) + 310
        ),
        "missing": await deliver(client, completed, signature=None),
        "garbled": await deliver(client, completed, signature="t=abc,v1=zz"),
        "no v1": await deliver(
            client, completed, signature=signature_header(body).replace("v1=", "v0=")
        ),
        # A valid signature of another body: the event was changed on the way.
        "tampered": await client.post(
            "/api/webhooks/stripe",
            content=body.replace('"paid"', '"PAID"'),
            headers={"Stripe-Signature": signature_header(body)},
        ),
    }
    for name, answer in attempts.items():
        assert answer.status_code == 400, (name, answer.text)
        assert answer.json()["code"] == "INVALID_SIGNATURE", name
        assert answer.json()["success"] is False
    assert await fetch(ctx, "select * from inbound_events") == []
    assert (
        await fetch(ctx, "select * from procrastinate_jobs where task_name like 'billing.%%'") == []
    )

    # Within the tolerance it is accepted (a signature made 4 minutes ago; a clock a minute
    # ahead of ours).
    fresh = await deliver(client, completed, timestamp=int(time.time()) - 240)
    assert fresh.status_code == 200
    ahead = await deliver(client, completed, timestamp=int(time.time()) + 60)
    assert ahead.status_code == 200
    await run_jobs(ctx)
    assert (await credits_of(client, owner))["totalCredits"] == 55.0


async def test_unknown_event_types_are_acknowledged_and_ignored(billing, owner):
    client, ctx = billing
    unknown = event("customer.tax_id.created", {"id": "txi_1", "object": "tax_id"})
    answer = await deliver(client, unknown)
    assert answer.status_code == 200 and answer.json() == {"received": True}
    await run_jobs(ctx)
    [stored] = await fetch(ctx, "select type, processed_at, last_error from inbound_events")
    assert stored["type"] == "customer.tax_id.created"
    assert stored["processed_at"] is not None
    assert stored["last_error"].startswith("ignored")
    assert (await credits_of(client, owner))["totalCredits"] == 5.0

    # Signed, but not an event at all: refused, not stored.
    junk = await deliver(client, {"hello": "world"})
    assert junk.status_code == 400 and junk.json()["code"] == "BAD_REQUEST"
    assert len(await fetch(ctx, "select id from inbound_events")) == 1


async def test_processing_an_event_twice_applies_it_once(billing, owner, fake_stripe):
    """The job may run again for an event (a retry after a crash, a stalled job handed back):
    the event's row is locked and its `processed_at` commits with its effects."""
    client, ctx = billing
    response = await client.post(
        "/api/billing/checkout", headers=owner.headers, json={"amount": 30}
    )
    session = fake_stripe.complete_checkout(response.json()["data"]["session_id"])
    completed = event("checkout.session.completed", session)
    await deliver(client, completed)
    await asyncio.gather(*(process(ctx, completed["id"]) for _ in range(3)))
    await run_jobs(ctx)
    assert (await credits_of(client, owner))["totalCredits"] == 35.0


async def test_an_event_that_fails_is_kept_with_its_error_and_retried(billing, owner):
    client, ctx = billing
    broken = {
        "id": "cs_test_broken",
        "object": "checkout.session",
        "mode": "payment",
        "payment_status": "paid",
        "currency": "usd",
        "amount_subtotal": "a lot",
        "metadata": {"workspace_id": owner.workspace_id},
    }
    await deliver(client, event("checkout.session.completed", broken))
    await run_jobs(ctx)
    [stored] = await fetch(ctx, "select processed_at, attempts, last_error from inbound_events")
    assert stored["processed_at"] is None and stored["attempts"] == 1
    assert "ValueError" in stored["last_error"]
    [job] = await fetch(
        ctx,
        "select status::text from procrastinate_jobs where task_name = 'inbound.process'",
    )
    assert job["status"] == "todo"  # to be tried again, with backoff
    assert (await credits_of(client, owner))["totalCredits"] == 5.0  # nothing half-applied


async def test_a_body_that_is_not_utf8_is_refused_and_nothing_is_stored(billing, owner):
    client, ctx = billing
    body = b'{"id": "evt_1", "type": "invoice.paid", "data": {"object": {"n": "\xff\xfe"}}}'
    t = int(time.time())
    # Signed over its exact bytes, as well as a body that is not text can be.
    digest = hmac.new(WEBHOOK_SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256)
    for signature in [f"t={t},v1={digest.hexdigest()}", signature_header("{}")]:
        answer = await client.post(
            "/api/webhooks/stripe", content=body, headers={"Stripe-Signature": signature}
        )
        assert answer.status_code == 400, answer.text
        assert answer.json()["code"] == "INVALID_SIGNATURE"
    assert await fetch(ctx, "select * from inbound_events") == []


async def test_an_event_whose_job_ran_out_of_retries_is_processed_when_stripe_delivers_it_again(
    billing, owner, fake_stripe
):
    client, ctx = billing
    response = await client.post(
        "/api/billing/checkout", headers=owner.headers, json={"amount": 40}
    )
    session = fake_stripe.complete_checkout(response.json()["data"]["session_id"])
    completed = event("checkout.session.completed", session)
    assert (await deliver(client, completed)).status_code == 200
    await give_up_stripe_jobs(ctx)
    await run_jobs(ctx)
    assert (await credits_of(client, owner))["totalCredits"] == 5.0  # never processed

    # Stripe delivers it again (twice): its job is queued again, once.
    for _ in range(2):
        answer = await deliver(client, completed)
        assert answer.status_code == 200 and answer.json() == {"received": True}
    assert await stripe_jobs(ctx) == ["failed", "todo"]
    await run_jobs(ctx)
    assert (await credits_of(client, owner))["totalCredits"] == 45.0
    [stored] = await fetch(ctx, "select processed_at, attempts from inbound_events")
    assert stored["processed_at"] is not None and stored["attempts"] == 1

    # Processed: a further delivery queues nothing.
    await deliver(client, completed)
    assert await stripe_jobs(ctx) == ["failed"]
    assert (await credits_of(client, owner))["totalCredits"] == 45.0


async def test_the_sweeper_processes_events_whose_job_ran_out_of_retries(
    billing, owner, fake_stripe
):
    """Stripe stops delivering an event once we answered 200: the sweeper queues again the
    events left unprocessed for more than 10 minutes."""
    client, ctx = billing
    sessions = []
    for amount in (10, 20):
        response = await client.post(
            "/api/billing/checkout", headers=owner.headers, json={"amount": amount}
        )
        sessions.append(fake_stripe.complete_checkout(response.json()["data"]["session_id"]))
    old, recent = (event("checkout.session.completed", s) for s in sessions)
    for evt in (old, recent):
        await deliver(client, evt)
    await give_up_stripe_jobs(ctx)
    async with ctx.db.system() as conn:
        await conn.execute(
            "update inbound_events set received_at = now() - interval '11 minutes'"
            " where event_id = %s",
            (old["id"],),
        )

    assert await inbound.requeue_stale(ctx.db) == 1  # not the recent one
    assert await inbound.requeue_stale(ctx.db) == 0  # its job waits: once
    assert await stripe_jobs(ctx) == ["failed", "failed", "todo"]
    await run_jobs(ctx)
    assert (await credits_of(client, owner))["totalCredits"] == 15.0
    assert await inbound.requeue_stale(ctx.db) == 0  # processed now
    assert "inbound.retry_stale" in billing_tasks.task_app.tasks


def test_the_worker_knows_the_billing_jobs():
    """`voxtro worker` imports only TASK_MODULES: a job module missing there is a job that no
    standalone worker can run."""
    assert "backend.billing.tasks" in TASK_MODULES


# -- plans, the meter -----------------------------------------------------------------------------


async def test_subscribing_to_a_plan_goes_through_checkout_and_its_webhook(
    billing, owner, fake_stripe
):
    client, ctx = billing
    plan = await add_plan(ctx, fake_stripe)
    unknown = await client.post(
        "/api/billing/subscribe", headers=owner.headers, json={"plan": "platinum"}
    )
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["field"] == "plan"

    session = await subscribe(client, ctx, fake_stripe, owner, "growth")
    sent = [p for _, path, p in fake_stripe.requests if path == "/v1/checkout/sessions"][-1]
    assert sent["line_items"] == [{"price": plan["fee"], "quantity": "1"}, {"price": plan["usage"]}]
    assert sent["subscription_data"]["metadata"] == {
        "workspace_id": owner.workspace_id,
        "plan": "growth",
    }
    state = await overview(client, owner)
    assert (state["mode"], state["plan"], state["subscription_status"]) == (
        "subscription",
        "growth",
        "active",
    )
    assert state["plans"] == [{"code": "growth", "name": "Growth", "included_usage": 20.0}]

    again = await client.post(
        "/api/billing/subscribe", headers=owner.headers, json={"plan": "growth"}
    )
    assert again.status_code == 409

    # Stripe's later word on the subscription; an older event delivered late changes nothing.
    subscription = {
        "id": session["subscription"],
        "object": "subscription",
        "customer": session["customer"],
        "status": "past_due",
        "items": {"object": "list", "data": [{"price": {"id": plan["fee"]}}]},
    }
    now = int(time.time())
    await deliver(client, event("customer.subscription.updated", subscription, created=now + 5))
    stale = {**subscription, "status": "active"}
    await deliver(client, event("customer.subscription.updated", stale, created=now + 1))
    await run_jobs(ctx)
    assert (await overview(client, owner))["subscription_status"] == "past_due"

    ended = {**subscription, "status": "canceled"}
    await deliver(client, event("customer.subscription.deleted", ended, created=now + 10))
    await run_jobs(ctx)
    state = await overview(client, owner)
    assert (state["mode"], state["plan"], state["subscription_status"]) == (
        "prepaid",
        None,
        "canceled",
    )


async def test_usage_is_reported_to_the_meter_once_per_row_at_its_cost(billing, owner, fake_stripe):
    client, ctx = billing
    await add_plan(ctx, fake_stripe)
    # Before the plan: prepaid usage, never metered.
    await seed_usage(ctx, owner.workspace_id, ["0.5"], ago=timedelta(hours=1))
    session = await subscribe(client, ctx, fake_stripe, owner, "growth")
    costs = ["0.000001", "0.001234", "0.5", "1.25", "0.02"]
    metered = await seed_usage(ctx, owner.workspace_id, costs)
    await seed_usage(ctx, owner.workspace_id, ["0"])  # cost nothing
    await seed_usage(ctx, owner.workspace_id, ["0.3"], is_preview=True)  # the admin's preview

    async with ctx.db.system() as conn:
        await enqueue(conn, billing_tasks.report_usage, timestamp=int(time.time()))
    await run_jobs(ctx)
    await meter.report_usage(ctx.db, ctx.settings)  # the next minute: nothing new

    events = fake_stripe.meter_events
    assert set(events) == {str(i) for i in metered}
    expected = dict(
        zip(map(str, metered), ["1", "1234", "500000", "1250000", "20000"], strict=True)
    )
    for identifier, sent in events.items():
        assert sent["event_name"] == METER_EVENT_NAME
        assert sent["payload"] == {
            "stripe_customer_id": session["customer"],
            "value": expected[identifier],
        }
    # Hand-computed: 0.000001 + 0.001234 + 0.5 + 1.25 + 0.02 = 1.771235 dollars.
    assert sum(int(e["payload"]["value"]) for e in events.values()) == 1_771_235
    marked = await reports(ctx)
    assert [r["usage_id"] for r in marked] == sorted(metered)
    assert {r["status"] for r in marked} == {"reported"}
    meter_calls = [p for _, path, p in fake_stripe.requests if path == "/v1/billing/meter_events"]
    assert len(meter_calls) == len(costs)  # nothing was sent twice


async def test_usage_written_while_prepaid_is_never_metered(billing, owner, fake_stripe):
    """Whether a row is metered is decided when it is written: a row written while the
    workspace was prepaid (charged to its credits) is not metered when the plan starts later,
    however early Stripe dated the plan's start."""
    client, ctx = billing
    await add_plan(ctx, fake_stripe)
    response = await client.post(
        "/api/billing/subscribe", headers=owner.headers, json={"plan": "growth"}
    )
    session = fake_stripe.complete_checkout(response.json()["data"]["session_id"])
    # Stripe created the event ten minutes ago; our worker gets to it only now.
    completed = event("checkout.session.completed", session, created=int(time.time()) - 600)
    await deliver(client, completed)
    await seed_usage(ctx, owner.workspace_id, ["0.25"])  # still prepaid
    await run_jobs(ctx)
    assert (await overview(client, owner))["mode"] == "subscription"
    [metered] = await seed_usage(ctx, owner.workspace_id, ["0.5"])
    assert [r["usage_id"] for r in await outbox(ctx)] == [metered]

    await meter.report_usage(ctx.db, ctx.settings)
    assert set(fake_stripe.meter_events) == {str(metered)}
    assert [r["usage_id"] for r in await reports(ctx)] == [metered]


async def test_a_call_is_charged_to_credits_or_metered_never_both(
    billing, owner, fake_stripe, fake_openai
):
    """The chat engine writes usage as a tenant; the outbox is filled at its commit, from the
    same billing mode that decided whether the call was charged to credits."""
    client, ctx = billing
    await add_plan(ctx, fake_stripe)
    await connect_openai(client, owner, fake_openai.key)
    bot = await create_chatbot(client, owner)

    assert (await chat(client, bot["id"], "Hello", visitor_id="v1")).status_code == 200
    used = (await credits_of(client, owner))["usedCredits"]
    assert used > 0 and await outbox(ctx) == []  # prepaid: charged, not metered

    await subscribe(client, ctx, fake_stripe, owner, "growth")
    assert (await chat(client, bot["id"], "Hello again", visitor_id="v2")).status_code == 200
    assert (await credits_of(client, owner))["usedCredits"] == used  # on a plan: not charged
    [queued] = await outbox(ctx)
    [usage] = await fetch(ctx, "select id, cost from token_usage where id = %s", queued["usage_id"])
    assert queued["value"] == meter_value(usage["cost"]) > 0


async def test_usage_of_a_plan_that_ends_before_the_meter_runs_is_still_reported(
    billing, owner, fake_stripe
):
    client, ctx = billing
    await add_plan(ctx, fake_stripe)
    session = await subscribe(client, ctx, fake_stripe, owner, "growth")
    metered = await seed_usage(ctx, owner.workspace_id, ["0.1", "0.2"])
    ended = event("customer.subscription.deleted", subscription_of(session, "canceled"))
    await deliver(client, ended)
    await process(ctx, ended["id"])  # before any meter run
    assert (await overview(client, owner))["mode"] == "prepaid"
    await seed_usage(ctx, owner.workspace_id, ["0.4"])  # prepaid again: not metered

    run = await meter.report_usage(ctx.db, ctx.settings)
    assert run.reported == 2
    assert set(fake_stripe.meter_events) == {str(i) for i in metered}
    assert {e["payload"]["stripe_customer_id"] for e in fake_stripe.meter_events.values()} == {
        session["customer"]
    }
    assert await outbox(ctx) == []  # reported rows leave the outbox: runs read what is pending


async def test_a_workspace_stripe_fails_for_waits_while_the_others_are_reported(
    billing, owner, fake_stripe, anon_key
):
    """A 500 for one workspace's event sets that workspace aside for the run, not the others;
    the retry goes through, since no fixed idempotency key makes Stripe replay the 500."""
    client, ctx = billing
    await add_plan(ctx, fake_stripe)
    await subscribe(client, ctx, fake_stripe, owner, "growth")
    other = await create_admin(client, anon_key, "other")
    await subscribe(client, ctx, fake_stripe, other, "growth")
    # The owner's rows are older: they are sent first.
    first = await seed_usage(ctx, owner.workspace_id, ["0.01"] * 3, ago=timedelta(minutes=5))
    others = await seed_usage(ctx, other.workspace_id, ["0.02"] * 12)

    fake_stripe.fail_next(1, 500)  # Stripe fails the owner's first event
    with pytest.raises(StripeFailure) as failed:
        await meter.report_usage(ctx.db, ctx.settings)
    assert failed.value.retryable is True  # the job is retried (ProviderRetry)
    assert set(fake_stripe.meter_events) == {str(i) for i in others}
    assert len(await outbox(ctx)) == 3

    run = await meter.report_usage(ctx.db, ctx.settings)  # the job's retry
    assert (run.reported, run.deferred) == (3, {})
    assert set(fake_stripe.meter_events) == {str(i) for i in [*first, *others]}
    assert await outbox(ctx) == []
    keys = [
        key
        for (_, path, _), key in zip(
            fake_stripe.requests, fake_stripe.idempotency_keys, strict=True
        )
        if path == "/v1/billing/meter_events"
    ]
    assert len(keys) == 16 and len(set(keys)) == 16  # one key per attempt, none reused
    assert not any(str(key).startswith("meter-event-") for key in keys)


async def test_no_transaction_is_held_open_while_stripe_answers(billing, owner, fake_stripe):
    client, ctx = billing
    await add_plan(ctx, fake_stripe)
    await subscribe(client, ctx, fake_stripe, owner, "growth")
    ids = await seed_usage(ctx, owner.workspace_id, ["0.01"] * 3)

    sent_before = len(fake_stripe.requests)
    fake_stripe.stall_after(1)  # Stripe takes the first event, then hangs
    run = asyncio.create_task(meter.report_usage(ctx.db, ctx.settings))
    for _ in range(500):
        if len(fake_stripe.requests) >= sent_before + 2:
            break
        await asyncio.sleep(0.01)
    open_transactions = await fetch(
        ctx,
        "select count(*) as n from pg_stat_activity where datname = current_database()"
        " and pid <> pg_backend_pid() and state like 'idle in transaction%%'",
    )
    assert open_transactions == [{"n": 0}]
    # Another run meanwhile leaves the rows leased to the first one alone.
    assert (await meter.report_usage(ctx.db, ctx.settings)).reported == 0
    assert len(fake_stripe.requests) == sent_before + 2

    fake_stripe.release()  # the hung request fails: that workspace waits for the retry
    with pytest.raises(StripeFailure):
        await run
    [accepted] = fake_stripe.meter_events  # the first (ids share their time: any of them)
    assert [str(r["usage_id"]) for r in await reports(ctx)] == [accepted]
    assert (await meter.report_usage(ctx.db, ctx.settings)).reported == 2
    assert set(fake_stripe.meter_events) == {str(i) for i in ids}


async def test_a_paused_subscription_is_not_metered_until_it_resumes(billing, owner, fake_stripe):
    client, ctx = billing
    plan = await add_plan(ctx, fake_stripe)
    session = await subscribe(client, ctx, fake_stripe, owner, "growth")
    items = {"object": "list", "data": [{"price": {"id": plan["fee"]}}]}
    now = int(time.time())
    paused = subscription_of(session, "paused", items=items)
    await deliver(client, event("customer.subscription.paused", paused, created=now + 5))
    await run_jobs(ctx)
    state = await overview(client, owner)
    assert (state["mode"], state["plan"], state["subscription_status"]) == (
        "prepaid",
        "growth",
        "paused",
    )
    await seed_usage(ctx, owner.workspace_id, ["0.3"])  # paused: charged to credits
    again = await client.post(
        "/api/billing/subscribe", headers=owner.headers, json={"plan": "growth"}
    )
    assert again.status_code == 409  # it may resume: a second one would bill twice

    resumed = subscription_of(session, "active", items=items)
    await deliver(client, event("customer.subscription.resumed", resumed, created=now + 10))
    await run_jobs(ctx)
    assert (await overview(client, owner))["mode"] == "subscription"
    [metered] = await seed_usage(ctx, owner.workspace_id, ["0.7"])
    await meter.report_usage(ctx.db, ctx.settings)
    assert set(fake_stripe.meter_events) == {str(metered)}


async def test_a_subscription_that_ended_before_its_checkout_was_processed_never_starts(
    billing, owner, fake_stripe
):
    client, ctx = billing
    await add_plan(ctx, fake_stripe)
    response = await client.post(
        "/api/billing/subscribe", headers=owner.headers, json={"plan": "growth"}
    )
    session = fake_stripe.complete_checkout(response.json()["data"]["session_id"])
    now = int(time.time())
    ended = event(
        "customer.subscription.deleted", subscription_of(session, "canceled"), created=now + 5
    )
    completed = event("checkout.session.completed", session, created=now)
    await deliver(client, ended)
    await deliver(client, completed)
    await process(ctx, ended["id"])  # the end is processed first
    await process(ctx, completed["id"])
    state = await overview(client, owner)
    assert (state["mode"], state["plan"]) == ("prepaid", None)
    [stored] = await fetch(
        ctx, "select last_error from inbound_events where event_id = %s", completed["id"]
    )
    assert stored["last_error"] == "ignored: the subscription has already ended"
    await seed_usage(ctx, owner.workspace_id, ["0.3"])
    assert await outbox(ctx) == []
    again = await client.post(
        "/api/billing/subscribe", headers=owner.headers, json={"plan": "growth"}
    )
    assert again.status_code == 200, again.text


async def test_the_meter_tables_have_only_the_indexes_something_reads(billing):
    _, ctx = billing
    rows = await fetch(
        ctx,
        "select tablename, indexname from pg_indexes where schemaname = 'public'"
        " and tablename in ('usage_meter_reports', 'meter_outbox')"
        " order by 1, 2",
    )
    assert [(r["tablename"], r["indexname"]) for r in rows] == [
        ("meter_outbox", "meter_outbox_order_idx"),  # the claim's order
        ("meter_outbox", "meter_outbox_pkey"),
        ("usage_meter_reports", "usage_meter_reports_pkey"),
    ]


async def test_a_meter_run_that_fails_half_way_goes_on_where_it_stopped(
    billing, owner, fake_stripe
):
    client, ctx = billing
    await add_plan(ctx, fake_stripe)
    await subscribe(client, ctx, fake_stripe, owner, "growth")
    ids = await seed_usage(ctx, owner.workspace_id, ["0.01"] * 7)

    fake_stripe.fail_next(1, 500, after=3)  # Stripe accepts three events, then fails
    async with ctx.db.system() as conn:
        await enqueue(conn, billing_tasks.report_usage, timestamp=int(time.time()))
    await run_jobs(ctx)
    assert len(fake_stripe.meter_events) == 3
    assert len(await reports(ctx)) == 3  # what Stripe accepted is kept
    [job] = await fetch(
        ctx,
        "select status::text, attempts from procrastinate_jobs where task_name = 'billing.report_usage'",
    )
    assert (job["status"], job["attempts"]) == ("todo", 1)  # retried with backoff

    async with ctx.db.system() as conn:  # time passes: the backoff is over
        await conn.execute("update procrastinate_jobs set scheduled_at = now()")
    await run_jobs(ctx)
    assert set(fake_stripe.meter_events) == {str(i) for i in ids}
    marked = await reports(ctx)
    assert [r["usage_id"] for r in marked] == sorted(ids)


async def test_a_meter_run_killed_half_way_and_run_again_reports_each_row_once(
    billing, owner, fake_stripe
):
    client, ctx = billing
    await add_plan(ctx, fake_stripe)
    await subscribe(client, ctx, fake_stripe, owner, "growth")
    ids = await seed_usage(ctx, owner.workspace_id, ["0.002"] * 8)

    # Stripe accepts three events, then hangs: the worker is killed while it waits, after
    # Stripe recorded three events and before the run recorded anything.
    sent_before = len(fake_stripe.requests)
    fake_stripe.stall_after(3)
    run = asyncio.create_task(meter.report_usage(ctx.db, ctx.settings))
    for _ in range(500):
        if len(fake_stripe.requests) >= sent_before + 4:
            break
        await asyncio.sleep(0.01)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert len(fake_stripe.meter_events) == 3
    assert await reports(ctx) == []  # nothing was recorded before the kill
    fake_stripe.release()
    # The killed run's rows stay leased to it until the lease runs out.
    assert (await meter.report_usage(ctx.db, ctx.settings)).reported == 0
    async with ctx.db.system() as conn:  # the lease runs out
        await conn.execute("update meter_outbox set claimed_until = now() - interval '1 second'")

    result = await meter.report_usage(ctx.db, ctx.settings)
    assert result.reported == 8
    assert set(fake_stripe.meter_events) == {str(i) for i in ids}  # eight events, not eleven
    marked = await reports(ctx)
    assert [r["usage_id"] for r in marked] == sorted(ids)
    assert all(r["status"] == "reported" for r in marked)


async def test_concurrent_meter_runs_share_the_rows_instead_of_repeating_them(
    billing, owner, fake_stripe
):
    client, ctx = billing
    await add_plan(ctx, fake_stripe)
    await subscribe(client, ctx, fake_stripe, owner, "growth")
    ids = await seed_usage(ctx, owner.workspace_id, ["0.001"] * 150)

    runs = await asyncio.gather(*(meter.report_usage(ctx.db, ctx.settings) for _ in range(3)))
    assert sum(r.reported for r in runs) == 150
    assert set(fake_stripe.meter_events) == {str(i) for i in ids}
    meter_calls = [p for _, path, p in fake_stripe.requests if path == "/v1/billing/meter_events"]
    assert len(meter_calls) == 150  # SKIP LOCKED: no row was sent by two runs
    assert len(await reports(ctx)) == 150


async def test_usage_older_than_stripe_accepts_is_skipped_with_its_reason(
    billing, owner, fake_stripe
):
    client, ctx = billing
    await add_plan(ctx, fake_stripe)
    await subscribe(client, ctx, fake_stripe, owner, "growth")
    # Usage of the plan that waited long (the meter's job was down for weeks).
    [old] = await seed_usage(ctx, owner.workspace_id, ["0.4"], ago=timedelta(days=40))
    [recent] = await seed_usage(ctx, owner.workspace_id, ["0.4"], ago=timedelta(days=2))

    result = await meter.report_usage(ctx.db, ctx.settings)
    assert (result.reported, result.skipped) == (1, 1)
    assert set(fake_stripe.meter_events) == {str(recent)}
    by_id = {r["usage_id"]: r for r in await reports(ctx)}
    assert by_id[old]["status"] == "skipped" and "35 days" in by_id[old]["reason"]
    assert by_id[recent]["status"] == "reported"


async def test_a_refused_key_stops_the_run_and_marks_nothing(billing, owner, fake_stripe):
    client, ctx = billing
    await add_plan(ctx, fake_stripe)
    await subscribe(client, ctx, fake_stripe, owner, "growth")
    await seed_usage(ctx, owner.workspace_id, ["0.01"] * 2)
    settings = ctx.settings.model_copy(update={"stripe_secret_key": "sk_test_revoked"})
    with pytest.raises(StripeFailure) as refused:
        await meter.report_usage(ctx.db, settings)
    assert refused.value.status == 401 and refused.value.retryable is False
    assert await reports(ctx) == []  # nothing lost: the next run reports them
    assert (await meter.report_usage(ctx.db, ctx.settings)).reported == 2


# -- payments -----------------------------------------------------------------------------------


async def test_a_failed_payment_pauses_after_the_grace_period_and_paying_resumes(
    billing, owner, fake_stripe, fake_openai
):
    client, ctx = billing
    await add_plan(ctx, fake_stripe)
    session = await subscribe(client, ctx, fake_stripe, owner, "growth")
    await connect_openai(client, owner, fake_openai.key)
    bot = await create_chatbot(client, owner)
    invoice = {
        "id": "in_1",
        "object": "invoice",
        "customer": session["customer"],
        "subscription": session["subscription"],
        "status": "open",
    }
    now = int(time.time())
    await deliver(client, event("invoice.payment_failed", invoice, created=now))
    await run_jobs(ctx)
    state = await overview(client, owner)
    assert state["payment_failed_at"] is not None and state["is_paused"] is False

    assert await webhooks.pause_unpaid(ctx.db) == []  # within the grace period
    assert (await chat(client, bot["id"], "Hello")).status_code == 200

    async with ctx.db.system() as conn:  # a week and a day go by
        await conn.execute(
            "update billing_accounts set payment_failed_at = now() - interval '8 days'"
        )
    assert await webhooks.pause_unpaid(ctx.db) == [UUID(owner.workspace_id)]
    state = await overview(client, owner)
    assert (state["is_paused"], state["paused_reason"]) == (True, "payment")
    calls = len(fake_openai.chat_requests)
    refused = await chat(client, bot["id"], "Hello again", visitor_id="v2")
    assert refused.status_code == 403
    assert refused.json()["code"] == "INSUFFICIENT_BUDGET"
    assert len(fake_openai.chat_requests) == calls  # refused before the model was called
    assert (await credits_of(client, owner))["isPaused"] is True

    paid = {**invoice, "status": "paid"}
    await deliver(client, event("invoice.paid", paid, created=now + 60))
    # The failure, delivered again late (older than the payment), changes nothing.
    await deliver(client, event("invoice.payment_failed", invoice, created=now + 30))
    await run_jobs(ctx)
    state = await overview(client, owner)
    assert (state["is_paused"], state["paused_reason"], state["payment_failed_at"]) == (
        False,
        None,
        None,
    )
    assert (await chat(client, bot["id"], "Back?", visitor_id="v3")).status_code == 200


async def test_the_end_of_a_plan_ends_its_payment_failure_and_pause(billing, owner, fake_stripe):
    client, ctx = billing
    await add_plan(ctx, fake_stripe)
    session = await subscribe(client, ctx, fake_stripe, owner, "growth")
    now = int(time.time())
    await deliver(client, event("invoice.payment_failed", invoice_of(session, "in_1"), created=now))
    await run_jobs(ctx)
    async with ctx.db.system() as conn:  # a week and a day go by
        await conn.execute(
            "update billing_accounts set payment_failed_at = now() - interval '8 days'"
        )
    assert await webhooks.pause_unpaid(ctx.db) == [UUID(owner.workspace_id)]

    # Stripe's dunning gives up and cancels the plan: the workspace is prepaid, on its credits.
    ended = subscription_of(session, "canceled")
    await deliver(client, event("customer.subscription.deleted", ended, created=now + 10))
    await run_jobs(ctx)
    account = await account_of(ctx, owner)
    assert (account["billing_mode"], account["is_paused"], account["paused_reason"]) == (
        "prepaid",
        False,
        None,
    )
    assert account["payment_failed_at"] is None and account["failed_invoice_id"] is None
    assert await webhooks.pause_unpaid(ctx.db) == []
    # Stripe still tries the open invoice: its failure starts nothing without a plan.
    again = event("invoice.payment_failed", invoice_of(session, "in_1"), created=now + 20)
    await deliver(client, again)
    await run_jobs(ctx)
    assert (await account_of(ctx, owner))["payment_failed_at"] is None


async def test_only_a_workspace_on_a_plan_is_paused_for_payment(billing, owner):
    _, ctx = billing
    async with ctx.db.system() as conn:  # a prepaid workspace with a failure on record
        await conn.execute(
            "update billing_accounts set payment_failed_at = now() - interval '30 days'"
            " where workspace_id = %s",
            (owner.workspace_id,),
        )
    assert await webhooks.pause_unpaid(ctx.db) == []
    assert (await account_of(ctx, owner))["is_paused"] is False


async def test_a_voided_or_uncollectible_invoice_ends_the_failure_it_started(
    billing, owner, fake_stripe
):
    client, ctx = billing
    await add_plan(ctx, fake_stripe)
    session = await subscribe(client, ctx, fake_stripe, owner, "growth")
    now = int(time.time())
    await deliver(client, event("invoice.payment_failed", invoice_of(session, "in_1"), created=now))
    await run_jobs(ctx)
    async with ctx.db.system() as conn:
        await conn.execute(
            "update billing_accounts set payment_failed_at = now() - interval '8 days'"
        )
    assert await webhooks.pause_unpaid(ctx.db) == [UUID(owner.workspace_id)]

    # Another invoice voided: the failure of in_1 stands.
    other = event("invoice.voided", invoice_of(session, "in_2", "void"), created=now + 5)
    await deliver(client, other)
    await run_jobs(ctx)
    account = await account_of(ctx, owner)
    assert (account["is_paused"], account["failed_invoice_id"]) == (True, "in_1")
    [stored] = await fetch(
        ctx, "select last_error from inbound_events where event_id = %s", other["id"]
    )
    assert stored["last_error"].startswith("ignored")

    # in_1 written off: the business stopped collecting it, the pause it caused ends.
    written_off = invoice_of(session, "in_1", "uncollectible")
    await deliver(client, event("invoice.marked_uncollectible", written_off, created=now + 10))
    await run_jobs(ctx)
    account = await account_of(ctx, owner)
    assert (account["is_paused"], account["paused_reason"], account["payment_failed_at"]) == (
        False,
        None,
        None,
    )

    # A new failure starts a new grace period; voiding that invoice ends it.
    await deliver(
        client, event("invoice.payment_failed", invoice_of(session, "in_3"), created=now + 20)
    )
    await run_jobs(ctx)
    assert (await account_of(ctx, owner))["failed_invoice_id"] == "in_3"
    voided = invoice_of(session, "in_3", "void")
    await deliver(client, event("invoice.voided", voided, created=now + 30))
    await run_jobs(ctx)
    account = await account_of(ctx, owner)
    assert account["payment_failed_at"] is None and account["failed_invoice_id"] is None


async def test_the_billing_portal_link(billing, owner, fake_stripe):
    client, _ = billing
    response = await client.post(
        "/api/billing/portal", headers=owner.headers, json={"return_url": "http://test/console"}
    )
    assert response.status_code == 200, response.text
    [portal] = fake_stripe.portal_sessions
    assert response.json() == {"success": True, "data": {"url": portal["url"]}}
    assert portal["return_url"] == "http://test/console"
    [customer] = fake_stripe.customers.values()  # created on first use
    assert portal["customer"] == customer["id"]
    # Without a body: back to our own site.
    assert (await client.post("/api/billing/portal", headers=owner.headers)).status_code == 200
    assert len(fake_stripe.customers) == 1


async def test_stripe_down_is_a_clear_502(billing, owner, fake_stripe):
    client, _ = billing
    fake_stripe.fail_next(3, 503)  # the first try and stripe-python's two retries
    response = await client.post(
        "/api/billing/checkout", headers=owner.headers, json={"amount": 10}
    )
    assert response.status_code == 502
    assert response.json()["code"] == "PROVIDER_UNAVAILABLE"


async def test_only_owners_and_admins_manage_billing(billing, owner, anon_key):
    client, _ = billing
    email = unique_email("agent")
    session = await sign_up(client, anon_key, email=email)
    added = await client.post(
        f"/api/workspaces/{owner.workspace_id}/members",
        headers=owner.headers,
        json={"email": email, "role": "agent"},
    )
    assert added.status_code == 201, added.text
    agent = {
        "Authorization": f"Bearer {session['access_token']}",
        "X-Workspace-Id": owner.workspace_id,
    }
    for method, path, body in [
        ("GET", "/api/billing", None),
        ("POST", "/api/billing/checkout", {"amount": 10}),
        ("POST", "/api/billing/portal", None),
    ]:
        response = await client.request(method, path, headers=agent, json=body)
        assert response.status_code == 403, (path, response.text)
