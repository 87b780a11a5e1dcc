"""The demo account a first `make dev` creates, so there is something to sign in to and a chatbot
answering on the demo page (`/demo`) before any key is connected."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import structlog

from backend.auth.gotrue import repository as auth_repository
from backend.billing import credits_repository as credits
from backend.chatbots import repository as chatbot_repository
from backend.context import AppContext
from backend.db import Connection
from backend.knowledge import service as knowledge
from backend.workspaces import repository as workspace_repository

log = structlog.get_logger(__name__)

DEMO_EMAIL = "demo@voxtro.io"
DEMO_WORKSPACE = "Demo Workspace"
DEMO_BOT = "Chicx Assistant"

_KNOWLEDGE = """Source: https://chicx.example/shipping
# Shipping
We ship across India within three to five working days; orders above 2,000 rupees ship free.
Express delivery reaches Chennai, Bengaluru and Mumbai the next day for 250 rupees.

Source: https://chicx.example/returns
# Returns and refunds
Unworn sarees with their tags can be returned within fourteen days of delivery. Refunds reach the
original payment method within five working days of the return being received.

Source: https://chicx.example/care
# Saree care
Dry clean silk sarees only. Store them wrapped in muslin cloth, away from sunlight, and refold
them along new lines every three months so the creases do not set.
"""
_FAQS = [
    ("How long does delivery take?", "Three to five working days anywhere in India; express delivery reaches Chennai, Bengaluru and Mumbai the next day."),
    ("What are your opening hours?", "Our boutique in Mylapore is open 10 am to 8 pm, Monday to Saturday; the online shop never closes."),
    ("Do you ship internationally?", "Not yet: we ship within India only."),
    ("Can I pay cash on delivery?", "Yes, cash on delivery is available for orders up to 10,000 rupees."),
    ("Where is your store?", "Our boutique is on Luz Church Road, Mylapore, Chennai, open 10 am to 8 pm."),
]  # fmt: skip
_FORM_FIELDS = [
    {"name": "name", "label": "Your name", "type": "text", "required": True},
    {"name": "email", "label": "E-mail", "type": "email", "required": True},
    {"name": "phone", "label": "Phone (with country code)", "type": "phone", "required": False},
    {"name": "message", "label": "What are you looking for?", "type": "textarea", "required": False},
]  # fmt: skip


@dataclass(frozen=True)
class DemoAccount:
    email: str
    password: str
    created: bool


async def seed_demo(context: AppContext, *, password: str) -> DemoAccount:
    """Create the demo admin, their workspace and its chatbot, each unless it exists (local
    auth only)."""
    created = False
    async with context.db.system() as conn:
        user = await auth_repository.get_user_by_email(conn, DEMO_EMAIL)
        if user is None:
            user = await context.auth.create_user(
                conn, email=DEMO_EMAIL, password=password, user_metadata={"full_name": "Demo Admin"}
            )
            created = True
    claims = {"sub": str(user["id"]), "role": "authenticated", "email": DEMO_EMAIL}
    async with context.db.as_claims(claims) as conn:
        workspace_id = await _demo_workspace(conn)
        if workspace_id is None:
            slug = (
                "demo-workspace" if await workspace_repository.slug_taken(conn, "demo") else "demo"
            )
            workspace_id = await workspace_repository.create(conn, name=DEMO_WORKSPACE, slug=slug)
            await credits.open_account(conn, workspace_id, context.settings)
            log.info("demo_workspace_created", email=DEMO_EMAIL)
        if not await _has_chatbot(conn, workspace_id):
            await _create_demo_chatbot(conn, workspace_id, user["id"])
            log.info("demo_chatbot_created", workspace_id=str(workspace_id))
    return DemoAccount(DEMO_EMAIL, password, created=created)


async def _demo_workspace(conn: Connection) -> UUID | None:
    cur = await conn.execute(
        "select id from public.workspaces where created_by = auth.uid() and name = %s"
        " order by created_at limit 1",
        (DEMO_WORKSPACE,),
    )
    row = await cur.fetchone()
    return UUID(str(row["id"])) if row else None


async def _has_chatbot(conn: Connection, workspace_id: UUID) -> bool:
    cur = await conn.execute(
        "select 1 from public.chatbots where workspace_id = %s limit 1", (workspace_id,)
    )
    return await cur.fetchone() is not None


async def _create_demo_chatbot(conn: Connection, workspace_id: UUID, user_id: Any) -> None:
    bot = await chatbot_repository.create_chatbot(
        conn,
        workspace_id,
        {
            "name": DEMO_BOT,
            "description": "The demo shop's assistant: shipping, returns and saree care.",
            "first_message": "Namaste! Ask me about shipping, returns or caring for your saree.",
            "placeholder_text": "Ask about shipping, returns…",
            "created_by": user_id,
        },
    )
    for question, answer in _FAQS:
        await conn.execute(
            # In the order listed (the widget suggests them by creation time).
            "insert into public.chatbot_faqs (workspace_id, chatbot_id, question, answer,"
            " created_at) values (%s, %s, %s, %s, clock_timestamp())",
            (workspace_id, bot["id"], question, answer),
        )
    await conn.execute(
        "insert into public.chatbot_forms (workspace_id, chatbot_id, name, title, description,"
        " fields, submit_message) values (%s, %s, %s, %s, %s, %s, %s)",
        (
            workspace_id,
            bot["id"],
            "contact",
            "Ask for a call back",
            "Leave your details and our stylist will get in touch.",
            json.dumps(_FORM_FIELDS),
            "Thank you! Our stylist will call you within a day.",
        ),
    )
    await chatbot_repository.update_chatbot(
        conn, workspace_id, bot["id"], {"knowledge_base": _KNOWLEDGE}
    )
    await knowledge.sync_inline_source(
        conn, workspace_id=workspace_id, chatbot_id=bot["id"], text=_KNOWLEDGE, language="en"
    )
