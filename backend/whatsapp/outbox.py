"""The outbox: every send to Meta is a row written before the call, with its job, in the
transaction that decided to send (an answer stored is an answer queued; a request refused queues
nothing). The sender (`sender.py`) works the rows off, paced per number; what travels to Meta as
`biz_opaque_callback_data` is the row's id, which Meta's status webhooks bring back."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from backend.db import Connection, as_login_role
from backend.tasks import task_app
from backend.whatsapp import repository

SEND_TASK = "whatsapp.send"
QUEUE = "whatsapp"


def send_lock(phone_number_id: str, recipient: str) -> str:
    """One recipient's sends from one number go one at a time, in order (a long answer's parts
    arrive in order)."""
    return f"{SEND_TASK}:{phone_number_id}:{recipient}"


async def queue(
    conn: Connection,
    *,
    workspace_id: UUID,
    message_id: UUID,
    phone_number_id: str,
    recipient: str,
    payloads: list[dict[str, Any]],
    kind: str,
    job_delay_seconds: int = 0,
) -> list[UUID]:
    """Queue a message's sends (one per part, in order) and their jobs, in the caller's
    transaction; the outbox ids. `job_delay_seconds` holds the jobs back: a request that sends
    at once itself leaves its job as a safety net that finds the row settled."""
    ids = await repository.insert_outbox(
        conn,
        [
            {
                "workspace_id": workspace_id,
                "message_id": message_id,
                "part": part,
                "phone_number_id": phone_number_id,
                "recipient": recipient,
                "payload": payload,
                "kind": kind,
            }
            for part, payload in enumerate(payloads)
        ],
    )
    deferrer = task_app.configure_task(
        SEND_TASK,
        connection=conn,
        queue=QUEUE,
        lock=send_lock(phone_number_id, recipient),
        schedule_in={"seconds": job_delay_seconds} if job_delay_seconds else None,
    )
    async with as_login_role(conn):  # the queue's tables are closed to the API roles
        for outbox_id in ids:
            await deferrer.defer_async(outbox_id=str(outbox_id))
    return ids
