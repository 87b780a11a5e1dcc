"""Retrieval of a chatbot's knowledge for the chat engine.

For now the knowledge is the bot's `knowledge_base` text (sources pasted or crawled into it):
it is split into passages on blank lines and headings and ranked by how many of the question's
words each passage holds (rarer words count more). The knowledge issue replaces this with
chunked sources and hybrid full-text + vector search behind the same `retrieve` call.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

_WORD = re.compile(r"\w+", re.UNICODE)
_SOURCE = re.compile(r"^(?:#+\s*)?(?:Source|URL):\s*(\S+)", re.IGNORECASE | re.MULTILINE)
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "the",
        "to",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)


@dataclass(frozen=True, slots=True)
class Passage:
    text: str
    title: str
    url: str | None
    score: float


def words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS and len(w) > 1]


@lru_cache(maxsize=256)
def _passages(knowledge_base: str) -> tuple[tuple[str, str, str | None], ...]:
    """(text, title, url) of each passage; a `Source: <url>` line names the URL of what
    follows, a heading its title."""
    found: list[tuple[str, str, str | None]] = []
    url: str | None = None
    title = ""
    for block in re.split(r"\n\s*\n", knowledge_base):
        block = block.strip()
        if not block:
            continue
        source = _SOURCE.match(block)
        if source:
            url = source.group(1)
            block = block[source.end() :].strip()
            if not block:
                continue
        heading = re.match(r"^#+\s*(.+)$", block.splitlines()[0])
        if heading:
            title = heading.group(1).strip()
        found.append((block[:2000], title, url))
    return tuple(found)


def retrieve(
    knowledge_base: str, query: str, *, k: int = 4, min_score: float = 0.35
) -> list[Passage]:
    """The passages that best answer `query`, best first; empty when none is relevant."""
    passages = _passages(knowledge_base)
    terms = set(words(query))
    if not passages or not terms:
        return []
    documents = [Counter(words(text)) for text, _, _ in passages]
    n = len(documents)
    idf = {t: math.log(1 + n / (1 + sum(1 for d in documents if t in d))) for t in terms}
    best_possible = sum(idf.values())
    scored = []
    for (text, title, url), document in zip(passages, documents, strict=True):
        score = sum(idf[t] for t in terms if t in document) / best_possible
        if score >= min_score:
            scored.append(Passage(text=text, title=title, url=url, score=round(score, 3)))
    scored.sort(key=lambda p: p.score, reverse=True)
    return scored[:k]
