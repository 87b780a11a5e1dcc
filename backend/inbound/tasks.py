"""Jobs of the inbox: applying a stored event, and queueing again those whose job was lost or
ran out of retries."""

from __future__ import annotations

import procrastinate

from backend.inbound import service
from backend.tasks import PROVIDER_RETRY, app_context, task_app


# Their own queue: a worker may be given only the inbox (`queues=["inbound"]`), so that crawls
# or e-mails waiting in the default queue never hold a provider's event back.
@task_app.task(
    name=service.PROCESS_TASK, queue=service.QUEUE, retry=PROVIDER_RETRY, pass_context=True
)
async def process(context: procrastinate.JobContext, inbound_event_id: int) -> None:
    await service.process(app_context(context).db, inbound_event_id)


@task_app.periodic(cron="*/5 * * * *")
@task_app.task(name="inbound.retry_stale", queueing_lock="inbound.retry_stale", pass_context=True)
async def retry_stale(context: procrastinate.JobContext, timestamp: int) -> None:
    """Every 5 minutes: events whose job ran out of retries (or was lost) are processed again,
    even if their provider never delivers them again. An event that always fails is tried again
    after each round of retries (its error is on its row) until a fix lets it through."""
    await service.requeue_stale(app_context(context).db)
