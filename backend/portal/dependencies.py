"""Who may use the portal: a customer's own token, never an admin's or an API key."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends

from backend.auth.dependencies import BearerCredential, CurrentPrincipal, Session
from backend.auth.subjects import Anonymous, User
from backend.errors import Forbidden, Unauthorized
from backend.portal import service


async def portal_user(principal: CurrentPrincipal, _: BearerCredential) -> User:
    if isinstance(principal, Anonymous):
        raise Unauthorized()
    if not isinstance(principal, User) or not principal.is_customer:
        raise Forbidden("The portal is for customer accounts; admins use /api/customers")
    return principal


PortalUser = Annotated[User, Depends(portal_user)]


async def portal_customer(user: PortalUser, session: Session) -> dict[str, Any]:
    return await service.customer(session, user)


# The customer record of the signed-in customer, read in the request's transaction.
PortalCustomer = Annotated[dict[str, Any], Depends(portal_customer)]
