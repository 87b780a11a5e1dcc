"""A chatbot's knowledge: sources turned into chunks, and retrieval for the chat engine.

Sources are websites (crawled in a job), pasted text and uploaded files; the chatbot's own
`knowledge_base` text is kept as one more text source. Every source becomes chunks indexed for
Postgres full-text search at once, and embedded (pgvector) in a job when the workspace has a
model key. Retrieval is hybrid: full-text and vector candidates, each capped, fused by
reciprocal rank.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from backend.db import Connection
from backend.kit.lexicon import SNOWBALL, Lexicon, lexicon, tokens
from backend.knowledge import repository
from backend.knowledge.chunking import chunk_text
from backend.knowledge.extract import Document

CANDIDATES = 50  # per search method
# Full-text matches ranked per query at most: a question whose words are everywhere in a large
# bot would otherwise rank most of its chunks. Stricter queries run first (all the words, then
# any two of them, then any), so the cap only ever trims the loosest one.
RANKED_MATCHES = 1000
PAIRED_TERMS = 8  # "any two of them" pairs up at most this many words (28 pairs)
RRF_K = 60
# Without embeddings, a passage must hold at least this share of the question (its words
# weighed by rarity in the bot's knowledge): below it, it shares a word but not the subject.
MIN_SCORE = 0.55
# A word of the question in a passage's title or heading counts this much more in ranking.
TITLE_WEIGHT = 1.3
# In at most this share of the bot's chunks a word is rare (a product name, not "delivery").
RARE_SHARE = 0.2
RARE_CHUNKS = 3  # and in this many at least (a small site names its products on every hub page)
# A word the bot has nowhere, asked about a passage titled by a rare word of the question.
VISITORS_OWN = 0.3
# Words of a question found in a passage's text (none in its title) lie within this many words.
NEAR = 24
MAX_GROUPS = 10  # words (with their other names) of a question searched
TERM_COUNT_CAP = 1000  # chunks counted per word for its weight: past that it is common

_WORD = re.compile(r"\w+", re.UNICODE)
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


@dataclass(frozen=True, slots=True)
class Extent:
    """Whether a bot has knowledge at all, and embedded knowledge (so the engine skips what
    would find nothing)."""

    chunks: bool
    vectors: bool


async def extent(conn: Connection, chatbot_id: UUID) -> Extent:
    found = await repository.extent(conn, chatbot_id)
    return Extent(chunks=found["chunks"], vectors=found["vectors"])


async def topics(conn: Connection, chatbot_id: UUID, limit: int) -> list[str]:
    """What the bot's knowledge is about: the titles of its first pages."""
    titles = await repository.page_titles(conn, chatbot_id, limit * 3)
    return list(dict.fromkeys(titles))[:limit]


def ts_config(language: str | None) -> str:
    return SNOWBALL.get((language or "").lower()[:2], "simple")


