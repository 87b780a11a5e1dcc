"""The inbox's rules: store a verified delivery once and queue its job in the same transaction;
apply a stored event once, through its provider's handler; queue again the events whose job was
lost or ran out of retries.

A redelivery finds its row and is acknowledged without effect, unless its event is still
unprocessed (its job may have run out of retries): then its job is queued again, once (a
queueing lock per event). The job applies an event and marks it processed in one transaction,
under a lock on the event's row, so a job run twice, or retried after a crash, applies it once.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import procrastinate
import structlog

from backend.db import Connection, Database, as_login_role, set_claims, workspace_claims
from backend.errors import BadRequest
from backend.inbound import registry, repository
from backend.inbound.registry import Provider
from backend.inbound.schemas import InboundEvent
from backend.tasks import task_app

log = structlog.get_logger(__name__)

PROCESS_TASK = "inbound.process"
QUEUE = "inbound"
# An event's job holds this queueing lock while it waits and this lock while it runs, so an
# event never has two jobs waiting however often it is delivered or swept.
JOB_LOCK = f"{PROCESS_TASK}:"
# Events still unprocessed this long after they arrived are queued again by the sweeper (their
# job ran out of retries, or was lost): long enough for a job's first retries to pass.
STALE_AFTER = timedelta(minutes=10)
SWEEP_LIMIT = 500


class NoHandler(Exception):
    """A provider whose package registered no handler in this process (a worker that does not
    import its `tasks.py`): retried, and kept, with the reason, until one does."""


def _finite(text: str) -> float | None:
    value = float(text)  # "1e400" reads as infinity
    return value if math.isfinite(value) else None


def parse_json(body: bytes, message: str = "Request body is not valid JSON") -> Any:
    """A delivery's JSON, as it can be stored: NaN and infinities, which some senders put on
    the wire and jsonb cannot hold, read as null (the handlers read them as absent anyway)."""
    try:
        return json.loads(body, parse_constant=lambda _: None, parse_float=_finite)
    except ValueError as exc:
        raise BadRequest(message) from exc


def digest(payload: Any) -> str:
    """A stable id for a delivery from a provider that gives none: the same content, however
    it is spaced or its keys are ordered, has the same digest."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _enqueue(conn: Connection, inbound_event_id: int, *, new: bool) -> bool:
    """Queue the event's job in the caller's transaction (a system one), unless one is
    already waiting or running; True when queued."""
    lock = f"{JOB_LOCK}{inbound_event_id}"
    deferrer = task_app.configure_task(PROCESS_TASK, connection=conn, queueing_lock=lock, lock=lock)
    if new:  # no job can exist for a row made by this transaction
        await deferrer.defer_async(inbound_event_id=inbound_event_id)
        return True
    if await repository.job_running(conn, lock):
        return False  # it finishes the event, or fails and is retried or swept
    try:
        # A savepoint: the queueing lock's unique violation must not abort the caller's
        # transaction.
        async with conn.transaction():
            await deferrer.defer_async(inbound_event_id=inbound_event_id)
    except procrastinate.exceptions.AlreadyEnqueued:
        return False
    return True


@dataclass(frozen=True)
class Delivery:
    """One verified event of a provider's delivery, as `receive_many` stores it."""

    provider: Provider
    event_id: str
    payload: Any
    workspace_id: UUID | None = None
    type: str | None = None


async def _store(conn: Connection, delivery: Delivery) -> bool:
    row = await repository.insert(
        conn,
        provider=delivery.provider,
        event_id=delivery.event_id,
        workspace_id=delivery.workspace_id,
        type=delivery.type,
        payload=delivery.payload,
        job_lock_prefix=JOB_LOCK,
    )
    if row is None or row["processed"] or row["queued"]:
        return False  # a repeat: done, or on its way
    await _enqueue(conn, row["id"], new=row["new"])
    return bool(row["new"])


async def receive(
    db: Database,
    *,
    provider: Provider,
    event_id: str,
    payload: Any,
    workspace_id: UUID | None = None,
    type: str | None = None,
) -> bool:
    """Store a verified delivery once and queue its job, in one transaction; True when the
    event is new. Call it once the provider's rule holds (signature, token) and the delivery is
    known to be an event its handler acts on."""
    return (
        await receive_many(
            db, [Delivery(provider, event_id, payload, workspace_id=workspace_id, type=type)]
        )
        == 1
    )


async def receive_many(db: Database, deliveries: list[Delivery]) -> int:
    """Store the events of one verified delivery (a provider batching several, possibly of
    several workspaces) once each, with their jobs, all in one transaction: the delivery is
    kept whole or not at all. How many were new."""
    async with db.system() as conn:
        return sum([await _store(conn, delivery) for delivery in deliveries])


async def process(db: Database, inbound_event_id: int) -> None:
    """Apply a stored event once. Its effects and its `processed_at` commit together; an error
    is recorded on the event and raised, so that the job is retried."""
    failure: Exception | None = None
    note: str | None = None
    async with db.system() as conn:
        row = await repository.lock(conn, inbound_event_id)
        if row is None or row["processed_at"] is not None:
            return
        event = InboundEvent(
            id=row["id"],
            provider=row["provider"],
            event_id=row["event_id"],
            workspace_id=row["workspace_id"],
            type=row["type"],
            payload=row["payload"],
            attempts=row["attempts"],
        )
        try:
            handler = registry.handler_for(event.provider)
            if handler is None:
                raise NoHandler(f"no handler is registered for {event.provider} events")
            async with conn.transaction():  # a savepoint: a failure undoes the effects only
                if event.workspace_id is not None:
                    # The handler writes as the workspace's backend, under its row policies.
                    await set_claims(
                        conn, workspace_claims(event.workspace_id, f"{event.provider}-webhook")
                    )
                note = await handler(conn, event)
        except Exception as exc:
            failure = exc
            await repository.finish(conn, event.id, error=repr(exc)[:1000], done=False)
        else:
            async with as_login_role(conn):
                await repository.finish(conn, event.id, error=note, done=True)
    if failure is not None:
        log.warning(
            "inbound_event_failed",
            provider=event.provider,
            event_id=event.event_id,
            error=repr(failure),
        )
        raise failure
    log.info(
        "inbound_event_processed",
        provider=event.provider,
        event_id=event.event_id,
        type=event.type,
        note=note,
    )


async def requeue_stale(db: Database, *, older_than: timedelta = STALE_AFTER) -> int:
    """Queue again the events unprocessed for longer than `older_than` that have no job waiting
    or running; how many were queued."""
    queued = 0
    async with db.system() as conn:
        stale = await repository.stale(
            conn, older_than=older_than, job_lock_prefix=JOB_LOCK, limit=SWEEP_LIMIT
        )
        for inbound_event_id in stale:
            queued += await _enqueue(conn, inbound_event_id, new=False)
    if queued:
        log.warning("inbound_events_requeued", count=queued, first=stale[0])
    return queued
