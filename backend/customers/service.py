"""Customer rules: admins add customers (with a portal login), find them, and open and move
their tickets; and who a chat is with (the customer behind a verified widget visitor or a
portal sign-in)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import structlog

from backend.auth.identity import IdentityProvider
from backend.auth.subjects import AuthSubject, User
from backend.business import service as business
from backend.chatbots import service as chatbots
from backend.context import AppContext
from backend.conversations import repository as conversations
from backend.conversations.schemas import VerifiedUser
from backend.customers import repository
from backend.customers.schemas import CustomerCreate, TicketCreate, TicketUpdate
from backend.db import Connection
from backend.errors import Conflict, NotFound, ValidationFailed
from backend.kit.phones import to_e164

log = structlog.get_logger(__name__)


class CustomerNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Customer not found")


class TicketNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Ticket not found")


# -- customers (admins) -------------------------------------------------------------------------


async def create(
    conn: Connection, identity: IdentityProvider, subject: AuthSubject[User], data: CustomerCreate
) -> dict[str, Any]:
    """The customer and their portal login (a Supabase Auth user with `is_customer: true`)."""
    subject.require_admin("add customers")
    email = str(data.email).lower()
    phone = data.phone
    if phone and not phone.startswith("+"):
        region = await business.default_region(conn, subject.workspace_id)
        try:
            phone = to_e164(phone, region)
        except ValueError as exc:
            raise ValidationFailed(
                "Invalid phone number", errors=[{"field": "phone", "message": str(exc)}]
            ) from None
    if await repository.email_taken(conn, subject.workspace_id, email):
        raise Conflict(
            "A customer with this e-mail already exists",
            errors=[{"field": "email", "message": "already a customer"}],
        )
    if data.chatbot_id is not None:
        await chatbots.get(conn, subject.workspace_id, data.chatbot_id)
    user = await identity.create_user(
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
        conn,
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
    return row


async def search(
    conn: Connection,
    workspace_id: UUID,
    *,
    text: str | None,
    verified: bool | None,
    tags: str | None,
    page: int,
    limit: int,
) -> tuple[list[dict[str, Any]], int]:
    """Customers by name, e-mail or phone, verification and tags (comma-separated, all of
    them), most recently in touch first."""
    wanted = sorted({t.strip().lower() for t in (tags or "").split(",") if t.strip()})
    return await repository.search(
        conn,
        workspace_id,
        text=text.strip() if text else None,
        verified=verified,
        tags=wanted,
        limit=limit,
        offset=(page - 1) * limit,
    )


async def send_login_link(
    conn: Connection,
    identity: IdentityProvider,
    subject: AuthSubject[User],
    email: str,
    *,
    redirect_to: str,
) -> None:
    """A sign-in link by e-mail to a customer with a portal login; nothing for anyone else
    (the caller answers the same either way)."""
    subject.require_admin("send login links")
    customer = await repository.by_email(conn, subject.workspace_id, email.strip())
    if customer is not None and customer["user_id"] is not None:
        await identity.send_magic_link(email=customer["email"], redirect_to=redirect_to)


async def conversations_of(
    conn: Connection, workspace_id: UUID, customer_id: UUID, *, page: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    if await repository.get(conn, workspace_id, customer_id) is None:
        raise CustomerNotFound()
    return await conversations.customer_conversations(
        conn, customer_id, limit=limit, offset=(page - 1) * limit
    )


# -- tickets (admins) ---------------------------------------------------------------------------


async def open_ticket(
    conn: Connection, subject: AuthSubject[User], data: TicketCreate
) -> dict[str, Any]:
    if await repository.get(conn, subject.workspace_id, data.customer_id) is None:
        raise CustomerNotFound()
    return await repository.insert_ticket(
        conn,
        {
            "workspace_id": subject.workspace_id,
            "customer_id": data.customer_id,
            "subject": data.subject,
            "description": data.description,
            "priority": data.priority,
            "created_by": subject.principal.id,
        },
    )


async def tickets(
    conn: Connection,
    workspace_id: UUID,
    *,
    customer_id: UUID | None,
    status: str | None,
    page: int,
    limit: int,
) -> tuple[list[dict[str, Any]], int]:
    return await repository.tickets(
        conn,
        workspace_id=workspace_id,
        customer_id=customer_id,
        status=status,
        limit=limit,
        offset=(page - 1) * limit,
    )


async def update_ticket(
    conn: Connection, workspace_id: UUID, ticket_id: UUID, data: TicketUpdate
) -> dict[str, Any]:
    changes = data.model_dump(exclude_none=True)
    if not changes:
        raise ValidationFailed(
            "Nothing to change", errors=[{"field": "status", "message": "status or priority"}]
        )
    row = await repository.update_ticket(conn, workspace_id, ticket_id, changes)
    if row is None:
        raise TicketNotFound()
    return row


# -- who a chat is with -------------------------------------------------------------------------


async def for_verified_user(context: AppContext, workspace_id: UUID, user: VerifiedUser) -> UUID:
    """A visitor the host page vouched for becomes (or already is) a customer."""
    async with context.db.system() as conn:
        return await repository.upsert_identified(
            conn, workspace_id, user.id, user.name, user.email
        )


async def of_portal_user(context: AppContext, user: User) -> dict[str, Any] | None:
    """The customer record of a signed-in portal customer (read under their own claims)."""
    if not user.is_customer:
        return None
    async with context.db.as_claims(user.claims) as conn:
        return await repository.me(conn, user.id)
