"""Precision and recall of the deterministic lead reader on the labelled conversations
(tests/leads/labelled.py): the figures bench/leads.py prints and the floors the tests keep."""

from __future__ import annotations

from backend.leads.extract import FIELDS, deterministic
from tests.leads.labelled import LABELLED, Labelled


def expected_of(case: Labelled) -> dict[str, str | None]:
    return {
        "name": case.name_,
        "email": case.email,
        "phone": case.phone,
        "company": case.company,
    }


def same(field: str, found: str | None, expected: str | None) -> bool:
    if found is None or expected is None:
        return found == expected
    if field in ("name", "company"):
        return found.casefold() == expected.casefold()
    return found == expected


def scores(
    cases: list[Labelled] = LABELLED,
) -> tuple[dict[str, tuple[float, float, int, int]], list[str]]:
    counts = {f: [0, 0, 0] for f in FIELDS}  # right, found, expected
    misses = []
    for case in cases:
        messages = [{"role": role, "content": text} for role, text in case.messages]
        found = deterministic(messages, case.region).values()
        for field, expected in expected_of(case).items():
            value = found[field]
            right = value is not None and same(field, value, expected)
            counts[field][0] += right
            counts[field][1] += value is not None
            counts[field][2] += expected is not None
            if not same(field, value, expected):
                misses.append(f"{case.name:<40} {field:<8} found {value!r}, expected {expected!r}")
    table = {
        f: (
            right / found if found else 1.0,
            right / expected if expected else 1.0,
            found,
            expected,
        )
        for f, (right, found, expected) in counts.items()
    }
    return table, misses
