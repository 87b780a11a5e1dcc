"""The crawler against a small site served on loopback (no other network)."""

from __future__ import annotations

import asyncio
import gzip
import itertools
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpcore
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route

from backend.kit.safe_http import SafeHTTPClient
from backend.knowledge.crawler import (
    Crawler,
    CrawlLimits,
    CrawlPage,
    CrawlStats,
    normalize_url,
    same_site,
)
from tests.fixtures.servers import LiveServer, free_port

LIMITS = CrawlLimits(
    max_pages=100, max_depth=3, per_host_concurrency=4, delay_seconds=0, max_page_bytes=100_000
)
ONE_PAGE = CrawlLimits(max_pages=1, max_depth=0, delay_seconds=0)  # no sitemap pages either
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


def html(title: str, *links: str) -> HTMLResponse:
    anchors = "".join(f'<a href="{link}">{link}</a>' for link in links)
    return HTMLResponse(
        f"<html><head><title>{title}</title></head>"
        f"<body><h1>{title}</h1><p>About {title}.</p>{anchors}</body></html>"
    )


def sitemap(kind: str, locs: list[str]) -> bytes:
    item = "sitemap" if kind == "sitemapindex" else "url"
    entries = "".join(f"<{item}><loc>{loc}</loc></{item}>" for loc in locs)
    return f'<?xml version="1.0"?><{kind} xmlns="{SITEMAP_NS}">{entries}</{kind}>'.encode()


@dataclass(frozen=True)
class Hit:
    path: str
    headers: dict[str, str]
    at: float


Handler = Callable[[Request], Awaitable[Response]]


