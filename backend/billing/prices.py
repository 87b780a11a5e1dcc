"""What model usage costs, in US dollars, by price-table version.

Every usage row records the version it was priced with, so a new table never rewrites history:
add a version (effective from its date) instead of editing an old one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class ModelPrice:
    input_per_million: Decimal
    cached_input_per_million: Decimal
    output_per_million: Decimal


def _p(input_: str, cached: str, output: str) -> ModelPrice:
    return ModelPrice(Decimal(input_), Decimal(cached), Decimal(output))


# version (effective date) -> model -> price
PRICE_TABLES: dict[str, dict[str, ModelPrice]] = {
    "2026-11-01": {
        "gpt-4o-mini": _p("0.15", "0.075", "0.60"),
        "gpt-4o": _p("2.50", "1.25", "10.00"),
        "gpt-4.1-mini": _p("0.40", "0.10", "1.60"),
        "gpt-4.1": _p("2.00", "0.50", "8.00"),
        "gpt-4.1-nano": _p("0.10", "0.025", "0.40"),
        "text-embedding-3-small": _p("0.02", "0.02", "0"),
        "text-embedding-3-large": _p("0.13", "0.13", "0"),
    },
}

# Models we do not know are priced like the dearest chat model: never under-charge a budget.
_FALLBACK = _p("2.50", "1.25", "10.00")

CHAT_MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1", "gpt-4.1-nano")
DEFAULT_EMBEDDING_MODEL = "text-embedding-3-small"


def current_version(today: date | None = None) -> str:
    today = today or datetime.now(UTC).date()
    return max(v for v in PRICE_TABLES if date.fromisoformat(v) <= today)


def price_of(model: str, version: str) -> ModelPrice:
    table = PRICE_TABLES[version]
    # Dated snapshots ("gpt-4o-mini-2024-07-18") cost what their family costs.
    family = next(
        (name for name in sorted(table, key=len, reverse=True) if model.startswith(name)), None
    )
    return table[family] if family else _FALLBACK


def cost(
    model: str,
    *,
    prompt_tokens: int,
    completion_tokens: int,
    cached_tokens: int = 0,
    version: str | None = None,
) -> tuple[Decimal, str]:
    """The cost of one call and the price version it was computed with."""
    version = version or current_version()
    price = price_of(model, version)
    fresh_input = max(prompt_tokens - cached_tokens, 0)
    total = (
        price.input_per_million * fresh_input
        + price.cached_input_per_million * cached_tokens
        + price.output_per_million * completion_tokens
    ) / Decimal(1_000_000)
    return total.quantize(Decimal("0.000001")), version
