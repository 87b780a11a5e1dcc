"""What the worker runs for Bolna: its execution webhooks' events, kept by the inbox."""

from __future__ import annotations

from backend.inbound import registry
from backend.voice.bolna import service

registry.register(registry.Provider.BOLNA, service.handle_event)
