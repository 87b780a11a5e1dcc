"""Metered usage: every usage row of a workspace on a plan, reported once to Stripe's meter.

Which rows are metered is decided when the usage is written, not here: a trigger puts a row of
a workspace on a plan (with a cost, not a preview) in `meter_outbox`, with the workspace's Stripe
customer of that moment (migration 16). This job only empties the outbox, so it reads what is
pending and nothing else, usage written while prepaid is never metered, and usage of a plan that
ends before the job runs is still reported, to the customer it belonged to.

Once and only once, however the job runs:
- A run leases a small batch (`BATCH_SIZE`) of outbox rows in a short transaction of its own
  (`FOR UPDATE SKIP LOCKED`, then `claimed_until` = now + `LEASE`, committed): concurrent runs
  take different rows. It calls Stripe with no transaction open and no connection held — a slow
  Stripe holds nothing of ours — then, in a second short transaction, records what Stripe took
  (`usage_meter_reports`, keyed by the usage id) and deletes those rows from the outbox, and
  gives back the leases of rows it did not send. One commit per batch, not per event: a crash
  between Stripe's answers and that commit costs at most a batch of resends, which Stripe
  de-duplicates (below), for half the transactions.
- Each meter event's `identifier` is the usage id, and Stripe keeps one event per identifier
  (it remembers identifiers for at least 24 hours). A run killed after Stripe's answer and
  before its commit leaves its rows leased; once the lease runs out (minutes, far inside those
  24 hours) a run sends them again and Stripe's "already exists" answer marks them reported.
- No fixed `Idempotency-Key`: Stripe replays a key's first answer for 24 hours, 500s included,
  so a key derived from the row would turn one failure into a day of the same failure.
  (stripe-python puts a random key on each request; `identifier` does the de-duplication.)
- A row's report is keyed by the usage id, and its outbox row is deleted in the same
  transaction, so two runs can never both report it.

When Stripe fails for a workspace with an error that may pass (5xx, 429, not reached), that
workspace's rows wait: the run sets it aside, reports the other workspaces' rows, and raises at
the end so the job is retried with backoff. An error that is not about one row nor one
workspace (a refused key, an unknown meter) stops the run at once. A row older than Stripe's 35
days is recorded as skipped, never sent.

The value is the cost in micro-dollars as an integer string (cost * 1,000,000): a meter sums
numbers, integers are exact, and a call costing a fraction of a cent still counts. The plan's
metered price is set per micro-dollar accordingly (a unit price of $0.000001, or a per-dollar
price with `transform_quantity[divide_by]=1000000`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import structlog

from backend.billing import stripe_repository as repository
from backend.config import Settings
from backend.db import Database
from backend.integrations.stripe.client import StripeApi, StripeFailure

log = structlog.get_logger(__name__)

BATCH_SIZE = 10
# A run stops after this many batches and leaves the rest to the next one (every minute).
MAX_BATCHES = 200
# A meter event is a small request: an answer slower than this is a failure to retry later.
REQUEST_TIMEOUT_SECONDS = 10.0
# How long a run holds the rows it leased: well over a batch's worst case (BATCH_SIZE requests
# of REQUEST_TIMEOUT_SECONDS), far under the 24 hours Stripe remembers identifiers.
LEASE = timedelta(minutes=5)
# Stripe accepts events of the last 35 days; an hour less leaves room for clocks and the run.
MAX_EVENT_AGE = timedelta(days=35) - timedelta(hours=1)
TOO_OLD = "older than the 35 days Stripe's meter accepts"


@dataclass
class MeterRun:
    reported: int = 0
    skipped: int = 0
    # Workspaces whose rows wait for the next attempt (Stripe failed for them), and why.
    deferred: dict[UUID, StripeFailure] = field(default_factory=dict)


@dataclass
class _Batch:
    marks: list[dict[str, Any]] = field(default_factory=list)  # rows to record
    unsent: list[UUID] = field(default_factory=list)  # rows to give back
    stop: StripeFailure | None = None  # a failure that ends the run


def _refusal(failure: StripeFailure) -> dict[str, Any] | None:
    """How to mark a row Stripe refused, or None when the refusal is not about the row (a
    refused key, an unknown meter, Stripe down)."""
    if failure.retryable or failure.status != 400:
        return None
    if failure.param == "identifier":  # Stripe has an event with this identifier: ours
        return {"status": "reported", "reason": f"already at Stripe: {failure}"}
    if failure.param == "timestamp" or (failure.param or "").startswith("payload"):
        return {"status": "skipped", "reason": str(failure)[:500]}
    return None


async def report_usage(db: Database, settings: Settings) -> MeterRun:
    """Report what is in the meter's outbox, batch after batch. Raises the failure that stopped
    the run, or — once every other workspace is done — a retryable one when Stripe failed for
    some workspaces (their rows are reported by the job's retry)."""
    run = MeterRun()
    claim_id = uuid4()
    # No retries inside stripe-python: the job's own retries (with backoff) go on from the
    # same rows, and the run meanwhile goes on with other workspaces.
    async with StripeApi(
        settings.stripe_secret_key,
        api_base=settings.stripe_api_base,
        max_network_retries=0,
        timeout=REQUEST_TIMEOUT_SECONDS,
    ) as api:
        for _ in range(MAX_BATCHES):
            async with db.system() as conn:
                rows = await repository.claim_outbox(
                    conn, claim_id, limit=BATCH_SIZE, lease=LEASE, skip_workspaces=[*run.deferred]
                )
            if not rows:
                break
            batch = await _send(api, settings.stripe_meter_event_name, rows, run)
            async with db.system() as conn:
                await repository.record_reports(conn, batch.marks)
                await repository.release_claims(conn, claim_id, batch.unsent)
            _count(run, batch)
            if batch.stop is not None:
                log.warning("meter_report_stopped", error=str(batch.stop), **_summary(run))
                raise batch.stop
            if len(rows) < BATCH_SIZE:
                break
    if run.reported or run.skipped or run.deferred:
        log.info("meter_reported", **_summary(run))
    if run.deferred:
        first = next(iter(run.deferred.values()))
        raise StripeFailure(
            f"Stripe failed for {len(run.deferred)} workspace(s), whose usage waits for the"
            f" next attempt: {first}",
            status=first.status,
            code=first.code,
            retryable=True,
        )
    return run


async def _send(
    api: StripeApi, event_name: str, rows: list[dict[str, Any]], run: MeterRun
) -> _Batch:
    """One meter event per row, in order, outside any transaction."""
    batch = _Batch()
    oldest = datetime.now(UTC) - MAX_EVENT_AGE
    for row in rows:
        workspace_id = row["workspace_id"]
        if batch.stop is not None or workspace_id in run.deferred:
            batch.unsent.append(row["usage_id"])
            continue
        mark = {
            "usage_id": row["usage_id"],
            "workspace_id": workspace_id,
            "value": row["value"],
            "status": "reported",
            "reason": None,
        }
        if row["created_at"] < oldest:
            mark.update(status="skipped", reason=TOO_OLD)
        else:
            try:
                await api.create_meter_event(
                    event_name=event_name,
                    customer=row["stripe_customer_id"],
                    value=row["value"],
                    identifier=str(row["usage_id"]),
                    timestamp=int(row["created_at"].timestamp()),
                )
            except StripeFailure as exc:
                refusal = _refusal(exc)
                if refusal is not None:
                    mark.update(refusal)
                elif exc.retryable:
                    # This workspace waits for the next attempt; the others go on.
                    run.deferred[workspace_id] = exc
                    log.warning(
                        "meter_workspace_deferred", workspace_id=str(workspace_id), error=str(exc)
                    )
                    batch.unsent.append(row["usage_id"])
                    continue
                else:
                    batch.stop = exc
                    batch.unsent.append(row["usage_id"])
                    continue
        batch.marks.append(mark)
    return batch


def _count(run: MeterRun, batch: _Batch) -> None:
    for mark in batch.marks:
        if mark["status"] == "reported":
            run.reported += 1
        else:
            run.skipped += 1
            log.warning("meter_row_skipped", usage_id=str(mark["usage_id"]), reason=mark["reason"])


def _summary(run: MeterRun) -> dict[str, int]:
    return {"reported": run.reported, "skipped": run.skipped, "deferred": len(run.deferred)}
