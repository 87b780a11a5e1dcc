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

# At or above this score an FAQ answers the question by itself, without a model.
CONFIDENT = 62.0
# Without a model, an FAQ this close still answers when the knowledge base has nothing better.
PROBABLE = 55.0
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
class _Entry:
    faq: dict[str, Any]
    phrasings: tuple[Reading, ...]  # the question and each variant
    answer: Reading


class FaqIndex:
    """A bot's active FAQs, read once, with the weight of every feature they use."""

    def __init__(self, faqs: list[dict[str, Any]], language: str | None) -> None:
        self.lexicon: Lexicon = lexicon(language)
        self.entries: list[_Entry] = []
        document_frequency: dict[str, int] = {}
        for faq in faqs:
            if not faq["is_active"]:
                continue
            phrasings = tuple(
                self.lexicon.read(text)
                for text in (faq["question"], *faq["question_variants"])
                if text.strip()
            )
            entry = _Entry(faq, phrasings, self.lexicon.read(faq["answer"]))
            self.entries.append(entry)
            seen = set().union(*(p.features | p.also for p in phrasings))
            seen |= entry.answer.features | entry.answer.also
            for feature in seen:
                document_frequency[feature] = document_frequency.get(feature, 0) + 1
        n = len(self.entries)
        self._weights = {
            f: math.log(1 + (n + 1) / (df + 0.5)) for f, df in document_frequency.items()
        }
        # A word no FAQ uses weighs as the rarest that one does: visitors add words of their own
        # ("can you deliver to my *house*?"), and an unrelated question is told apart by the
        # bot's words it lacks, not by how foreign its own are.
        self._unknown = math.log(1 + (n + 1) / 1.5)

    def weight(self, feature: str) -> float:
        return self._weights.get(feature, self._unknown)

    def known(self, feature: str) -> bool:
        return feature in self._weights

    def best(self, question: str | Reading, *, limit: int = 3) -> list[FaqMatch]:
        """The FAQs closest to `question`, best first, above the relevance bar."""
        asked = self.lexicon.read(question) if isinstance(question, str) else question
        if not asked.features:
            return []
        total = sum(self.weight(f) for f in asked.features)
        matches = []
        for entry in self.entries:
            score = max(self._score(asked, total, p, entry.answer) for p in entry.phrasings)
            if score >= RELEVANT:
                faq = entry.faq
                matches.append(FaqMatch(str(faq["id"]), faq["question"], faq["answer"], score))
        matches.sort(key=lambda m: m.score, reverse=True)
        return matches[:limit]

    def _score(self, asked: Reading, total: float, phrasing: Reading, answer: Reading) -> float:
        in_question = phrasing.features | phrasing.also
        in_answer = answer.features | answer.also
        covered = 0.0
        for feature in asked.features:
            if feature in in_question:
                covered += self.weight(feature)
            elif feature in in_answer:
                covered += _ANSWER_CREDIT * self.weight(feature)
        question_share = covered / total
        own = sum(self.weight(f) for f in phrasing.features)
        reach = asked.features | asked.also
        asked_share = (
            sum(self.weight(f) for f in phrasing.features if f in reach) / own if own else 0.0
        )
        return round(
            100 * (_QUESTION_SHARE * question_share + (1 - _QUESTION_SHARE) * asked_share), 1
        )

    def topics(self, limit: int = 4) -> list[str]:
        """What the bot can tell about, as its FAQs ask it (the widget's suggested questions)."""
        return [e.faq["question"] for e in self.entries[:limit]]


def best_matches(
    question: str, faqs: list[dict[str, Any]], *, language: str | None = None, limit: int = 3
) -> list[FaqMatch]:
    """One-off matching (the index is better kept: see FaqIndex)."""
    return FaqIndex(faqs, language).best(question, limit=limit)
