"""The demo workspace a first `make dev` creates, so there is something to sign in to."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from backend.auth.gotrue import repository as auth_repository
from backend.context import AppContext
from backend.workspaces import repository as workspace_repository

log = structlog.get_logger(__name__)

DEMO_EMAIL = "demo@voxtro.io"
DEMO_WORKSPACE = "Demo Workspace"


@dataclass(frozen=True)
class DemoAccount:
    email: str
    password: str
    created: bool


async def seed_demo(context: AppContext, *, password: str) -> DemoAccount:
    """Create the demo admin and their workspace unless they exist (local auth only)."""
    async with context.db.system() as conn:
        if await auth_repository.get_user_by_email(conn, DEMO_EMAIL):
            return DemoAccount(DEMO_EMAIL, password, created=False)
        user = await context.auth.create_user(
            conn, email=DEMO_EMAIL, password=password, user_metadata={"full_name": "Demo Admin"}
        )
    claims = {"sub": str(user["id"]), "role": "authenticated", "email": DEMO_EMAIL}
    async with context.db.as_claims(claims) as conn:
        slug = (
            "demo" if not await workspace_repository.slug_taken(conn, "demo") else "demo-workspace"
        )
        await workspace_repository.create(conn, name=DEMO_WORKSPACE, slug=slug)
    log.info("demo_workspace_created", email=DEMO_EMAIL)
    return DemoAccount(DEMO_EMAIL, password, created=True)
