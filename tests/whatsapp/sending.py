"""What the sending tests share: a bot with a number Meta (the fake) knows, a contact who wrote
on WhatsApp, and the send queue's jobs run as a worker would."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx

from backend.context import AppContext
from backend.integrations.whatsapp.webhooks import SIGNATURE_HEADER
from backend.tasks import run_worker
from backend.whatsapp.outbox import QUEUE
from tests.fakes import whatsapp as meta
from tests.fakes.whatsapp import ACCESS_TOKEN, PHONE_NUMBER_ID, FakeGraph
from tests.fixtures.factories import Admin, create_chatbot
from tests.fixtures.jobs import run_inbound_jobs
from tests.fixtures.whatsapp import connect_whatsapp

SECOND_NUMBER_ID = "106540352242999"
SECOND_TOKEN = "EAAG" + "y" * 8 + "second-number-token"
APP_SECRET = "app-secret-of-the-test-number"
PHONE = "+919876543210"
WA_ID = PHONE.removeprefix("+")


async def whatsapp_bot(
    client: httpx.AsyncClient,
    context: AppContext,
    admin: Admin,
    graph: FakeGraph,
    *,
    phone_number_id: str = PHONE_NUMBER_ID,
    token: str = ACCESS_TOKEN,
    messages_per_second: int | None = None,
    enabled: bool = True,
    business_account_id: str | None = None,
) -> str:
    """A bot of the admin's workspace with a WhatsApp number connected (and known to Meta),
    sending at the app's pace unless `messages_per_second` is given; its id."""
    bot = await create_chatbot(client, admin)
    await connect_whatsapp(
        client,
        admin,
        bot["id"],
        graph,
        phone_number_id=phone_number_id,
        access_token=token,
        app_secret=APP_SECRET,
        enabled=enabled,
        business_account_id=business_account_id,
        messages_per_second=messages_per_second,
    )
    return str(bot["id"])


async def from_meta(client: httpx.AsyncClient, context: AppContext, body: dict[str, Any]) -> None:
    """A webhook body as Meta posts it (compact, signed with the number's app secret), applied
    by the inbox's job."""
    raw = meta.encode(body)
    answer = await client.post(
        "/whatsapp/webhook",
        content=raw,
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: meta.sign(raw, APP_SECRET)},
    )
    assert answer.status_code == 200, answer.text
    await run_inbound_jobs(context)


async def wrote(
    client: httpx.AsyncClient,
    context: AppContext,
    phone: str = PHONE,
    at: datetime | None = None,
    text: str = "Hi",
) -> None:
    """The contact with this phone wrote `text` to the bot's number at `at` (now)."""
    wa_id = phone.removeprefix("+")
    timestamp = str(int((at or datetime.now(UTC)).timestamp()))
    message = meta.text_message(wa_id, text, timestamp=timestamp)
    await from_meta(
        client,
        context,
        meta.webhook_body([meta.message_change(PHONE_NUMBER_ID, wa_id=wa_id, messages=[message])]),
    )


async def rows(context: AppContext, query: str, *params: Any) -> list[dict[str, Any]]:
    async with context.db.system() as conn:
        return list(await (await conn.execute(query, params)).fetchall())


async def run_send_jobs(context: AppContext, rounds: int = 10) -> None:
    """Run the send queue until it is empty, as a worker would over time: each round makes
    the jobs that wait (the request's safety net, a retry's backoff) due now, and runs them."""
    for _ in range(rounds):
        waiting = await rows(
            context,
            "update procrastinate_jobs set scheduled_at = now()"
            " where queue_name = %s and status = 'todo' returning id",
            QUEUE,
        )
        if not waiting:
            return
        await asyncio.wait_for(
            run_worker(context, concurrency=1, wait=False, queues=[QUEUE]), timeout=60
        )
    raise AssertionError("the send queue never emptied")