def query_terms(text: str) -> list[str]:
    """The words of a question worth searching for (safe inside a tsquery)."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if len(word) > 1 and word not in _STOPWORDS:
            seen.setdefault(word.replace("_", ""), None)
    return [w for w in seen if w][:20]


async def search(
    conn: Connection,
    chatbot_id: UUID,
    question: str,
    *,
    language: str | None,
    embedding: list[float] | None = None,
    k: int = 4,
) -> list[Passage]:
    """The chunks that best answer `question`, best first."""
    if embedding is None:
        return await _search_words(conn, chatbot_id, question, language=language, k=k)
    terms = query_terms(question)
    # With meaning to search by, words add the passages that hold all of them; the looser
    # queries would read every posting list of every word in the index for little more.
    queries = text_queries(terms)[:1]
    text_rows = await _text_candidates(conn, chatbot_id, queries, ts_config(language))
    vector_rows = await repository.search_vector(conn, chatbot_id, embedding, limit=CANDIDATES)
    scores: dict[Any, float] = {}
    rows: dict[Any, dict[str, Any]] = {}
    for ranked in (text_rows, vector_rows):
        for rank, row in enumerate(ranked, start=1):
            scores[row["id"]] = scores.get(row["id"], 0.0) + 1.0 / (RRF_K + rank)
            rows[row["id"]] = row
    best = sorted(scores, key=lambda chunk_id: scores[chunk_id], reverse=True)[:k]
    return [_passage(rows[i], scores[i]) for i in best]


async def _search_words(
    conn: Connection, chatbot_id: UUID, question: str, *, language: str | None, k: int
) -> list[Passage]:
    """Without embeddings the words must carry the answer. The question is read as the FAQs
    read it (stems, and the curated names of common things: "delivery" finds a page that says
    "shipping"); each of its words is searched with its other names, and the candidates are
    ranked by how much of the question they hold, a word weighing by how rare it is in this
    bot's knowledge (a product name more than "order"), in a title or heading more."""
    words = lexicon(language)
    reading = words.read(question)
    groups = [words.expansion(f, said) for f, said in reading.words.items()]
    groups = [group for group in groups if group][:MAX_GROUPS]
    expressions = ["(" + " | ".join(group) + ")" for group in groups]
    if not expressions:
        return []
    config = ts_config(language)
    rows = await _text_candidates(conn, chatbot_id, text_queries(expressions), config)
    if not rows:
        return []
    chunks, counts = await repository.term_counts(
        conn, chatbot_id, ts_config=config, expressions=expressions, cap=TERM_COUNT_CAP
    )
    # Rare in this bot's knowledge weighs most; in nearly every chunk, nothing (BM25's idf). A
    # word found nowhere weighs as one found once: visitors bring words of their own ("can I
    # still *buy* spare parts for an *old* model?"), and a question on another subject is told
    # apart by what it shares, not by how foreign the rest is.
    weights = [math.log(1 + (chunks - df + 0.5) / (df + 0.5)) for df in (max(d, 1) for d in counts)]
    held = await repository.term_matches(
        conn, chatbot_id, [r["id"] for r in rows], ts_config=config, expressions=expressions
    )
    scored = []
    for order, row in enumerate(rows):
        in_text, in_title = held.get(row["id"], ([], []))
        # A passage titled by a rare word of the question (a product's name) is about what
        # was asked: the question's words the bot has nowhere ("how *loud* is the Zephyr?")
        # are the visitor's own, and count less against it.
        topical = any(
            titled and df <= max(RARE_CHUNKS, chunks * RARE_SHARE)
            for titled, df in zip(in_title, counts, strict=False)
        )
        total = sum(
            w * (VISITORS_OWN if topical and df == 0 else 1.0)
            for w, df in zip(weights, counts, strict=True)
        )
        found = [bool(a or b) for a, b in zip(in_text, in_title, strict=False)]
        held_weight = sum(w for w, f in zip(weights, found, strict=False) if f)
        titled_weight = sum(w for w, t in zip(weights, in_title, strict=False) if t)
        coverage = held_weight / total if total else 0.0
        # Words of the question far apart in a passage that no word of the question titles
        # are two subjects, not one ("the speed of light": "eight speeds" and "a ring of
        # light" on one page).
        if coverage >= MIN_SCORE and not topical and sum(found) > 1:
            located = [g for g, f, t in zip(groups, found, in_title, strict=False) if f and not t]
            if _span(words, row["content"], located) > NEAR:
                continue
        if coverage >= MIN_SCORE:
            rank = (held_weight + (TITLE_WEIGHT - 1) * titled_weight) / total
            scored.append((rank, -order, coverage, row))
    scored.sort(key=lambda s: (s[0], s[1]), reverse=True)
    return [_passage(row, coverage) for _, _, coverage, row in scored[:k]]


def _span(words: Lexicon, text: str, groups: list[list[str]]) -> float:
    """The fewest consecutive words of `text` that hold a word of each group (stemmed as the
    full-text search stems them); infinite when one is not found."""
    wanted = [set(words.stems(group)) for group in groups]
    positions: list[tuple[int, int]] = []
    for at, stem in enumerate(words.stems(tokens(text))):
        positions += [(at, g) for g, stems in enumerate(wanted) if stem in stems]
    if {g for _, g in positions} != set(range(len(wanted))):
        return math.inf
    best, seen, start = math.inf, Counter[int](), 0
    for at, group in positions:
        seen[group] += 1
        while len(seen) == len(wanted):
            first, first_group = positions[start]
            best = min(best, at - first + 1)
            seen[first_group] -= 1
            if not seen[first_group]:
                del seen[first_group]
            start += 1
    return best


