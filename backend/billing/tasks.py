"""Jobs of billing: applying Stripe's events (the inbox's job, through the handler registered
here), reporting metered usage, pausing workspaces whose payment is overdue."""

from __future__ import annotations

import procrastinate
import structlog

from backend.billing import meter, webhooks
from backend.inbound import registry
from backend.tasks import ProviderRetry, app_context, task_app

log = structlog.get_logger(__name__)

# The meter's retries are short (2 + 4 + 8 + 16 + 32 s): after them the job gives up and the
# next minute's run takes over. A long backoff would hold the job's queueing lock, and with it
# every workspace's usage, for up to an hour because of one workspace Stripe fails for.
METER_RETRY = ProviderRetry(max_attempts=5, exponential_wait=2)


registry.register(registry.Provider.STRIPE, webhooks.handle_event)


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
