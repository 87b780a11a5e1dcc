"""The rules every provider's calls follow as they are stored: a call that is stored as ended
is reported once, as `call.ended`, in the same transaction. The providers' webhooks and imports
call these with their open transaction."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from backend.db import Connection
from backend.events import repository as events
from backend.events.types import EventType
from backend.voice.calls import repository


async def _ended(
    conn: Connection, workspace_id: UUID, call: dict[str, Any], provider: str, call_id: str
) -> None:
    await events.record(
        conn,
        workspace_id=workspace_id,
        type=EventType.CALL_ENDED,
        subject_id=call["id"],
        payload={
            "provider": provider,
            "provider_call_id": call_id,
            "status": call["status"],
            "duration_seconds": call["duration_seconds"],
        },
    )


async def store_finished(
    conn: Connection, workspace_id: UUID, provider: str, values: dict[str, Any]
) -> bool:
    """Store a call the provider reports as over (see `repository.insert_once`); True when it
    is new."""
    call_id = await repository.insert_once(conn, workspace_id, provider, values)
    if call_id is None:
        return False
    call = {"id": call_id, **values}
    await _ended(conn, workspace_id, call, provider, values["provider_call_id"])
    return True


async def apply_bolna_execution(
    conn: Connection, workspace_id: UUID, values: dict[str, Any]
) -> bool:
    """Apply one Bolna execution state (see `repository.apply_execution`); True when it changed
    or added a call."""
    call = await repository.apply_execution(conn, workspace_id, values)
    if call is None:
        return False
    if call["ended_now"]:
        await _ended(conn, workspace_id, call, "bolna", values["provider_call_id"])
    return True
