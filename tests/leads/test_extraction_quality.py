"""The deterministic lead reader keeps its measured quality on the labelled set (bench/leads.py
prints the figures): a change that loses precision or recall on any field fails here."""

from __future__ import annotations

from tests.leads.labelled import LABELLED
from tests.leads.quality import scores

# Just under what it measured when written: (precision, recall) per field.
FLOORS = {
    "name": (0.97, 0.80),
    "email": (0.87, 0.94),
    "phone": (0.95, 0.94),
    "company": (0.85, 0.70),
}


def test_the_labelled_set_is_large_and_varied():
    assert len(LABELLED) >= 40
    languages = {case.name.split("_")[0] for case in LABELLED}
    assert len(languages) >= 6


def test_each_field_keeps_its_precision_and_recall():
    table, misses = scores()
    for field, (precision, recall, _, _) in table.items():
        floor_p, floor_r = FLOORS[field]
        assert precision >= floor_p and recall >= floor_r, (field, precision, recall, misses)
