"""Lead extraction quality on the labelled conversations of tests/leads/labelled.py.

    python bench/leads.py [--show-misses]

Runs the deterministic reader (what every workspace gets, with or without a model key) over each
labelled conversation and prints precision and recall per field (name, e-mail, phone, company),
for the original set, the cases added with P8 (foreign national formats, corrections, "name is"
phrasing) and both together:
precision is the share of values found that are right, recall the share of expected values found
and right. The model's reading is not measured here: this machine has no model to ask, and a
fake one would only echo what it was told.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.leads.labelled import ADDED, LABELLED, ORIGINAL  # noqa: E402
from tests.leads.quality import scores  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args()
    misses: list[str] = []
    for title, cases in (("original", ORIGINAL), ("added", ADDED), ("all", LABELLED)):
        table, missed = scores(cases)
        if cases is LABELLED:
            misses = missed
        print(f"Deterministic lead extraction, {title} set ({len(cases)} conversations):")
        print(f"  {'field':<8} {'precision':>9} {'recall':>7} {'found':>6} {'expected':>9}")
        for field, (precision, recall, found, expected) in table.items():
            print(f"  {field:<8} {precision:>9.3f} {recall:>7.3f} {found:>6} {expected:>9}")
    if args.show_misses:
        print("\nMisses:")
        for line in misses:
            print(f"  {line}")


if __name__ == "__main__":
    main()
