"""The sender: retries of what may pass later, exactly one request to Meta however often a send's
job runs or races the request that queued it, a send a crash left half-done never sent again,
and each number's own pace."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from uuid import UUID

from backend.tasks import run_worker
from backend.whatsapp import sender
from backend.whatsapp.outbox import QUEUE
from tests.fakes import whatsapp as meta
from tests.fakes.whatsapp import PHONE_NUMBER_ID
from tests.whatsapp.sending import (
    PHONE,
    SECOND_NUMBER_ID,
    SECOND_TOKEN,
    WA_ID,
    from_meta,
    rows,
    run_send_jobs,
    whatsapp_bot,
)

TEMPLATE = {"to": PHONE, "template_name": "hello_world"}


async def send_template(client, admin, bot_id: str, to: str = PHONE):
    return await client.post(
        "/whatsapp/send/template",
        params={"bot_id": bot_id},
        headers=admin.headers,
        json={**TEMPLATE, "to": to},
    )


async def outbox(context) -> dict[str, Any]:
    (row,) = await rows(context, "select * from public.whatsapp_outbox")
    return row


async def message(context, message_id: str) -> dict[str, Any]:
    (row,) = await rows(context, "select * from public.messages where id = %s", message_id)
    return row


async def run_due_jobs_once(context) -> None:
    """One worker pass over the send queue, the jobs that wait made due first."""
    await rows(
        context,
        "update procrastinate_jobs set scheduled_at = now()"
        " where queue_name = %s and status = 'todo' returning id",
        QUEUE,
    )
    await asyncio.wait_for(run_worker(context, concurrency=1, wait=False, queues=[QUEUE]), 60)


async def next_try_in(context) -> float:
    """Seconds until the send's job may run again."""
    (job,) = await rows(
        context,
        "select extract(epoch from scheduled_at - now())::float8 as wait from procrastinate_jobs"
        " where queue_name = %s and status = 'todo'",
        QUEUE,
    )
    return float(job["wait"])


async def queued_send(client, context, admin, graph):
    """A template the request could not send (Meta was down): queued for its job."""
    bot_id = await whatsapp_bot(client, context, admin, graph)
    graph.fail_next(1, status=503)
    queued = await send_template(client, admin, bot_id)
    assert queued.status_code == 202, queued.text
    return queued


async def test_a_throttled_send_goes_again_at_the_numbers_next_slot_in_the_same_try(
    whatsapp_api, graph, admin
):
    client, context = whatsapp_api
    # 10 a second: Meta's throughput error holds the number 8 slots, 0.8 s.
    bot_id = await whatsapp_bot(client, context, admin, graph, messages_per_second=10)
    graph.fail_next(1, code=130429)

    sent = await send_template(client, admin, bot_id)

    assert sent.status_code == 200, sent.text
    refused, accepted = graph.sent
    assert (refused["status"], accepted["status"]) == (400, 200)
    assert accepted["at"] - refused["at"] > 0.7  # a pause for Meta's window, not a burst
    row = await outbox(context)
    assert (row["status"], row["attempts"], row["wamid"]) == ("sent", 1, accepted["wamid"])


async def test_a_throttled_send_whose_next_slot_is_far_off_goes_back_to_the_queue(
    whatsapp_api, graph, admin
):
    client, context = whatsapp_api
    # One a second: the pause after Meta's throughput error is 8 s, too long to hold a request.
    bot_id = await whatsapp_bot(client, context, admin, graph, messages_per_second=1)
    graph.fail_next(1, code=130429)

    queued = await send_template(client, admin, bot_id)

    assert queued.status_code == 202, queued.text
    assert [s["status"] for s in graph.sent] == [400]
    row = await outbox(context)
    assert (row["status"], row["error_code"]) == ("queued", "130429")


