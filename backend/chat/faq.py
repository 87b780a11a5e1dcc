"""Matching a visitor's question against a bot's FAQs: their questions, variants and answers.

Both sides are read by the workspace language's lexicon (backend/kit/lexicon): stems, and the
concepts of the curated map, so "What time do you open?" meets "What are your opening hours?"
on `@hours`. Each feature weighs by how rare it is among the bot's FAQs (idf); a word no FAQ
has weighs most, so "what's the capital of Australia" is not answered by the one FAQ that says
"Australia". A match scores how much of the question the FAQ covers (its question or a
variant fully, its answer in part) and how much of that FAQ question the visitor asked.

The index is built once per bot and FAQ version (the engine caches it with the bot's parts).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from backend.kit.lexicon import Lexicon, Reading, lexicon

# Without a model, at or above this score an FAQ answers unless a knowledge passage holds more
# of the question.
CONFIDENT = 62.0
# At or above this an FAQ answers by itself, with or without a model.
CERTAIN = 90.0
# Above this it is worth showing the model as context.
RELEVANT = 35.0

# How much the question's share covered counts against the FAQ question's share asked.
_QUESTION_SHARE = 0.7
# A word of the question found only in the FAQ's answer counts this much of one in its question.
_ANSWER_CREDIT = 0.6


@dataclass(frozen=True, slots=True)
class FaqMatch:
    faq_id: str
    question: str
    answer: str
    score: float


def normalize(text: str) -> str:
    """Lower case, no punctuation, single spaces: the key of the exact-match cache too."""
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", text.lower())).strip()


@dataclass(frozen=True, slots=True)
class _Phrasing:
    """A question or variant of an FAQ, ready to score: what it matches, and its own
    features with their weights."""

    matches: frozenset[str]
    own: tuple[tuple[str, float], ...]
    own_weight: float


@dataclass(frozen=True, slots=True)
class _Entry:
    faq: dict[str, Any]
    phrasings: tuple[_Phrasing, ...]
    answer: frozenset[str]


class FaqIndex:
    """A bot's active FAQs, read once, with the weight of every feature they use."""

    def __init__(self, faqs: list[dict[str, Any]], language: str | None) -> None:
        self.lexicon: Lexicon = lexicon(language)
        read: list[tuple[dict[str, Any], list[Reading], Reading]] = []
        document_frequency: dict[str, int] = {}
        for faq in faqs:
            if not faq["is_active"]:
                continue
            phrasings = [
                self.lexicon.read(text)
                for text in (faq["question"], *faq["question_variants"])
                if text.strip()
            ]
            answer = self.lexicon.read(faq["answer"])
            read.append((faq, phrasings, answer))
            seen = set().union(*(p.features | p.also for p in phrasings))
            for feature in seen | answer.features | answer.also:
                document_frequency[feature] = document_frequency.get(feature, 0) + 1
        n = len(read)
        self._weights = {
            f: math.log(1 + (n + 1) / (df + 0.5)) for f, df in document_frequency.items()
        }
        # A word no FAQ uses weighs as the rarest that one does: visitors add words of their own
        # ("can you deliver to my *house*?"), and an unrelated question is told apart by the
        # bot's words it lacks, not by how foreign its own are.
        self._unknown = math.log(1 + (n + 1) / 1.5)
        self.entries = [
            _Entry(faq, tuple(self._phrasing(p) for p in phrasings), answer.features | answer.also)
            for faq, phrasings, answer in read
        ]

    def _phrasing(self, reading: Reading) -> _Phrasing:
        own = tuple((f, self.weight(f)) for f in reading.features)
        return _Phrasing(reading.features | reading.also, own, sum(w for _, w in own))

    def weight(self, feature: str) -> float:
        return self._weights.get(feature, self._unknown)

    def best(self, question: str | Reading, *, limit: int = 3) -> list[FaqMatch]:
        """The FAQs closest to `question`, best first, above the relevance bar."""
        asked = self.lexicon.read(question) if isinstance(question, str) else question
        if not asked.features:
            return []
        weighed = [(f, self.weight(f)) for f in asked.features]
        total = sum(w for _, w in weighed)
        reach = asked.features | asked.also
        matches = []
        for entry in self.entries:
            score = max(
                self._score(weighed, total, reach, p, entry.answer) for p in entry.phrasings
            )
            if score >= RELEVANT:
                faq = entry.faq
                matches.append(
                    FaqMatch(str(faq["id"]), faq["question"], faq["answer"], round(score, 1))
                )
        matches.sort(key=lambda m: m.score, reverse=True)
        return matches[:limit]

    @staticmethod
    def _score(
        weighed: list[tuple[str, float]],
        total: float,
        reach: frozenset[str],
        phrasing: _Phrasing,
        answer: frozenset[str],
    ) -> float:
        covered = 0.0
        for feature, weight in weighed:
            if feature in phrasing.matches:
                covered += weight
            elif feature in answer:
                covered += _ANSWER_CREDIT * weight
        asked = sum(w for f, w in phrasing.own if f in reach)
        asked_share = asked / phrasing.own_weight if phrasing.own_weight else 0.0
        return 100 * (_QUESTION_SHARE * covered / total + (1 - _QUESTION_SHARE) * asked_share)

    def topics(self, limit: int = 4) -> list[str]:
        """What the bot can tell about, as its FAQs ask it (the widget's suggested questions)."""
        return [e.faq["question"] for e in self.entries[:limit]]