class Site:
    """Every page and misbehaviour the crawler must handle, on one loopback server."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.offsite = f"http://localhost:{port}"
        self.hits: list[Hit] = []
        self.active = 0  # of the /sleepy pages, which measure concurrency
        self.max_active = 0
        self._throttled = 0
        self._visits = 0  # never reset: /counter must change between any two crawls
        self._lock = threading.Lock()
        self._pages: dict[str, Handler] = {
            "/robots.txt": self._robots,
            "/sitemap_index.xml.gz": self._sitemap_index,
            "/sitemaps/pages.xml": self._sitemap_pages,
            "/sitemaps/nested.xml": self._sitemap_nested,
            "/sitemaps/deep.xml.gz": self._sitemap_deep,
            "/sitemap.xml": self._sitemap_default,
            "/": self._home,
            "/loop": self._redirect("/loop-back", 302),
            "/loop-back": self._redirect("/loop", 302),
            "/redirect-home": self._redirect("/", 301),
            "/huge": self._huge,
            "/download": self._download,
            "/latin1": self._latin1,
            "/manual": self._pdf,
            "/notes.txt": self._text,
            "/slow": self._slow,
            "/throttled": self._throttle,
            "/etag-page": self._etag,
            "/counter": self._counter,
            "/fanout": self._fanout,
        }
        for path in ("/dup-a", "/dup-b"):
            self._pages[path] = self._static("Same content")
        for level in range(1, 5):
            self._pages[f"/level{level}"] = self._static(f"Level {level}", f"/level{level + 1}")
        for index in range(6):
            self._pages[f"/sleepy/{index}"] = self._sleepy(index)
        for path in (
            "/about",
            "/café",
            "/private/secret",
            "/offsite",
            "/offsite-sitemap",
            "/from-sitemap",
            "/from-deep-sitemap",
            "/from-default-sitemap",
        ):
            self._pages[path] = self._static(path)
        self.app = Starlette(routes=[Route("/{path:path}", self._handle)])

    def url(self, path: str) -> str:
        return self.base + path

    def reset(self) -> None:
        self.hits.clear()
        self.max_active = 0
        self._throttled = 0

    def page_hits(self) -> list[Hit]:
        return [hit for hit in self.hits if hit.path != "/robots.txt" and "sitemap" not in hit.path]

    async def _handle(self, request: Request) -> Response:
        path = request.scope["path"]
        with self._lock:
            self.hits.append(Hit(path, dict(request.headers), time.monotonic()))
        handler = self._pages.get(path)
        if handler is None:
            return PlainTextResponse("Not Found", status_code=404)
        return await handler(request)

    @staticmethod
    def _static(title: str, *links: str) -> Handler:
        async def handler(_: Request) -> Response:
            return html(title, *links)

        return handler

    @staticmethod
    def _redirect(to: str, status: int) -> Handler:
        async def handler(_: Request) -> Response:
            return RedirectResponse(to, status_code=status)

        return handler

    def _sleepy(self, index: int) -> Handler:
        async def handler(_: Request) -> Response:
            with self._lock:
                self.active += 1
                self.max_active = max(self.max_active, self.active)
            await asyncio.sleep(0.2)
            with self._lock:
                self.active -= 1
            return html(f"Sleepy {index}")

        return handler

    async def _robots(self, _: Request) -> Response:
        return PlainTextResponse(
            f"User-agent: *\nDisallow: /private\n\nSitemap: {self.base}/sitemap_index.xml.gz\n"
        )

    async def _sitemap_index(self, _: Request) -> Response:
        index = sitemap(
            "sitemapindex", [self.url("/sitemaps/pages.xml"), self.url("/sitemaps/nested.xml")]
        )
        return Response(gzip.compress(index), media_type="application/gzip")

    async def _sitemap_pages(self, _: Request) -> Response:
        urls = [self.url("/from-sitemap"), self.offsite + "/offsite-sitemap", self.url("/about")]
        return Response(sitemap("urlset", urls), media_type="application/xml")

    async def _sitemap_nested(self, _: Request) -> Response:
        index = sitemap("sitemapindex", [self.url("/sitemaps/deep.xml.gz")])
        return Response(index, media_type="application/xml")

    async def _sitemap_deep(self, _: Request) -> Response:
        urlset = sitemap("urlset", [self.url("/from-deep-sitemap")])
        return Response(gzip.compress(urlset), media_type="application/gzip")

    async def _sitemap_default(self, _: Request) -> Response:
        urlset = sitemap("urlset", [self.url("/from-default-sitemap")])
        return Response(urlset, media_type="application/xml")

    async def _home(self, _: Request) -> Response:
        return html(
            "Home",
            "/about",
            "/dup-a",
            "/dup-b",
            "/about/",
            "/about#team",
            "/about?utm_source=news&gclid=abc",
            f"HTTP://127.0.0.1:{self.base.rsplit(':', 1)[1]}/x/../about",
            "/private/secret",
            self.offsite + "/offsite",
            "/missing",
            "/loop",
            "/huge",
            "/download",
            "/logo.png",
            "/latin1",
            "/manual",
            "/notes.txt",
            "/slow",
            "/throttled",
            "/level1",
            "/etag-page",
            "/counter",
            "/redirect-home",
            "mailto:hello@example.com",
            "javascript:void(0)",
            "tel:+15550100",
        )

    async def _huge(self, _: Request) -> Response:
        return HTMLResponse("<html><body>" + "x" * 200_000 + "</body></html>")

    async def _download(self, _: Request) -> Response:
        return Response(bytes(range(256)) * 16, media_type="application/octet-stream")

    async def _latin1(self, _: Request) -> Response:
        page = "<html><body><p>Café crème</p><a href='/café'>menu</a></body></html>"
        return Response(page.encode("latin-1"), media_type="text/html; charset=iso-8859-1")

    async def _pdf(self, _: Request) -> Response:
        return Response(b"%PDF-1.4\n% a manual\n", media_type="application/pdf")

    async def _text(self, _: Request) -> Response:
        return PlainTextResponse("Plain notes.")

    async def _slow(self, _: Request) -> Response:
        await asyncio.sleep(3)
        return html("Slow")

    async def _throttle(self, _: Request) -> Response:
        with self._lock:
            self._throttled += 1
            first = self._throttled == 1
        if first:
            return Response("slow down", status_code=429, headers={"Retry-After": "1"})
        return html("Throttled")

    async def _etag(self, request: Request) -> Response:
        headers = {"ETag": '"v1"'}
        if request.headers.get("if-none-match") == '"v1"':
            return Response(status_code=304, headers=headers)
        response = html("Tagged")
        response.headers.update(headers)
        return response

    async def _counter(self, _: Request) -> Response:
        with self._lock:
            self._visits += 1
            visits = self._visits
        return html(f"Visit {visits}")

    async def _fanout(self, _: Request) -> Response:
        return html("Fanout", *(f"/sleepy/{index}" for index in range(6)))


@dataclass
class CrawlResult:
    pages: list[CrawlPage]
    stats: CrawlStats
    hits: list[Hit]

    def page(self, url: str) -> CrawlPage:
        [found] = [page for page in self.pages if page.url == url]
        return found


async def crawl(
    client: SafeHTTPClient, start_url: str, limits: CrawlLimits = LIMITS, **options: Any
) -> tuple[list[CrawlPage], CrawlStats]:
    crawler = Crawler(client, limits, **options)
    pages = [page async for page in crawler.crawl(start_url)]
    return pages, crawler.stats


@pytest.fixture(scope="module")
def served_site() -> Iterator[Site]:
    port = free_port()
    site = Site(port)
    with LiveServer(site.app, port):
        yield site


@pytest.fixture
def site(served_site: Site) -> Site:
    served_site.reset()
    return served_site


@pytest.fixture(scope="module")
async def client() -> AsyncIterator[SafeHTTPClient]:
    async with SafeHTTPClient(
        allow_loopback=True, max_bytes=1_000_000, timeout=1.0, max_redirects=3
    ) as safe:
        yield safe


@pytest.fixture(scope="module")
async def first_crawl(served_site: Site, client: SafeHTTPClient) -> CrawlResult:
    served_site.reset()
    pages, stats = await crawl(client, served_site.url("/"))
    return CrawlResult(pages, stats, list(served_site.hits))


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Hosts actually handed to the socket layer (SafeHTTPClient connects via AnyIOBackend)."""
    seen: list[str] = []
    original = httpcore.AnyIOBackend.connect_tcp

    async def spy(
        self: httpcore.AnyIOBackend, host: str, port: int, **kwargs: Any
    ) -> httpcore.AsyncNetworkStream:
        seen.append(host)
        return await original(self, host, port, **kwargs)

    monkeypatch.setattr(httpcore.AnyIOBackend, "connect_tcp", spy)
    return seen


