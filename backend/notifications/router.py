"""E-mail notifications: a workspace's e-mails sent through the platform (admins, or API keys
with the `notifications:send` scope), its website's contact form (public), and the record of
every e-mail, which is also the outbox when no e-mail provider is configured."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status

from backend.auth.dependencies import (
    AdminSubject,
    Session,
    VisitorPrincipal,
    api_subject,
    limit_visitor,
)
from backend.auth.subjects import ApiKey, AuthSubject, User
from backend.context import Context
from backend.kit.pagination import Limit, Page
from backend.kit.schemas import Envelope, PageEnvelope
from backend.notifications import service
from backend.notifications.schemas import (
    ContactIn,
    EmailAccepted,
    EmailDetail,
    EmailKind,
    EmailSend,
    EmailStatus,
    EmailSummary,
)
from backend.widget.service import page_origin, public_bot

router = APIRouter(prefix="/api/notifications", tags=["notifications"])

SenderSubject = Annotated[AuthSubject[User | ApiKey], Depends(api_subject("notifications:send"))]


@router.post("/email", status_code=status.HTTP_202_ACCEPTED, summary="Send an e-mail")
async def send_email(
    data: EmailSend,
    subject: SenderSubject,
    context: Context,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=255,
            description="The same key again answers the first e-mail and sends nothing",
        ),
    ] = None,
) -> EmailAccepted:
    """An e-mail from the platform's address (under `from_name`), its HTML sent as given;
    delivered in the background, with retries. Owners and admins, or an API key with the
    `notifications:send` scope."""
    if isinstance(subject.principal, User):
        subject.require_admin("send e-mails")
    row, replayed = await service.send(context, subject, data, idempotency_key=idempotency_key)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return EmailAccepted(id=row["id"], status=row["status"])


@router.post(
    "/contact", status_code=status.HTTP_202_ACCEPTED, summary="Submit a website contact form"
)
async def contact(
    data: ContactIn, request: Request, context: Context, _: VisitorPrincipal
) -> EmailAccepted:
    """A website's contact form (public: the chatbot id names the workspace, and the bot's
    allowed domains the sites that may post). The message goes to the workspace's business
    e-mail, or its owner's, with every word of the visitor's escaped."""
    bot = await public_bot(context, request, data.chatbot_id)
    await limit_visitor(
        context, request, data.chatbot_id, data.visitor_id or f"email:{data.email}".lower()
    )
    row = await service.contact(context, bot, data, page=page_origin(request))
    return EmailAccepted(id=row["id"], status=row["status"])


@router.get("/emails", summary="List sent and queued e-mails")
async def list_emails(
    subject: AdminSubject,
    session: Session,
    page: Page = 1,
    limit: Limit = 20,
    status_filter: Annotated[EmailStatus | None, Query(alias="status")] = None,
    kind: EmailKind | None = None,
) -> PageEnvelope[EmailSummary]:
    """The workspace's e-mails, newest first (owners and admins)."""
    rows, total = await service.emails(
        session, subject, status=status_filter, kind=kind, page=page, limit=limit
    )
    return PageEnvelope.of(
        [EmailSummary.model_validate(r) for r in rows], page=page, limit=limit, total=total
    )


@router.get("/emails/{email_id}", summary="Get an e-mail")
async def get_email(
    email_id: UUID, subject: AdminSubject, session: Session
) -> Envelope[EmailDetail]:
    """One e-mail with its HTML and text: what was sent, or what waits in the outbox."""
    return Envelope(
        data=EmailDetail.model_validate(await service.email(session, subject, email_id))
    )
