"""Website crawler for the knowledge base: robots.txt, sitemaps, then links breadth-first.

Every request goes through the SSRF-safe client given by the caller. The crawler decides what to
fetch and reports one decision per page as it happens; extracting and storing the pages is the
caller's job. Nothing here raises for a bad page or site: each ends as a page status and reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import hashlib
import heapq
import io
import itertools
import re
import string
import time
import zlib
from collections import deque
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Mapping,
)
from dataclasses import dataclass, field, replace
from email.message import Message
from typing import Literal
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpx
import lxml.html
import tldextract
from lxml import etree

from backend.kit.network_errors import Failure, describe
from backend.kit.safe_http import (
    ResponseTooLargeError,
    SafeHTTPClient,
    SafeHTTPError,
    SafeResponse,
    TooManyRedirectsError,
    UnsafeURLError,
)

DEFAULT_USER_AGENT = "VoxtroBot/1.0 (+https://voxtro.io/bot)"

PageStatus = Literal["fetched", "unchanged", "skipped", "failed"]
Validators = tuple[str | None, str | None, str | None]  # etag, last_modified, content_hash

_ACCEPT = "text/html,application/xhtml+xml,application/pdf;q=0.9,text/plain;q=0.8,*/*;q=0.1"
_CONTENT_TYPES = frozenset({"text/html", "application/xhtml+xml", "application/pdf", "text/plain"})
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Links to these are skipped without a request: they are never html, pdf or text.
_NOT_CONTENT_EXTENSIONS = frozenset(
    [
        "7z",
        "apk",
        "avi",
        "avif",
        "bin",
        "bmp",
        "bz2",
        "css",
        "deb",
        "dmg",
        "eot",
        "exe",
        "flac",
        "gif",
        "gz",
        "ico",
        "iso",
        "jar",
        "jpeg",
        "jpg",
        "js",
        "m4a",
        "m4v",
        "mkv",
        "mov",
        "mp3",
        "mp4",
        "mpeg",
        "msi",
        "ogg",
        "otf",
        "png",
        "rar",
        "rpm",
        "svg",
        "tar",
        "tgz",
        "tif",
        "tiff",
        "ttf",
        "wav",
        "webm",
        "webp",
        "wmv",
        "woff",
        "woff2",
        "xz",
        "zip",
    ]
)
_MAX_RETRY_AFTER = 30.0
# Honoured above our own delay, but capped so that a hostile robots.txt cannot stall a crawl.
_MAX_CRAWL_DELAY = 10.0
_MAX_SITEMAP_FILES = 50
_MAX_SITEMAP_URLS = 10_000
_MAX_SITEMAP_BYTES = 50_000_000  # the sitemap protocol's own limit, uncompressed
_CANCEL_POLL_SECONDS = 0.5

_TRACKING_PARAMS = frozenset(
    {
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "__hssc",
        "__hstc",
        "__hsfp",
        "dclid",
        "fbclid",
        "gbraid",
        "gclid",
        "gclsrc",
        "igshid",
        "mc_cid",
        "mc_eid",
        "mkt_tok",
        "msclkid",
        "ref",
        "ref_src",
        "twclid",
        "wbraid",
        "yclid",
    }
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# Anything else in a host would let another URL parser read a different host than ours.
_HOST = re.compile(r"[a-z0-9_.-]+|\[[0-9a-f:.]+\]")
_EXTRACT = tldextract.TLDExtract(
    suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True
)


@dataclass(frozen=True)
class CrawlLimits:
    max_pages: int  # page requests (whatever their outcome); robots.txt and sitemaps not counted
    max_depth: int = 3
    same_site: bool = True
    per_host_concurrency: int = 2
    delay_seconds: float = 0.5
    max_page_bytes: int = 5_000_000

    def __post_init__(self) -> None:
        if self.max_pages < 1 or self.per_host_concurrency < 1 or self.max_page_bytes < 1:
            raise ValueError("max_pages, per_host_concurrency and max_page_bytes must be >= 1")
        if self.max_depth < 0 or self.delay_seconds < 0:
            raise ValueError("max_depth and delay_seconds must be >= 0")


@dataclass
class CrawlPage:
    # The normalized final URL; a page skipped because it redirects to a URL already seen keeps
    # the URL it was found under, so that every URL has a single decision.
    url: str
    depth: int
    status: PageStatus
    http_status: int | None = None
    content_type: str | None = None  # the full header, charset included
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    reason: str | None = None
    content_hash: str | None = None
    # Why the site gave no answer at all (name, connection, TLS, timeout), when that is why.
    unreachable: Failure | None = None


@dataclass
class CrawlStats:
    found: int = 0
    fetched: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    bytes: int = 0
    current_url: str | None = None


class Crawler:
    """Crawls one site through `http`; `previous` holds the last crawl's validators by URL.

    Pages from `previous` are revisited (at depth 1), since a 304 page shows no links to
    follow. Close the iterator (`contextlib.aclosing`) when leaving it early: that cancels the
    requests still in flight.
    """

    def __init__(
        self,
        http: SafeHTTPClient,
        limits: CrawlLimits,
        *,
        user_agent: str = DEFAULT_USER_AGENT,
        previous: Mapping[str, Validators] | None = None,
        is_cancelled: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        self._http = http
        self._limits = limits
        self._user_agent = user_agent
        self._previous = previous or {}
        self._is_cancelled = is_cancelled
        self.stats = CrawlStats()

    def crawl(self, start_url: str) -> AsyncGenerator[CrawlPage, None]:
        """Every page decision, breadth-first, as it is made; `stats` is updated alongside."""
        self.stats = CrawlStats()
        run = _Run(
            http=self._http,
            limits=self._limits,
            user_agent=self._user_agent,
            previous=self._previous,
            is_cancelled=self._is_cancelled,
            stats=self.stats,
        )
        return run.pages(start_url)


def normalize_url(url: str, base: str | None = None) -> str | None:
    """The canonical absolute form of an http(s) URL, or None for anything else.

    Credentials are dropped, so they never reach storage or logs.
    """
    # Browsers ignore surrounding whitespace and embedded tabs and newlines in hrefs.
    cleaned = url.strip().replace("\t", "").replace("\n", "").replace("\r", "")
    try:
        parts = urlsplit(urljoin(base, cleaned) if base else cleaned)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = _normalize_host(parts.hostname)
    if scheme not in _DEFAULT_PORTS or host is None:
        return None
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    query = _normalize_query(parts.query)
    return f"{scheme}://{netloc}{_normalize_path(parts.path)}{'?' + query if query else ''}"


def same_site(a: str, b: str) -> bool:
    """Whether both URLs are on one registrable domain (IPs and bare hosts compare exactly)."""
    site = _site(a)
    return bool(site) and site == _site(b)


def _normalize_host(hostname: str | None) -> str | None:
    if not hostname:
        return None
    if ":" in hostname:
        host = f"[{hostname}]"
    else:
        try:
            host = hostname.rstrip(".").encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return host if _HOST.fullmatch(host) else None


def _normalize_path(path: str) -> str:
    segments: list[str] = []
    for segment in _normalize_escapes(path, safe="/:@!$&'()*+,;=").split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment not in ("", "."):
            segments.append(segment)
    return "/" + "/".join(segments)


def _normalize_query(query: str) -> str:
    # Raw non-ASCII becomes UTF-8 escapes first; latin-1 then round-trips every escaped byte,
    # so values in any encoding reach the server unchanged.
    escaped = _normalize_escapes(query, safe="&=+/:@!$'()*,;?")
    pairs = parse_qsl(escaped, keep_blank_values=True, encoding="latin-1")
    kept = [(name, value) for name, value in pairs if not _is_tracking(name)]
    kept.sort(key=lambda pair: pair[0])  # stable: repeated names keep their order
    return urlencode(kept, safe="/:", encoding="latin-1", quote_via=quote)


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered.startswith("utm_") or lowered in _TRACKING_PARAMS


def _normalize_escapes(text: str, safe: str) -> str:
    quoted = _STRAY_PERCENT.sub("%25", quote(text, safe=safe + "%"))
    return _ESCAPE.sub(_canonical_escape, quoted)


def _canonical_escape(match: re.Match[str]) -> str:
    char = chr(int(match[1], 16))
    return char if char in _UNRESERVED else f"%{match[1].upper()}"


def _site(url: str) -> str:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    parts = _EXTRACT.extract_str(host)
    return f"{parts.domain}.{parts.suffix}" if parts.domain and parts.suffix else host


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _extension(url: str) -> str:
    last = urlsplit(url).path.rsplit("/", 1)[-1]
    return last.rsplit(".", 1)[-1].lower() if "." in last else ""


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _retry_delay(response: SafeResponse) -> float | None:
    """Seconds to wait before the one retry of a 429/503, or None when there is no retry."""
    if response.status_code not in (429, 503):
        return None
    value = response.headers.get("retry-after", "").strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER)


def _parse_robots(body: bytes) -> RobotFileParser:
    robots = RobotFileParser()
    robots.parse(body.decode("utf-8", errors="replace").splitlines())
    return robots


def _decode_html(body: bytes, content_type: str | None) -> str | None:
    """The page as text when its charset is known or it is valid UTF-8; None to let lxml sniff."""
    message = Message()
    message["content-type"] = content_type or ""
    for charset in (message.get_content_charset(), "utf-8"):
        if charset:
            try:
                return body.decode(charset)
            except (LookupError, UnicodeDecodeError):
                continue
    return None


def _links(body: bytes, content_type: str | None, page_url: str) -> list[str]:
    """Normalized targets of the page's <a>/<area> links, resolved as a browser would."""
    text = _decode_html(body, content_type)
    parser = lxml.html.HTMLParser(encoding="utf-8" if text is not None else None)
    try:
        root = lxml.html.document_fromstring(
            body if text is None else text.encode("utf-8"), parser=parser
        )
    except etree.ParserError:
        return []
    base = page_url
    base_element = root.find(".//base[@href]")
    if base_element is not None:
        base = urljoin(page_url, base_element.get("href", "").strip())
    hrefs = (element.get("href") for element in root.iter("a", "area"))
    return [url for href in hrefs if href and (url := normalize_url(href, base))]


