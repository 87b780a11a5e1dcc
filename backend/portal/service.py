"""The customer portal's rules: a signed-in customer sees their own profile, conversations and
tickets, and the agents their workspace offers them. Queries run under the customer's own
claims, where the database's policies show them their rows only; the agents, which a customer
may not read under their claims, are read as the login role."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from backend.auth.subjects import User
from backend.conversations import repository as conversations
from backend.customers import repository as customers
from backend.db import Connection, Database
from backend.errors import NotFound
from backend.portal import repository
from backend.portal.schemas import PortalTicketCreate


class NoCustomerRecord(NotFound):
    def __init__(self) -> None:
        super().__init__("No customer record belongs to this account")


class ConversationNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Conversation not found")


async def customer(conn: Connection, user: User) -> dict[str, Any]:
    """The customer record of a portal login."""
    found = await customers.me(conn, user.id)
    if found is None:
        raise NoCustomerRecord()
    return found


async def agents(db: Database, customer: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The chatbots (the customer's own, or every active one), the voice assistants with a
    phone number and the active WhatsApp agents of the customer's workspace."""
    async with db.system() as conn:
        return {
            "chatbots": await repository.chatbots(conn, customer),
            "voice_assistants": await repository.voice_assistants(conn, customer["workspace_id"]),
            "whatsapp_agents": await repository.whatsapp_agents(conn, customer["workspace_id"]),
        }


async def conversations_of(
    conn: Connection, customer: dict[str, Any], *, page: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    return await conversations.customer_conversations(
        conn, customer["id"], limit=limit, offset=(page - 1) * limit
    )


async def messages(conn: Connection, conversation_id: UUID) -> list[dict[str, Any]]:
    """A conversation's messages; another's conversation is not found (the policies hide it)."""
    if not await conversations.conversation_visible(conn, conversation_id):
        raise ConversationNotFound()
    return await conversations.transcript(conn, conversation_id)


async def tickets(
    conn: Connection, customer: dict[str, Any], *, page: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    return await customers.tickets(
        conn, customer_id=customer["id"], limit=limit, offset=(page - 1) * limit
    )


async def open_ticket(
    conn: Connection, customer: dict[str, Any], user: User, data: PortalTicketCreate
) -> dict[str, Any]:
    """A ticket of the customer's, about one of their conversations if it names one."""
    if data.conversation_id is not None and not await conversations.conversation_visible(
        conn, data.conversation_id
    ):
        raise ConversationNotFound()
    return await customers.insert_ticket(
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
