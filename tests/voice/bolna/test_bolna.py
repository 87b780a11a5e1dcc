"""Order confirmation calls through Bolna (CHICX integration guide §2.5) and Bolna's execution
webhook, against a fake Bolna in its wire format."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import httpx
import pytest

from backend.context import AppContext
from tests.conftest import app_with
from tests.fakes.bolna import API_KEY, FakeBolna, execution
from tests.fixtures.connections import stored_connections
from tests.fixtures.factories import Admin, create_api_key
from tests.fixtures.jobs import run_inbound_jobs

# The guide's request body, byte for byte.
DOC_BODY = """{
  "phone": "9876543210",
  "order_id": "ORD123456",
  "customer_name": "Rahul",
  "items": [
    {"name": "Blue Saree", "qty": 1, "price": 2499},
    {"name": "Cotton Kurti", "qty": 2, "price": 799}
  ],
  "total_amount": 4097.00,
  "cod": true,
  "delivery_address": "123 Main Street, Chennai 600001"
}"""
ORDER = {"phone": "9876543210", "order_id": "ORD123456", "total_amount": 4097.0}
CONFIRM = "/webhooks/chicx/confirm-order"


@pytest.fixture(scope="module")
def bolna_server() -> Iterator[FakeBolna]:
    with FakeBolna() as fake:
        yield fake


@pytest.fixture
def bolna(bolna_server: FakeBolna) -> FakeBolna:
    bolna_server.reset()
    return bolna_server


@pytest.fixture
async def api(
    database_url: str, bolna: FakeBolna
) -> AsyncIterator[tuple[httpx.AsyncClient, AppContext]]:
    """The api, with Bolna pointing at the fake."""
    async with app_with(database_url, bolna_base_url=bolna.url) as (client, context):
        yield client, context


async def connect(
    client: httpx.AsyncClient, admin: Admin, agent_id: str, **fields: Any
) -> httpx.Response:
    return await client.put(
        "/api/bolna/connection",
        headers=admin.headers,
        json={"api_key": API_KEY, "agent_id": agent_id, **fields},
    )


async def stored(context: AppContext, table: str) -> list[dict[str, Any]]:
    """The table as a user sees it moments after the deliveries: once the worker has run the
    jobs they queued (a webhook is answered at once and applied by a job)."""
    await run_inbound_jobs(context)
    async with context.db.system() as conn:
        return await (await conn.execute(f"select * from public.{table}")).fetchall()


async def rename(client: httpx.AsyncClient, admin: Admin, slug: str) -> None:
    response = await client.patch(
        f"/api/workspaces/{admin.workspace_id}", headers=admin.headers, json={"slug": slug}
    )
    assert response.status_code == 200, response.text


@pytest.fixture
async def chicx(api, admin, bolna) -> dict[str, Any]:
    """The workspace `chicx`, connected to Bolna, with a key that sends notifications; its
    webhook URL (path only) and agent."""
    client, _ = api
    await rename(client, admin, "chicx")
    agent_id = bolna.add_agent()
    response = await connect(client, admin, agent_id)
    assert response.status_code == 200, response.text
    key = await create_api_key(client, admin, ["notifications:send"])
    return {
        "key": key["key"],
        "agent_id": agent_id,
        "webhook": response.json()["webhook_url"].removeprefix("http://test"),
    }


async def confirm(
    client: httpx.AsyncClient, key: str, body: dict[str, Any] | None = None
) -> httpx.Response:
    return await client.post(CONFIRM, headers={"X-CHICX-Secret": key}, json=body or ORDER)


# -- the connection -----------------------------------------------------------------------------


async def test_connect_checks_key_and_agent_and_shows_the_webhook_url_once(api, admin, bolna):
    client, context = api
    agent_id = bolna.add_agent("COD confirmation")
    response = await connect(client, admin, agent_id, from_phone_number="+91 80357 37600")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["connected"] is True and body["status"] == "valid"
    assert (body["agent_id"], body["agent_name"]) == (agent_id, "COD confirmation")
    assert body["api_key_last4"] == API_KEY[-4:]
    assert body["from_phone_number"] == "+918035737600"
    assert body["default_country"] == "IN"  # the workspace has no phone of its own
    url = body["webhook_url"]
    assert url.startswith("http://test/api/webhooks/bolna/")
    token = url.rsplit("/", 1)[1]
    assert len(token) >= 40
    assert ("GET", "/user/me", None) in bolna.requests
    assert ("GET", f"/v2/agent/{agent_id}", None) in bolna.requests

    [row] = await stored_connections(context, "bolna")
    text = " ".join(str(v) for v in row.values())
    assert API_KEY not in text and token not in text
    assert context.secrets.decrypt(row["secrets"]["api_key"]) == API_KEY

    again = await connect(client, admin, agent_id)
    assert again.status_code == 200, again.text
    assert again.json()["webhook_url"] is None  # kept, and not shown again
    assert again.json()["from_phone_number"] is None
    status = await client.get("/api/bolna/connection", headers=admin.headers)
    assert status.status_code == 200, status.text
    assert status.json()["connected"] is True and status.json()["webhook_url"] is None

    rotated = await connect(client, admin, agent_id, rotate_webhook_url=True)
    new_url = rotated.json()["webhook_url"]
    assert new_url and new_url != url
    old = await client.post(
        url.removeprefix("http://test"), json=execution("x", "queued", agent_id=agent_id)
    )
    assert old.status_code == 401


async def test_not_connected_yet(api, admin):
    client, _ = api
    response = await client.get("/api/bolna/connection", headers=admin.headers)
    assert response.status_code == 200, response.text
    assert response.json()["connected"] is False


async def test_connect_with_a_wrong_key_names_it_and_stores_nothing(api, admin, bolna):
    client, context = api
    response = await client.put(
        "/api/bolna/connection",
        headers=admin.headers,
        json={"api_key": "bn-wrong-key-000000", "agent_id": bolna.add_agent()},
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert [e["field"] for e in response.json()["errors"]] == ["api_key"]
    assert await stored_connections(context, "bolna") == []


async def test_connect_with_an_unknown_agent_names_it(api, admin, bolna):
    client, context = api
    response = await connect(client, admin, "7c1e2d3f-0000-4000-8000-000000000000")
    assert response.status_code == 400, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["agent_id"]
    assert await stored_connections(context, "bolna") == []


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"from_phone_number": "12"}, "from_phone_number"),
        ({"default_country": "XX"}, "default_country"),
    ],
)
async def test_connect_refuses_bad_settings_before_asking_bolna(api, admin, bolna, fields, field):
    client, _ = api
    response = await connect(client, admin, bolna.add_agent(), **fields)
    assert response.status_code == 400, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert bolna.requests == []


async def test_connect_when_bolna_is_down_is_502(api, admin, bolna):
    client, context = api
    agent_id = bolna.add_agent()
    bolna.fail_next(1, 503)
    response = await connect(client, admin, agent_id)
    assert response.status_code == 502, response.text
    assert response.json()["code"] == "PROVIDER_UNAVAILABLE"
    assert await stored_connections(context, "bolna") == []


async def test_default_country_follows_the_workspace_phone(api, admin, bolna):
    client, _ = api
    profile = await client.patch(
        "/api/business/me", headers=admin.headers, json={"phone": "+1 415 555 0100"}
    )
    assert profile.status_code == 200, profile.text
    response = await connect(client, admin, bolna.add_agent())
    assert response.json()["default_country"] == "US"
    chosen = await connect(client, admin, bolna.add_agent(), default_country="in")
    assert chosen.json()["default_country"] == "IN"
    # The workspace's country, once set, wins over its phone's; the connection's own still wins.
    patched = await client.patch("/api/business/me", headers=admin.headers, json={"country": "GB"})
    assert patched.status_code == 200, patched.text
    assert (await connect(client, admin, bolna.add_agent())).json()["default_country"] == "GB"
    chosen = await connect(client, admin, bolna.add_agent(), default_country="IN")
    assert chosen.json()["default_country"] == "IN"


async def test_only_owners_and_admins_connect(api, admin, other_admin, bolna):
    client, context = api
    added = await client.post(
        f"/api/workspaces/{admin.workspace_id}/members",
        headers=admin.headers,
        json={"email": other_admin.email, "role": "agent"},
    )
    assert added.status_code == 201, added.text
    response = await client.put(
        "/api/bolna/connection",
        headers={**other_admin.headers, "X-Workspace-Id": admin.workspace_id},
        json={"api_key": API_KEY, "agent_id": bolna.add_agent()},
    )
    assert response.status_code == 403, response.text
    assert bolna.requests == []
    assert await stored_connections(context, "bolna") == []


# -- confirm-order ------------------------------------------------------------------------------


async def test_the_guides_request_places_the_call_with_the_order(api, chicx, bolna):
    client, context = api
    response = await client.post(
        CONFIRM,
        headers={"Content-Type": "application/json", "X-CHICX-Secret": chicx["key"]},
        content=DOC_BODY,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    [call] = await stored(context, "calls")
    [execution_id] = bolna.calls
    assert body == {
        "status": "ok",
        "message": "Confirmation call initiated for order ORD123456",
        "order_id": "ORD123456",
        "call_id": str(call["id"]),
        "phone": "9876543210",
        "execution_id": execution_id,
    }
    assert bolna.placed == [
        {
            "agent_id": chicx["agent_id"],
            "recipient_phone_number": "+919876543210",
            "user_data": {
                "customer_name": "Rahul",
                "order_id": "ORD123456",
                "items": "1 x Blue Saree at 2499 each; 2 x Cotton Kurti at 799 each",
                "item_list": [
                    {"name": "Blue Saree", "qty": 1, "price": 2499.0},
                    {"name": "Cotton Kurti", "qty": 2, "price": 799.0},
                ],
                "total_amount": 4097.0,
                "cod": True,
                "delivery_address": "123 Main Street, Chennai 600001",
            },
        }
    ]
    assert (call["provider"], call["provider_call_id"], call["agent_id"]) == (
        "bolna",
        execution_id,
        chicx["agent_id"],
    )
    assert (call["direction"], call["status"], call["phone"]) == (
        "outbound",
        "queued",
        "919876543210",
    )
    assert call["started_at"] is not None
    assert call["metadata"]["order"]["order_id"] == "ORD123456"
    assert call["metadata"]["order"]["cod"] is True


async def test_x_api_key_and_any_header_case_work_too(api, chicx, bolna):
    client, _ = api
    by_api_key = await client.post(
        CONFIRM, headers={"X-API-Key": chicx["key"]}, json={**ORDER, "order_id": "A1"}
    )
    assert by_api_key.status_code == 200, by_api_key.text
    lower = await client.post(
        CONFIRM, headers={"x-chicx-secret": chicx["key"]}, json={**ORDER, "order_id": "A2"}
    )
    assert lower.status_code == 200, lower.text
    assert len(bolna.placed) == 2


async def test_the_connections_caller_id_is_used(api, admin, chicx, bolna):
    client, _ = api
    reconnected = await connect(client, admin, chicx["agent_id"], from_phone_number="+918035737600")
    assert reconnected.status_code == 200, reconnected.text
    assert (await confirm(client, chicx["key"])).status_code == 200
    [placed] = bolna.placed
    assert placed["from_phone_number"] == "+918035737600"


async def test_the_customer_is_linked_by_phone(api, admin, chicx):
    client, context = api
    created = await client.post(
        "/api/customers",
        headers=admin.headers,
        json={"email": "rahul@example.com", "phone": "+919876543210"},
    )
    assert created.status_code == 201, created.text
    assert (await confirm(client, chicx["key"])).status_code == 200
    [call] = await stored(context, "calls")
    assert str(call["customer_id"]) == created.json()["customer_id"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-CHICX-Secret": "vx_live_not-a-real-key"}, {"X-CHICX-Secret": "hunter2"}],
)
async def test_without_a_valid_key_is_401_in_the_guides_shape(api, chicx, bolna, headers):
    client, context = api
    response = await client.post(CONFIRM, headers=headers, json=ORDER)
    assert response.status_code == 401, response.text
    body = response.json()
    assert (body["status"], body["code"]) == ("error", "UNAUTHORIZED")
    assert body["message"]
    assert bolna.placed == [] and await stored(context, "calls") == []


async def test_a_key_without_the_scope_is_refused(api, admin, chicx, bolna):
    client, _ = api
    stats_key = await create_api_key(client, admin, ["stats:read", "api"])
    response = await confirm(client, stats_key["key"])
    assert response.status_code == 403, response.text
    assert (response.json()["status"], response.json()["code"]) == ("error", "FORBIDDEN")
    assert bolna.placed == []


async def test_a_key_of_another_workspace_is_refused_whether_or_not_the_slug_exists(
    api, chicx, other_admin, bolna
):
    client, _ = api
    their_key = (await create_api_key(client, other_admin, ["notifications:send"]))["key"]
    for path, headers in [
        (CONFIRM, {"X-CHICX-Secret": their_key}),
        (CONFIRM, {"X-API-Key": their_key}),
        ("/webhooks/nosuchshop/confirm-order", {"X-NOSUCHSHOP-Secret": their_key}),
    ]:
        response = await client.post(path, headers=headers, json=ORDER)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["code"] == "NOT_FOUND"
    assert bolna.placed == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"order_id": "O1", "total_amount": 10}, "phone"),
        ({"phone": "9876543210", "total_amount": 10}, "order_id"),
        ({"phone": "9876543210", "order_id": "O1"}, "total_amount"),
        ({**ORDER, "total_amount": -1}, "total_amount"),
        ({**ORDER, "total_amount": "lots"}, "total_amount"),
        ({**ORDER, "items": [{"qty": 1}]}, "items.0.name"),
        ({**ORDER, "items": [{"name": "Saree", "qty": 0}]}, "items.0.qty"),
        ({**ORDER, "items": [{"name": "Saree", "price": -5}]}, "items.0.price"),
        ({**ORDER, "cod": "maybe"}, "cod"),
        ({**ORDER, "phone": "12345"}, "phone"),
    ],
)
async def test_invalid_bodies_are_400_naming_the_field_and_call_nobody(
    api, chicx, bolna, body, field
):
    client, context = api
    response = await confirm(client, chicx["key"], body)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert (answer["status"], answer["code"]) == ("error", "VALIDATION_ERROR")
    assert field in [e["field"] for e in answer["errors"]]
    assert bolna.placed == [] and await stored(context, "calls") == []
    assert await stored(context, "order_confirmation_calls") == []


async def test_items_default_to_one_and_national_numbers_with_a_prefix(api, chicx, bolna):
    client, _ = api
    body = {**ORDER, "phone": "+91 98765 43210", "items": [{"name": "Saree"}]}
    response = await confirm(client, chicx["key"], body)
    assert response.status_code == 200, response.text
    assert response.json()["phone"] == "+91 98765 43210"
    [placed] = bolna.placed
    assert placed["recipient_phone_number"] == "+919876543210"
    assert placed["user_data"]["items"] == "1 x Saree"
    assert placed["user_data"]["item_list"] == [{"name": "Saree", "qty": 1, "price": None}]
    assert placed["user_data"]["customer_name"] == ""


async def test_the_same_order_again_answers_the_same_call(api, chicx, bolna):
    client, context = api
    first = await confirm(client, chicx["key"])
    second = await confirm(client, chicx["key"])
    assert first.status_code == second.status_code == 200, second.text
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(bolna.placed) == 1
    assert len(await stored(context, "calls")) == 1

    other = await confirm(client, chicx["key"], {**ORDER, "order_id": "ORD2"})
    assert other.json()["call_id"] != first.json()["call_id"]
    assert len(bolna.placed) == 2


async def test_concurrent_requests_for_one_order_place_one_call(api, chicx, bolna):
    client, context = api
    bolna.delay = 0.3
    answers = await asyncio.gather(*(confirm(client, chicx["key"]) for _ in range(3)))
    codes = sorted(a.status_code for a in answers)
    assert codes.count(200) >= 1 and set(codes) <= {200, 409}, [a.text for a in answers]
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["code"] == "CONFLICT" and answer.headers["Retry-After"]
    assert len(bolna.placed) == 1
    assert len(await stored(context, "calls")) == 1


async def test_a_missed_call_is_placed_again(api, chicx, bolna):
    client, context = api
    first = (await confirm(client, chicx["key"])).json()
    missed = execution(first["execution_id"], "no-answer", agent_id=chicx["agent_id"])
    assert (await client.post(chicx["webhook"], json=missed)).status_code == 200
    await run_inbound_jobs(context)  # the delivery is applied
    again = await confirm(client, chicx["key"])
    assert again.status_code == 200, again.text
    assert "Idempotent-Replayed" not in again.headers
    assert again.json()["call_id"] != first["call_id"]
    assert len(bolna.placed) == 2


async def test_bolna_down_is_502_records_nothing_and_a_retry_works(api, chicx, bolna):
    client, context = api
    bolna.fail_next(1, 500)
    response = await confirm(client, chicx["key"])
    assert response.status_code == 502, response.text
    body = response.json()
    assert (body["status"], body["code"]) == ("error", "PROVIDER_UNAVAILABLE")
    assert await stored(context, "calls") == []
    assert await stored(context, "order_confirmation_calls") == []

    retry = await confirm(client, chicx["key"])
    assert retry.status_code == 200, retry.text
    assert len(bolna.placed) == 1


async def test_a_failure_before_bolna_is_called_gives_the_order_back(api, admin, chicx, bolna):
    """Any error before the request to Bolna goes out (here: the stored key cannot be
    decrypted) releases the order at once, not when the claim goes stale."""
    from backend.kit.crypto import SecretBoxError

    client, context = api
    async with context.db.system() as conn:
        await conn.execute(
            'update public.connections set secrets = secrets || \'{"api_key": "garbled"}\''
            " where provider = 'bolna'"
        )
    with pytest.raises(SecretBoxError):
        await confirm(client, chicx["key"])
    assert bolna.placed == [] and await stored(context, "order_confirmation_calls") == []

    reconnected = await connect(client, admin, chicx["agent_id"])
    assert reconnected.status_code == 200, reconnected.text
    retry = await confirm(client, chicx["key"])
    assert retry.status_code == 200, retry.text  # not 409: nobody holds the order
    assert len(bolna.placed) == 1


@asynccontextmanager
async def calls_refused(
    context: AppContext, times: int
) -> AsyncIterator[Callable[[], Awaitable[int]]]:
    """The database refuses the next `times` inserts into `calls` (as a full disk or a failover
    would), then accepts them again, until the block ends; gives how many inserts were tried. A
    sequence counts them: it is not rolled back with the transaction that failed."""
    async with context.db.system() as conn:
        await conn.execute(
            f"""
            create sequence public.test_refuse_calls;
            create function public.test_refuse_calls() returns trigger language plpgsql as $$
            begin
              if nextval('public.test_refuse_calls') <= {int(times)} then
                raise exception 'could not extend file: No space left on device';
              end if;
              return new;
            end $$;
            create trigger test_refuse_calls before insert on public.calls
              for each row execute function public.test_refuse_calls();
            """
        )

    async def tried() -> int:
        async with context.db.system() as conn:
            cur = await conn.execute(
                "select case when is_called then last_value else 0 end as n"
                " from public.test_refuse_calls"
            )
            row = await cur.fetchone()
        assert row is not None
        return int(row["n"])

    try:
        yield tried
    finally:
        async with context.db.system() as conn:
            await conn.execute(
                "drop trigger test_refuse_calls on public.calls;"
                " drop function public.test_refuse_calls(); drop sequence public.test_refuse_calls"
            )


async def test_a_placed_call_is_recorded_on_a_second_try(api, chicx, bolna):
    client, context = api
    async with calls_refused(context, times=1) as tried:
        response = await confirm(client, chicx["key"])
        assert response.status_code == 200, response.text
        assert await tried() == 2 and len(bolna.placed) == 1
    [call] = await stored(context, "calls")
    [order] = await stored(context, "order_confirmation_calls")
    assert str(call["id"]) == response.json()["call_id"] == str(order["call_id"])


async def test_a_placed_call_that_cannot_be_recorded_keeps_the_order_held(api, chicx, bolna):
    """Bolna placed the call: giving the order back would let the next request call the
    customer again. The order stays claimed (409) until the claim goes stale."""
    client, context = api
    async with calls_refused(context, times=1_000):
        response = await confirm(client, chicx["key"])
    assert response.status_code == 500, response.text
    [execution_id] = bolna.calls
    assert response.json()["code"] == "INTERNAL_ERROR"
    assert execution_id in response.json()["message"]
    [order] = await stored(context, "order_confirmation_calls")
    assert order["call_id"] is None  # still claimed

    again = await confirm(client, chicx["key"])
    assert again.status_code == 409, again.text
    assert len(bolna.placed) == 1
    # Bolna's webhook still records the call.
    delivered = execution(execution_id, "in-progress", agent_id=chicx["agent_id"])
    assert (await client.post(chicx["webhook"], json=delivered)).status_code == 200
    [call] = await stored(context, "calls")
    assert call["provider_call_id"] == execution_id


async def test_a_repeated_request_answers_the_number_that_was_called(api, chicx, bolna):
    client, _ = api
    first = await confirm(client, chicx["key"], {**ORDER, "phone": "098765 43210"})
    assert first.status_code == 200, first.text
    again = await confirm(client, chicx["key"], {**ORDER, "phone": "+91 91234 56789"})
    assert again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["phone"] == "098765 43210" == first.json()["phone"]
    assert again.json() == first.json()
    [placed] = bolna.placed
    assert placed["recipient_phone_number"] == "+919876543210"


async def test_bolna_refusing_the_stored_key_marks_the_connection(api, admin, chicx, bolna):
    client, context = api
    bolna.fail_next(1, 403)
    response = await confirm(client, chicx["key"])
    assert response.status_code == 502, response.text
    assert response.json()["code"] == "PROVIDER_ERROR"
    assert await stored(context, "calls") == []
    status = (await client.get("/api/bolna/connection", headers=admin.headers)).json()
    assert status["status"] == "invalid" and "API key" in status["last_error"]
    assert (await connect(client, admin, chicx["agent_id"])).json()["status"] == "valid"


async def test_without_a_bolna_connection_is_409(api, admin, bolna):
    client, _ = api
    await rename(client, admin, "chicx")
    key = (await create_api_key(client, admin, ["notifications:send"]))["key"]
    response = await confirm(client, key)
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "NOT_CONFIGURED"
    assert bolna.requests == []


# -- Bolna's execution webhook ------------------------------------------------------------------


async def test_a_call_followed_to_its_end_through_duplicate_and_late_deliveries(
    api, admin, chicx, bolna
):
    client, context = api
    placed = (await confirm(client, chicx["key"])).json()
    execution_id, agent_id = placed["execution_id"], chicx["agent_id"]

    async def deliver(status: str, **fields: Any) -> None:
        payload = execution(execution_id, status, agent_id=agent_id, **fields)
        response = await client.post(chicx["webhook"], json=payload)
        assert response.status_code == 200, response.text
        assert response.json() == {"received": True}

    async def call() -> dict[str, Any]:
        [row] = await stored(context, "calls")
        return row

    await deliver("queued")
    await deliver("ringing")
    assert (await call())["status"] == "queued"
    await deliver("in-progress")
    await deliver("ringing")  # late
    assert (await call())["status"] == "in_progress"
    assert (await call())["metadata"]["bolna"]["status"] == "in-progress"

    finished = {
        "conversation_duration": 42.6,
        "total_cost": 12.5,  # cents
        "transcript": "assistant: Hello Rahul, can you confirm order ORD123456?\nuser: Yes.",
        "telephony_data": {
            "recording_url": "https://bolna-recordings.example/rec-1.mp3",
            "hangup_by": "Callee",
            "hangup_reason": "Normal Hangup",
        },
        "extracted_data": {"confirmed": True},
        "updated_at": "2026-11-25T10:31:30Z",
    }
    await deliver("call-disconnected")
    await deliver("completed", **finished)
    await deliver("completed", **finished)  # repeated
    await deliver("call-disconnected")  # late
    await deliver("in-progress")  # late

    row = await call()
    assert row["status"] == "resolved"
    assert row["duration_seconds"] == 43
    assert row["cost"] == Decimal("0.125")
    assert row["transcript"].startswith("assistant: Hello Rahul")
    assert row["recording_url"] == "https://bolna-recordings.example/rec-1.mp3"
    assert row["ended_at"].isoformat() == "2026-11-25T10:31:30+00:00"
    assert row["analysis"] == {"extracted_data": {"confirmed": True}}
    assert row["metadata"]["bolna"]["hangup_reason"] == "Normal Hangup"
    assert row["metadata"]["order"]["order_id"] == "ORD123456"  # kept
    assert row["phone"] == "919876543210"

    stats_key = (await create_api_key(client, admin, ["stats:read"]))["key"]
    listed = await client.get("/api/stats/calls", headers={"X-API-Key": stats_key})
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    assert item["id"] == placed["call_id"]
    assert (item["status"], item["duration_seconds"], item["has_recording"]) == (
        "resolved",
        43,
        True,
    )
    detail = await client.get(
        f"/api/stats/calls/{placed['call_id']}", headers={"X-API-Key": stats_key}
    )
    assert detail.status_code == 200, detail.text
    assert detail.json()["transcript"] == row["transcript"]
    assert detail.json()["ended_at"] is not None

    # The order's call is over and confirmed: asking again answers it, calls nobody.
    again = await confirm(client, chicx["key"])
    assert again.json()["call_id"] == placed["call_id"] and len(bolna.placed) == 1


async def test_the_same_end_posted_again_fills_in_what_it_brings_and_keeps_the_status(api, chicx):
    """Bolna may post `completed` again once the recording and the extracted data are ready:
    that fills them in; it never changes the status, nor does a different end afterwards."""
    client, context = api
    placed = (await confirm(client, chicx["key"])).json()

    async def deliver(status: str, **fields: Any) -> dict[str, Any]:
        payload = execution(placed["execution_id"], status, agent_id=chicx["agent_id"], **fields)
        assert (await client.post(chicx["webhook"], json=payload)).status_code == 200
        [row] = await stored(context, "calls")
        return row

    first = await deliver(
        "completed",
        conversation_duration=42,
        transcript="assistant: Hello Rahul\nuser: Yes.",
        telephony_data={"hangup_reason": "Normal Hangup"},
        updated_at="2026-11-25T10:31:30Z",
    )
    assert (first["status"], first["recording_url"], first["analysis"]) == ("resolved", None, {})

    later = {
        "conversation_duration": 42,
        "total_cost": 12.5,
        "telephony_data": {"recording_url": "https://bolna-recordings.example/rec-2.mp3"},
        "extracted_data": {"confirmed": True},
        "updated_at": "2026-11-25T10:33:00Z",
    }
    filled = await deliver("completed", **later)
    assert filled["status"] == "resolved"
    assert filled["recording_url"] == "https://bolna-recordings.example/rec-2.mp3"
    assert filled["analysis"] == {"extracted_data": {"confirmed": True}}
    assert filled["cost"] == Decimal("0.125")
    assert filled["transcript"] == "assistant: Hello Rahul\nuser: Yes."  # kept
    assert filled["duration_seconds"] == 42
    assert filled["ended_at"] == first["ended_at"]  # when it ended does not move
    assert filled["metadata"]["bolna"]["hangup_reason"] == "Normal Hangup"  # kept
    assert filled["metadata"]["order"]["order_id"] == "ORD123456"

    again = await deliver("completed", **later)  # a plain repeat changes nothing
    assert again["updated_at"] == filled["updated_at"]

    # The same status never changes ours (a repeat read as unanswered), nor does another end.
    unanswered = await deliver("completed", conversation_duration=0, transcript="assistant: Hi")
    assert unanswered["status"] == "resolved"
    assert unanswered["transcript"] == "assistant: Hi"  # the newer data is taken, but
    # Bolna's zeros (not known yet) replace nothing.
    assert (unanswered["duration_seconds"], unanswered["cost"]) == (42, Decimal("0.125"))
    for status in ("failed", "no-answer"):
        ignored = await deliver(status, transcript="other", total_cost=99)
        assert (ignored["status"], ignored["transcript"]) == ("resolved", "assistant: Hi")
        assert ignored["metadata"]["bolna"]["status"] == "completed"
        assert ignored["updated_at"] == unanswered["updated_at"]


@pytest.mark.parametrize(
    ("status", "fields", "expected"),
    [
        ("completed", {"conversation_duration": 0}, "missed"),
        ("completed", {"conversation_duration": 20, "answered_by_voice_mail": True}, "missed"),
        ("busy", {}, "missed"),
        ("no-answer", {}, "missed"),
        ("canceled", {}, "missed"),
        ("stopped", {}, "missed"),
        ("failed", {"error_message": "telephony error"}, "failed"),
        ("error", {}, "failed"),
        ("balance-low", {}, "failed"),
    ],
)
async def test_how_a_call_ended_maps_to_a_status(api, chicx, status, fields, expected):
    client, context = api
    placed = (await confirm(client, chicx["key"])).json()
    payload = execution(placed["execution_id"], status, agent_id=chicx["agent_id"], **fields)
    assert (await client.post(chicx["webhook"], json=payload)).status_code == 200
    [call] = await stored(context, "calls")
    assert call["status"] == expected
    assert call["ended_at"] is not None


async def test_a_call_bolna_placed_on_its_own_is_stored(api, admin, chicx):
    client, context = api
    payload = execution(
        "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6",
        "completed",
        agent_id=chicx["agent_id"],
        to_number="+919812345678",
        conversation_duration=30,
        transcript="assistant: Hi!",
    )
    assert (await client.post(chicx["webhook"], json=payload)).status_code == 200
    [call] = await stored(context, "calls")
    assert str(call["workspace_id"]) == admin.workspace_id
    assert (call["provider"], call["provider_call_id"], call["direction"]) == (
        "bolna",
        "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6",
        "outbound",
    )
    assert (call["status"], call["phone"], call["duration_seconds"]) == (
        "resolved",
        "919812345678",
        30,
    )
    assert call["started_at"].isoformat() == "2026-11-25T10:30:00.123456+00:00"


async def test_an_unknown_webhook_token_is_401_and_stores_nothing(api, chicx):
    client, context = api
    payload = execution(
        "5e6f7a8b-0000-4000-8000-000000000001", "completed", agent_id=chicx["agent_id"]
    )
    response = await client.post("/api/webhooks/bolna/not-a-token", json=payload)
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "UNAUTHORIZED"
    assert await stored(context, "calls") == []


async def test_webhook_payloads_that_are_not_executions(api, chicx):
    client, context = api
    not_json = await client.post(chicx["webhook"], content=b"{nope")
    assert not_json.status_code == 400, not_json.text
    no_id = await client.post(chicx["webhook"], json={"status": "queued"})
    assert no_id.status_code == 400, no_id.text
    assert [e["field"] for e in no_id.json()["errors"]] == ["id"]
    unknown = execution("5e6f7a8b-0000-4000-8000-000000000002", "teleported", agent_id="a")
    assert (await client.post(chicx["webhook"], json=unknown)).status_code == 200
    assert await stored(context, "calls") == []


async def test_another_workspace_cannot_touch_a_call_by_its_execution_id(
    api, admin, chicx, other_admin, bolna
):
    """One Bolna account connected to two workspaces: an execution id delivered to the other
    workspace is the other workspace's copy of the call; ours is left alone."""
    client, context = api
    placed = (await confirm(client, chicx["key"])).json()
    theirs = await connect(client, other_admin, bolna.add_agent())
    their_webhook = theirs.json()["webhook_url"].removeprefix("http://test")
    forged = execution(
        placed["execution_id"],
        "completed",
        agent_id=chicx["agent_id"],
        conversation_duration=99,
        transcript="forged",
    )
    response = await client.post(their_webhook, json=forged)
    assert response.status_code == 200, response.text
    calls = {str(c["workspace_id"]): c for c in await stored(context, "calls")}
    ours, copy = calls[admin.workspace_id], calls[other_admin.workspace_id]
    assert (ours["status"], ours["transcript"], str(ours["id"])) == (
        "queued",
        None,
        placed["call_id"],
    )
    assert (copy["provider_call_id"], copy["status"], copy["transcript"]) == (
        placed["execution_id"],
        "resolved",
        "forged",
    )
    assert "order" not in copy["metadata"]

    # Ours goes on as ever, and the order still answers ours.
    ended = execution(
        placed["execution_id"], "no-answer", agent_id=chicx["agent_id"], to_number="+919876543210"
    )
    assert (await client.post(chicx["webhook"], json=ended)).status_code == 200
    calls = {str(c["workspace_id"]): c for c in await stored(context, "calls")}
    assert calls[admin.workspace_id]["status"] == "missed"
    assert calls[other_admin.workspace_id]["status"] == "resolved"


