"""Lenient readers for providers' webhook payloads: a field of the wrong type or shape reads as
absent instead of failing the whole delivery (providers add and change fields freely)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from backend.kit import phones


def obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def text(value: Any, limit: int | None = None) -> str | None:
    """A non-blank string, cut to `limit` characters."""
    if not isinstance(value, str) or not value.strip():
        return None
    return value[:limit] if limit else value


def number(value: Any, *, limit: float = 1e9) -> float | None:
    """A finite number within ±`limit`, or a string holding one (never a bool): what fits
    the column it is stored in (NaN, infinities and absurd sizes read as absent)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        result = float(value)
    except ValueError:
        return None
    return result if math.isfinite(result) and abs(result) <= limit else None


def when(value: Any) -> datetime | None:
    """An ISO 8601 moment with its zone (`Z` included); a time without one would be a guess."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def from_unix(value: Any) -> datetime | None:
    seconds = number(value, limit=1e11)  # Unix seconds are past 1e9 since 2001
    if seconds is None or seconds <= 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def phone_digits(value: Any) -> str | None:
    """The digits of a phone number as `calls.phone` keeps them (6 to 15), or None."""
    return phones.digits(value) if isinstance(value, str) else None
