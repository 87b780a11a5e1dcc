"""The inbox's rules: store a verified delivery once and queue its job in the same transaction;
apply a stored event once, through its provider's handler; queue again the events whose job was
lost or ran out of retries.

A redelivery finds its row and is acknowledged without effect, unless its event is still
unprocessed (its job may have run out of retries): then its job is queued again, once (a
queueing lock per event). The job applies an event and marks it processed in one transaction,
under a lock on the event's row, so a job run twice, or retried after a crash, applies it once.

Events a provider gives the same order key (one WhatsApp contact's messages) are applied one at
a time, in the order they were received: their jobs share a Procrastinate lock, which runs them
one by one in the order they were queued, a job being retried holding back those after it; and
a job first applies the key's unprocessed events received before its own (whose jobs ran out of
retries, or were queued again after it by a redelivery or the sweeper), so an event that keeps
failing holds back the later ones of its key until it applies.
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
# The lock an event's job runs under instead when the event has an order key.
ORDER_LOCK = "inbound.order:"
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


def job_lock(inbound_event_id: int, order_key: str | None) -> str:
    """The lock the event's job runs under: its order key's, else its own."""
    return f"{ORDER_LOCK}{order_key}" if order_key else f"{JOB_LOCK}{inbound_event_id}"


async def _enqueue(conn: Connection, inbound_event_id: int, *, order_key: str | None) -> bool:
    """Queue again the job of an event stored earlier, unless one is waiting or running, on
    the caller's connection as the login role (in its transaction, or in one of its own on an
    autocommit connection); True when queued. (A new event's job is queued by the statement
    that stores it: `repository.insert_many`.)"""
    lock = job_lock(inbound_event_id, order_key)
    if await repository.job_running(conn, lock, inbound_event_id=inbound_event_id):
        return False  # it finishes the event, or fails and is retried or swept
    deferrer = task_app.configure_task(
        PROCESS_TASK, connection=conn, queueing_lock=f"{JOB_LOCK}{inbound_event_id}", lock=lock
    )
    try:
        # A savepoint (or a transaction, on autocommit): the queueing lock's unique violation
        # must not abort the caller's transaction.
        async with conn.transaction():
            await deferrer.defer_async(inbound_event_id=inbound_event_id)
    except procrastinate.exceptions.AlreadyEnqueued:
        return False
    return True


@dataclass(frozen=True)
class Delivery:
    """One verified event of a provider's delivery, as `receive_many` stores it. Events with
    the same `order_key` (of one provider and workspace) are applied one at a time, in the order
    they were received; a key is a lock name on the whole queue, so it starts with the
    provider's name."""

    provider: Provider
    event_id: str
    payload: Any
    workspace_id: UUID | None = None
    type: str | None = None
    order_key: str | None = None


async def receive(
    db: Database,
    *,
    provider: Provider,
    event_id: str,
    payload: Any,
    workspace_id: UUID | None = None,
    type: str | None = None,
    order_key: str | None = None,
) -> bool:
    """Store a verified delivery once and queue its job, in one transaction; True when the
    event is new. Call it once the provider's rule holds (signature, token) and the delivery is
    known to be an event its handler acts on."""
    delivery = Delivery(
        provider, event_id, payload, workspace_id=workspace_id, type=type, order_key=order_key
    )
    return await receive_many(db, [delivery]) == 1


async def receive_many(db: Database, deliveries: list[Delivery]) -> int:
    """Store the events of one verified delivery (a provider batching several, possibly of
    several workspaces) once each, with their jobs, all in one transaction: the delivery is
    kept whole or not at all. How many were new."""
    async with db.system() as conn:
        return await store(conn, deliveries)


