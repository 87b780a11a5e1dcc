"""The bot-builder document's contacts (`POST /flows/contacts/`, `GET /flows/contacts/`): the
workspace's contacts, for an admin, in the platform's envelope (the document shows no bodies)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from backend.auth.dependencies import AdminSubject, Session
from backend.contacts import service
from backend.contacts.schemas import Contact, ContactCreate
from backend.kit.pagination import Limit, Page
from backend.kit.schemas import Envelope, PageEnvelope

router = APIRouter(prefix="/flows/contacts", tags=["contacts"])


@router.post(
    "/",
    status_code=201,
    summary="Create a contact, or get the one with this phone",
    responses={
        200: {
            "model": Envelope[Contact],
            "description": "The workspace already has a contact with this phone: that contact, "
            "unchanged",
        }
    },
)
async def create_contact(
    data: ContactCreate, subject: AdminSubject, session: Session, response: Response
) -> Envelope[Contact]:
    """Creating is idempotent by phone: a bot that sends the same person twice gets the same
    contact back (200) instead of an error to handle. A national number is read in the
    workspace's country."""
    contact, created = await service.find_or_create_by_phone(
        conn=session,
        workspace_id=subject.workspace_id,
        phone=data.phone,
        first_name=data.first_name,
        last_name=data.last_name,
        email=data.email,
        attributes=data.attributes,
        marketing_opt_in=data.marketing_opt_in,
    )
    if not created:
        response.status_code = 200
    shown = await service.shown(
        conn=session, workspace_id=subject.workspace_id, contact_id=contact["id"]
    )
    return Envelope(data=Contact.of(shown))


@router.get("/", summary="List contacts")
async def list_contacts(
    subject: AdminSubject,
    session: Session,
    search: Annotated[
        str | None,
        Query(
            max_length=200,
            description="a name or e-mail (part of it), or the start of a phone number:"
            " international (+91 98765) or national in the workspace's country (98765 43210)",
        ),
    ] = None,
    page: Page = 1,
    limit: Limit = 20,
) -> PageEnvelope[Contact]:
    """The workspace's contacts, newest first."""
    rows, total = await service.search(
        conn=session, workspace_id=subject.workspace_id, search=search, page=page, limit=limit
    )
    return PageEnvelope.of([Contact.of(r) for r in rows], page=page, limit=limit, total=total)
