"""Metered usage: every usage row of a workspace on a plan, reported once to Stripe's meter.

Once and only once, however the job runs:
- A run claims up to `BATCH_SIZE` unreported rows with `FOR UPDATE SKIP LOCKED` (concurrent runs
  take different rows), sends one meter event per row with `identifier` = the row's id, and
  marks the rows Stripe accepted in the same transaction as the claim.
- When Stripe fails part-way, the run marks what was accepted, commits, and raises: the job is
  retried with backoff and goes on from the first row not accepted.
- A run killed between Stripe's answer and its commit marks nothing: the next run sends those
  rows again with the same identifier and the same idempotency key, and Stripe keeps one event
  (it remembers both for at least 24 hours, far longer than the job's retries take; only a
  worker down for a day with such rows pending could double-report).
- A row's mark is keyed by the usage id, so two runs can never both mark it.

The value is the cost in micro-dollars as an integer string (cost * 1,000,000): a meter sums
numbers, integers are exact, and a call costing a fraction of a cent still counts. The plan's
metered price is set per micro-dollar accordingly (a unit price of $0.000001, or a per-dollar
price with `transform_quantity[divide_by]=1000000`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import structlog

from backend.billing import stripe_repository as repository
from backend.config import Settings
from backend.db import Database
from backend.integrations.stripe.client import StripeApi, StripeFailure

log = structlog.get_logger(__name__)

BATCH_SIZE = 100
# A run stops after this many batches and leaves the rest to the next one (every minute).
MAX_BATCHES = 20
# Stripe accepts events of the last 35 days; an hour less leaves room for clocks and the run.
MAX_EVENT_AGE = timedelta(days=35) - timedelta(hours=1)
TOO_OLD = "older than the 35 days Stripe's meter accepts"


@dataclass
class MeterRun:
    reported: int = 0
    skipped: int = 0


def micro_dollars(cost: Decimal) -> int:
    return int((Decimal(cost) * 1_000_000).to_integral_value(rounding=ROUND_HALF_UP))


def _refusal(failure: StripeFailure) -> dict[str, Any] | None:
    """How to mark a row Stripe refused, or None when the refusal is not about the row (a
    refused key, an unknown meter, Stripe down): then nothing is marked and the run stops."""
    if failure.retryable or failure.status != 400:
        return None
    if failure.param == "identifier":  # Stripe has an event with this identifier: ours
        return {"status": "reported", "reason": f"already at Stripe: {failure}"}
    if failure.param == "timestamp" or (failure.param or "").startswith("payload"):
        return {"status": "skipped", "reason": str(failure)[:500]}
    return None


async def report_usage(db: Database, settings: Settings) -> MeterRun:
    """Report what is unreported, batch after batch; raises the failure that stopped it."""
    run = MeterRun()
    # No retries inside stripe-python: they would hold the claim's transaction open through
    # their backoff, and the job's own retries (with backoff) go on from the same row.
    async with StripeApi(
        settings.stripe_secret_key, api_base=settings.stripe_api_base, max_network_retries=0
    ) as api:
        for _ in range(MAX_BATCHES):
            claimed, failure = await _report_batch(db, api, settings.stripe_meter_event_name, run)
            if failure is not None:
                log.warning("meter_report_stopped", error=str(failure), **vars(run))
                raise failure
            if claimed < BATCH_SIZE:
                break
    if run.reported or run.skipped:
        log.info("meter_reported", **vars(run))
    return run


async def _report_batch(
    db: Database, api: StripeApi, event_name: str, run: MeterRun
) -> tuple[int, StripeFailure | None]:
    oldest = datetime.now(UTC) - MAX_EVENT_AGE
    failure: StripeFailure | None = None
    marks: list[dict[str, Any]] = []
    async with db.system() as conn:
        rows = await repository.claim_unreported(conn, BATCH_SIZE)
        for row in rows:
            mark = {
                "usage_id": row["id"],
                "workspace_id": row["workspace_id"],
                "value": micro_dollars(row["cost"]),
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
                        value=mark["value"],
                        identifier=str(row["id"]),
                        timestamp=int(row["created_at"].timestamp()),
                    )
                except StripeFailure as exc:
                    refusal = _refusal(exc)
                    if refusal is None:
                        failure = exc
                        break
                    mark.update(refusal)
            marks.append(mark)
        await repository.record_reports(conn, marks)
    for mark in marks:
        if mark["status"] == "reported":
            run.reported += 1
        else:
            run.skipped += 1
            log.warning("meter_row_skipped", usage_id=str(mark["usage_id"]), reason=mark["reason"])
    return len(rows), failure
