"""What VAPI posts to a server URL (providers.md §2): the secret it presents, and the calls
its end-of-call reports (and `GET /call` items, which carry the same fields) describe, read
into our `calls` columns."""

from __future__ import annotations

import re
from typing import Any

from backend.kit import payloads


def presented_secret(x_vapi_secret: str | None, authorization: str | None) -> str | None:
    """`X-Vapi-Secret: <secret>` (legacy secret, or a Bearer credential named so), else
    `Authorization: Bearer <secret>` (a Bearer credential with the default header)."""
    if x_vapi_secret and x_vapi_secret.strip():
        return x_vapi_secret.strip()
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        if not value and scheme:  # a Bearer credential configured without the prefix
            return scheme
    return None


def _ended_status(reason: str, started: bool) -> str:
    reason = reason.lower()
    if any(word in reason for word in ("error", "failed", "fault")) or reason.startswith(
        "pipeline-"
    ):
        return "failed"
    if "forward" in reason or "transfer" in reason:
        return "escalated"
    if reason in {"customer-did-not-answer", "customer-busy", "voicemail"} or (
        "did-not-answer" in reason or "busy" in reason or "canceled" in reason
    ):
        return "missed"
    if reason:
        return "resolved"  # customer / assistant ended it, silence, max duration …
    return "resolved" if started else "missed"


_DIRECTIONS = {"inboundPhoneCall": "inbound", "outboundPhoneCall": "outbound", "webCall": "web"}


def call_from_report(message: dict[str, Any]) -> dict[str, Any] | None:
    """The `calls` row of an end-of-call report, or None without a call id. Reads the current
    schema (`artifact.*`, `analysis.*`) first, then the legacy top-level fields."""
    call = payloads.obj(message.get("call"))
    call_id = payloads.text(call.get("id"), 200)
    if call_id is None:
        return None
    artifact, analysis = (
        payloads.obj(message.get("artifact")),
        payloads.obj(message.get("analysis")),
    )
    customer = payloads.obj(call.get("customer")) or payloads.obj(message.get("customer"))
    started = payloads.when(message.get("startedAt")) or payloads.when(call.get("startedAt"))
    ended = payloads.when(message.get("endedAt")) or payloads.when(call.get("endedAt"))
    duration = payloads.number(message.get("durationSeconds"))
    if duration is None and started and ended:
        duration = (ended - started).total_seconds()
    recording = (
        payloads.text(artifact.get("recordingUrl"))
        or payloads.text(
            payloads.obj(payloads.obj(artifact.get("recording")).get("mono")).get("combinedUrl")
        )
        or payloads.text(message.get("recordingUrl"))
    )
    # `calls.cost` is numeric(12, 6): dollars below a million.
    cost = payloads.number(message.get("cost", call.get("cost")), limit=999_999)
    structured = payloads.obj(analysis.get("structuredData"))
    language = (
        payloads.text(message.get("language"))
        or payloads.text(structured.get("language"))
        or payloads.text(
            payloads.obj(payloads.obj(message.get("assistant")).get("transcriber")).get("language")
        )
    )
    reason = str(message.get("endedReason") or call.get("endedReason") or "")
    return {
        "provider_call_id": call_id,
        "agent_id": payloads.text(call.get("assistantId"), 200)
        or payloads.text(payloads.obj(message.get("assistant")).get("id"), 200),
        "direction": _DIRECTIONS.get(str(call.get("type")), "inbound"),
        "status": _ended_status(reason, started is not None),
        "phone": payloads.phone_digits(customer.get("number")),
        "language": language[:20] if language else None,
        "started_at": started,
        "ended_at": ended,
        "duration_seconds": max(0, round(duration)) if duration is not None else None,
        "transcript": payloads.text(artifact.get("transcript"))
        or payloads.text(message.get("transcript")),
        "summary": payloads.text(analysis.get("summary")) or payloads.text(message.get("summary")),
        "recording_url": recording if recording and re.match(r"^https?://", recording) else None,
        "cost": cost or 0,
        "analysis": analysis,
        "metadata": {
            k: v
            for k, v in {
                "endedReason": reason or None,
                "phoneNumberId": call.get("phoneNumberId"),
                "orgId": call.get("orgId"),
            }.items()
            if v
        },
    }
