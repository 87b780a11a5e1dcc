"""Splitting a source's light-Markdown text into retrieval chunks of a bounded token size.

Structure comes first: headings, then paragraphs, then sentences (or lines), then words. Pieces are
packed up to `max_tokens`; when a cut falls inside a section, the next chunk repeats the last
~`overlap_tokens` of the previous one (whole sentences where possible). A cut at a heading needs no
overlap: the heading says what follows. No chunk spans two top-level (`#`) sections. Each chunk
reports the path of headings where it starts, joined by HEADING_SEPARATOR; the path is not added
to the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from backend.kit.text import estimate_tokens

HEADING_SEPARATOR = " \N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK} "

_HEADING = re.compile(r"(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*")
_FENCE = re.compile(r"(```|~~~)")
# A sentence ends at terminal punctuation (Latin, Devanagari danda, CJK full stop and fullwidth
# marks), with any closing quotes (straight or curly) or brackets, followed by white space; CJK
# marks need no space. A line break always ends a piece: list items and table rows stay whole.
_SENTENCE_BREAK = re.compile(
    r"(?<=[.!?\u0964\u0965])[\"'\u201d\u2019)\]]*[ \t]+"
    r"|(?<=[\u3002\uff01\uff1f])[\"'\u201d\u2019)\]]*[ \t]*"
    r"|\n+"
)


@dataclass(frozen=True)
class Chunk:
    ordinal: int
    heading: str | None
    text: str
    token_count: int


@dataclass(frozen=True)
class _Piece:
    text: str
    separator: str  # joins the piece to the one before it: "\n\n" between blocks


@dataclass(frozen=True)
class _Heading:
    level: int
    title: str

    @property
    def line(self) -> str:
        return f"{'#' * self.level} {self.title}"


def chunk_text(text: str, *, max_tokens: int = 350, overlap_tokens: int = 50) -> list[Chunk]:
    if overlap_tokens < 0 or overlap_tokens >= max_tokens:
        raise ValueError("overlap_tokens must be at least 0 and less than max_tokens")
    if _tokens("x") > max_tokens:
        raise ValueError(f"max_tokens must be at least {_tokens('x')}")
    packer = _Packer(max_tokens, overlap_tokens)
    path: list[_Heading] = []
    pending: list[_Heading] = []  # headings whose section has not produced text yet
    for block in _blocks(text):
        if isinstance(block, _Heading):
            if block.level == 1:
                packer.close()
            path = [*(h for h in path if h.level < block.level), block]
            pending = [*(h for h in pending if h.level < block.level), block]
            continue
        heading = HEADING_SEPARATOR.join(h.title for h in path) or None
        packer.add_paragraph(block, heading, [h.line for h in pending])
        pending = []
    packer.close()
    return packer.chunks


def _tokens(text: str) -> int:
    return estimate_tokens(text)


def _join(pieces: list[_Piece]) -> str:
    if not pieces:
        return ""
    return pieces[0].text + "".join(piece.separator + piece.text for piece in pieces[1:])


# --- Reading the Markdown ---------------------------------------------------------------------


def _blocks(text: str) -> Iterator[_Heading | str]:
    """Headings and paragraphs (a paragraph keeps its line breaks, e.g. list items)."""
    lines: list[str] = []
    in_fence = False
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.rstrip()
        if _FENCE.match(line.lstrip()):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.fullmatch(line)
        if heading or not line.strip():
            yield from _paragraph(lines)
            if heading:
                yield _Heading(len(heading.group(1)), heading.group(2).strip())
        else:
            lines.append(line)
    yield from _paragraph(lines)


def _paragraph(lines: list[str]) -> Iterator[str]:
    if lines:
        yield "\n".join(lines)
        lines.clear()


def _sentences(piece: _Piece) -> list[_Piece]:
    """A piece as its sentences and lines, each joined to the previous by what separated them."""
    pieces: list[_Piece] = []
    separator, start = piece.separator, 0
    for match in _SENTENCE_BREAK.finditer(piece.text):
        sentence = piece.text[start : match.start()].strip()
        if sentence:
            pieces.append(_Piece(sentence, separator))
            separator = "\n" if "\n" in match.group() else " "
        start = match.end()
    tail = piece.text[start:].strip()
    if tail:
        pieces.append(_Piece(tail, separator))
    return pieces


# --- Packing ----------------------------------------------------------------------------------


class _Packer:
    def __init__(self, max_tokens: int, overlap_tokens: int) -> None:
        self.max_tokens = max_tokens
        self.overlap_tokens = overlap_tokens
        self.chunks: list[Chunk] = []
        self.pieces: list[_Piece] = []
        self.heading: str | None = None
        self.has_new_text = False  # more than the overlap carried from the previous chunk
        self.section_start = 0  # where the current section's text begins in self.pieces

    def fits(self, extra: list[_Piece]) -> bool:
        return _tokens(_join(self.pieces + extra)) <= self.max_tokens

    def add_paragraph(self, text: str, heading: str | None, heading_lines: list[str]) -> None:
        paragraph = _Piece(text, "\n\n")
        if heading_lines:
            # A new section: inside the current chunk with its heading lines, or opening a new
            # chunk, whose `heading` then names it.
            lines = [_Piece(line, "\n\n") for line in heading_lines]
            if self.has_new_text and self.fits([*lines, paragraph]):
                self.extend(lines, heading)
                self.section_start = len(self.pieces)
                self.extend([paragraph], heading)
                return
            self.close()
        if self.fits([paragraph]):
            self.extend([paragraph], heading)
            return
        overlap = self.overlap()
        if _tokens(_join([*overlap, paragraph])) <= self.max_tokens:
            self.cut(overlap)
            self.extend([paragraph], heading)
            return
        for piece in self.split(paragraph):
            if not self.fits([piece]):
                self.cut(self.overlap(), before=piece)
            self.extend([piece], heading)

    def extend(self, pieces: list[_Piece], heading: str | None) -> None:
        if not self.has_new_text:
            self.heading = heading
            self.has_new_text = True
        self.pieces.extend(pieces)

    def close(self) -> None:
        """End the chunk with no overlap: the next text starts a section."""
        self.emit()
        self.pieces = []
        self.section_start = 0

    def cut(self, overlap: list[_Piece], before: _Piece | None = None) -> None:
        """End the chunk inside a section: the next one starts with the overlap, shortened if
        need be to leave room for `before`."""
        while before and overlap and _tokens(_join([*overlap, before])) > self.max_tokens:
            overlap = overlap[1:]
        self.emit()
        self.pieces = overlap
        self.section_start = 0

    def emit(self) -> None:
        if self.has_new_text:
            text = _join(self.pieces)
            self.chunks.append(Chunk(len(self.chunks), self.heading, text, _tokens(text)))
        self.has_new_text = False

    def overlap(self) -> list[_Piece]:
        """The last sentences of the current section that fit in `overlap_tokens`, else the
        last words of its last sentence."""
        if self.overlap_tokens == 0 or len(self.pieces) <= self.section_start:
            return []
        sentences = [s for piece in self.pieces[self.section_start :] for s in _sentences(piece)]
        tail: list[_Piece] = []
        for sentence in reversed(sentences):
            if _tokens(_join([sentence, *tail])) > self.overlap_tokens:
                break
            tail.insert(0, sentence)
        if tail:
            return tail
        words = _last_words(sentences[-1].text, self.overlap_tokens)
        return [_Piece(words, " ")] if words else []

    def split(self, paragraph: _Piece) -> list[_Piece]:
        """A paragraph too long for one chunk as sentences, and giant sentences as word runs."""
        pieces: list[_Piece] = []
        for sentence in _sentences(paragraph):
            if _tokens(sentence.text) <= self.max_tokens:
                pieces.append(sentence)
                continue
            runs = _word_runs(sentence.text, self.max_tokens)
            pieces.append(_Piece(runs[0], sentence.separator))
            pieces.extend(_Piece(run, " ") for run in runs[1:])
        return pieces


def _word_runs(text: str, limit: int) -> list[str]:
    """`text` as consecutive runs of words of at most `limit` tokens each (too long a word is
    sliced)."""
    runs: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if _tokens(candidate) <= limit:
            current = candidate
            continue
        if current:
            runs.append(current)
        current = word
        if _tokens(word) > limit:
            *slices, current = _slices(word, limit)
            runs.extend(slices)
    if current:
        runs.append(current)
    return runs


def _slices(word: str, limit: int) -> list[str]:
    """A word longer than the limit (a URL, a base64 blob) cut into the longest fitting slices."""
    low, high = 1, len(word)  # the longest fitting prefix has a length in [low, high]
    while low < high:
        middle = (low + high + 1) // 2
        if _tokens(word[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return [word[i : i + low] for i in range(0, len(word), low)]


def _last_words(text: str, limit: int) -> str:
    tail = ""
    for word in reversed(text.split()):
        candidate = f"{word} {tail}" if tail else word
        if _tokens(candidate) > limit:
            break
        tail = candidate
    return tail