# -- one crawl of the whole site --------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [
        ("/", "fetched", None),
        ("/about", "fetched", None),
        ("/private/secret", "skipped", "robots.txt"),
        ("/missing", "failed", "404"),
        ("/loop", "failed", "too many redirects"),
        ("/huge", "skipped", "too large"),
        ("/download", "skipped", "not html/pdf/text"),
        ("/logo.png", "skipped", "not html/pdf/text"),
        ("/latin1", "fetched", None),
        ("/caf%C3%A9", "fetched", None),
        ("/manual", "fetched", None),
        ("/notes.txt", "fetched", None),
        ("/slow", "failed", "timeout"),
        ("/throttled", "fetched", None),
        ("/level3", "fetched", None),
        ("/from-sitemap", "fetched", None),
        ("/from-deep-sitemap", "fetched", None),
        ("/from-default-sitemap", "fetched", None),
    ],
)
async def test_each_page_ends_with_a_clear_status(
    first_crawl: CrawlResult, served_site: Site, path: str, status: str, reason: str | None
) -> None:
    page = first_crawl.page(served_site.url(path))
    assert (page.status, page.reason) == (status, reason)
    assert (page.body != b"") == (status == "fetched")


async def test_every_url_gets_exactly_one_decision(first_crawl: CrawlResult) -> None:
    urls = [page.url for page in first_crawl.pages]
    assert len(urls) == len(set(urls))
    stats = first_crawl.stats
    assert stats.found == len(urls)
    for status in ("fetched", "unchanged", "skipped", "failed"):
        assert getattr(stats, status) == sum(page.status == status for page in first_crawl.pages)
    assert stats.bytes >= sum(len(page.body) for page in first_crawl.pages) > 0


async def test_robots_disallowed_and_skipped_types_are_never_requested(
    first_crawl: CrawlResult,
) -> None:
    requested = {hit.path for hit in first_crawl.hits}
    assert "/private/secret" not in requested
    assert "/logo.png" not in requested
    assert "/download" in requested  # skipped on its content type, after the request


async def test_sitemaps_nested_and_gzipped_give_depth_one_pages(
    first_crawl: CrawlResult, served_site: Site
) -> None:
    for path in ("/from-sitemap", "/from-deep-sitemap", "/from-default-sitemap"):
        assert first_crawl.page(served_site.url(path)).depth == 1
    requested = {hit.path for hit in first_crawl.hits}
    assert {"/sitemap_index.xml.gz", "/sitemaps/deep.xml.gz", "/sitemap.xml"} <= requested


