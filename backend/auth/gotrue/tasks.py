"""Jobs of the local auth server."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any
from uuid import UUID

import procrastinate
import structlog

from backend.auth.gotrue import repository
from backend.customers import repository as customers
from backend.integrations.resend.client import ResendClient
from backend.notifications import repository as emails
from backend.tasks import PROVIDER_RETRY, app_context, task_app

log = structlog.get_logger(__name__)


@task_app.task(name="auth.send_link_email", retry=PROVIDER_RETRY, pass_context=True)
async def send_link_email(
    context: procrastinate.JobContext, user_id: str, link_type: str, redirect_to: str
) -> None:
    """Issue a one-time sign-in link and e-mail it (or log it when no e-mail is configured).

    The token is made here, not by the request, so that no live secret waits in the queue. It
    is derived from the job, so a retry after a send the provider accepted (a worker that died
    before recording success) re-issues the same link and, by the same idempotency key, sends
    no second e-mail.
    """
    app = app_context(context)
    async with app.db.system() as conn:
        user = await repository.get_user(conn, UUID(user_id))
        if user is None:
            log.info("link_email_skipped_user_gone", user_id=user_id)
            return
        link = await app.auth.issue_link(
            conn, user, link_type=link_type, redirect_to=redirect_to, seed=f"job:{context.job.id}"
        )

    settings = app.settings
    subject = "Your sign-in link"
    html = (
        f'<p><a href="{escape(link.action_link)}">Sign in</a></p>'
        f"<p>Or enter this code: {link.email_otp}</p>"
    )
    text = f"Sign in: {link.action_link}\nOr enter this code: {link.email_otp}"
    provider_id = None
    if not settings.resend_api_key:
        log.warning(
            "email_not_configured_link_logged",
            email=user["email"],
            link_type=link_type,
            action_link=link.action_link,
            email_otp=link.email_otp,
        )
    else:
        async with ResendClient(
            settings.resend_api_key, base_url=settings.resend_api_url
        ) as resend:
            provider_id = await resend.send_email(
                sender=settings.email_from,
                to=[user["email"]],
                subject=subject,
                html=html,
                text=text,
                idempotency_key=f"auth-link-{context.job.id}",
            )
    await _record_for_workspace(app, context, user, subject, html, text, provider_id)
    log.info("link_email_sent", email=user["email"], link_type=link_type)


async def _record_for_workspace(
    app: Any,
    context: procrastinate.JobContext,
    user: dict[str, Any],
    subject: str,
    html: str,
    text: str,
    provider_id: str | None,
) -> None:
    """A workspace customer's link is kept in the workspace's e-mail record. Without an e-mail
    provider (the embedded mode) the link itself waits there for an admin to hand over; once
    sent, only the fact is kept (a live link in an admin's view would let them sign in as the
    customer). The workspace is the customer record's, never what the user's metadata says."""
    async with app.db.system() as conn:
        customer = await customers.me(conn, user["id"])
    if customer is None:
        return
    if provider_id is not None:
        html, text = "<p>A sign-in link was sent.</p>", "A sign-in link was sent."
    async with app.db.for_workspace(customer["workspace_id"], "auth") as conn:
        await emails.insert(
            conn,
            {
                "workspace_id": customer["workspace_id"],
                "kind": "sign_in_link",
                "to_email": user["email"],
                "subject": subject,
                "html": html,
                "text": text,
                "status": "sent" if provider_id else "outbox",
                "provider_id": provider_id,
                "idempotency_key": f"auth-link-{context.job.id}",
                "sent_at": datetime.now(UTC) if provider_id else None,
            },
        )
