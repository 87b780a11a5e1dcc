"""Main text of a knowledge source (web page, PDF, plain text or Markdown) as light Markdown.

The text keeps the structure that chunking and citations need: headings as `#` lines, paragraphs
separated by blank lines, list items as `- ` lines. Navigation, footers, cookie banners and scripts
are left out.
"""

from __future__ import annotations

import codecs
import io
import re
from copy import deepcopy as copy_element
from dataclasses import dataclass

import charset_normalizer
import lxml.html
import pypdf
import trafilatura
from lxml import etree
from trafilatura.settings import Document as Extraction

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
PDF_TYPES = frozenset({"application/pdf"})
TEXT_TYPES = frozenset({"text/plain", "text/markdown", "text/x-markdown"})
SUPPORTED_TYPES = HTML_TYPES | PDF_TYPES | TEXT_TYPES

_MAX_TITLE_CHARS = 200
_META_SNIFF_BYTES = 4096
_BINARY_SNIFF_BYTES = 1024
_SHORT_TEXT_CHARS = 250  # trafilatura's MIN_EXTRACTED_SIZE
_ANCHOR_CHARS = 80  # a paragraph is found in the page by this many characters of its start
# A region re-rendered for its structure is at most this many times trafilatura's text, and
# at most this share of it is link text (more, and it holds navigation).
_REGION_GROWTH = 3.0
_REGION_LINK_SHARE = 0.3