def _gunzip(data: bytes) -> bytes | None:
    inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
    try:
        inflated = inflater.decompress(data, _MAX_SITEMAP_BYTES + 1)
    except zlib.error:
        return None
    return inflated if len(inflated) <= _MAX_SITEMAP_BYTES else None


def _sitemap_entries(xml: bytes) -> tuple[list[str], list[str]]:
    """(page URLs, nested sitemap URLs) of a urlset or sitemapindex; what parsed before an error."""
    pages: list[str] = []
    sitemaps: list[str] = []
    try:
        for _, loc in etree.iterparse(
            io.BytesIO(xml), tag="{*}loc", resolve_entities=False, no_network=True
        ):
            parent = loc.getparent()
            in_index = parent is not None and etree.QName(parent).localname == "sitemap"
            if loc.text:
                (sitemaps if in_index else pages).append(loc.text.strip())
            loc.clear(keep_tail=True)
    except etree.XMLSyntaxError:
        pass
    return pages, sitemaps


class _Gate:
    """Per-host politeness: at most `concurrency` requests at once, starts `delay` apart."""

    def __init__(self, concurrency: int, delay: float) -> None:
        self.delay = delay
        self._slots = asyncio.Semaphore(concurrency)
        self._next_start = 0.0

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        async with self._slots:
            now = asyncio.get_running_loop().time()
            start = max(now, self._next_start)
            self._next_start = start + self.delay
            await asyncio.sleep(start - now)
            yield

    def slow_down(self, delay: float) -> None:
        """Raise the delay, counting it from the last start already made."""
        if delay > self.delay:
            self._next_start += delay - self.delay
            self.delay = delay

    def pause(self, seconds: float) -> None:
        resume = asyncio.get_running_loop().time() + seconds
        self._next_start = max(self._next_start, resume)


