"""The bot's answers as WhatsApp shows text: the model writes Markdown, WhatsApp knows only
`*bold*`, `_italic_`, `~strike~`, `` `code` ``, ```` ``` ```` blocks, `- ` and `1. ` lists and
`> ` quotes, and shows links as the URLs they are. An answer is read by a Markdown parser
(markdown-it) and written back in WhatsApp's marks, its sources appended as links, and cut in
parts below Meta's 4,096 characters per text message."""

from __future__ import annotations

import re
from collections.abc import Iterable
from html.parser import HTMLParser
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

# Meta's limit on a text message's body.
TEXT_LIMIT = 4096

_MARKDOWN = MarkdownIt("commonmark").enable(["strikethrough", "table"])
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


def to_whatsapp(markdown: str) -> str:
    """Markdown written in WhatsApp's formatting."""
    root = SyntaxTreeNode(_MARKDOWN.parse(markdown))
    return _joined(_block(node) for node in root.children).strip()


def with_sources(text: str, citations: Iterable[dict[str, Any]], *, label: str = "Sources:") -> str:
    """The text, then the cited pages as links (a URL the text shows already is not repeated:
    the knowledge answer lists its sources itself)."""
    lines: list[str] = []
    seen: set[str] = set()
    for citation in citations:
        url = (citation.get("url") or "").strip()
        if not url or url in seen or url in text:
            continue
        seen.add(url)
        title = (citation.get("title") or "").strip()
        lines.append(f"- {title}: {url}" if title and title != url else f"- {url}")
    if not lines:
        return text
    return f"{text}\n\n{label}\n" + "\n".join(lines)


def has_link(text: str) -> bool:
    """Whether WhatsApp should preview a link of the text."""
    return _URL.search(text) is not None


def split(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """The text in parts of at most `limit` characters, in order, cut where a reader pauses:
    between paragraphs, else lines, else sentences, else words; never inside a URL (unless a URL
    alone is longer than a part). Only the whitespace at a cut is left out."""
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = _cut(rest, limit)
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts


# -- cutting ------------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"[.!?…](?=\s)")
_SPACE = re.compile(r"\s")


def _cut(text: str, limit: int) -> int:
    """Where to end the first part of `text` (longer than `limit`): the best boundary within
    the limit. Paragraph, line and sentence breaks are taken only in the second half of a part,
    so that a break near the start does not leave a part of a few words."""
    window = text[: limit + 1]  # a break at `limit` leaves a part of exactly `limit`
    half = limit // 2
    for boundary in (_last(window, "\n\n"), _last(window, "\n"), _sentence(window)):
        if boundary >= half:
            return boundary
    space = max((m.start() for m in _SPACE.finditer(window)), default=0)
    if space > 0:
        return space
    # One word longer than a part: cut it, but before a URL that would straddle the cut.
    url = next((m for m in _URL.finditer(text) if m.start() < limit < m.end()), None)
    return url.start() if url is not None and url.start() > 0 else limit


def _last(window: str, separator: str) -> int:
    return max(window.rfind(separator), 0)


def _sentence(window: str) -> int:
    return max((m.end() for m in _SENTENCE_END.finditer(window)), default=0)


# -- Markdown to WhatsApp -----------------------------------------------------------------------


def _joined(blocks: Iterable[str], separator: str = "\n\n") -> str:
    return separator.join(block for block in blocks if block.strip())


def _block(node: SyntaxTreeNode) -> str:
    kind = node.type
    if kind == "paragraph":
        return _inlines(node)
    if kind == "heading":
        title = _inlines(node, heading=True).strip()
        return f"*{title}*" if title else ""
    if kind in ("bullet_list", "ordered_list"):
        return _list(node)
    if kind == "blockquote":
        quoted = _joined(_block(child) for child in node.children)
        return "\n".join(f"> {line}" if line else ">" for line in quoted.split("\n"))
    if kind in ("fence", "code_block"):
        code = node.content.rstrip("\n")
        return f"```\n{code}\n```" if code else ""
    if kind == "table":
        return _table(node)
    if kind == "html_block":
        return _text_of_html(node.content).strip()
    return ""  # a thematic break: the paragraphs around it are apart already


def _list(node: SyntaxTreeNode) -> str:
    start = int(str(node.attrs.get("start", 1))) if node.type == "ordered_list" else 1
    items: list[str] = []
    for n, item in enumerate(node.children):
        marker = f"{start + n}. " if node.type == "ordered_list" else "- "
        body = _joined((_block(child) for child in item.children), "\n")
        # The item's further lines (and nested lists) under its first, as WhatsApp indents.
        indent = " " * len(marker)
        lines = body.split("\n") if body else [""]
        items.append(marker + lines[0] + "".join(f"\n{indent}{line}" for line in lines[1:]))
    return "\n".join(items)


def _table(node: SyntaxTreeNode) -> str:
    rows: list[str] = []
    for section in node.children:  # thead, tbody
        for row in section.children:
            cells = [_inlines(cell).strip() for cell in row.children]
            line = " | ".join(cells)
            rows.append(f"*{line}*" if section.type == "thead" and line else line)
    return "\n".join(rows)


def _inlines(node: SyntaxTreeNode, *, heading: bool = False) -> str:
    """The text of a block's inline content (its one `inline` child)."""
    return "".join(_inline(child, heading) for inline in node.children for child in inline.children)


def _marked(mark: str, inner: str) -> str:
    """Text between WhatsApp's marks, which must touch the text: spaces stay outside."""
    core = inner.strip()
    if not core:
        return inner
    lead, trail = inner[: len(inner) - len(inner.lstrip())], inner[len(inner.rstrip()) :]
    return f"{lead}{mark}{core}{mark}{trail}"


def _inline(node: SyntaxTreeNode, heading: bool) -> str:
    kind = node.type
    inner = "".join(_inline(child, heading) for child in node.children)
    if kind == "text":
        return node.content
    if kind in ("softbreak", "hardbreak"):
        return "\n"
    if kind == "strong":
        return inner if heading else _marked("*", inner)  # a heading is bold already
    if kind == "em":
        return _marked("_", inner)
    if kind == "s":
        return _marked("~", inner)
    if kind == "code_inline":
        return f"`{node.content}`"
    if kind == "link":
        return _link(inner, str(node.attrs.get("href") or ""))
    if kind == "image":
        return str(node.attrs.get("src") or "") or inner
    if kind == "html_inline":
        return "\n" if _BREAK.fullmatch(node.content.strip()) else ""
    return inner


def _link(text: str, href: str) -> str:
    shown = text.strip()
    # An e-mail address or a phone number reads as itself (WhatsApp makes it a link).
    target = re.sub(r"^(mailto|tel):", "", href, flags=re.IGNORECASE)
    if not target:
        return text
    if not shown or shown in (href, target):
        return target
    return f"{text} ({target})"


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "p", "div", "li", "tr"):
            self.parts.append("\n")


def _text_of_html(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    return re.sub(r"\n{3,}", "\n\n", "".join(parts for parts in parser.parts))
