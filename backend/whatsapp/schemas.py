"""Requests and answers of the WhatsApp routes: bots and numbers, the send API, message history,
templates, settings and the commerce notifications (each part under its heading)."""

from __future__ import annotations

from pydantic import BaseModel

# -- receiving (part C) ---------------------------------------------------------------------------


class WebhookAck(BaseModel):
    received: bool = True