async def test_an_execution_id_another_workspace_stored_first_is_still_recorded_as_ours(
    api, admin, chicx, other_admin
):
    """Bolna's webhook of another workspace (same Bolna account) stored the execution first:
    recording our placed call under that id stores ours, with its order."""
    from uuid import UUID

    from backend.integrations.bolna.webhooks import call_from_execution
    from backend.voice.calls import repository

    _, context = api
    execution_id = "8c7d6e5f-0000-4000-8000-00000000a001"
    theirs = call_from_execution(execution(execution_id, "in-progress", agent_id=chicx["agent_id"]))
    assert theirs is not None
    async with context.db.for_workspace(UUID(other_admin.workspace_id), "test") as conn:
        assert await repository.apply_execution(conn, UUID(other_admin.workspace_id), theirs)
    async with context.db.for_workspace(UUID(admin.workspace_id), "test") as conn:
        call_id = await repository.record_placed_call(
            conn,
            UUID(admin.workspace_id),
            {
                "provider_call_id": execution_id,
                "agent_id": chicx["agent_id"],
                "phone": "919876543210",
                "metadata": {"order": {"order_id": "ORD9"}},
            },
        )
    calls = {str(c["workspace_id"]): c for c in await stored(context, "calls")}
    assert calls[admin.workspace_id]["id"] == call_id
    assert calls[admin.workspace_id]["metadata"]["order"] == {"order_id": "ORD9"}
    assert calls[other_admin.workspace_id]["status"] == "in_progress"
    assert "order" not in calls[other_admin.workspace_id]["metadata"]