def _passage(row: dict[str, Any], score: float) -> Passage:
    return Passage(text=row["content"], title=_label(row), url=row["url"], score=round(score, 5))


def text_queries(terms: list[str]) -> list[str]:
    """Full-text queries from strictest to loosest: every word, any two of them, any one."""
    if not terms:
        return []
    queries = [" & ".join(terms)]
    if len(terms) > 2:
        paired = terms[:PAIRED_TERMS]
        queries.append(
            " | ".join(f"({a} & {b})" for i, a in enumerate(paired) for b in paired[i + 1 :])
        )
    if len(terms) > 1:
        queries.append(" | ".join(terms))
    return queries


async def _text_candidates(
    conn: Connection, chatbot_id: UUID, queries: list[str], config: str
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for expression in queries:
        found += await repository.search_text(
            conn,
            chatbot_id,
            expression=expression,
            ts_config=config,
            limit=CANDIDATES - len(found),
            ranked=RANKED_MATCHES,
            skip=[row["id"] for row in found],
        )
        if len(found) >= CANDIDATES:
            break
    return found


def _label(row: dict[str, Any]) -> str:
    """The page's title, and the section within it when that says more."""
    title, heading = row["title"], row["heading"]
    if heading and heading != title and not heading.startswith(title):
        return f"{title} › {heading}" if title else heading  # noqa: RUF001
    return title or heading or ""


# -- ingestion --------------------------------------------------------------------------------


async def index_document(
    conn: Connection,
    *,
    workspace_id: UUID,
    chatbot_id: UUID,
    source_id: UUID,
    page_id: UUID,
    document: Document,
    language: str | None,
) -> int:
    """Replace the chunks of one page by those of `document`; their count."""
    config = ts_config(document.language or language)
    rows = [
        {
            "workspace_id": workspace_id,
            "chatbot_id": chatbot_id,
            "source_id": source_id,
            "page_id": page_id,
            "ordinal": chunk.ordinal,
            "url": document.url,
            "title": document.title,
            "heading": chunk.heading,
            "content": chunk.text,
            "token_count": chunk.token_count,
            "ts_config": config,
        }
        for chunk in chunk_text(document.text)
    ]
    await repository.replace_chunks(conn, source_id=source_id, page_id=page_id, rows=rows)
    return len(rows)


async def add_text_source(
    conn: Connection,
    *,
    workspace_id: UUID,
    chatbot_id: UUID,
    kind: str,
    title: str,
    documents: list[Document],
    language: str | None,
) -> dict[str, Any]:
    """A source made of documents we were given (pasted text, a file, the bot's own knowledge
    text), indexed at once: one page per document, so each keeps its own link (and the hash
    of its text, by which `same_document` finds it again)."""
    source = await repository.create_source(
        conn,
        {
            "workspace_id": workspace_id,
            "chatbot_id": chatbot_id,
            "kind": kind,
            "title": title,
            "status": "ready",
        },
    )
    for number, document in enumerate(documents):
        page_id = await repository.upsert_page(
            conn,
            {
                "workspace_id": workspace_id,
                "source_id": source["id"],
                "url": document.url or f"{kind}:{number}",
                "title": document.title,
                "status": "fetched",
                "bytes": len(document.text.encode()),
                "content_hash": text_hash(document.text),
            },
        )
        await index_document(
            conn,
            workspace_id=workspace_id,
            chatbot_id=chatbot_id,
            source_id=source["id"],
            page_id=page_id,
            document=document,
            language=language,
        )
    await repository.refresh_counts(conn, source["id"])
    refreshed = await repository.get_source(conn, workspace_id, source["id"])
    assert refreshed is not None
    return refreshed


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def same_document(
    conn: Connection, chatbot_id: UUID, kind: str, document: Document
) -> dict[str, Any] | None:
    """The bot's source of `kind` already holding exactly this document, if any. Holds a lock
    on (bot, text) to the end of the transaction, so that the same upload sent twice at once
    also makes a single source."""
    digest = text_hash(document.text)
    await repository.lock_document(conn, chatbot_id, digest)
    return await repository.source_with_content(conn, chatbot_id, kind, digest)


_SOURCE_LINE = re.compile(
    r"^(?:#+\s*)?(?:Source|URL):\s*(https?://\S+)\s*$", re.IGNORECASE | re.MULTILINE
)


def _inline_sections(text: str) -> list[Document]:
    """The chatbot's own knowledge text, cut where a `Source: <url>` line says what the text
    after it comes from, so passages keep their links."""
    documents = []
    cuts = list(_SOURCE_LINE.finditer(text))
    bounds: list[tuple[str | None, int, int]] = [(None, 0, cuts[0].start() if cuts else len(text))]
    bounds += [
        (m.group(1), m.end(), cuts[i + 1].start() if i + 1 < len(cuts) else len(text))
        for i, m in enumerate(cuts)
    ]
    for url, start, end in bounds:
        body = text[start:end].strip()
        if not body:
            continue
        heading = re.search(r"^#+\s*(.+)$", body, re.MULTILINE)
        title = heading.group(1).strip() if heading else repository.INLINE_TITLE
        documents.append(
            Document(url=url, title=title, text=body, language=None, content_type="text/markdown")
        )
    return documents


async def sync_inline_source(
    conn: Connection, *, workspace_id: UUID, chatbot_id: UUID, text: str, language: str | None
) -> None:
    """Keep the source that mirrors the admin's part of the chatbot's `knowledge_base` text in
    step with it, and the generated part with the sources."""
    existing = await repository.inline_source(conn, chatbot_id)
    if existing is not None:
        await repository.delete_source(conn, workspace_id, existing["id"])
    sections = _inline_sections(own_text(text))
    if sections:
        await add_text_source(
            conn,
            workspace_id=workspace_id,
            chatbot_id=chatbot_id,
            kind="text",
            title=repository.INLINE_TITLE,
            documents=sections,
            language=language,
        )
    await refresh_summary(conn, chatbot_id)


# -- the readable summary -----------------------------------------------------------------------

# The chatbot's documented `knowledge_base` column is the admin's own text followed by this
# generated section, so a client reading the column sees what the bot knows. A client writing the
# column back (with the section, as it read it) changes only its own text.
SUMMARY_START = "<!-- voxtro:sources (written by Voxtro from the knowledge sources) -->"
SUMMARY_END = "<!-- /voxtro:sources -->"
SUMMARY_PAGES = 10  # pages listed per source, the rest counted
_SUMMARY = re.compile(
    rf"\s*{re.escape(SUMMARY_START)}.*?(?:{re.escape(SUMMARY_END)}|\Z)\s*", re.DOTALL
)
_KINDS = {"website": "Website", "text": "Text", "file": "File"}


def own_text(knowledge_base: str) -> str:
    """The admin's part of a `knowledge_base` value: without the generated section."""
    return _SUMMARY.sub("\n\n", knowledge_base).strip()


def render_summary(sources: list[dict[str, Any]], pages: list[dict[str, Any]]) -> str:
    if not sources:
        return ""
    lines = [SUMMARY_START, "## Knowledge sources"]
    for source in sources:
        label = source["url"] or source["title"] or "Untitled"
        # No crawl date: a scheduled re-crawl that changed nothing must leave the column (and
        # so the bot's cached answers) as they are.
        facts = [f"{source['pages']} page{'s' if source['pages'] != 1 else ''}"]
        if source["status"] != "ready":
            facts.append(source["status"])
        lines.append(f"- {_KINDS[source['kind']]}: {label} ({', '.join(facts)})")
        if source["kind"] == "website":
            listed = [p for p in pages if p["source_id"] == source["id"]]
            lines += [f"  - {p['title'] or p['url']}: {p['url']}" for p in listed]
            if source["pages"] > len(listed):
                lines.append(f"  - and {source['pages'] - len(listed)} more")
    lines.append(SUMMARY_END)
    return "\n".join(lines)


async def refresh_summary(conn: Connection, chatbot_id: UUID) -> None:
    """Rewrite the generated section of the bot's `knowledge_base` from its sources now."""
    current = await repository.knowledge_base(conn, chatbot_id)
    if current is None:
        return
    sources = await repository.summarised_sources(conn, chatbot_id)
    pages = await repository.summarised_pages(conn, chatbot_id, SUMMARY_PAGES)
    summary = render_summary(sources, pages)
    text = "\n\n".join(part for part in (own_text(current), summary) if part)
    if text != current:
        await repository.set_knowledge_base(conn, chatbot_id, text)
