"""Matching a visitor's question against a bot's FAQs (their questions and variants)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz

# At or above this similarity an FAQ answers the question by itself, without a model.
CONFIDENT = 88.0
# Above this it is worth showing the model as context.
RELEVANT = 60.0


@dataclass(frozen=True, slots=True)
class FaqMatch:
    faq_id: str
    question: str
    answer: str
    score: float


def normalize(text: str) -> str:
    """Lower case, no punctuation, single spaces: the key of the exact-match cache too."""
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", text.lower())).strip()


def best_matches(question: str, faqs: list[dict[str, Any]], *, limit: int = 3) -> list[FaqMatch]:
    """The active FAQs closest to `question`, best first, above the relevance bar."""
    asked = normalize(question)
    if not asked:
        return []
    matches = []
    for faq in faqs:
        if not faq["is_active"]:
            continue
        candidates = [faq["question"], *faq["question_variants"]]
        score = max(fuzz.token_sort_ratio(asked, normalize(c)) for c in candidates)
        if score >= RELEVANT:
            matches.append(FaqMatch(str(faq["id"]), faq["question"], faq["answer"], score))
    matches.sort(key=lambda m: m.score, reverse=True)
    return matches[:limit]