async def test_throughput_and_server_errors_are_retried_by_the_job_and_sent_once(
    whatsapp_api, graph, admin
):
    client, context = whatsapp_api
    # 40 a second: each of a send's goes after Meta's throughput error waits 8 slots, 0.2 s.
    bot_id = await whatsapp_bot(client, context, admin, graph, messages_per_second=40)
    graph.fail_next(1 + sender.THROTTLE_RETRIES, code=130429)

    queued = await send_template(client, admin, bot_id)

    assert queued.status_code == 202, queued.text
    assert queued.json()["error"]["code"] == "130429"
    (number,) = await rows(
        context,
        "select extract(epoch from next_send_at - now())::float8 as ahead"
        " from public.whatsapp_numbers where phone_number_id = %s",
        PHONE_NUMBER_ID,
    )
    assert number["ahead"] > 0.1  # Meta said the number is over its pace: its next slot waits

    graph.fail_next(1, status=500)  # the job's first try meets Meta's outage
    await run_send_jobs(context)

    assert [s["status"] for s in graph.sent] == [400] * (1 + sender.THROTTLE_RETRIES) + [500, 200]
    (sent,) = graph.accepted
    row = await outbox(context)
    assert (row["status"], row["attempts"], row["wamid"]) == ("sent", 3, sent["wamid"])
    stored = await message(context, queued.json()["id"])
    assert (stored["status"], stored["provider_message_id"]) == ("sent", sent["wamid"])


async def test_the_pair_rate_limit_is_retried_no_sooner_than_six_seconds(
    whatsapp_api, graph, admin
):
    client, context = whatsapp_api
    bot_id = await whatsapp_bot(client, context, admin, graph)
    graph.fail_next(2, code=131056)

    queued = await send_template(client, admin, bot_id)
    assert queued.status_code == 202, queued.text
    await run_due_jobs_once(context)

    assert await next_try_in(context) > 5.5
    assert (await outbox(context))["status"] == "queued"
    await run_send_jobs(context)
    assert len(graph.accepted) == 1
    assert (await message(context, queued.json()["id"]))["status"] == "sent"


async def test_a_permanent_error_in_the_job_fails_the_message_with_metas_error(
    whatsapp_api, graph, admin
):
    client, context = whatsapp_api
    queued = await queued_send(client, context, admin, graph)
    graph.fail_next(1, code=131026)

    await run_send_jobs(context)

    stored = await message(context, queued.json()["id"])
    assert (stored["status"], stored["error_code"]) == ("failed", "131026")
    assert "Message undeliverable" in stored["error_message"]
    assert (await outbox(context))["status"] == "failed"
    assert graph.accepted == []
    assert len(graph.sent) == 2


async def test_one_send_tried_twice_at_once_reaches_meta_once(whatsapp_api, graph, admin):
    client, context = whatsapp_api
    await queued_send(client, context, admin, graph)
    outbox_id = (await outbox(context))["id"]
    graph.delay = 0.3

    first, second = await asyncio.gather(
        sender.deliver(context, outbox_id), sender.deliver(context, outbox_id)
    )
    graph.delay = 0
    await run_send_jobs(context)  # and its job, after both

    assert sorted([first.status, second.status]) == ["sending", "sent"]
    assert len(graph.accepted) == 1
    assert len(graph.sent) == 2  # the request's failed try, and one send


async def test_the_request_and_its_job_racing_send_once(whatsapp_api, graph, admin):
    client, context = whatsapp_api
    bot_id = await whatsapp_bot(client, context, admin, graph)
    graph.delay = 1.0  # Meta is slow: the job comes while the request waits for it

    request = asyncio.create_task(send_template(client, admin, bot_id))
    for _ in range(100):
        found = await rows(context, "select status from public.whatsapp_outbox")
        if found and found[0]["status"] == "sending":
            break
        await asyncio.sleep(0.02)
    await run_due_jobs_once(context)  # finds the send under way: leaves it alone
    answer = await request
    graph.delay = 0
    await run_send_jobs(context)  # the job's next try finds it sent

    assert answer.status_code == 200, answer.text
    assert len(graph.sent) == 1
    assert (await outbox(context))["attempts"] == 1
    assert (await message(context, answer.json()["id"]))["status"] == "sent"


async def crashed_mid_send(context, claimed_seconds_ago: int) -> None:
    """The row as a worker killed while Meta answered leaves it: claimed, never recorded."""
    await rows(
        context,
        "update public.whatsapp_outbox set status = 'sending', attempts = attempts + 1,"
        " claimed_at = now() - make_interval(secs => %s) returning id",
        claimed_seconds_ago,
    )


