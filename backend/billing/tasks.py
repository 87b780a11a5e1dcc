"""Jobs of billing: processing Stripe's events, reporting metered usage, pausing workspaces
whose payment is overdue."""

from __future__ import annotations

import procrastinate

from backend.billing import meter, webhooks
from backend.tasks import PROVIDER_RETRY, app_context, task_app


@task_app.task(name="billing.process_stripe_event", retry=PROVIDER_RETRY, pass_context=True)
async def process_stripe_event(context: procrastinate.JobContext, event_id: str) -> None:
    await webhooks.process(app_context(context).db, event_id)


@task_app.periodic(cron="* * * * *")
@task_app.task(
    name="billing.report_usage",
    queueing_lock="billing.report_usage",
    retry=PROVIDER_RETRY,
    pass_context=True,
)
async def report_usage(context: procrastinate.JobContext, timestamp: int) -> None:
    """Every minute: usage of workspaces on a plan goes to Stripe's meter. While Stripe fails,
    the retries (with backoff) hold the queueing lock, so minutes do not pile up."""
    app = app_context(context)
    if app.settings.billing_enabled:
        await meter.report_usage(app.db, app.settings)


@task_app.periodic(cron="*/10 * * * *")
@task_app.task(name="billing.pause_unpaid", queueing_lock="billing.pause_unpaid", pass_context=True)
async def pause_unpaid(context: procrastinate.JobContext, timestamp: int) -> None:
    """Pause the workspaces whose invoice failed longer than the grace period ago."""
    await webhooks.pause_unpaid(app_context(context).db)
