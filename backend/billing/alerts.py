"""Budget alerts: the month's spend reached 80 % or 100 % of the monthly budget.

They are recorded by the statement that changes the spend or the budget (see
`repository._RECORD_ALERTS`), in the same transaction, once per workspace, month and threshold,
so a threshold crossed by many concurrent calls gives one alert.

The omnichannel document lists cost threshold alerts among its outbound webhooks. Outbound
webhooks do not exist yet, so an alert is logged and listed (`GET /api/business/alerts`); when
they do, `announce` is where the delivery job gets enqueued, in the same transaction (the queue
is in Postgres), so an alert whose transaction rolls back is never sent.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import structlog

from backend.billing import repository
from backend.db import Connection

log = structlog.get_logger(__name__)


def announce(workspace_id: UUID, recorded: list[dict[str, Any]]) -> None:
    for alert in recorded:
        log.warning(
            "budget_alert",
            workspace_id=str(workspace_id),
            threshold=alert["threshold"],
            spend=str(alert["spend"]),
            budget=str(alert["budget"]),
        )


async def recent(
    conn: Connection, workspace_id: UUID, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """The workspace's alerts, newest first, and how many there are."""
    return await repository.budget_alerts(conn, workspace_id, limit=limit, offset=offset)
