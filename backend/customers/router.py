"""Customers (admins manage them), their tickets, and the customer portal (customers only).

A customer is someone the workspace serves; with a portal login (a Supabase Auth user whose
metadata says `is_customer`) they see their own profile, conversations and tickets, and nothing
else: the routes check the kind of token, and the database's policies the rows."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import structlog
from fastapi import APIRouter, Depends, Query, status

from backend.auth.dependencies import AdminSubject, BearerCredential, CurrentPrincipal, Session
from backend.auth.subjects import Anonymous, User
from backend.business import service as business
from backend.chatbots.service import ChatbotNotFound
from backend.context import Context
from backend.customers import repository
from backend.customers.schemas import (
    CustomerConversation,
    CustomerCreate,
    CustomerCreated,
    CustomerListItem,
    PortalAgents,
    PortalChatbot,
    PortalMessage,
    PortalProfile,
    PortalTicketCreate,
    PortalVoiceAssistant,
    PortalWhatsAppAgent,
    Ticket,
    TicketCreate,
    TicketUpdate,
)
from backend.db import Connection
from backend.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from backend.kit.pagination import Limit, Page
from backend.kit.phones import to_e164
from backend.kit.schemas import Envelope, PageEnvelope

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/api/customers", tags=["customers"])


class CustomerNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Customer not found")


class TicketNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Ticket not found")


# -- admin ------------------------------------------------------------------------------------


@router.post(
    "", status_code=status.HTTP_201_CREATED, summary="Create a customer with a portal login"
)
async def create_customer(
    data: CustomerCreate, subject: AdminSubject, session: Session, context: Context
) -> CustomerCreated:
    """The customer and their portal login (a Supabase Auth user with `is_customer: true`)."""
    subject.require_admin("add customers")
    email = str(data.email).lower()
    phone = data.phone
    if phone and not phone.startswith("+"):
        region = await business.default_region(session, subject.workspace_id)
        try:
            phone = to_e164(phone, region)
        except ValueError as exc:
            raise ValidationFailed(
                "Invalid phone number", errors=[{"field": "phone", "message": str(exc)}]
            ) from None
    if await repository.email_taken(session, subject.workspace_id, email):
        raise Conflict(
            "A customer with this e-mail already exists",
            errors=[{"field": "email", "message": "already a customer"}],
        )
    if data.chatbot_id is not None:
        found = await session.execute(
            "select 1 from public.chatbots where id = %s and workspace_id = %s",
            (data.chatbot_id, subject.workspace_id),
        )
        if await found.fetchone() is None:
            raise ChatbotNotFound()
    user = await context.identity.create_user(
        email=email,
        password=data.password,
        # The portal's frontend reads the flag in user_metadata (as the document says); the
        # backend trusts the copy in app_metadata, which the customer cannot edit.
        user_metadata={
            "is_customer": True,
            "full_name": data.full_name,
            "company_name": data.company_name,
            "workspace_id": str(subject.workspace_id),
        },
        app_metadata={"is_customer": True, "workspace_id": str(subject.workspace_id)},
    )
    row = await repository.insert_customer(
        session,
        {
            "workspace_id": subject.workspace_id,
            "user_id": user["id"],
            "name": data.full_name,
            "email": email,
            "phone": phone,
            "company": data.company_name,
            "tags": data.tags,
            "chatbot_id": data.chatbot_id,
            "is_verified": True,  # the workspace vouches for who they are
            "created_by": subject.principal.id,
        },
    )
    log.info("customer_created", customer_id=str(row["id"]), workspace_id=str(subject.workspace_id))
    return CustomerCreated(customer_id=row["id"], user_id=row["user_id"], email=email)


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
    wanted = sorted({t.strip().lower() for t in (tags or "").split(",") if t.strip()})
    rows, total = await repository.search(
        session,
        subject.workspace_id,
        text=search.strip() if search else None,
        verified=verified,
        tags=wanted,
        limit=limit,
        offset=(page - 1) * limit,
    )
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
    subject.require_admin("send login links")
    customer = await repository.by_email(session, subject.workspace_id, email.strip())
    if customer is not None and customer["user_id"] is not None:
        await context.identity.send_magic_link(
            email=customer["email"],
            redirect_to=context.settings.portal_url or context.settings.base_url,
        )
    return {"success": True, "message": "If this customer has a portal login, a link is on its way"}


@router.post(
    "/tickets", status_code=status.HTTP_201_CREATED, summary="Open a ticket for a customer"
)
async def create_ticket(data: TicketCreate, subject: AdminSubject, session: Session) -> Ticket:
    if await repository.get(session, subject.workspace_id, data.customer_id) is None:
        raise CustomerNotFound()
    row = await repository.insert_ticket(
        session,
        {
            "workspace_id": subject.workspace_id,
            "customer_id": data.customer_id,
            "subject": data.subject,
            "description": data.description,
            "priority": data.priority,
            "created_by": subject.principal.id,
        },
    )
    return Ticket.model_validate(row)


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
    rows, total = await repository.tickets(
        session,
        workspace_id=subject.workspace_id,
        customer_id=customer_id,
        status=status_filter,
        limit=limit,
        offset=(page - 1) * limit,
    )
    return PageEnvelope.of(
        [Ticket.model_validate(r) for r in rows], page=page, limit=limit, total=total
    )


@router.patch("/tickets/{ticket_id}", summary="Update a ticket")
async def update_ticket(
    ticket_id: UUID, data: TicketUpdate, subject: AdminSubject, session: Session
) -> Ticket:
    changes = data.model_dump(exclude_none=True)
    if not changes:
        raise ValidationFailed(
            "Nothing to change", errors=[{"field": "status", "message": "status or priority"}]
        )
    row = await repository.update_ticket(session, subject.workspace_id, ticket_id, changes)
    if row is None:
        raise TicketNotFound()
    return Ticket.model_validate(row)


# -- the portal (customer tokens only) ----------------------------------------------------------


async def portal_user(principal: CurrentPrincipal, _: BearerCredential) -> User:
    if isinstance(principal, Anonymous):
        raise Unauthorized()
    if not isinstance(principal, User) or not principal.is_customer:
        raise Forbidden("The portal is for customer accounts; admins use /api/customers")
    return principal


PortalUser = Annotated[User, Depends(portal_user)]


async def _customer(conn: Connection, user: User) -> dict[str, Any]:
    customer = await repository.me(conn, user.id)
    if customer is None:
        raise NotFound("No customer record belongs to this account")
    return customer


@router.get("/portal/me", summary="Portal: get my customer profile")
async def portal_me(user: PortalUser, context: Context) -> PortalProfile:
    async with context.db.as_claims(user.claims) as conn:
        customer = await _customer(conn, user)
    return PortalProfile(
        id=customer["id"],
        user_id=customer["user_id"],
        email=customer["email"],
        full_name=customer["name"],
        company_name=customer["company"],
        chatbot_id=customer["chatbot_id"],
        created_by_user_id=customer["created_by"],
    )


@router.get("/portal/agents", summary="Portal: list the agents I can talk to")
async def portal_agents(user: PortalUser, context: Context) -> PortalAgents:
    async with context.db.as_claims(user.claims) as conn:
        customer = await _customer(conn, user)
    async with context.db.system() as conn:
        bots = await repository.portal_chatbots(conn, customer)
        voice = await repository.portal_voice_assistants(conn, customer["workspace_id"])
        whatsapp = await repository.portal_whatsapp_agents(conn, customer["workspace_id"])
    return PortalAgents(
        chatbots=[PortalChatbot.model_validate(b) for b in bots],
        voice_assistants=[PortalVoiceAssistant.model_validate(v) for v in voice],
        whatsapp_agents=[PortalWhatsAppAgent.model_validate(w) for w in whatsapp],
    )


@router.get("/portal/conversations", summary="Portal: list my conversations")
async def portal_conversations(
    user: PortalUser, context: Context, page: Page = 1, limit: Limit = 20
) -> PageEnvelope[CustomerConversation]:
    async with context.db.as_claims(user.claims) as conn:
        customer = await _customer(conn, user)
        rows, total = await repository.conversations(
            conn, customer["id"], limit=limit, offset=(page - 1) * limit
        )
    return PageEnvelope.of(
        [CustomerConversation.of(r) for r in rows], page=page, limit=limit, total=total
    )


@router.get(
    "/portal/conversations/{conversation_id}/messages",
    summary="Portal: list a conversation's messages",
)
async def portal_messages(
    conversation_id: UUID, user: PortalUser, context: Context
) -> Envelope[list[PortalMessage]]:
    async with context.db.as_claims(user.claims) as conn:
        await _customer(conn, user)
        # The policies show a customer only their own conversations.
        found = await conn.execute(
            "select 1 from public.conversations where id = %s", (conversation_id,)
        )
        if await found.fetchone() is None:
            raise NotFound("Conversation not found")
        rows = await repository.messages(conn, conversation_id)
    return Envelope(data=[PortalMessage.model_validate(r) for r in rows])


@router.get("/portal/tickets", summary="Portal: list my tickets")
async def portal_tickets(
    user: PortalUser, context: Context, page: Page = 1, limit: Limit = 20
) -> PageEnvelope[Ticket]:
    async with context.db.as_claims(user.claims) as conn:
        customer = await _customer(conn, user)
        rows, total = await repository.tickets(
            conn, customer_id=customer["id"], limit=limit, offset=(page - 1) * limit
        )
    return PageEnvelope.of(
        [Ticket.model_validate(r) for r in rows], page=page, limit=limit, total=total
    )


@router.post(
    "/portal/tickets", status_code=status.HTTP_201_CREATED, summary="Portal: open a ticket"
)
async def portal_create_ticket(
    data: PortalTicketCreate, user: PortalUser, context: Context
) -> Ticket:
    async with context.db.as_claims(user.claims) as conn:
        customer = await _customer(conn, user)
        if data.conversation_id is not None:
            found = await conn.execute(
                "select 1 from public.conversations where id = %s", (data.conversation_id,)
            )
            if await found.fetchone() is None:
                raise NotFound("Conversation not found")
        row = await repository.insert_ticket(
            conn,
            {
                "workspace_id": customer["workspace_id"],
                "customer_id": customer["id"],
                "conversation_id": data.conversation_id,
                "subject": data.subject,
                "description": data.description,
                "priority": data.priority,
                "created_by": user.id,
            },
        )
    return Ticket.model_validate(row)


# Last: `/{customer_id}/…` would otherwise catch `/portal/…`.
@router.get("/{customer_id}/conversations", summary="List a customer's conversations")
async def customer_conversations(
    customer_id: UUID, subject: AdminSubject, session: Session, page: Page = 1, limit: Limit = 10
) -> PageEnvelope[CustomerConversation]:
    if await repository.get(session, subject.workspace_id, customer_id) is None:
        raise CustomerNotFound()
    rows, total = await repository.conversations(
        session, customer_id, limit=limit, offset=(page - 1) * limit
    )
    return PageEnvelope.of(
        [CustomerConversation.of(r) for r in rows], page=page, limit=limit, total=total
    )
