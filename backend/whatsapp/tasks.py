"""WhatsApp's jobs: applying Meta's webhook events (the inbox's handler), answering a contact's
messages one at a time, and sending the outbox's rows."""

from __future__ import annotations
