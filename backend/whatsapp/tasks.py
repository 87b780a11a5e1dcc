"""WhatsApp's jobs: applying Meta's webhook events (the inbox's handler), answering a contact's
messages one at a time, and sending the outbox's rows."""

from __future__ import annotations

from uuid import UUID

import procrastinate

from backend.inbound import registry
from backend.tasks import PROVIDER_RETRY, app_context, task_app
from backend.whatsapp import answers, inbound

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
