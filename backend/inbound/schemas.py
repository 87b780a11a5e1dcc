from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID


@dataclass(frozen=True)
class InboundEvent:
    """A stored delivery, as its handler gets it."""

    id: int
    provider: str
    event_id: str
    workspace_id: UUID | None
    type: str | None
    payload: Any
    attempts: int
