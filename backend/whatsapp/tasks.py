"""WhatsApp's jobs: applying Meta's webhook events (the inbox's handler), answering a contact's
messages one at a time, and sending the outbox's rows."""

from __future__ import annotations

from backend.inbound import registry
from backend.whatsapp import inbound

# -- receiving (part C): Meta's webhook events, applied by the inbox's job -------------------------

registry.register(registry.Provider.WHATSAPP, inbound.handle_event)
