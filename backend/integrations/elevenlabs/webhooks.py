"""What ElevenLabs' post-call webhooks send (providers.md §3): the `ElevenLabs-Signature`
header and how it signs the body, and the calls its `post_call_transcription` and
`call_initiation_failure` events describe, read into our `calls` columns."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from backend.kit import payloads

# ElevenLabs' own SDK refuses signatures older than 30 minutes. It has no bound on the future:
# we allow 5 minutes of clock skew, so a timestamp far ahead (a clock gone wrong, or a signature
# minted to outlive the window) cannot keep a delivery replayable for longer than intended.
SIGNATURE_MAX_AGE = 30 * 60
SIGNATURE_MAX_AHEAD = 5 * 60


class InvalidSignature(Exception):
    """An `ElevenLabs-Signature` header that is missing, malformed, or outside the time window."""


def signature(header: str | None, now: float) -> tuple[str, list[str]]:
    """The timestamp and the `v0` signatures of `ElevenLabs-Signature: t=<unix>,v0=<hex>`,
    refused when missing, malformed, or outside the time window."""
    if not header or not header.strip():
        raise InvalidSignature("Missing ElevenLabs-Signature header")
    timestamp, signatures = None, []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and timestamp is None:
            timestamp = value
        elif name == "v0" and value:
            signatures.append(value.lower())
    if not timestamp or not re.fullmatch(r"[0-9]{1,12}", timestamp) or not signatures:
        raise InvalidSignature("Malformed ElevenLabs-Signature header (expected t=…,v0=…)")
    age = now - int(timestamp)
    if age > SIGNATURE_MAX_AGE:
        raise InvalidSignature("ElevenLabs signature timestamp is more than 30 minutes old")
    if -age > SIGNATURE_MAX_AHEAD:
        raise InvalidSignature("ElevenLabs signature timestamp is in the future")
    return timestamp, signatures


def signed_by(secret: str, timestamp: str, signatures: list[str], raw_body: bytes) -> bool:
    """Whether one of the header's signatures is the body's: HMAC-SHA256 of `{t}.{raw body}`
    with the webhook's secret, hex."""
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + raw_body, hashlib.sha256
    ).hexdigest()
    return any(hmac.compare_digest(expected.encode(), s.encode()) for s in signatures)


def _direction(phone_call: dict[str, Any], default: str) -> str:
    direction = phone_call.get("direction")
    return direction if direction in ("inbound", "outbound") else default


def _transcript(turns: list[dict[str, Any]]) -> str | None:
    lines = [
        f"{turn.get('role')}: {message.strip()}"
        for turn in turns
        if isinstance(message := turn.get("message"), str) and message.strip()
    ]
    return "\n".join(lines) or None


def _outcome(
    data: dict[str, Any], metadata: dict[str, Any], analysis: dict[str, Any], turns: list[Any]
) -> str:
    """failed: ElevenLabs says so or logged an error; escalated: handed on (a transfer), or the
    conversation missed its goal (ElevenLabs' success evaluation) and needs a person; missed:
    the caller never said anything; resolved otherwise."""
    if data.get("status") == "failed" or metadata.get("error"):
        return "failed"
    if "transfer" in str(metadata.get("termination_reason") or "").lower():
        return "escalated"
    if not any(t.get("role") == "user" and payloads.text(t.get("message")) for t in turns):
        return "missed"
    if analysis.get("call_successful") == "failure":
        return "escalated"
    return "resolved"


def _compact(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None and v != ""}


def call_from_transcription(data: dict[str, Any]) -> dict[str, Any] | None:
    """The `calls` row of a `post_call_transcription`, or None without a conversation id.

    `metadata.cost` is in ElevenLabs credits, not money: it is kept in `metadata.cost_credits`
    and the `cost` column (dollars) stays 0."""
    conversation_id = payloads.text(data.get("conversation_id"), 200)
    if conversation_id is None:
        return None
    metadata, analysis = payloads.obj(data.get("metadata")), payloads.obj(data.get("analysis"))
    phone_call = payloads.obj(metadata.get("phone_call"))
    turns = [t for t in data.get("transcript") or [] if isinstance(t, dict)]
    started = payloads.from_unix(metadata.get("start_time_unix_secs"))
    seconds = payloads.number(metadata.get("call_duration_secs"))
    duration = max(0, round(seconds)) if seconds is not None else None
    override = payloads.obj(
        payloads.obj(data.get("conversation_initiation_client_data")).get(
            "conversation_config_override"
        )
    )
    language = payloads.text(metadata.get("main_language")) or payloads.text(
        payloads.obj(override.get("agent")).get("language")
    )
    return {
        "provider_call_id": conversation_id,
        "agent_id": payloads.text(data.get("agent_id"), 200),
        "direction": _direction(phone_call, "web"),
        "status": _outcome(data, metadata, analysis, turns),
        "phone": payloads.phone_digits(phone_call.get("external_number")),
        "language": language[:20] if language else None,
        "started_at": started,
        "ended_at": started + timedelta(seconds=duration or 0) if started else None,
        "duration_seconds": duration,
        "transcript": _transcript(turns),
        "summary": payloads.text(analysis.get("transcript_summary")),
        "analysis": analysis,
        "metadata": _compact(
            {
                "termination_reason": payloads.text(metadata.get("termination_reason"), 500),
                "cost_credits": payloads.number(metadata.get("cost")),
                "telephony": payloads.text(phone_call.get("type"), 50),
                "phone_number_id": payloads.text(phone_call.get("phone_number_id"), 200),
                "agent_number": payloads.text(phone_call.get("agent_number"), 32),
                "call_sid": payloads.text(phone_call.get("call_sid"), 200),
                "error": metadata.get("error") or None,
            }
        ),
    }


def call_from_initiation_failure(data: dict[str, Any]) -> dict[str, Any] | None:
    """The `calls` row of a `call_initiation_failure` (a call that never connected), or None
    without a conversation id. Busy and unanswered are `missed`, as for VAPI; the rest `failed`.
    Field names beyond `conversation_id` and `agent_id` are unverified: read leniently."""
    conversation_id = payloads.text(data.get("conversation_id"), 200)
    if conversation_id is None:
        return None
    metadata = payloads.obj(data.get("metadata"))
    phone_call, body = payloads.obj(metadata.get("phone_call")), payloads.obj(metadata.get("body"))
    reason = payloads.text(data.get("failure_reason"), 200)
    missed = (reason or "").lower().replace("_", "-") in {"busy", "no-answer"}
    return {
        "provider_call_id": conversation_id,
        "agent_id": payloads.text(data.get("agent_id"), 200),
        "direction": _direction(phone_call, "outbound"),
        "status": "missed" if missed else "failed",
        "phone": payloads.phone_digits(phone_call.get("external_number"))
        or payloads.phone_digits(body.get("to_number"))
        or payloads.phone_digits(body.get("To")),
        "language": None,
        "started_at": None,
        "ended_at": None,
        "duration_seconds": 0,
        "transcript": None,
        "summary": None,
        "analysis": {},
        "metadata": _compact(
            {"failure_reason": reason, "telephony": payloads.text(metadata.get("type"), 50)}
        ),
    }


# The events that describe a call, by type; the others (audio, …) do not.
CALL_EVENTS: dict[str, Callable[[dict[str, Any]], dict[str, Any] | None]] = {
    "post_call_transcription": call_from_transcription,
    "call_initiation_failure": call_from_initiation_failure,
}