async def test_stays_on_site(first_crawl: CrawlResult) -> None:
    requested = {hit.path for hit in first_crawl.hits}
    assert not requested & {"/offsite", "/offsite-sitemap"}
    assert all(page.url.startswith("http://127.0.0.1:") for page in first_crawl.pages)
    assert all(hit.headers["host"].startswith("127.0.0.1:") for hit in first_crawl.hits)


async def test_depth_limit(first_crawl: CrawlResult, served_site: Site) -> None:
    assert max(page.depth for page in first_crawl.pages) == LIMITS.max_depth
    assert first_crawl.page(served_site.url("/level3")).depth == 3
    assert "/level4" not in {hit.path for hit in first_crawl.hits}


async def test_normalization_dedups_links(first_crawl: CrawlResult, served_site: Site) -> None:
    # /about, /about/, /about#team, tracking parameters, an upper-case scheme and dot segments
    assert [hit.path for hit in first_crawl.hits].count("/about") == 1
    assert first_crawl.page(served_site.url("/about")).depth == 1


async def test_duplicate_content_is_skipped(first_crawl: CrawlResult, served_site: Site) -> None:
    a, b = (first_crawl.page(served_site.url(path)) for path in ("/dup-a", "/dup-b"))
    assert {a.status, b.status} == {"fetched", "skipped"}
    skipped = a if a.status == "skipped" else b
    assert skipped.reason == "duplicate content"
    assert a.content_hash == b.content_hash


async def test_redirect_to_a_known_url_is_skipped(
    first_crawl: CrawlResult, served_site: Site
) -> None:
    page = first_crawl.page(served_site.url("/redirect-home"))
    assert page.status == "skipped"
    assert page.reason == f"duplicate URL (redirects to {served_site.url('/')})"


async def test_pages_keep_type_and_bytes(first_crawl: CrawlResult, served_site: Site) -> None:
    pdf = first_crawl.page(served_site.url("/manual"))
    assert pdf.content_type == "application/pdf"
    assert pdf.body.startswith(b"%PDF-")
    latin1 = first_crawl.page(served_site.url("/latin1"))
    assert latin1.content_type == "text/html; charset=iso-8859-1"
    assert "Café crème" in latin1.body.decode("latin-1")
    binary = first_crawl.page(served_site.url("/download"))
    assert (binary.http_status, binary.content_type) == (200, "application/octet-stream")


async def test_retry_after_is_honoured(first_crawl: CrawlResult) -> None:
    first, second = [hit for hit in first_crawl.hits if hit.path == "/throttled"]
    assert second.at - first.at >= 0.95


async def test_honest_user_agent(first_crawl: CrawlResult) -> None:
    assert {hit.headers["user-agent"] for hit in first_crawl.hits} == {
        "VoxtroBot/1.0 (+https://voxtro.io/bot)"
    }


async def test_recrawl_marks_unchanged_pages(
    first_crawl: CrawlResult, served_site: Site, client: SafeHTTPClient
) -> None:
    previous = {
        page.url: (page.etag, page.last_modified, page.content_hash)
        for page in first_crawl.pages
        if page.status == "fetched"
    }
    served_site.reset()
    pages, _ = await crawl(client, served_site.url("/"), previous=previous)
    second = CrawlResult(pages, CrawlStats(), list(served_site.hits))

    by_etag = second.page(served_site.url("/etag-page"))
    assert (by_etag.status, by_etag.http_status, by_etag.etag) == ("unchanged", 304, '"v1"')
    assert by_etag.content_hash == previous[by_etag.url][2]
    [etag_hit] = [hit for hit in second.hits if hit.path == "/etag-page"]
    assert etag_hit.headers["if-none-match"] == '"v1"'

    by_hash = second.page(served_site.url("/about"))
    assert (by_hash.status, by_hash.http_status, by_hash.body) == ("unchanged", 200, b"")
    assert by_hash.content_hash == previous[by_hash.url][2]
    assert second.page(served_site.url("/counter")).status == "fetched"
    # Whichever of the two duplicates finishes first may be taken as new content.
    changing = {served_site.url(path) for path in ("/counter", "/dup-a", "/dup-b")}
    assert {second.page(url).status for url in previous.keys() - changing} == {"unchanged"}
    # Known pages are revisited as if linked from the start page, since a 304 shows no links.
    assert second.page(served_site.url("/level3")).depth == 1


