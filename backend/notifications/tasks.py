"""Jobs of e-mail notifications: delivering a queued e-mail through Resend."""

from __future__ import annotations

import re
from email.utils import parseaddr
from typing import TYPE_CHECKING
from uuid import UUID

import procrastinate
import structlog

from backend.integrations.resend.client import ResendClient, ResendError
from backend.notifications import repository
from backend.tasks import PROVIDER_RETRY, app_context, task_app

if TYPE_CHECKING:
    from backend.context import AppContext

log = structlog.get_logger(__name__)

_PRINCIPAL = "job:notifications"
# Characters that make a display name need quotes (RFC 5322 `specials`).
_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')


class ConcurrentSend(Exception):
    """Resend is still handling a request with this e-mail's idempotency key (a stalled run
    of the job, handed back to the queue, may overlap its first run): ask again later."""

    retryable = True


def sender(email_from: str, from_name: str | None) -> str:
    """The `from` of an e-mail: the platform's address, under the caller's name if they gave
    one (quoted when it holds punctuation; validation already refused quotes and brackets)."""
    if not from_name:
        return email_from
    _, address = parseaddr(email_from)
    name = f'"{from_name}"' if _SPECIALS.search(from_name) else from_name
    return f"{name} <{address or email_from}>"


def idempotency_key(email_id: UUID) -> str:
    """The same for every attempt at one e-mail: Resend sends it once however often the job
    runs (it remembers a key for 24 hours, far longer than the job retries)."""
    return f"voxtro-email-{email_id}"


@task_app.task(name="notifications.send_email", retry=PROVIDER_RETRY, pass_context=True)
async def send_email(context: procrastinate.JobContext, email_id: str) -> None:
    assert context.job is not None
    max_attempts = PROVIDER_RETRY.max_attempts
    last = max_attempts is not None and context.job.attempts >= max_attempts
    await deliver(app_context(context), UUID(email_id), last_attempt=last)


async def deliver(app: AppContext, email_id: UUID, *, last_attempt: bool = False) -> None:
    """Send a queued e-mail and record the outcome: `sent` with Resend's id; `failed` when
    Resend refuses it for good (or on the last attempt); still `queued`, with the error, when a
    retry may succeed (the exception goes on to the queue, which retries with backoff). Without
    a Resend key the e-mail is kept, readable through the API, as `outbox`."""
    async with app.db.system() as conn:
        workspace_id = await repository.locate(conn, email_id)
    if workspace_id is None:
        log.info("email_skipped_gone", email_id=str(email_id))
        return
    settings = app.settings
    async with app.db.for_workspace(workspace_id, _PRINCIPAL) as conn:
        if not settings.resend_api_key:
            await repository.finish(conn, email_id, status="outbox")
            log.warning("email_not_configured_kept_in_outbox", email_id=str(email_id))
            return
        email = await repository.start_attempt(conn, email_id)
    if email is None:  # an earlier run of this job finished it
        return

    try:
        async with ResendClient(
            settings.resend_api_key, base_url=settings.resend_api_url
        ) as resend:
            provider_id = await resend.send_email(
                sender=sender(settings.email_from, email["from_name"]),
                to=[email["to_email"]],
                subject=email["subject"],
                html=email["html"],
                text=email["text"],
                idempotency_key=idempotency_key(email_id),
            )
    except Exception as exc:
        concurrent = isinstance(exc, ResendError) and exc.name == "concurrent_idempotent_requests"
        retryable = concurrent or getattr(exc, "retryable", True)
        async with app.db.for_workspace(workspace_id, _PRINCIPAL) as conn:
            if retryable and not last_attempt:
                await repository.note_error(conn, email_id, str(exc))
            else:
                await repository.finish(conn, email_id, status="failed", error=str(exc))
        log.warning(
            "email_send_failed",
            email_id=str(email_id),
            error=repr(exc),
            retrying=retryable and not last_attempt,
        )
        if concurrent:
            raise ConcurrentSend(str(exc)) from exc
        raise

    async with app.db.for_workspace(workspace_id, _PRINCIPAL) as conn:
        await repository.finish(conn, email_id, status="sent", provider_id=provider_id)
    log.info("email_sent", email_id=str(email_id), provider_id=provider_id)
