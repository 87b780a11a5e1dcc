from datetime import date
from decimal import Decimal

from backend.billing.prices import cost, current_version, price_of


def test_cost_counts_fresh_cached_and_output_tokens_at_their_prices():
    value, version = cost(
        "gpt-4o-mini",
        prompt_tokens=1_000_000,
        completion_tokens=1_000_000,
        cached_tokens=400_000,
        version="2026-11-01",
    )
    # 600k fresh * 0.15 + 400k cached * 0.075 + 1M out * 0.60
    assert value == Decimal("0.720000")
    assert version == "2026-11-01"


def test_dated_snapshots_cost_what_their_family_costs_and_unknown_models_are_not_cheap():
    assert price_of("gpt-4o-mini-2024-07-18", "2026-11-01") == price_of("gpt-4o-mini", "2026-11-01")
    assert price_of("gpt-4o-2024-08-06", "2026-11-01") == price_of("gpt-4o", "2026-11-01")
    assert price_of("some-new-model", "2026-11-01").output_per_million >= Decimal("10")


def test_the_version_in_force_is_the_latest_that_has_started():
    assert current_version(date(2026, 11, 23)) == "2026-11-01"
