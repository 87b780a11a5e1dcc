"""Which code applies which provider's events. Each provider's package registers its handler
(in its `tasks.py`, which the worker imports); the inbox imports no provider.

A handler runs inside the job's transaction, under the event's workspace claims when it names
one, and does database work only: its effects commit with the event's `processed_at`, or roll
back with its error. It returns None, or a note saying why the event had no effect."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum

from backend.db import Connection
from backend.inbound.schemas import InboundEvent


class Provider(StrEnum):
    VAPI = "vapi"
    ELEVENLABS = "elevenlabs"
    BOLNA = "bolna"
    STRIPE = "stripe"
    WHATSAPP = "whatsapp"


Handler = Callable[[Connection, InboundEvent], Awaitable[str | None]]

_handlers: dict[Provider, Handler] = {}


def register(provider: Provider, handler: Handler) -> None:
    _handlers[provider] = handler


def handler_for(provider: str) -> Handler | None:
    try:
        return _handlers.get(Provider(provider))
    except ValueError:
        return None
