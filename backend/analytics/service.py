"""Analytics: what the workspace spent (by service, channel or day) and the dashboard's figures.

Days are the workspace's own (`workspaces.time_zone`): a call at 23:30 UTC is on the next day
in Asia/Kolkata. Costs come from the usage ledger (`token_usage`, priced when the usage
happened, builder previews left out) and from calls (`calls.cost`, as the provider reported it).
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from backend.analytics import repository
from backend.analytics.schemas import (
    CacheFigures,
    ChannelCost,
    ConversationFigures,
    CostBreakdown,
    CostFigures,
    CustomerFigures,
    Dashboard,
    DayCost,
    ServiceCost,
)
from backend.cache import repository as cache_repository
from backend.conversations import repository as conversation_repository
from backend.db import Connection
from backend.errors import ValidationFailed

GROUPINGS = ("service", "channel", "day")
MAX_RANGE_DAYS = 366
PERCENT_DECIMALS = 1  # as the document shows them: 77.8, 11.1, 11.1
_ITEMS: dict[str, type[ServiceCost | ChannelCost | DayCost]] = {
    "service": ServiceCost,
    "channel": ChannelCost,
    "day": DayCost,
}
_MICRO = Decimal("0.000001")  # usage is priced to the millionth of a dollar


class InvalidAnalyticsQuery(ValidationFailed):
    # The omnichannel document's error table gives 400 for VALIDATION_ERROR.
    status_code = 400

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field} {message}", errors=[{"field": field, "message": message}])


@dataclass(frozen=True, slots=True)
class Period:
    first: date
    last: date  # included


def _parse_date(value: str | None, field: str) -> date | None:
    """A date, or the calendar date of an ISO 8601 timestamp as written (what a browser's
    `toISOString()` of a picked day gives)."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value).date()
    except ValueError:
        raise InvalidAnalyticsQuery(field, "must be an ISO 8601 date (YYYY-MM-DD)") from None


def cost_period(start_date: str | None, end_date: str | None, *, today: date) -> Period:
    """The days asked for, both included: by default from the first day of the end's month
    (this month's, with no end) to the end (today, with no end)."""
    last = _parse_date(end_date, "endDate") or today
    if last == date.max:  # the day after it, where the range ends, does not exist
        raise InvalidAnalyticsQuery("endDate", "is out of range")
    first = _parse_date(start_date, "startDate") or last.replace(day=1)
    if last < first:
        raise InvalidAnalyticsQuery("endDate", "must not be before startDate")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise InvalidAnalyticsQuery("endDate", f"must be within {MAX_RANGE_DAYS} days of startDate")
    return Period(first, last)


def shares(amounts: Sequence[Decimal], *, decimals: int = PERCENT_DECIMALS) -> list[Decimal]:
    """Each amount's percentage of their total, rounded to `decimals` so that they add up to
    exactly 100 (largest remainder: every share rounded down, then the units still missing go
    to the largest remainders, the earlier amount first on a tie)."""
    total = sum(amounts, Decimal(0))
    if total <= 0:
        return [Decimal(0) for _ in amounts]
    units = 100 * 10**decimals
    exact = [amount * units / total for amount in amounts]
    rounded = [int(share) for share in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: (rounded[i] - exact[i], i))
    for i in by_remainder[: units - sum(rounded)]:
        rounded[i] += 1
    return [Decimal(n).scaleb(-decimals) for n in rounded]


def _start_of(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone)


def _money(amount: Decimal) -> float:
    return float(amount.quantize(_MICRO))


async def cost_breakdown(
    conn: Connection,
    workspace_id: UUID,
    *,
    start_date: str | None,
    end_date: str | None,
    group_by: str | None,
) -> CostBreakdown:
    group = group_by or "service"
    if group not in GROUPINGS:
        raise InvalidAnalyticsQuery("groupBy", "must be one of: " + ", ".join(GROUPINGS))
    tz = await repository.time_zone(conn, workspace_id)
    zone = ZoneInfo(tz)
    period = cost_period(start_date, end_date, today=datetime.now(zone).date())
    rows = await repository.costs(
        conn,
        workspace_id,
        since=_start_of(period.first, zone),
        until=_start_of(period.last + timedelta(days=1), zone),
        group_by=group,
        tz=tz,
    )
    # Days in order; services and channels dearest first, as the document lists them.
    rows.sort(key=lambda r: r["key"])
    if group != "day":
        rows.sort(key=lambda r: r["cost"], reverse=True)  # stable: equal costs stay by name
    amounts = [r["cost"] for r in rows]
    item = _ITEMS[group]
    return CostBreakdown(
        total=_money(sum(amounts, Decimal(0))),
        breakdown=[
            item.model_validate(
                {group: r["key"], "cost": _money(r["cost"]), "percentage": float(share)}
            )
            for r, share in zip(rows, shares(amounts), strict=True)
        ],
    )


def _percent(part: int, whole: int) -> int:
    return round(part * 100 / whole) if whole else 0


async def dashboard(conn: Connection, workspace_id: UUID) -> Dashboard:
    tz = await repository.time_zone(conn, workspace_id)
    zone = ZoneInfo(tz)
    today = datetime.now(zone).date()
    month_start = _start_of(today.replace(day=1), zone)
    by_day = {
        r["key"]: r["cost"]
        for r in await repository.costs(
            conn,
            workspace_id,
            since=month_start,
            until=_start_of(today + timedelta(days=1), zone),
            group_by="day",
            tz=tz,
        )
    }
    this_month = sum(by_day.values(), Decimal(0))
    days_in_month = calendar.monthrange(today.year, today.month)[1]
    conversations = await conversation_repository.analytics_figures(conn, workspace_id)
    customers = await repository.customer_figures(conn, workspace_id, month_start=month_start)
    cache: dict[str, Any] = await cache_repository.stats(conn, workspace_id)
    return Dashboard(
        conversations=ConversationFigures(
            total=conversations["total"],
            active=conversations["active"],
            closed=conversations["closed"],
            avgDuration=round(float(conversations["avg_minutes"]), 1),
        ),
        customers=CustomerFigures(
            total=customers["total"],
            newThisMonth=customers["new_this_month"],
            verified=customers["verified"],
        ),
        costs=CostFigures(
            today=_money(by_day.get(today.isoformat(), Decimal(0))),
            thisMonth=_money(this_month),
            # The pace of the days so far (today counted whole) over the whole month.
            projected=_money(this_month * days_in_month / today.day),
        ),
        cache=CacheFigures(
            hitRate=_percent(
                sum(r["from_cache"] for r in cache["answers"]),
                sum(r["answers"] for r in cache["answers"]),
            ),
            totalCached=sum(r["cached"] for r in cache["entries"]),
        ),
    )
