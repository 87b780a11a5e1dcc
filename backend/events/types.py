"""The kinds of domain event. A new kind is a new member here, named `thing.past_tense`."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    CONVERSATION_CREATED = "conversation.created"
    CONVERSATION_CLOSED = "conversation.closed"
    MESSAGE_CREATED = "message.created"
    MESSAGE_STATUS_CHANGED = "message.status_changed"
    CONTACT_CREATED = "contact.created"
    CONTACT_OPTED_IN = "contact.opted_in"
    CONTACT_OPTED_OUT = "contact.opted_out"
    LEAD_CREATED = "lead.created"
    CALL_ENDED = "call.ended"
