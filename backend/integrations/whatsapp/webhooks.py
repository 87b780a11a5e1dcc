"""What Meta posts to a WhatsApp webhook (providers.md §4): the `X-Hub-Signature-256` over the
raw body, the `whatsapp_business_account` envelope (entries of changes, each about one business
phone number), and the inbound messages and statuses they carry, read leniently (Meta adds
types and fields freely; a field of the wrong shape reads as absent).

    {"object": "whatsapp_business_account", "entry": [{"id": "<WABA id>", "changes": [
      {"field": "messages", "value": {"messaging_product": "whatsapp",
        "metadata": {"display_phone_number", "phone_number_id"},
        "contacts": [{"profile": {"name"}, "wa_id"}],
        "messages": [{"from", "id": "wamid.…", "timestamp": "<unix s>", "type", "<type>": {…}}],
        "statuses": [{"id", "status", "timestamp", "recipient_id", "errors"?, …}],
        "errors": [{"code", "title", "message", "error_data": {"details"}}]}}]}]}
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from backend.kit import payloads

SIGNATURE_HEADER = "X-Hub-Signature-256"
_PREFIX = "sha256="
MEDIA_TYPES = ("image", "video", "document", "audio", "sticker")
_MEDIA_FIELDS = ("id", "mime_type", "sha256", "caption", "filename", "voice", "animated", "url")


def signature_valid(body: bytes, header: str | None, app_secret: str) -> bool:
    """Whether `X-Hub-Signature-256: sha256=<hex>` is the HMAC-SHA256 of the raw body with the
    app's secret (compared in constant time)."""
    if not header or not app_secret or not header.startswith(_PREFIX):
        return False
    presented = header[len(_PREFIX) :].strip().lower()
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), presented.encode("utf-8", "replace"))


@dataclass(frozen=True)
class Change:
    """One `entry[].changes[]` about a business phone number: its messages (with the senders'
    profile names in `contacts`), the statuses of what it sent, and system-level errors."""

    phone_number_id: str
    display_phone_number: str | None
    contacts: dict[str, str | None]  # wa_id -> profile name
    messages: list[dict[str, Any]]
    statuses: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    field: str = "messages"
    business_account_id: str | None = None