async def store(conn: Connection, deliveries: list[Delivery]) -> int:
    """`receive_many` on the caller's connection (as the login role), for a provider that
    reads something first on it (the numbers a WhatsApp delivery names). The events and their
    jobs are stored by one statement, so an autocommit connection keeps them whole too."""
    once: dict[tuple[str, UUID | None, str], Delivery] = {}
    for delivery in deliveries:  # an event twice in one delivery is stored once
        once.setdefault((delivery.provider, delivery.workspace_id, delivery.event_id), delivery)
    if not once:
        return 0
    rows = await repository.insert_many(
        conn,
        [
            {
                "provider": d.provider,
                "event_id": d.event_id,
                "workspace_id": d.workspace_id,
                "type": d.type,
                "payload": d.payload,
                "order_key": d.order_key,
            }
            for d in once.values()
        ],
        task_name=PROCESS_TASK,
        queue=QUEUE,
        job_lock_prefix=JOB_LOCK,
        order_lock_prefix=ORDER_LOCK,
    )
    for row in rows:
        if not (row["new"] or row["processed"] or row["queued"]):
            # A redelivery of an event still unprocessed with no job: its job ran out of
            # retries, or was lost.
            await _enqueue(conn, row["id"], order_key=row["order_key"])
    return sum(row["new"] for row in rows)


def _event(row: dict[str, Any]) -> InboundEvent:
    return InboundEvent(
        id=row["id"],
        provider=row["provider"],
        event_id=row["event_id"],
        workspace_id=row["workspace_id"],
        type=row["type"],
        payload=row["payload"],
        attempts=row["attempts"],
    )


async def _apply(conn: Connection, event: InboundEvent) -> str | None:
    """Run the event's handler; a failure undoes its effects only (a savepoint)."""
    handler = registry.handler_for(event.provider)
    if handler is None:
        raise NoHandler(f"no handler is registered for {event.provider} events")
    async with conn.transaction():
        if event.workspace_id is not None:
            # The handler writes as the workspace's backend, under its row policies.
            await set_claims(
                conn, workspace_claims(event.workspace_id, f"{event.provider}-webhook")
            )
        return await handler(conn, event)


async def process(db: Database, inbound_event_id: int) -> None:
    """Apply a stored event once, after the unprocessed events received before it with its
    order key. Each event's effects and its `processed_at` commit together; an error is
    recorded on the event (and on this one, waiting behind it) and raised, so that the job is
    retried."""
    failure: tuple[InboundEvent, Exception] | None = None
    applied: list[tuple[InboundEvent, str | None]] = []
    async with db.system() as conn:
        rows = await repository.lock_in_order(conn, inbound_event_id)
        if not rows or rows[-1]["processed_at"] is not None:
            return
        for event in map(_event, rows):
            try:
                note = await _apply(conn, event)
            except Exception as exc:
                failure = (event, exc)
                async with as_login_role(conn):
                    await repository.finish(conn, event.id, error=repr(exc)[:1000], done=False)
                    if event.id != inbound_event_id:
                        waiting = f"waiting for event {event.id} (received before it): {exc!r}"
                        await repository.finish(
                            conn, inbound_event_id, error=waiting[:1000], done=False
                        )
                break
            async with as_login_role(conn):
                await repository.finish(conn, event.id, error=note, done=True)
            applied.append((event, note))
    for event, note in applied:
        log.info(
            "inbound_event_processed",
            provider=event.provider,
            event_id=event.event_id,
            type=event.type,
            note=note,
        )
    if failure is not None:
        event, error = failure
        log.warning(
            "inbound_event_failed",
            provider=event.provider,
            event_id=event.event_id,
            error=repr(error),
            held_back=inbound_event_id if event.id != inbound_event_id else None,
        )
        raise error


async def requeue_stale(db: Database, *, older_than: timedelta = STALE_AFTER) -> int:
    """Queue again the events unprocessed for longer than `older_than` that have no job waiting
    or running; how many were queued."""
    queued = 0
    async with db.system() as conn:
        stale = await repository.stale(
            conn,
            older_than=older_than,
            job_lock_prefix=JOB_LOCK,
            order_lock_prefix=ORDER_LOCK,
            limit=SWEEP_LIMIT,
        )
        for row in stale:  # oldest first: one key's jobs are queued in their events' order
            queued += await _enqueue(conn, row["id"], order_key=row["order_key"])
    if queued:
        log.warning("inbound_events_requeued", count=queued, first=stale[0]["id"])
    return queued