@dataclass
class _Host:
    gate: _Gate
    frontier: list[tuple[int, int, str]] = field(default_factory=list)  # heap: depth, order, url
    robots_state: Literal["unread", "reading", "read"] = "unread"
    robots: RobotFileParser | None = None  # None: everything allowed
    in_flight: int = 0


@dataclass(frozen=True)
class _Failure:
    reason: str
    status: PageStatus = "failed"
    unreachable: Failure | None = None


@dataclass(frozen=True)
class _PageDone:
    url: str
    depth: int
    result: SafeResponse | _Failure


@dataclass(frozen=True)
class _RobotsDone:
    origin: str
    robots: RobotFileParser | None


@dataclass(frozen=True)
class _SitemapsDone:
    urls: list[str]


_Done = _PageDone | _RobotsDone | _SitemapsDone


class _Run:
    """The state of one crawl. All decisions happen in `pages`; tasks only do I/O."""

    def __init__(
        self,
        *,
        http: SafeHTTPClient,
        limits: CrawlLimits,
        user_agent: str,
        previous: Mapping[str, Validators],
        is_cancelled: Callable[[], Awaitable[bool]] | None,
        stats: CrawlStats,
    ) -> None:
        self._http = http
        self._limits = limits
        self._user_agent = user_agent
        self._previous = {normalize_url(url) or url: value for url, value in previous.items()}
        self._is_cancelled = is_cancelled
        self._stats = stats
        self._hosts: dict[str, _Host] = {}
        self._sites: set[str] = set()
        self._seen: set[str] = set()
        self._hashes: set[str] = set()
        self._order = itertools.count()
        self._budget = limits.max_pages
        self._pages_in_flight = 0
        self._start_origin = ""
        self._ready: deque[CrawlPage] = deque()
        self._tasks: set[asyncio.Task[_Done]] = set()

    async def pages(self, start_url: str) -> AsyncGenerator[CrawlPage, None]:
        self._start(start_url)
        try:
            while not await self._cancelled():
                self._dispatch()
                if self._ready:
                    yield self._ready.popleft()
                elif self._finished():
                    return
                else:
                    await self._collect()
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _start(self, start_url: str) -> None:
        start = normalize_url(start_url)
        if start is None:
            self._decide(CrawlPage(start_url, 0, "failed", reason="not an http(s) URL"))
            return
        self._sites.add(_site(start))
        self._start_origin = _origin(start)
        self._enqueue(start, 0)
        for url in self._previous:
            self._enqueue(url, 1)

    async def _cancelled(self) -> bool:
        return self._is_cancelled is not None and await self._is_cancelled()

    def _finished(self) -> bool:
        # Once the budget is spent, robots and sitemap reads still running serve no page.
        return not self._tasks or (self._budget == 0 and self._pages_in_flight == 0)

    async def _collect(self) -> None:
        done, _ = await asyncio.wait(
            self._tasks, timeout=_CANCEL_POLL_SECONDS, return_when=asyncio.FIRST_COMPLETED
        )
        for task in done:
            self._tasks.discard(task)
            match task.result():
                case _PageDone() as page:
                    self._on_page(page)
                case _RobotsDone() as robots:
                    self._on_robots(robots)
                case _SitemapsDone(urls):
                    for url in urls:
                        self._enqueue(url, 1)

    def _spawn(self, work: Coroutine[object, object, _Done]) -> None:
        self._tasks.add(asyncio.create_task(work))

    def _decide(self, page: CrawlPage) -> None:
        setattr(self._stats, page.status, getattr(self._stats, page.status) + 1)
        self._ready.append(page)

    def _host(self, url: str) -> _Host:
        origin = _origin(url)
        if origin not in self._hosts:
            gate = _Gate(self._limits.per_host_concurrency, self._limits.delay_seconds)
            self._hosts[origin] = _Host(gate)
        return self._hosts[origin]

    def _in_scope(self, url: str) -> bool:
        return not self._limits.same_site or _site(url) in self._sites

    def _enqueue(self, url: str, depth: int) -> None:
        if depth > self._limits.max_depth or url in self._seen or not self._in_scope(url):
            return
        self._seen.add(url)
        self._stats.found += 1
        heapq.heappush(self._host(url).frontier, (depth, next(self._order), url))

    def _dispatch(self) -> None:
        """Start what the budget and each host's free slots allow, shallowest pages first."""
        for origin, host in self._hosts.items():
            if host.frontier and host.robots_state == "unread":
                host.robots_state = "reading"
                self._spawn(self._read_robots(origin))
            if host.robots_state != "read":
                continue
            while (
                host.frontier
                and host.in_flight < self._limits.per_host_concurrency
                and self._budget > 0
            ):
                depth, _, url = heapq.heappop(host.frontier)
                reason = self._skip_reason(host, url)
                if reason is not None:
                    self._decide(CrawlPage(url, depth, "skipped", reason=reason))
                    continue
                host.in_flight += 1
                self._pages_in_flight += 1
                self._budget -= 1
                self._stats.current_url = url
                self._spawn(self._fetch_page(url, depth))

    def _skip_reason(self, host: _Host, url: str) -> str | None:
        if host.robots is not None and not host.robots.can_fetch(self._user_agent, url):
            return "robots.txt"
        if _extension(url) in _NOT_CONTENT_EXTENSIONS:
            return "not html/pdf/text"
        return None

    def _on_robots(self, done: _RobotsDone) -> None:
        host = self._hosts[done.origin]
        host.robots_state = "read"
        host.robots = done.robots
        if done.robots is None:
            return
        crawl_delay = done.robots.crawl_delay(self._user_agent)
        if crawl_delay:
            host.gate.slow_down(min(float(crawl_delay), _MAX_CRAWL_DELAY))
        if done.origin == self._start_origin and self._limits.max_depth >= 1:
            self._spawn(self._read_sitemaps(done.robots.site_maps() or []))

    def _on_page(self, done: _PageDone) -> None:
        host = self._host(done.url)
        host.in_flight -= 1
        self._pages_in_flight -= 1
        if isinstance(done.result, _Failure):
            failure = done.result
            self._decide(
                CrawlPage(
                    done.url,
                    done.depth,
                    failure.status,
                    reason=failure.reason,
                    unreachable=failure.unreachable,
                )
            )
            return
        self._stats.bytes += len(done.result.content)
        page, links = self._judge(done.url, done.depth, done.result)
        self._decide(page)
        for link in links:
            self._enqueue(link, done.depth + 1)

    def _judge(self, url: str, depth: int, response: SafeResponse) -> tuple[CrawlPage, list[str]]:
        """The decision on a page's response, and the links to follow from it."""
        final = normalize_url(response.url) or url
        base = CrawlPage(
            url=final,
            depth=depth,
            status="skipped",
            http_status=response.status_code,
            content_type=response.headers.get("content-type"),
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
        )
        if depth == 0:
            # A start URL redirecting to its canonical domain makes that domain the site too.
            self._sites.add(_site(final))
        if final != url:
            if not self._in_scope(final):
                return replace(base, reason="redirected off-site"), []
            if final in self._seen:
                return replace(base, url=url, reason=f"duplicate URL (redirects to {final})"), []
            self._seen.add(final)
        if response.status_code == 304 and url in self._previous:
            etag, last_modified, content_hash = self._previous[url]
            if content_hash:
                self._hashes.add(content_hash)
            unchanged = replace(
                base,
                status="unchanged",
                content_hash=content_hash,
                etag=base.etag or etag,
                last_modified=base.last_modified or last_modified,
            )
            return unchanged, []
        if not 200 <= response.status_code < 300:
            return replace(base, status="failed", reason=str(response.status_code)), []
        media_type = _media_type(response.headers.get("content-type"))
        if media_type not in _CONTENT_TYPES:
            return replace(base, reason="not html/pdf/text"), []
        if len(response.content) > self._limits.max_page_bytes:
            return replace(base, reason="too large"), []
        digest = _sha256(response.content)
        previous_hash = self._previous.get(final, (None, None, None))[2]
        if digest != previous_hash and digest in self._hashes:
            return replace(base, reason="duplicate content", content_hash=digest), []
        self._hashes.add(digest)
        links = self._follow(response, media_type, depth)
        if digest == previous_hash:
            return replace(base, status="unchanged", content_hash=digest), links
        return replace(base, status="fetched", body=response.content, content_hash=digest), links

    def _follow(self, response: SafeResponse, media_type: str, depth: int) -> list[str]:
        if media_type not in _HTML_TYPES or depth >= self._limits.max_depth:
            return []
        return _links(response.content, response.headers.get("content-type"), response.url)

    async def _request(
        self, url: str, headers: Mapping[str, str] | None = None
    ) -> SafeResponse | _Failure:
        async with self._host(url).gate.turn():
            return await self._get(url, headers or {})

    async def _get(self, url: str, headers: Mapping[str, str]) -> SafeResponse | _Failure:
        sent = {"User-Agent": self._user_agent, "Accept": _ACCEPT, **headers}
        try:
            return await self._http.get(url, headers=sent)
        except UnsafeURLError as exc:
            return _Failure(f"refused: {exc.reason}")
        except ResponseTooLargeError:
            return _Failure("too large", status="skipped")
        except TooManyRedirectsError:
            return _Failure("too many redirects")
        except httpx.TimeoutException as exc:
            return _Failure("timeout", unreachable=describe(exc))
        except httpx.ConnectError as exc:
            failure = describe(exc)
            return _Failure(f"connection failed: {failure.reason}", unreachable=failure)
        except (httpx.HTTPError, SafeHTTPError) as exc:
            failure = describe(exc)
            return _Failure(f"network error: {failure.reason}", unreachable=failure)

    async def _fetch_page(self, url: str, depth: int) -> _PageDone:
        headers = self._conditional_headers(url)
        result = await self._request(url, headers)
        delay = _retry_delay(result) if isinstance(result, SafeResponse) else None
        if delay is not None:
            self._host(url).gate.pause(delay)
            result = await self._request(url, headers)
        return _PageDone(url, depth, result)

    def _conditional_headers(self, url: str) -> dict[str, str]:
        etag, last_modified, _ = self._previous.get(url, (None, None, None))
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return headers

    async def _read_robots(self, origin: str) -> _RobotsDone:
        # Missing, failing or refused robots.txt: everything is allowed.
        result = await self._request(f"{origin}/robots.txt")
        if isinstance(result, SafeResponse) and result.status_code == 200:
            return _RobotsDone(origin, _parse_robots(result.content))
        return _RobotsDone(origin, None)

    async def _read_sitemaps(self, declared: Iterable[str]) -> _SitemapsDone:
        """Page URLs from the declared sitemaps and /sitemap.xml, nested indexes included."""
        roots = [*declared, f"{self._start_origin}/sitemap.xml"]
        seen: set[str] = set()
        queue = deque(self._sitemap_urls(roots, base=self._start_origin, seen=seen))
        pages: list[str] = []
        files = 0
        while queue and files < _MAX_SITEMAP_FILES and len(pages) < _MAX_SITEMAP_URLS:
            url = queue.popleft()
            files += 1
            xml = await self._fetch_sitemap(url)
            if xml is None:
                continue
            page_urls, nested = _sitemap_entries(xml)
            pages += filter(None, (normalize_url(page_url, url) for page_url in page_urls))
            queue.extend(self._sitemap_urls(nested, base=url, seen=seen))
        return _SitemapsDone(pages[:_MAX_SITEMAP_URLS])

    def _sitemap_urls(self, urls: Iterable[str], *, base: str, seen: set[str]) -> list[str]:
        fresh = []
        for url in urls:
            normalized = normalize_url(url, base)
            if normalized and normalized not in seen and self._in_scope(normalized):
                seen.add(normalized)
                fresh.append(normalized)
        return fresh

    async def _fetch_sitemap(self, url: str) -> bytes | None:
        result = await self._request(url)
        if isinstance(result, _Failure) or result.status_code != 200:
            return None
        # Either a .xml.gz file or a gzip body served without Content-Encoding.
        if result.content[:2] == b"\x1f\x8b":
            return _gunzip(result.content)
        return result.content
