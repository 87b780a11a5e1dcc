"""The generated website of bench/crawl.py, and the ASGI app serving it.

A fictional company site ("Lumenfield", inventory software) of N real-looking pages: header
and navigation, cookie banner, sidebar, footer, scripts, and a main article of 1-4 KB of seeded
pseudo-random text with headings, lists, callouts, figures and a call-to-action box. Five
layouts: blog, docs, help centre and news on semantic tags or meaningful class names, and
"learn" on bare divs with Tailwind-style utility classes. Every page knows its labels: the
sentences of its main text, its headings, and the sentences of its boilerplate.

Page i links to pages 3i+1..3i+3, so all pages are reachable breadth-first from `/`, and to a few
random pages, the section hubs, a robots-disallowed search page, an image and external sites.
robots.txt declares a sitemap index of two sitemaps listing every page.

Served by `uvicorn bench.crawl_site:create_app --factory` in its own process, with the number
of pages and the origin in BENCH_CRAWL_PAGES and BENCH_CRAWL_ORIGIN. Only the standard library
is used here, so the server starts fast.
"""

from __future__ import annotations

import hashlib
import html
import os
import random
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

SEED = 20240611
CHILDREN = 3
SECTIONS = ("blog", "docs", "help", "news", "learn")
SITE = "Lumenfield"

# --- Text ---------------------------------------------------------------------------------------

_OPENERS = (
    *[""] * 6,
    "By default, ",
    "In most cases, ",
    "For larger teams, ",
    "If you need more control, ",
    "Once the setup is complete, ",
    "During the trial, ",
    "On the Business plan, ",
    "Since the last release, ",
)
_SUBJECTS = (
    "our support team",
    "each workspace",
    "the billing page",
    "each administrator",
    "a new customer",
    "the mobile app",
    "every warehouse manager",
    "the account owner",
    "the reporting dashboard",
    "a small shop",
    "the import tool",
    "the public API",
    "each sales channel",
    "the nightly sync job",
    "a store with several locations",
    "the fulfilment service",
    "the finance team",
    "the onboarding checklist",
    "the audit log",
    "the purchasing module",
)
_VERBS = (
    "can export",
    "automatically syncs",
    "reviews",
    "keeps a copy of",
    "shows",
    "sends",
    "updates",
    "lets you compare",
    "tracks",
    "groups",
    "highlights",
    "recalculates",
    "archives",
    "flags",
    "summarises",
    "rarely needs",
    "depends on",
    "notifies you about",
    "can reorder",
    "double-checks",
)
_OBJECTS = (
    "monthly usage reports",
    "the list of active seats",
    "refund requests",
    "shipping labels",
    "low stock alerts",
    "purchase orders from suppliers",
    "the tax settings of each region",
    "barcodes for new products",
    "incoming returns",
    "duplicate customer records",
    "the price history of a product",
    "open invoices",
    "delivery estimates",
    "stock levels across warehouses",
    "the permissions of each role",
    "failed payments",
    "bundle and kit components",
    "the sales forecast for the next quarter",
    "customs declarations",
    "webhook deliveries",
)
_TAILS = (
    *[""] * 4,
    " within two business days",
    " before the end of each billing period",
    " when a payment fails",
    " without any extra configuration",
    " for every region you sell in",
    " as soon as an order is placed",
    " every night at two in the morning",
    " once a week",
    " in real time",
    " for up to {n} locations",
    " at no extra cost",
    " so that nothing is counted twice",
    " whenever a supplier changes its prices",
    " while you keep selling",
    " after {n} days",
    " in the order they arrived",
)
_HEADING_PREFIXES = (
    "Managing",
    "Setting up",
    "Troubleshooting",
    "Understanding",
    "Automating",
    "Reviewing",
)
_AUTHORS = ("Priya Raman", "Tomás Ortega", "Hannah Kowalski", "Kwame Mensah", "Sofia Lindqvist")
_CUSTOMERS = (
    "Harbor & Pine",
    "Nordvik Outdoor",
    "Castelo Coffee",
    "Brightline Tools",
    "Oakum Bikes",
)
_MONTHS = ("January", "March", "April", "June", "September", "November")

