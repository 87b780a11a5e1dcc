"""WhatsApp's jobs: applying Meta's webhook events (the inbox's handler), answering a contact's
messages one at a time, and sending the outbox's rows."""

from __future__ import annotations

from uuid import UUID

import procrastinate

from backend.inbound import registry
from backend.tasks import PROVIDER_RETRY, ProviderRetry, app_context, task_app
from backend.whatsapp import answers, inbound, outbox, sender

# -- receiving (part C): Meta's webhook events, applied by the inbox's job -------------------------

registry.register(registry.Provider.WHATSAPP, inbound.handle_event)

# -- answering (part F) ---------------------------------------------------------------------------


@task_app.task(
    name=answers.ANSWER_TASK, queue=answers.ANSWER_QUEUE, retry=PROVIDER_RETRY, pass_context=True
)
async def answer(context: procrastinate.JobContext, message_id: str) -> None:
    """The bot's answer to a contact's message, queued for sending (deferred by the inbox's
    handler with `inbound.answer_lock(contact_id)`: one contact at a time, in order)."""
    await answers.answer(app_context(context), UUID(message_id))


# -- sending (part D) -----------------------------------------------------------------------------


class SendRetry(ProviderRetry):
    """Backoff as every provider job, never sooner than Meta allows (`SendLater.retry_after`:
    a second after a throughput error, six after the pair rate limit, the rest of the grace
    period for a send whose outcome is unknown)."""

    def get_retry_decision(
        self, *, exception: BaseException, job: procrastinate.jobs.Job
    ) -> procrastinate.RetryDecision | None:
        decision = super().get_retry_decision(exception=exception, job=job)
        soonest = getattr(exception, "retry_after", None)
        if decision is None or soonest is None:
            return decision
        backoff = self.exponential_wait ** (job.attempts + 1)
        return procrastinate.RetryDecision(retry_in={"seconds": max(backoff, soonest)})


SEND_RETRY = SendRetry(max_attempts=12, exponential_wait=2)


@task_app.task(name=outbox.SEND_TASK, queue=outbox.QUEUE, retry=SEND_RETRY, pass_context=True)
async def send(context: procrastinate.JobContext, outbox_id: str) -> None:
    """One attempt at an outbox row; a send that did not go yet raises for the retry."""
    app = app_context(context)
    delivery = await sender.deliver(app, UUID(outbox_id))
    if delivery.status not in ("queued", "sending"):
        return
    later = sender.SendLater(delivery)
    attempts = context.job.attempts if context.job else 0
    if attempts + 1 >= (SEND_RETRY.max_attempts or 0):
        await sender.give_up(app, UUID(outbox_id), str(later))
    raise later