_CHARSET_PARAM = re.compile(r"""charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_LANGUAGE = re.compile(r"[a-z]{2}")
_HEADING_REND = re.compile(r"h([1-6])")

# Browsers decode pages labelled Latin-1 or ASCII as windows-1252 (WHATWG Encoding); so must we,
# or curly quotes and the euro sign of such pages come out as control characters.
_WINDOWS_1252_ALIASES = frozenset({"ascii", "iso8859-1", "latin-1"})

_XML_BLOCK_TAGS = frozenset({"div", "graphic", "head", "list", "p", "quote", "table"})
_HEADING_TAGS = {f"h{level}": level for level in range(1, 7)}
_DROPPED_TAGS = frozenset(
    {
        "script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
        "iframe", "svg", "button", "select", "dialog",
    }
)  # fmt: skip
_DROPPED_ROLES = frozenset({"navigation", "banner", "contentinfo", "dialog", "alertdialog"})
_CONSENT_MARKERS = ("cookie", "consent", "gdpr")
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "blockquote", "body", "dd", "details", "div", "dl", "dt",
        "figcaption", "figure", "main", "ol", "p", "pre", "section", "summary", "table", "tbody",
        "td", "tfoot", "th", "thead", "tr", "ul",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Document:
    url: str | None
    title: str
    text: str
    language: str | None
    content_type: str


class ExtractionError(Exception):
    """The body cannot be turned into text: unsupported type, unreadable file, or no text."""


def extract(body: bytes, *, content_type: str, url: str | None = None) -> Document:
    media_type, charset = _parse_content_type(content_type)
    if media_type in HTML_TYPES:
        title, text, language = _extract_html(body, charset, url)
    elif media_type in PDF_TYPES:
        title, text, language = _extract_pdf(body)
    elif media_type in TEXT_TYPES:
        title, text, language = _extract_plain(body, charset)
    else:
        raise ExtractionError(f"unsupported content type: {media_type or 'none'}")
    if not text.strip():
        raise ExtractionError("no text")
    return Document(url=url, title=title, text=text, language=language, content_type=media_type)


# Browsers and curl send these when they do not know a file's type: the name and the bytes say.
UNKNOWN_TYPES = frozenset(
    {"", "application/octet-stream", "binary/octet-stream", "application/x-unknown"}
)
_TYPES_BY_EXTENSION = {
    "pdf": "application/pdf",
    "html": "text/html",
    "htm": "text/html",
    "xhtml": "application/xhtml+xml",
    "md": "text/markdown",
    "markdown": "text/markdown",
    "mdown": "text/markdown",
    "mkd": "text/markdown",
    "txt": "text/plain",
    "text": "text/plain",
}
_HTML_START = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)[\s>]",
    re.IGNORECASE | re.DOTALL,
)
_SNIFF_BYTES = 8192


def file_type(body: bytes, *, filename: str | None, declared: str | None) -> str | None:
    """The media type to read an uploaded file as, or None when it is not PDF, HTML, Markdown
    or text. A declared type we read is trusted; an unknown one (`application/octet-stream`,
    curl's default) is worked out from the file name and then the content."""
    media_type, _ = _parse_content_type(declared or "")
    if media_type in SUPPORTED_TYPES:
        return media_type
    if media_type not in UNKNOWN_TYPES:
        return None
    head = body[:_SNIFF_BYTES].lstrip(codecs.BOM_UTF8)
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    extension = (filename or "").rsplit(".", 1)[-1].lower() if "." in (filename or "") else ""
    by_name = _TYPES_BY_EXTENSION.get(extension)
    if by_name in PDF_TYPES:
        return None  # named .pdf, but not a PDF
    if not _looks_like_text(body[:_SNIFF_BYTES]):
        return None
    if by_name is not None:
        return by_name
    return "text/html" if _HTML_START.match(head) else "text/plain"


def _looks_like_text(head: bytes) -> bool:
    if _bom_codec(head) is not None:
        return True
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A sniffed head may cut a character in two; anything else is not UTF-8, but may still
        # be text in another encoding.
        if exc.start < len(head) - 3:
            return charset_normalizer.from_bytes(head).best() is not None
    return True


def _parse_content_type(content_type: str) -> tuple[str, str | None]:
    media_type, _, params = content_type.partition(";")
    match = _CHARSET_PARAM.search(params)
    return media_type.strip().lower(), match.group(1) if match else None


# --- Decoding ---------------------------------------------------------------------------------


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    return "cp1252" if name in _WINDOWS_1252_ALIASES else name


def _bom_codec(body: bytes) -> str | None:
    if body.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return None


def _detect_codec(body: bytes) -> str:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        best = charset_normalizer.from_bytes(body).best()
        return _codec(best.encoding if best else None) or "cp1252"
    return "utf-8"


def _decode(body: bytes, *declared: str | None) -> str:
    """Decode with the byte order mark, else the first usable declared charset, else detection."""
    codec = (
        _bom_codec(body) or next(filter(None, map(_codec, declared)), None) or _detect_codec(body)
    )
    if not codec.startswith(("utf-16", "utf-32")) and b"\x00" in body[:_BINARY_SNIFF_BYTES]:
        # Text never holds NUL bytes outside UTF-16/32: this is a binary file sent as text.
        raise ExtractionError("binary content")
    text = body.decode(codec, errors="replace")
    return _CONTROL_CHARS.sub("", text.lstrip("\ufeff"))


def _meta_charset(body: bytes) -> str | None:
    match = _META_CHARSET.search(body[:_META_SNIFF_BYTES])
    if not match:
        return None
    label = match.group(1).decode("ascii", errors="ignore")
    # A tag readable as ASCII bytes cannot be UTF-16/32 text: such labels are wrong (WHATWG).
    return "utf-8" if label.lower().replace("-", "").startswith(("utf16", "utf32")) else label


# --- HTML -------------------------------------------------------------------------------------


def _extract_html(body: bytes, charset: str | None, url: str | None) -> tuple[str, str, str | None]:
    markup = _XML_DECLARATION.sub("", _decode(body, charset, _meta_charset(body)))
    try:
        tree = lxml.html.document_fromstring(markup)
    except (etree.ParserError, ValueError) as exc:
        raise ExtractionError("no text") from exc
    result = _trafilatura(tree, url)
    title = (result.title if result else None) or _html_title(tree) or ""
    language = _html_language(tree) or _language(result.language if result else None)
    text = _body_to_markdown(result.body) if result and result.body is not None else ""
    if text:
        text = _with_structure(tree, text)
    if len(text) < _SHORT_TEXT_CHARS:
        # Below this size trafilatura guesses, and on a page with nothing but navigation it
        # returns the links. The page's main region without its boilerplate is the judge.
        fallback = _fallback_markdown(tree)
        text = (text or fallback) if fallback else ""
    return _shorten(title), text, language


def _trafilatura(tree: lxml.html.HtmlElement, url: str | None) -> Extraction | None:
    result = trafilatura.bare_extraction(
        tree,
        url=url,
        favor_precision=True,
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
        with_metadata=True,
    )
    return result if isinstance(result, Extraction) else None


def _html_title(tree: lxml.html.HtmlElement) -> str | None:
    title = tree.findtext(".//title")
    return _clean_line(title) if title else None


def _html_language(tree: lxml.html.HtmlElement) -> str | None:
    candidates = [tree.get("lang"), tree.get("xml:lang")]
    for meta in tree.iter("meta"):
        key = (meta.get("http-equiv") or meta.get("property") or "").lower()
        if key in {"content-language", "og:locale"}:
            candidates.append(meta.get("content"))
    return next(filter(None, map(_language, candidates)), None)


def _language(tag: object) -> str | None:
    if not isinstance(tag, str):
        return None
    primary = re.split(r"[-_,\s]", tag.strip().lower(), maxsplit=1)[0]
    return primary if _LANGUAGE.fullmatch(primary) else None


def _body_to_markdown(body: etree._Element) -> str:
    """Trafilatura's XML (head, p, list/item, table/row/cell, quote…) as light Markdown."""
    return "\n\n".join(_xml_blocks(body))


def _xml_blocks(element: etree._Element) -> list[str]:
    tag = element.tag
    if tag == "head":
        level_match = _HEADING_REND.fullmatch(element.get("rend", ""))
        level = int(level_match.group(1)) if level_match else 2
        text = _clean_line(_inline(element))
        return [f"{'#' * level} {text}"] if text else []
    if tag == "list":
        lines = _list_lines(element, depth=0)
        return ["\n".join(lines)] if lines else []
    if tag == "table":
        rows = [" | ".join(_clean_line(_inline(cell)) for cell in row) for row in element]
        rows = [row for row in rows if row.strip(" |")]
        return ["\n".join(rows)] if rows else []
    if tag == "graphic":
        return []
    if any(child.tag in _XML_BLOCK_TAGS for child in element):
        return _container_blocks(element)
    text = _clean_paragraph(_inline(element))
    return [text] if text else []


def _container_blocks(element: etree._Element) -> list[str]:
    # Loose text between block children (a div's own text, tails) forms paragraphs of its own.
    blocks: list[str] = []
    pending = [element.text or ""]
    for child in element:
        if child.tag in _XML_BLOCK_TAGS:
            _flush(blocks, pending)
            blocks.extend(_xml_blocks(child))
        else:
            pending.append(_inline(child) if child.tag != "lb" else "\n")
        pending.append(child.tail or "")
    _flush(blocks, pending)
    return blocks


def _list_lines(element: etree._Element, depth: int) -> list[str]:
    lines: list[str] = []
    for item in element:
        text = _clean_line(_inline(item, skip="list"))
        if text:
            lines.append(f"{'  ' * depth}- {text}")
        for child in item:
            if child.tag == "list":
                lines.extend(_list_lines(child, depth + 1))
    return lines


def _inline(element: etree._Element, skip: str | None = None) -> str:
    parts = [element.text or ""]
    for child in element:
        if child.tag == "lb":
            parts.append("\n")
        elif child.tag != skip:
            parts.append(_inline(child, skip))
        parts.append(child.tail or "")
    return "".join(parts)


def _with_structure(tree: lxml.html.HtmlElement, text: str) -> str:
    """Trafilatura's text, or the same region rendered by us when trafilatura dropped its
    headings or list items (it does on layouts of bare `div`s with utility CSS classes).

    The region is the smallest element holding every paragraph trafilatura kept; it is used
    only when it holds headings or items missing from the text, and reads like an article
    rather than a page: not mostly links, and not many times the text trafilatura kept."""
    kept = [_clean_line(block) for block in text.split("\n\n") if not block.startswith("#")]
    region = _common_ancestor(tree, [line[:_ANCHOR_CHARS] for line in kept if line])
    if region is None or region.tag in {"html", "body"}:
        return text
    present = {_clean_line(line.lstrip("#- ")) for line in text.splitlines()}
    dropped = [
        element
        for element in region.iter(*_HEADING_TAGS, "li")
        if _clean_line(element.text_content()) not in present
    ]
    if not dropped:
        return text
    copy = copy_element(region)
    rendered = _render_region(copy)
    links = sum(len(_clean_line(a.text_content())) for a in copy.iter("a"))
    if len(rendered) > _REGION_GROWTH * len(text) or links > _REGION_LINK_SHARE * len(rendered):
        return text
    return rendered


def _common_ancestor(
    tree: lxml.html.HtmlElement, prefixes: list[str]
) -> lxml.html.HtmlElement | None:
    """The deepest element that contains, for each prefix, an element whose text starts with
    it."""
    wanted = set(prefixes)
    anchors: dict[str, lxml.html.HtmlElement] = {}
    for element in tree.iter(*_BLOCK_TAGS, "li"):
        start = _clean_line(element.text_content())[:_ANCHOR_CHARS]
        if start in wanted:
            anchors[start] = element  # descendants come later: the deepest one wins
    if not anchors or len(anchors) < len(wanted) * 0.9:
        return None
    chains = [[element, *element.iterancestors()] for element in anchors.values()]
    shared = set(chains[0]).intersection(*chains[1:])
    return next((element for element in chains[0] if element in shared), None)


def _render_region(root: lxml.html.HtmlElement) -> str:
    for element in list(root.iter()):
        if element is not root and _is_boilerplate(element):
            element.drop_tree()
    blocks: list[str] = []
    pending: list[str] = []
    _walk_html(root, blocks, pending)
    _flush(blocks, pending)
    # Items of one list on consecutive lines, as in trafilatura's rendering.
    joined: list[str] = []
    for block in blocks:
        if joined and block.startswith("- ") and joined[-1].split("\n")[-1].startswith("- "):
            joined[-1] += "\n" + block
        else:
            joined.append(block)
    return "\n\n".join(joined)


def _fallback_markdown(tree: lxml.html.HtmlElement) -> str:
    """Visible text of the main region for short pages trafilatura finds nothing in."""
    root = _main_region(tree)
    return _render_region(copy_element(root)) if root is not None else ""


def _main_region(tree: lxml.html.HtmlElement) -> lxml.html.HtmlElement | None:
    for path in ("//main", "//article", "//*[@role='main']", "//body"):
        found = tree.xpath(path)
        if found:
            return found[0]
    return None


def _is_boilerplate(element: lxml.html.HtmlElement) -> bool:
    if not isinstance(element.tag, str):
        return True  # comments and processing instructions
    if element.tag in _DROPPED_TAGS or element.get("role") in _DROPPED_ROLES:
        return True
    if element.get("hidden") is not None or element.get("aria-hidden") == "true":
        return True
    marks = f"{element.get('id', '')} {element.get('class', '')}".lower()
    return any(marker in marks for marker in _CONSENT_MARKERS)


def _walk_html(element: lxml.html.HtmlElement, blocks: list[str], pending: list[str]) -> None:
    tag = element.tag
    if tag in _HEADING_TAGS:
        _flush(blocks, pending)
        text = _clean_line(element.text_content())
        if text:
            blocks.append(f"{'#' * _HEADING_TAGS[tag]} {text}")
        return
    is_block = tag in _BLOCK_TAGS or tag == "li"
    if is_block:
        _flush(blocks, pending)
    elif tag == "br":
        pending.append("\n")
    first_block = len(blocks)
    pending.append(element.text or "")
    for child in element:
        _walk_html(child, blocks, pending)
        pending.append(child.tail or "")
    if is_block:
        _flush(blocks, pending)
    if tag == "li" and len(blocks) > first_block:
        blocks[first_block] = f"- {blocks[first_block]}"


def _flush(blocks: list[str], pending: list[str]) -> None:
    text = _clean_paragraph("".join(pending))
    if text:
        blocks.append(text)
    pending.clear()


# --- PDF and plain text -----------------------------------------------------------------------


def _extract_pdf(body: bytes) -> tuple[str, str, str | None]:
    # pypdf raises a variety of exception types on malformed files; any of them means unreadable.
    try:
        reader = pypdf.PdfReader(io.BytesIO(body))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractionError("the PDF is encrypted")
        pages = [page.extract_text() or "" for page in reader.pages]
        meta_title = reader.metadata.title if reader.metadata else None
        language = _language(reader.root_object.get("/Lang"))
    except ExtractionError:
        raise
    except Exception as exc:
        raise ExtractionError(f"unreadable PDF: {exc}") from exc
    text = "\n\n".join(filter(None, (_clean_text(page) for page in pages)))
    title = _clean_line(meta_title) if isinstance(meta_title, str) else ""
    return _shorten(title or _first_line(text)), text, language


def _extract_plain(body: bytes, charset: str | None) -> tuple[str, str, str | None]:
    text = _clean_text(_decode(body, charset))
    return _shorten(_first_line(text).lstrip("#").strip()), text, None


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


# --- Whitespace -------------------------------------------------------------------------------


def _clean_line(text: str) -> str:
    return " ".join(text.split())


def _clean_paragraph(text: str) -> str:
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _clean_text(text: str) -> str:
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _shorten(title: str) -> str:
    # A first line can be a whole paragraph; a title is shown next to citations.
    if len(title) <= _MAX_TITLE_CHARS:
        return title
    return title[: _MAX_TITLE_CHARS - 1].rsplit(" ", 1)[0] + "…"