_NAV = (
    ("Product tour and features", "/docs"),
    ("Customer stories from retailers", "/blog"),
    ("Help centre and contact options", "/help"),
    ("Company news and press releases", "/news"),
    ("Book a personalised demo", "/news"),
)
_BANNER = (
    "We use cookies to understand how visitors use our website and to improve your experience."
)
_BANNER_BUTTON = "Accept all cookies"
_NEWSLETTER = "Join four thousand shops that get our operations newsletter every other Thursday."
_FOOTER = (
    f"{SITE} Software Ltd is registered in England and Wales under company number 09876543.",
    f"{SITE} Software, 21 Harbour Street, Bristol BS1 4QA, United Kingdom.",
)
_SHARE = "Share this article with your team on LinkedIn or by email."
_FEEDBACK = "Was this article helpful to you? Let us know so we can improve it."
_COMMENT = "Great write-up, this saved our warehouse team a whole afternoon of spreadsheets!"
_CTA = f"Try {SITE} free for fourteen days, no credit card required."
_AD = "Sponsored: compare business broadband deals from twelve providers in your area today."


@dataclass
class Page:
    index: int
    path: str
    section: str
    title: str
    html: str = ""
    main: list[str] = field(default_factory=list)  # sentences of the main text
    headings: list[str] = field(default_factory=list)  # the article's <h2>s
    boilerplate: list[str] = field(default_factory=list)


