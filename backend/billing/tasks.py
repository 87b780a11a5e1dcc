"""Jobs of billing: processing Stripe's events (and queueing again those whose job was lost or
ran out of retries), reporting metered usage, pausing workspaces whose payment is overdue."""

from __future__ import annotations

from datetime import timedelta

import procrastinate
import structlog

from backend.billing import meter, webhooks
from backend.billing import stripe_repository as repository
from backend.db import Connection, Database, as_login_role
from backend.tasks import PROVIDER_RETRY, ProviderRetry, app_context, task_app

log = structlog.get_logger(__name__)

# An event's job holds this queueing lock while it waits and this lock while it runs, so an
# event never has two jobs waiting however often it is queued again.
EVENT_JOB_LOCK = "billing.stripe_event:"
# Events still unprocessed this long after they arrived are queued again by the sweeper (their
# job ran out of retries, or was lost): long enough for a job's first retries to pass.
STALE_EVENT_AGE = timedelta(minutes=10)
SWEEP_LIMIT = 500
# The meter's retries are short (2 + 4 + 8 + 16 + 32 s): after them the job gives up and the
# next minute's run takes over. A long backoff would hold the job's queueing lock, and with it
# every workspace's usage, for up to an hour because of one workspace Stripe fails for.
METER_RETRY = ProviderRetry(max_attempts=5, exponential_wait=2)


@task_app.task(name="billing.process_stripe_event", retry=PROVIDER_RETRY, pass_context=True)
async def process_stripe_event(context: procrastinate.JobContext, event_id: str) -> None:
    await webhooks.process(app_context(context).db, event_id)


async def enqueue_event(conn: Connection, event_id: str) -> bool:
    """Queue the event's job in the caller's transaction, unless one is already waiting or
    running; True when queued."""
    lock = f"{EVENT_JOB_LOCK}{event_id}"
    async with as_login_role(conn):
        if await repository.job_running(conn, lock):
            return False  # it finishes the event, or fails and is retried or swept
        deferrer = process_stripe_event.configure(connection=conn, queueing_lock=lock, lock=lock)
        try:
            # A savepoint: the queueing lock's unique violation must not abort the caller's
            # transaction (which stored the event).
            async with conn.transaction():
                await deferrer.defer_async(event_id=event_id)
        except procrastinate.exceptions.AlreadyEnqueued:
            return False
    return True


async def requeue_stale_events(db: Database, *, older_than: timedelta = STALE_EVENT_AGE) -> int:
    """Queue again the events unprocessed for longer than `older_than` that have no job waiting
    or running; how many were queued."""
    queued = 0
    async with db.system() as conn:
        stale = await repository.stale_events(
            conn, older_than=older_than, job_lock_prefix=EVENT_JOB_LOCK, limit=SWEEP_LIMIT
        )
        for event_id in stale:
            queued += await enqueue_event(conn, event_id)
    if queued:
        log.warning("stripe_events_requeued", count=queued, first=stale[0])
    return queued


@task_app.periodic(cron="*/5 * * * *")
@task_app.task(
    name="billing.retry_stripe_events",
    queueing_lock="billing.retry_stripe_events",
    pass_context=True,
)
async def retry_stripe_events(context: procrastinate.JobContext, timestamp: int) -> None:
    """Every 5 minutes: events whose job ran out of retries (or was lost) are processed again,
    even if Stripe never delivers them again. An event that always fails is tried again after
    each round of retries (its error is on its row) until a fix lets it through."""
    await requeue_stale_events(app_context(context).db)


@task_app.periodic(cron="* * * * *")
@task_app.task(
    name="billing.report_usage",
    queueing_lock="billing.report_usage",
    retry=METER_RETRY,
    pass_context=True,
)
async def report_usage(context: procrastinate.JobContext, timestamp: int) -> None:
    """Every minute: usage of workspaces on a plan goes to Stripe's meter. A workspace Stripe
    fails for waits for the job's retries (the others are reported meanwhile); while they run
    they hold the queueing lock, so minutes do not pile up."""
    app = app_context(context)
    if app.settings.billing_enabled:
        await meter.report_usage(app.db, app.settings)


@task_app.periodic(cron="*/10 * * * *")
@task_app.task(name="billing.pause_unpaid", queueing_lock="billing.pause_unpaid", pass_context=True)
async def pause_unpaid(context: procrastinate.JobContext, timestamp: int) -> None:
    """Pause the workspaces on a plan whose invoice failed longer than the grace period ago."""
    await webhooks.pause_unpaid(app_context(context).db)
