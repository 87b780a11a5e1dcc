"""What a conversation is made of, as the rest of the backend sees it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VerifiedUser:
    """A person the channel vouches for (a visitor signed in on the host page, a portal
    customer): the conversation is theirs."""

    id: str
    name: str | None = None
    email: str | None = None