class _Text:
    """Seeded sentence, heading and title generator for one page."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def sentence(self, *, opener: bool = True) -> str:
        rng = self.rng
        if rng.random() < 0.2:
            first = f"{self.clause()}, and {self.clause()}"
        else:
            first = (rng.choice(_OPENERS) if opener else "") + self.clause()
        tail = rng.choice(_TAILS).format(n=rng.randint(2, 90))
        text = f"{first}{tail}."
        return text[0].upper() + text[1:]

    def clause(self) -> str:
        rng = self.rng
        return f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}"

    def heading(self) -> str:
        return f"{self.rng.choice(_HEADING_PREFIXES)} {self.rng.choice(_OBJECTS)}"

    def title(self, section: str, index: int) -> str:
        topic = self.rng.choice(_OBJECTS)
        match section:
            case "blog":
                return f"Why we rebuilt {topic} (part {index})"
            case "docs":
                return f"Working with {topic}, guide {index}"
            case "help":
                return f"How do I manage {topic}? (article {index})"
            case "learn":
                return f"Learn about {topic} in five minutes, lesson {index}"
            case _:
                return f"{SITE} update {index}: news about {topic}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _skeleton(n: int) -> list[Page]:
    """Paths, sections and titles of all pages (links need every page's title)."""
    pages = []
    for index in range(n):
        rng = random.Random(SEED * 1_000_003 + index)
        section = SECTIONS[index % len(SECTIONS)]
        title = _Text(rng).title(section, index)
        if index == 0:
            path, title = "/", f"{SITE}: inventory and order management for growing shops"
        elif index <= len(SECTIONS):
            path, title = f"/{section}", f"The {SITE} {section}: latest articles"
        else:
            path = f"/{section}/{_slug(title)}"
        pages.append(Page(index, path, section, title))
    return pages


def build_site(n: int) -> list[Page]:
    """All N pages, rendered and labelled; the same for a given N in every process."""
    pages = _skeleton(n)
    for page in pages:
        _render(page, pages)
    return pages


# --- Rendering ----------------------------------------------------------------------------------


@dataclass
class _Article:
    html: list[str] = field(default_factory=list)
    sentences: list[str] = field(default_factory=list)
    headings: list[str] = field(default_factory=list)
    noise: list[str] = field(default_factory=list)  # boilerplate inside the article body
    utility: bool = False  # utility CSS classes (Tailwind) instead of meaningful ones
    size: int = 0

    def paragraph(self, sentences: list[str], link: tuple[str, str] | None = None) -> None:
        parts = [html.escape(s) for s in sentences]
        if link is not None:
            href, title = link
            sentence = f"For the details, see {title}."
            parts.append(f'For the details, see <a href="{href}">{html.escape(title)}</a>.')
            sentences = [*sentences, sentence]
        self.html.append(f"<p>{' '.join(parts)}</p>")
        self.add(sentences)

    def items(self, sentences: list[str], ordered: bool) -> None:
        tag = "ol" if ordered else "ul"
        items = "".join(f"<li>{html.escape(s)}</li>" for s in sentences)
        self.html.append(f"<{tag}>{items}</{tag}>")
        self.add(sentences)

    def callout(self, sentence: str, quote: bool) -> None:
        if quote:
            self.html.append(f"<blockquote><p>{html.escape(sentence)}</p></blockquote>")
        else:
            note = f"<p><strong>Note:</strong> {html.escape(sentence)}</p>"
            classes = (
                "my-6 border-l-4 border-amber-400 bg-amber-50 p-4"
                if self.utility
                else "callout callout-note"
            )
            self.html.append(f'<div class="{classes}">{note}</div>')
        self.add([sentence])

    def cta(self) -> None:
        if self.utility:
            box, button = (
                "my-8 rounded-lg bg-indigo-50 p-6",
                "mt-3 inline-block rounded bg-indigo-600 px-4 py-2 text-white",
            )
        else:
            box, button = "cta-box", "btn btn-primary"
        link = f'<a class="{button}" href="/news?ref=cta">Start your free trial</a>'
        self.html.append(f'<div class="{box}"><p>{_CTA}</p>{link}</div>')
        self.noise.append(_CTA)

    def figure(self, topic: str, number: int) -> None:
        image = f'<img src="/media/{_slug(topic)}.png" alt="{html.escape(topic)}" width="800">'
        caption = f"Figure {number}: {html.escape(topic)} in the dashboard"
        self.html.append(f"<figure>{image}<figcaption>{caption}</figcaption></figure>")

    def add(self, sentences: list[str]) -> None:
        self.sentences += sentences
        self.size += sum(len(s) + 1 for s in sentences)


def _article(rng: random.Random, links: list[tuple[str, str]], section: str) -> _Article:
    """The main text: sections of paragraphs and lists, 1-4 KB, with the inline links."""
    text = _Text(rng)
    article = _Article(utility=section == "learn")
    target = rng.randint(1000, 4000)
    pending = list(links)
    quotes = section in ("blog", "news")
    while article.size < target or pending:
        heading = text.heading()
        article.headings.append(heading)
        article.html.append(f"<h2>{html.escape(heading)}</h2>")
        for _ in range(rng.randint(1, 3)):
            sentences = [text.sentence() for _ in range(rng.randint(2, 5))]
            article.paragraph(sentences, pending.pop() if pending else None)
        if rng.random() < 0.4:
            items = [text.sentence(opener=False) for _ in range(rng.randint(3, 5))]
            article.items(items, ordered=rng.random() < 0.5)
        if section == "docs" and rng.random() < 0.3:
            endpoint = f"https://api.lumenfield.example/v1/{_slug(text.heading())}"
            code = f"curl -H 'Authorization: Bearer $TOKEN' {endpoint}"
            article.html.append(f"<pre><code>{html.escape(code)}</code></pre>")
        if rng.random() < 0.25:
            article.callout(text.sentence(), quote=quotes)
        if rng.random() < 0.15:
            article.figure(rng.choice(_OBJECTS), len(article.html))
        if not article.noise and rng.random() < 0.5:
            article.cta()
    return article


def _links(page: Page, pages: list[Page], rng: random.Random) -> list[tuple[str, str]]:
    """Page i's children 3i+1..3i+3 (the breadth-first tree) and three random pages."""
    first = CHILDREN * page.index + 1
    targets = list(range(first, min(first + CHILDREN, len(pages))))
    targets += [rng.randrange(len(pages)) for _ in range(3)]
    return [(pages[t].path, pages[t].title) for t in targets if t != page.index]


def _render(page: Page, pages: list[Page]) -> None:
    rng = random.Random(SEED * 7_919 + page.index)
    links = _links(page, pages, rng)
    inline, related = links[: len(links) // 2], links[len(links) // 2 :]
    article = _article(rng, inline, page.section)
    date = f"{rng.randint(1, 28)} {rng.choice(_MONTHS)} {rng.randint(2019, 2024)}"
    author = rng.choice(_AUTHORS)
    teaser = (
        f"Read how {rng.choice(_CUSTOMERS)} cut their stock-taking time by "
        f"{rng.randint(20, 70)} percent with {SITE}."
    )
    parts = _Parts(page, article, related, date, author, teaser, rng)
    if page.section == "learn":
        page.html = _utility_document(parts)
    else:
        layout = {"blog": _blog, "docs": _docs, "help": _help, "news": _news}[page.section]
        page.html = _document(page, layout(parts), banner_first=rng.random() < 0.5)
    page.main, page.headings = article.sentences, article.headings
    boilerplate = [
        *(label for label, _ in _NAV),
        _BANNER,
        _BANNER_BUTTON,
        *_FOOTER,
        teaser,
        *(title for _, title in related),
        f"SCRIPT_TOKEN_{page.index:05d}",
        *parts.extra,
        *article.noise,
    ]
    main_text = " ".join(article.sentences).casefold()
    page.boilerplate = [b for b in boilerplate if b.casefold() not in main_text]


@dataclass
class _Parts:
    page: Page
    article: _Article
    related: list[tuple[str, str]]
    date: str
    author: str
    teaser: str
    rng: random.Random
    extra: list[str] = field(default_factory=list)  # layout-specific boilerplate sentences

    @property
    def body(self) -> str:
        return "\n".join(self.article.html)

    def related_list(self) -> str:
        tracking = "utm_source=sidebar&amp;utm_medium=web"
        return "".join(
            f'<li><a href="{href}?{tracking}">{html.escape(title)}</a></li>'
            for href, title in self.related
        )


def _document(page: Page, body: str, *, banner_first: bool) -> str:
    nav = "".join(f'<li><a href="{href}/">{html.escape(label)}</a></li>' for label, href in _NAV)
    banner = (
        f'<div id="cookie-banner" class="cookie-consent" role="dialog"><p>{html.escape(_BANNER)}'
        f' <a href="/news">Cookie policy</a></p><button>{_BANNER_BUTTON}</button>'
        "<button>Manage preferences</button></div>"
    )
    footer = "".join(f"<p>{html.escape(line)}</p>" for line in _FOOTER)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(page.title)} | {SITE}</title>
<meta name="description" content="{html.escape(page.title)}">
<link rel="stylesheet" href="/static/site.css">
<link rel="canonical" href="{page.path}">
<script>window.dataLayer=[{{"token":"SCRIPT_TOKEN_{page.index:05d}"}}];</script>
</head>
<body class="section-{page.section}">
{banner if banner_first else ""}
<header class="site-header"><a class="logo" href="/">{SITE}</a>
<nav class="main-nav"><ul>{nav}</ul></nav>
<form action="/search" class="search"><input name="q" placeholder="Search"></form>
<a href="/search?q={_slug(page.title)}">Search for similar articles</a></header>
{body}
<footer class="site-footer">{footer}
<a href="https://twitter.com/lumenfield">Twitter</a> <a href="mailto:hello@lumenfield.example">Email us</a>
<a href="/media/lumenfield-logo.png">Press kit logo</a></footer>
{"" if banner_first else banner}
<script src="/static/app.js"></script>
</body>
</html>
"""


def _bio(p: _Parts) -> str:
    bio = f"{p.author} writes about warehouse operations and spent ten years in retail logistics."
    p.extra.append(bio)
    image = '<img src="/media/author.png" alt="">'
    return f'<div class="author-bio">{image}<p>{html.escape(bio)}</p></div>'


def _utility_document(p: _Parts) -> str:
    """A page of divs styled with utility classes (Tailwind): no semantic tag, id or class
    tells navigation, banner, sidebar or footer from the article."""
    p.extra += [_FEEDBACK, _NEWSLETTER]
    nav = "".join(
        f'<a class="hover:text-indigo-600" href="{h}">{html.escape(t)}</a>' for t, h in _NAV
    )
    related = "".join(
        f'<a class="block py-1 hover:underline" href="{href}">{html.escape(title)}</a>'
        for href, title in p.related
    )
    footer = "".join(f'<div class="mt-1">{html.escape(line)}</div>' for line in _FOOTER)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(p.page.title)} | {SITE}</title>
<link rel="stylesheet" href="/static/tailwind.css">
<script>window.__NEXT_DATA__={{"token":"SCRIPT_TOKEN_{p.page.index:05d}"}};</script>
</head>
<body class="bg-white text-slate-800 antialiased">
<div id="__next">
<div class="border-b border-slate-200"><div class="mx-auto flex max-w-6xl items-center justify-between px-4 py-3">
<a class="text-lg font-bold" href="/">{SITE}</a><div class="hidden gap-6 text-sm md:flex">{nav}</div></div></div>
<div class="mx-auto grid max-w-6xl grid-cols-12 gap-8 px-4 py-10">
<div class="col-span-12 lg:col-span-8">
<div class="text-sm text-slate-500"><a href="/">Home</a> / <a href="/learn">Learn</a></div>
<h1 class="mt-2 text-3xl font-semibold tracking-tight">{html.escape(p.page.title)}</h1>
<div class="mt-1 text-sm text-slate-500">{p.date} · {p.author}</div>
<div class="mt-8 space-y-4 leading-7">
{p.body}
</div>
<div class="mt-10 rounded-md border border-slate-200 p-4 text-sm">{_FEEDBACK} <a href="#">Yes</a> <a href="#">No</a></div>
</div>
<div class="col-span-12 lg:col-span-4"><div class="text-sm font-semibold uppercase">Keep learning</div>
<div class="mt-2 text-sm">{related}</div>
<div class="mt-6 rounded-md bg-slate-50 p-4 text-sm">{html.escape(p.teaser)}</div>
<div class="mt-6 rounded-md bg-slate-50 p-4 text-sm">{_NEWSLETTER}<div class="mt-2 flex"><input class="flex-1 rounded border px-2" type="email"><a class="ml-2 rounded bg-indigo-600 px-3 py-1 text-white" href="#">Subscribe</a></div></div>
</div></div>
<div class="border-t border-slate-200 bg-slate-50"><div class="mx-auto max-w-6xl px-4 py-8 text-xs text-slate-500">{footer}
<a href="https://twitter.com/lumenfield">Twitter</a> <a href="/search?q=learn">Search</a></div></div>
<div class="fixed inset-x-0 bottom-0 z-50 bg-slate-900 p-4 text-sm text-white"><div class="mx-auto flex max-w-6xl items-center justify-between">
<div>{html.escape(_BANNER)}</div><div class="flex gap-2"><a class="rounded bg-white px-3 py-1 text-slate-900" href="#">{_BANNER_BUTTON}</a><a class="px-3 py-1" href="#">Manage preferences</a></div></div></div>
</div>
<script src="/_next/static/chunks/main.js"></script>
</body>
</html>
"""


def _blog(p: _Parts) -> str:
    p.extra += [_SHARE, _NEWSLETTER, _COMMENT]
    return f"""<div class="layout">
<article class="post">
<h1 class="entry-title">{html.escape(p.page.title)}</h1>
<p class="byline">By {p.author} · {p.date} · {p.rng.randint(3, 12)} min read</p>
<div class="entry-content">
{p.body}
</div>
{_bio(p)}
<div class="share">{_SHARE} <a href="#">LinkedIn</a> <a href="#">Email</a></div>
</article>
<aside class="sidebar"><h3>Popular posts</h3><ul>{p.related_list()}</ul>
<div class="customer-story"><p>{html.escape(p.teaser)}</p></div>
<div class="newsletter-box"><p>{_NEWSLETTER}</p><form><input type="email"><button>Subscribe</button></form></div>
</aside></div>
<section id="comments" class="comments"><h3>2 comments</h3>
<div class="comment"><p>{_COMMENT}</p></div></section>"""


def _docs(p: _Parts) -> str:
    p.extra += [_FEEDBACK]
    return f"""<div class="docs-layout">
<nav class="docs-sidebar" aria-label="Documentation"><h4>In this section</h4><ul>{p.related_list()}</ul>
<p class="promo">{html.escape(p.teaser)}</p></nav>
<main class="docs-content">
<div class="breadcrumbs"><a href="/">Home</a> &rsaquo; <a href="/docs">Docs</a></div>
<article class="markdown-body">
<h1>{html.escape(p.page.title)}</h1>
{p.body}
</article>
<div class="page-feedback"><p>{_FEEDBACK}</p><button>Yes</button><button>No</button></div>
<div class="edit-link"><a href="/docs">Edit this page</a> · Last updated {p.date}</div>
</main></div>"""


def _help(p: _Parts) -> str:
    """A help centre on non-semantic markup: divs and classes only."""
    p.extra += [_FEEDBACK, _NEWSLETTER]
    return f"""<div id="wrapper">
<div class="hc-breadcrumbs"><a href="/">Help centre</a> &gt; <a href="/help">Articles</a></div>
<div class="hc-main">
<div id="content" class="article-body">
<h1 class="article-title">{html.escape(p.page.title)}</h1>
<div class="article-meta">Updated {p.date}</div>
{p.body}
<div class="article-votes"><span>{_FEEDBACK}</span> <a href="#">Yes</a> <a href="#">No</a></div>
</div>
<div class="right-rail"><div class="rail-title">Related articles</div><ul>{p.related_list()}</ul>
<div class="rail-box">{html.escape(p.teaser)}</div>
<div class="rail-box">{_NEWSLETTER}</div></div>
</div></div>"""


def _news(p: _Parts) -> str:
    p.extra += [_AD, _SHARE]
    return f"""<div class="page">
<div class="ad-slot leaderboard">{_AD}</div>
<main><article class="story">
<h1 class="headline">{html.escape(p.page.title)}</h1>
<div class="dateline">{p.date} · by {p.author}</div>
<div class="story-body">
{p.body}
</div>
<p class="share-tools">{_SHARE}</p>
{_bio(p)}
</article></main>
<aside class="most-read"><h3>Most read</h3><ol>{p.related_list()}</ol>
<p>{html.escape(p.teaser)}</p></aside></div>"""


# --- Serving ------------------------------------------------------------------------------------

Files = dict[str, tuple[bytes, bytes]]  # path -> (content type, body)


def site_files(pages: list[Page], origin: str) -> Files:
    html_type, xml_type = b"text/html; charset=utf-8", b"application/xml"
    files: Files = {page.path: (html_type, page.html.encode()) for page in pages}
    halves = [pages[: len(pages) // 2], pages[len(pages) // 2 :]]
    for number, half in enumerate(halves, start=1):
        urls = "".join(
            f"<url><loc>{origin}{p.path}</loc><lastmod>2024-06-01</lastmod></url>" for p in half
        )
        files[f"/sitemap-{number}.xml"] = (xml_type, _xml("urlset", urls))
    index = "".join(f"<sitemap><loc>{origin}/sitemap-{n}.xml</loc></sitemap>" for n in (1, 2))
    files["/sitemap.xml"] = (xml_type, _xml("sitemapindex", index))
    robots = f"User-agent: *\nDisallow: /search\nDisallow: /cart\n\nSitemap: {origin}/sitemap.xml\n"
    files["/robots.txt"] = (b"text/plain", robots.encode())
    return files


def _xml(root: str, content: str) -> bytes:
    namespace = "http://www.sitemaps.org/schemas/sitemap/0.9"
    declaration = '<?xml version="1.0" encoding="UTF-8"?>'
    return f'{declaration}\n<{root} xmlns="{namespace}">{content}</{root}>'.encode()


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[None],
]


def create_app() -> ASGIApp:
    files = site_files(
        build_site(int(os.environ["BENCH_CRAWL_PAGES"])), os.environ["BENCH_CRAWL_ORIGIN"]
    )
    responses = {path: _response(*file) for path, file in files.items()}
    not_found = (
        404,
        [(b"content-type", b"text/html"), (b"content-length", b"18")],
        b"<h1>Not found</h1>",
    )

    async def app(
        scope: Scope,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            return
        status, headers, body = responses.get(scope["path"].rstrip("/") or "/", not_found)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def _response(content_type: bytes, body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    etag = f'"{hashlib.sha1(body).hexdigest()[:16]}"'.encode()
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"etag", etag),
        (b"cache-control", b"public, max-age=300"),
    ]
    return 200, headers, body