# -- limits, failures and cancellation --------------------------------------------------------


async def test_max_pages_bounds_page_requests(site: Site, client: SafeHTTPClient) -> None:
    limits = CrawlLimits(max_pages=3, per_host_concurrency=2, delay_seconds=0)
    pages, stats = await crawl(client, site.url("/"), limits)
    assert len(site.page_hits()) == 3
    assert sum(page.http_status is not None for page in pages) == 3
    assert stats.fetched == 3


async def test_per_host_concurrency(site: Site, client: SafeHTTPClient) -> None:
    limits = CrawlLimits(max_pages=20, max_depth=1, per_host_concurrency=2, delay_seconds=0)
    pages, _ = await crawl(client, site.url("/fanout"), limits)
    fetched = {page.url for page in pages if page.status == "fetched"}
    assert {site.url(f"/sleepy/{index}") for index in range(6)} <= fetched
    assert site.max_active == 2


async def test_crawl_delay_and_rules_for_our_agent(client: SafeHTTPClient) -> None:
    hits: list[float] = []

    async def robots(_: Request) -> Response:
        hits.append(time.monotonic())
        rules = "User-agent: VoxtroBot\nCrawl-delay: 1\nDisallow: /blocked\n\n"
        return PlainTextResponse(rules + "User-agent: *\nDisallow: /\n")

    async def page(request: Request) -> Response:
        hits.append(time.monotonic())
        return html(request.url.path, "/blocked", "/open")

    app = Starlette(routes=[Route("/robots.txt", robots), Route("/{path:path}", page)])
    with LiveServer(app) as server:
        limits = CrawlLimits(max_pages=10, max_depth=1, delay_seconds=0)
        pages, _ = await crawl(client, server.url + "/", limits)
    statuses = {page.url.removeprefix(server.url): page.status for page in pages}
    assert statuses == {"/": "fetched", "/blocked": "skipped", "/open": "fetched"}
    gaps = [later - earlier for earlier, later in itertools.pairwise(hits)]
    assert len(gaps) == 3  # robots.txt, /, /sitemap.xml and /open
    assert min(gaps) >= 0.95


async def test_404_start_url(site: Site, client: SafeHTTPClient) -> None:
    pages, stats = await crawl(client, site.url("/missing"), ONE_PAGE)
    assert [(page.status, page.reason, page.http_status) for page in pages] == [
        ("failed", "404", 404)
    ]
    assert stats.failed == 1


async def test_unreachable_site(client: SafeHTTPClient) -> None:
    pages, _ = await crawl(client, f"http://127.0.0.1:{free_port()}/")
    [page] = pages
    assert page.status == "failed"
    assert page.reason is not None and page.reason.startswith("connection failed")


async def test_non_http_start_url(client: SafeHTTPClient) -> None:
    pages, _ = await crawl(client, "ftp://example.com/")
    assert [(page.url, page.status, page.reason) for page in pages] == [
        ("ftp://example.com/", "failed", "not an http(s) URL")
    ]


async def test_page_over_the_client_limit_is_skipped(site: Site) -> None:
    async with SafeHTTPClient(allow_loopback=True, max_bytes=50_000) as small:
        pages, _ = await crawl(small, site.url("/huge"), ONE_PAGE)
    assert [(page.status, page.reason, page.http_status) for page in pages] == [
        ("skipped", "too large", None)
    ]


async def test_private_addresses_are_refused_without_connecting(
    client: SafeHTTPClient, connects: list[str]
) -> None:
    async def page(_: Request) -> Response:
        return html("Internal", "http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/")

    limits = CrawlLimits(max_pages=10, max_depth=1, same_site=False, delay_seconds=0)
    with LiveServer(Starlette(routes=[Route("/", page)])) as server:
        pages, _ = await crawl(client, server.url + "/", limits)
    outcomes = {page.url: (page.status, page.reason) for page in pages}
    assert outcomes == {
        server.url + "/": ("fetched", None),
        "http://10.0.0.1/": ("failed", "refused: it is a private address"),
        "http://169.254.169.254/latest/meta-data": (
            "failed",
            "refused: it is a cloud metadata address",
        ),
    }
    assert set(connects) == {"127.0.0.1"}


