"""Customers and their tickets, for the workspace's admins. A customer is someone the workspace
serves; with a portal login (a Supabase Auth user whose metadata says `is_customer`) they use the
customer portal (backend/portal)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, status

from backend.auth.dependencies import AdminSubject, Session
from backend.context import Context
from backend.customers import service
from backend.customers.schemas import (
    CustomerConversation,
    CustomerCreate,
    CustomerCreated,
    CustomerListItem,
    Ticket,
    TicketCreate,
    TicketUpdate,
)
from backend.kit.pagination import Limit, Page
from backend.kit.schemas import PageEnvelope

router = APIRouter(prefix="/api/customers", tags=["customers"])


@router.post(
    "", status_code=status.HTTP_201_CREATED, summary="Create a customer with a portal login"
)
async def create_customer(
    data: CustomerCreate, subject: AdminSubject, session: Session, context: Context
) -> CustomerCreated:
    """The customer and their portal login (a Supabase Auth user with `is_customer: true`)."""
    row = await service.create(session, context.identity, subject, data)
    return CustomerCreated(customer_id=row["id"], user_id=row["user_id"], email=row["email"])


@router.get("", summary="List customers")
async def list_customers(
    subject: AdminSubject,
    session: Session,
    page: Page = 1,
    limit: Limit = 20,
    search: Annotated[str | None, Query(max_length=200)] = None,
    verified: bool | None = None,
    tags: Annotated[str | None, Query(max_length=1000, description="comma-separated")] = None,
) -> PageEnvelope[CustomerListItem]:
    rows, total = await service.search(
        session, subject.workspace_id, text=search, verified=verified, tags=tags, page=page,
        limit=limit,
    )  # fmt: skip
    return PageEnvelope.of(
        [CustomerListItem.of(r) for r in rows], page=page, limit=limit, total=total
    )


@router.post("/send-login-link", summary="E-mail a customer a portal sign-in link")
async def send_login_link(
    subject: AdminSubject,
    session: Session,
    context: Context,
    email: Annotated[str, Query(min_length=3, max_length=320)],
) -> dict[str, Any]:
    """A sign-in link by e-mail to a customer with a portal login. The answer is the same
    whether or not there is one, so it tells nobody who the customers are."""
    await service.send_login_link(
        session,
        context.identity,
        subject,
        email,
        redirect_to=context.settings.portal_url or context.settings.base_url,
    )
    return {"success": True, "message": "If this customer has a portal login, a link is on its way"}


@router.post(
    "/tickets", status_code=status.HTTP_201_CREATED, summary="Open a ticket for a customer"
)
async def create_ticket(data: TicketCreate, subject: AdminSubject, session: Session) -> Ticket:
    return Ticket.model_validate(await service.open_ticket(session, subject, data))


@router.get("/tickets", summary="List tickets")
async def list_tickets(
    subject: AdminSubject,
    session: Session,
    page: Page = 1,
    limit: Limit = 20,
    status_filter: Annotated[
        str | None, Query(alias="status", pattern="^(open|pending|resolved|closed)$")
    ] = None,
    customer_id: UUID | None = None,
) -> PageEnvelope[Ticket]:
    rows, total = await service.tickets(
        session, subject.workspace_id, customer_id=customer_id, status=status_filter, page=page,
        limit=limit,
    )  # fmt: skip
    return PageEnvelope.of(
        [Ticket.model_validate(r) for r in rows], page=page, limit=limit, total=total
    )


@router.patch("/tickets/{ticket_id}", summary="Update a ticket")
async def update_ticket(
    ticket_id: UUID, data: TicketUpdate, subject: AdminSubject, session: Session
) -> Ticket:
    row = await service.update_ticket(session, subject.workspace_id, ticket_id, data)
    return Ticket.model_validate(row)


# `/{customer_id}/…` would catch the portal's `/portal/…`: api.py includes the portal first.
@router.get("/{customer_id}/conversations", summary="List a customer's conversations")
async def customer_conversations(
    customer_id: UUID, subject: AdminSubject, session: Session, page: Page = 1, limit: Limit = 10
) -> PageEnvelope[CustomerConversation]:
    rows, total = await service.conversations_of(
        session, subject.workspace_id, customer_id, page=page, limit=limit
    )
    return PageEnvelope.of(
        [CustomerConversation.of(r) for r in rows], page=page, limit=limit, total=total
    )
