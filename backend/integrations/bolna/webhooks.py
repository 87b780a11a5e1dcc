"""What Bolna's execution webhook posts (providers.md §9): an execution as it goes (queued,
ringing, in progress, completed …), read into the `calls` columns each state sets."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from backend.kit import payloads

# Bolna's statuses in lifecycle order (rank), and ours. A call's state only moves forward: a
# delivery whose rank is not above the last applied one is a repeat or arrived late. Every end
# shares the last rank, so the first end reported is the one kept; the same end posted again
# (`completed` once the recording or the extracted data is ready) only fills fields in.
_END = 6
_LIFECYCLE: dict[str, tuple[int, str]] = {
    "scheduled": (0, "queued"),
    "queued": (1, "queued"),
    "rescheduled": (1, "queued"),
    "initiated": (2, "queued"),
    "ringing": (3, "queued"),
    "in-progress": (4, "in_progress"),
    "call-disconnected": (5, "in_progress"),  # `completed` follows with the recording etc.
    "completed": (_END, "resolved"),  # or missed: see `_ended_status`
    "busy": (_END, "missed"),
    "no-answer": (_END, "missed"),
    "canceled": (_END, "missed"),
    "stopped": (_END, "missed"),
    "failed": (_END, "failed"),
    "error": (_END, "failed"),
    "balance-low": (_END, "failed"),
}


def _ended_status(execution: dict[str, Any], duration: float | None) -> str:
    """`completed` only says the line was closed: nobody spoke unless the conversation lasted,
    and an answering machine is no confirmation."""
    if not duration or execution.get("answered_by_voice_mail") is True:
        return "missed"
    return "resolved"


def call_from_execution(execution: dict[str, Any]) -> dict[str, Any] | None:
    """The `calls` columns one execution state sets (and its `rank`), or None for a status
    this code does not know (acknowledged, not applied). Duration, cost, recording and
    transcript are read at the end only: before it Bolna sends zeros and nulls."""
    bolna_status = str(execution.get("status") or "")
    if bolna_status not in _LIFECYCLE:
        return None
    rank, status = _LIFECYCLE[bolna_status]
    ended = rank == _END
    telephony = payloads.obj(execution.get("telephony_data"))
    inbound = telephony.get("call_type") == "inbound"
    duration = payloads.number(
        execution.get("conversation_duration", execution.get("conversation_time"))
    )
    if bolna_status == "completed":
        status = _ended_status(execution, duration)
    updated_at = payloads.when(execution.get("updated_at"))
    cost = payloads.number(execution.get("total_cost"))  # cents
    recording = payloads.text(telephony.get("recording_url"))
    extracted = payloads.obj(execution.get("extracted_data"))
    return {
        "provider_call_id": str(execution["id"])[:200],
        "rank": rank,
        "ended": ended,
        "agent_id": payloads.text(execution.get("agent_id"), 200),
        "direction": "inbound" if inbound else "outbound",
        "status": status,
        "phone": payloads.phone_digits(telephony.get("from_number" if inbound else "to_number")),
        # When the call was placed: Bolna's `created_at`.
        "started_at": payloads.when(execution.get("created_at")),
        "ended_at": (updated_at or datetime.now(UTC)) if ended else None,
        "duration_seconds": max(0, round(duration)) if ended and duration is not None else None,
        "transcript": payloads.text(execution.get("transcript")) if ended else None,
        "recording_url": recording
        if ended and recording and re.match(r"^https?://", recording)
        else None,
        "cost": Decimal(str(cost)) / 100 if ended and cost is not None else None,
        "analysis": {"extracted_data": extracted} if extracted else {},
        "metadata": {
            "bolna": {
                "status": bolna_status,
                "rank": rank,
                **{
                    k: v
                    for k, v in {
                        "hangup_reason": telephony.get("hangup_reason"),
                        "hangup_by": telephony.get("hangup_by"),
                        "error_message": execution.get("error_message"),
                        "answered_by_voice_mail": execution.get("answered_by_voice_mail"),
                        "batch_id": execution.get("batch_id"),
                    }.items()
                    if v is not None
                },
            }
        },
    }


def knows(status: str) -> bool:
    """Whether `status` is one of Bolna's statuses this code knows."""
    return status in _LIFECYCLE