async def test_cancellation_between_pages(site: Site, client: SafeHTTPClient) -> None:
    cancelled = False

    async def is_cancelled() -> bool:
        return cancelled

    crawler = Crawler(client, LIMITS, is_cancelled=is_cancelled)
    pages = []
    async for page in crawler.crawl(site.url("/")):
        pages.append(page)
        cancelled = True
    assert len(pages) == 1


async def test_cancellation_during_a_slow_fetch(site: Site) -> None:
    deadline = time.monotonic() + 0.3

    async def is_cancelled() -> bool:
        return time.monotonic() > deadline

    async with SafeHTTPClient(allow_loopback=True, timeout=10) as patient:
        started = time.monotonic()
        pages, _ = await crawl(patient, site.url("/slow"), ONE_PAGE, is_cancelled=is_cancelled)
    assert pages == []
    assert time.monotonic() - started < 1.5


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError):
        CrawlLimits(max_pages=0)
    with pytest.raises(ValueError):
        CrawlLimits(max_pages=1, delay_seconds=-1)


# -- URL normalization ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        ("HTTP://Example.COM/", None, "http://example.com/"),
        ("http://example.com:80/a", None, "http://example.com/a"),
        ("https://example.com:443", None, "https://example.com/"),
        ("https://example.com:8443/a", None, "https://example.com:8443/a"),
        ("http://example.com/a/#section", None, "http://example.com/a"),
        ("http://example.com/#top", None, "http://example.com/"),
        ("http://example.com?", None, "http://example.com/"),
        ("http://example.com/a/./b/../c//d/", None, "http://example.com/a/c/d"),
        ("http://example.com/?b=2&a=1&b=1", None, "http://example.com/?a=1&b=2&b=1"),
        (
            "http://example.com/p?utm_source=x&UTM_Medium=y&gclid=1&fbclid=2&mc_cid=3&mc_eid=4&ref=5&id=7",
            None,
            "http://example.com/p?id=7",
        ),
        ("http://example.com/%7euser/%2f?q=%7e", None, "http://example.com/~user/%2F?q=~"),
        ("http://example.com/caf%c3%a9", None, "http://example.com/caf%C3%A9"),
        ("http://bücher.de/café?q=café", None, "http://xn--bcher-kva.de/caf%C3%A9?q=caf%C3%A9"),
        ("http://example.com/100%", None, "http://example.com/100%25"),
        ("http://example.com/?q=%FF&r=a+b", None, "http://example.com/?q=%FF&r=a%20b"),
        ("http://user:secret@example.com/", None, "http://example.com/"),
        ("http://[::1]:8080/x", None, "http://[::1]:8080/x"),
        ("http://example.com./", None, "http://example.com/"),
        ("  http://example.com/a\n/b \t", None, "http://example.com/a/b"),
        ("../c?x=1#f", "https://example.com/a/b/", "https://example.com/a/c?x=1"),
        ("page", "https://example.com/docs/", "https://example.com/docs/page"),
        ("//cdn.example.com/x", "https://example.com/", "https://cdn.example.com/x"),
        ("", "https://example.com/a?b=1#c", "https://example.com/a?b=1"),
        ("mailto:hello@example.com", "https://example.com/", None),
        ("javascript:void(0)", "https://example.com/", None),
        ("tel:+15550100", "https://example.com/", None),
        ("ftp://example.com/file", None, None),
        ("data:text/html,hi", None, None),
        ("/relative/without/base", None, None),
        ("http://exa mple.com/", None, None),
        ("http://example.com:99999/", None, None),
        ("http://[::1/", None, None),
    ],
)
def test_normalize_url(url: str, base: str | None, expected: str | None) -> None:
    assert normalize_url(url, base) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("https://www.example.com/a", "http://blog.example.com/b", True),
        ("https://example.co.uk/", "https://shop.example.co.uk/", True),
        ("https://example.com/", "https://example.org/", False),
        ("https://alice.github.io/", "https://bob.github.io/", False),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:9000/", True),
        ("http://127.0.0.1/", "http://localhost/", False),
        ("mailto:a@example.com", "mailto:b@example.com", False),
    ],
)
def test_same_site(a: str, b: str, expected: bool) -> None:
    assert same_site(a, b) is expected
