"""The customer portal (`/api/customers/portal/…`): a customer signed in with their own token
sees their profile, the agents they can talk to, their conversations and their tickets."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, status

from backend.auth.dependencies import Session
from backend.context import Context
from backend.customers.schemas import CustomerConversation, Ticket
from backend.kit.pagination import Limit, Page
from backend.kit.schemas import Envelope, PageEnvelope
from backend.portal import service
from backend.portal.dependencies import PortalCustomer, PortalUser
from backend.portal.schemas import (
    PortalAgents,
    PortalMessage,
    PortalProfile,
    PortalTicketCreate,
)

router = APIRouter(prefix="/api/customers/portal", tags=["customers"])


@router.get("/me", summary="Portal: get my customer profile")
async def portal_me(customer: PortalCustomer) -> PortalProfile:
    return PortalProfile(
        id=customer["id"],
        user_id=customer["user_id"],
        email=customer["email"],
        full_name=customer["name"],
        company_name=customer["company"],
        chatbot_id=customer["chatbot_id"],
        created_by_user_id=customer["created_by"],
    )


@router.get("/agents", summary="Portal: list the agents I can talk to")
async def portal_agents(customer: PortalCustomer, context: Context) -> PortalAgents:
    return PortalAgents.model_validate(await service.agents(context.db, customer))


@router.get("/conversations", summary="Portal: list my conversations")
async def portal_conversations(
    customer: PortalCustomer, session: Session, page: Page = 1, limit: Limit = 20
) -> PageEnvelope[CustomerConversation]:
    rows, total = await service.conversations_of(session, customer, page=page, limit=limit)
    return PageEnvelope.of(
        [CustomerConversation.of(r) for r in rows], page=page, limit=limit, total=total
    )


@router.get(
    "/conversations/{conversation_id}/messages", summary="Portal: list a conversation's messages"
)
async def portal_messages(
    conversation_id: UUID, _: PortalCustomer, session: Session
) -> Envelope[list[PortalMessage]]:
    # Only a customer with a record reads messages; the policies show them their own only.
    rows = await service.messages(session, conversation_id)
    return Envelope(data=[PortalMessage.model_validate(r) for r in rows])


@router.get("/tickets", summary="Portal: list my tickets")
async def portal_tickets(
    customer: PortalCustomer, session: Session, page: Page = 1, limit: Limit = 20
) -> PageEnvelope[Ticket]:
    rows, total = await service.tickets(session, customer, page=page, limit=limit)
    return PageEnvelope.of(
        [Ticket.model_validate(r) for r in rows], page=page, limit=limit, total=total
    )


@router.post("/tickets", status_code=status.HTTP_201_CREATED, summary="Portal: open a ticket")
async def portal_create_ticket(
    data: PortalTicketCreate, user: PortalUser, customer: PortalCustomer, session: Session
) -> Ticket:
    return Ticket.model_validate(await service.open_ticket(session, customer, user, data))