def _items(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _id(value: Any) -> str | None:
    """An id Meta sends as a string (some tools post numbers)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return payloads.text(value, 200)


def changes(payload: Any) -> list[Change]:
    """Every change of the body with `field == "messages"` that names its phone number, in
    order (other fields — template status, account updates — are not messages)."""
    found: list[Change] = []
    for entry in _items(payloads.obj(payload).get("entry")):
        for change in _items(entry.get("changes")):
            value = payloads.obj(change.get("value"))
            metadata = payloads.obj(value.get("metadata"))
            phone_number_id = _id(metadata.get("phone_number_id"))
            if change.get("field") != "messages" or phone_number_id is None:
                continue
            contacts: dict[str, str | None] = {}
            for contact in _items(value.get("contacts")):
                wa_id = _id(contact.get("wa_id"))
                if wa_id:
                    profile = payloads.obj(contact.get("profile"))
                    contacts[wa_id] = payloads.text(profile.get("name"), 200)
            found.append(
                Change(
                    phone_number_id=phone_number_id,
                    display_phone_number=_id(metadata.get("display_phone_number")),
                    contacts=contacts,
                    messages=_items(value.get("messages")),
                    statuses=_items(value.get("statuses")),
                    errors=_items(value.get("errors")),
                    field="messages",
                    business_account_id=_id(entry.get("id")),
                )
            )
    return found


def moment(item: dict[str, Any]) -> datetime | None:
    """When a message was sent or a status happened (`timestamp`: unix seconds as a string)."""
    return payloads.from_unix(item.get("timestamp"))


def _part(message: dict[str, Any], kind: str) -> dict[str, Any]:
    return payloads.obj(message.get(kind))


def message_text(message: dict[str, Any]) -> str | None:
    """What the person wrote: a text's body, a quick-reply button's text, an interactive
    reply's title, a media caption. None for what has no words (a sticker, a location…)."""
    kind = message.get("type")
    if kind == "text":
        return payloads.text(_part(message, "text").get("body"))
    if kind == "button":
        return payloads.text(_part(message, "button").get("text"))
    if kind == "interactive":
        interactive = _part(message, "interactive")
        reply = payloads.obj(interactive.get(str(interactive.get("type"))))
        return payloads.text(reply.get("title"))
    if kind in MEDIA_TYPES:
        return payloads.text(_part(message, str(kind)).get("caption"))
    return None


def _number(value: Any) -> str:
    """A number as a person reads it (30, 12.5)."""
    n = payloads.number(value)
    if n is None:
        return "?"
    return str(int(n)) if n == int(n) else repr(n)


def _media(kind: str, media: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    caption = payloads.text(media.get("caption"))
    filename = payloads.text(media.get("filename"))
    label = "voice message" if kind == "audio" and media.get("voice") is True else kind
    words = ": ".join(part for part in (filename, caption) if part)
    content = f"[{label}] {words}" if words else f"[{label}]"
    return content, {"media": {k: media[k] for k in _MEDIA_FIELDS if media.get(k) is not None}}


def _location(location: dict[str, Any]) -> str:
    where = ", ".join(
        text for key in ("name", "address") if (text := payloads.text(location.get(key)))
    )
    lat, lon = location.get("latitude"), location.get("longitude")
    at = f"({_number(lat)}, {_number(lon)})" if lat is not None and lon is not None else ""
    return " ".join(part for part in ("[location]", where, at) if part)


def _contact_line(contact: dict[str, Any]) -> str:
    name = payloads.obj(contact.get("name"))
    label = payloads.text(name.get("formatted_name")) or " ".join(
        part for key in ("first_name", "last_name") if (part := payloads.text(name.get(key)))
    )
    phones = [
        phone
        for item in _items(contact.get("phones"))
        if (phone := payloads.text(item.get("phone")) or payloads.text(item.get("wa_id")))
    ]
    if label and phones:
        return f"{label} ({', '.join(phones)})"
    return label or ", ".join(phones) or "?"


def _order(order: dict[str, Any]) -> str:
    items = _items(order.get("product_items"))
    lines = [
        f"{_number(item.get('quantity'))} x {item.get('product_retailer_id') or '?'}"
        for item in items
    ]
    currencies = {item.get("currency") for item in items}
    prices = [
        (payloads.number(item.get("quantity")), payloads.number(item.get("item_price")))
        for item in items
    ]
    total = ""
    if items and len(currencies) == 1 and all(q is not None and p is not None for q, p in prices):
        amount = sum((q or 0) * (p or 0) for q, p in prices)
        total = f" (total {_number(amount)} {currencies.pop()})"
    note = payloads.text(order.get("text"))
    return f"[order] {', '.join(lines) or 'no items'}{total}" + (f": {note}" if note else "")


def _interactive(interactive: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    kind = str(interactive.get("type") or "")
    reply = payloads.obj(interactive.get(kind))
    if not reply:
        return "[interactive]", {}
    title = payloads.text(reply.get("title"))
    if kind == "nfm_reply":  # a WhatsApp Flow's answers
        title = title or payloads.text(reply.get("body")) or payloads.text(reply.get("name"))
        content = f"[flow reply] {title}" if title else "[flow reply]"
    else:
        description = payloads.text(reply.get("description"))
        content = " — ".join(part for part in (title, description) if part) or "[interactive]"
    return content, {"reply": {"type": kind, **reply}}


def message_summary(message: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(kind, content, details) of an inbound message: `kind` is Meta's type, `content` a line
    a person can read for every type ("[image] caption", "[location] name, address (lat, lon)"),
    `details` the typed payload worth keeping (media reference, location, contacts, reaction,
    reply, order…, and the `context` it answers, the ad `referral`, Meta's `errors`)."""
    kind = payloads.text(message.get("type"), 50) or "unsupported"
    part = _part(message, kind)
    details: dict[str, Any] = {}
    if kind == "text":
        content = payloads.text(part.get("body")) or "[text]"
    elif kind in MEDIA_TYPES:
        content, details = _media(kind, part)
    elif kind == "button":
        content = payloads.text(part.get("text")) or "[button]"
        details = {"button": part}
    elif kind == "interactive":
        content, details = _interactive(part)
    elif kind == "location":
        content, details = _location(part), {"location": part}
    elif kind == "contacts":
        shared = _items(message.get("contacts"))
        content = "[contacts] " + "; ".join(_contact_line(c) for c in shared)
        details = {"contacts": shared}
    elif kind == "reaction":
        emoji = payloads.text(part.get("emoji"))
        content = f"[reaction] {emoji}" if emoji else "[reaction removed]"
        details = {"reaction": {"message_id": part.get("message_id"), "emoji": emoji}}
    elif kind == "order":
        content, details = _order(part), {"order": part}
    elif kind == "system":
        body = payloads.text(part.get("body"))
        content = f"[system] {body}" if body else "[system]"
        details = {"system": part}
        if isinstance(message.get("identity"), dict):
            details["identity"] = message["identity"]
    elif kind == "unsupported":
        errors = _items(message.get("errors"))
        first = errors[0] if errors else {}
        why = payloads.text(payloads.obj(first.get("error_data")).get("details")) or (
            payloads.text(first.get("title"))
        )
        content = f"[unsupported] {why}" if why else "[unsupported]"
        details = {"unsupported": part} if part else {}
    else:  # a type Meta added after this was written
        content, details = f"[{kind}]", ({kind: part} if part else {})
    for key in ("context", "referral"):
        if isinstance(message.get(key), dict) and message[key]:
            details[key] = message[key]
    if _items(message.get("errors")):
        details["errors"] = _items(message.get("errors"))
    return kind, content, details