async def test_a_send_a_crash_left_sending_is_never_sent_again(whatsapp_api, graph, admin):
    client, context = whatsapp_api
    queued = await queued_send(client, context, admin, graph)

    await crashed_mid_send(context, claimed_seconds_ago=10)
    await run_due_jobs_once(context)

    assert len(graph.sent) == 1  # only the request's failed try
    assert (await outbox(context))["status"] == "sending"
    assert await next_try_in(context) > 60  # it waits for Meta's status webhook

    await crashed_mid_send(context, claimed_seconds_ago=int(sender.GRACE_SECONDS) + 60)
    await run_send_jobs(context)

    assert len(graph.sent) == 1
    row = await outbox(context)
    assert (row["status"], row["error_message"]) == ("failed", sender.UNKNOWN_OUTCOME)
    stored = await message(context, queued.json()["id"])
    assert (stored["status"], stored["error_message"]) == ("failed", sender.UNKNOWN_OUTCOME)


async def test_a_send_a_crash_left_sending_is_settled_by_its_status_webhook(
    whatsapp_api, graph, admin
):
    client, context = whatsapp_api
    queued = await queued_send(client, context, admin, graph)
    await crashed_mid_send(context, claimed_seconds_ago=10)
    outbox_id = str((await outbox(context))["id"])
    wamid = meta.new_wamid()

    # Meta had it: its status names our send by the id we gave it.
    status = meta.status(wamid, "sent", WA_ID, biz_opaque_callback_data=outbox_id)
    await from_meta(client, context, meta.webhook_body([meta.status_change(statuses=[status])]))
    await run_send_jobs(context)

    assert len(graph.sent) == 1  # only the request's failed try: never sent again
    row = await outbox(context)
    assert (row["status"], row["wamid"]) == ("sent", wamid)
    stored = await message(context, queued.json()["id"])
    assert (stored["status"], stored["provider_message_id"]) == ("sent", wamid)


async def test_sends_from_one_number_are_paced(whatsapp_api, graph, admin):
    client, context = whatsapp_api
    bot_id = await whatsapp_bot(client, context, admin, graph, messages_per_second=10)
    count = 6

    started = time.monotonic()
    answers = await asyncio.gather(
        *(send_template(client, admin, bot_id, f"+9198765432{n:02}") for n in range(count))
    )
    elapsed = time.monotonic() - started

    assert [a.status_code for a in answers] == [200] * count
    assert elapsed >= (count - 1) / 10
    # The k-th send reached Meta no sooner than k tenths of a second after the first could
    # (a busy machine may make sends late, never early).
    arrivals = sorted(s["at"] - started for s in graph.accepted)
    assert len(arrivals) == count
    assert all(at >= k / 10 - 0.01 for k, at in enumerate(arrivals)), arrivals


async def test_two_numbers_do_not_share_a_pace(whatsapp_api, graph, admin):
    client, context = whatsapp_api
    first = await whatsapp_bot(client, context, admin, graph, messages_per_second=1)
    second = await whatsapp_bot(
        client,
        context,
        admin,
        graph,
        phone_number_id=SECOND_NUMBER_ID,
        token=SECOND_TOKEN,
        messages_per_second=1,
    )
    count = 3

    started = time.monotonic()
    answers = await asyncio.gather(
        *(
            send_template(client, admin, bot, f"+9198765432{n:02}")
            for n in range(count)
            for bot in (first, second)
        )
    )

    assert [a.status_code for a in answers] == [200] * 2 * count
    arrivals = {
        number: sorted(s["at"] - started for s in graph.accepted if s["number"] == number)
        for number in (PHONE_NUMBER_ID, SECOND_NUMBER_ID)
    }
    for times in arrivals.values():
        assert len(times) == count
        assert all(at >= k - 0.01 for k, at in enumerate(times)), times
    # Each number's k-th send goes in its own k-th slot, side by side with the other number's;
    # one pace shared by both would put every pair of them a whole slot (1 s) apart. (A side
    # by side comparison, not a deadline: a busy machine delays both numbers alike.)
    pairs = zip(arrivals[PHONE_NUMBER_ID], arrivals[SECOND_NUMBER_ID], strict=True)
    assert all(abs(a - b) < 0.5 for a, b in pairs), arrivals


async def test_the_number_of_a_send_is_used_with_its_own_token(whatsapp_api, graph, admin):
    client, context = whatsapp_api
    bot_id = await whatsapp_bot(
        client, context, admin, graph, phone_number_id=SECOND_NUMBER_ID, token=SECOND_TOKEN
    )

    answer = await send_template(client, admin, bot_id)

    assert answer.status_code == 200, answer.text
    (sent,) = graph.accepted
    assert (sent["number"], sent["token"]) == (SECOND_NUMBER_ID, SECOND_TOKEN)
    assert UUID(answer.json()["id"])
