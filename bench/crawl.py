"""Crawl throughput with extraction, and extraction quality.

    python bench/crawl.py [--pages 2000] [--concurrency 4]

Serves a generated site of `--pages` real-looking pages (bench/crawl_site.py: nav, header,
footer, cookie banner, sidebar, a 1-4 KB article; robots.txt and a sitemap index) from uvicorn in
its own process on a loopback port, then crawls it three ways at the same concurrency:

- baseline: plain concurrent GETs of the same URLs with httpx.AsyncClient (no robots, no
  sitemaps, no link parsing, no extraction);
- the real Crawler through the real SafeHTTPClient(allow_loopback=True), politeness off
  (delay 0), pages discarded: what the crawler adds;
- the same crawl with `extract` and `chunk_text` run on every fetched page, inline in the
  consuming loop as the crawl job does (without the database): pages/s per worker.

It prints pages/s of each with the ratio to the baseline, the split of the full crawl between
fetching and extract+chunk (CPU seconds), and the mean precision and recall of main-text
sentences extracted from the labelled pages of tests/knowledge and from the generated pages,
whose article and boilerplate sentences are known. Target (issue 4): >= 20 pages/s per worker.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.kit.safe_http import SafeHTTPClient  # noqa: E402
from backend.knowledge.chunking import chunk_text  # noqa: E402
from backend.knowledge.crawler import Crawler, CrawlLimits  # noqa: E402
from backend.knowledge.extract import ExtractionError, extract  # noqa: E402
from bench.crawl_site import Page, build_site  # noqa: E402
from tests.fixtures.servers import free_port  # noqa: E402
from tests.knowledge.labelled import LABELLED_PAGES, PAGES_DIR, precision_recall  # noqa: E402

TARGET_PAGES_PER_SECOND = 20.0


@dataclass
class Run:
    pages: int = 0  # pages fetched with a 200
    wall: float = 0.0
    cpu: float = 0.0  # this process
    server_cpu: float | None = None
    extract_wall: float = 0.0
    extract_cpu: float = 0.0
    chunks: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    texts: dict[str, str] = field(default_factory=dict)  # path -> extracted text

    @property
    def rate(self) -> float:
        return self.pages / self.wall if self.wall else 0.0


# --- The site's server ------------------------------------------------------------------------


def serve(pages: int, port: int) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.crawl_site:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--lifespan",
        "off",
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    env = {
        **os.environ,
        "BENCH_CRAWL_PAGES": str(pages),
        "BENCH_CRAWL_ORIGIN": f"http://127.0.0.1:{port}",
    }
    return subprocess.Popen(command, cwd=ROOT, env=env)


async def wait_ready(url: str, server: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            if server.poll() is not None:
                break
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


def process_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a process (Linux), or None where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_delta(pid: int, before: float | None) -> float | None:
    after = process_cpu(pid)
    return after - before if after is not None and before is not None else None


# --- The three runs ---------------------------------------------------------------------------


async def plain_gets(urls: list[str], concurrency: int, server_pid: int) -> Run:
    """The baseline: `concurrency` workers GET the URLs with a bare httpx client."""
    run = Run()
    queue: asyncio.Queue[str] = asyncio.Queue()
    for url in urls:
        queue.put_nowait(url)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker() -> None:
            while not queue.empty():
                response = await client.get(queue.get_nowait())
                run.statuses[str(response.status_code)] += 1
                run.pages += response.status_code == 200

        server_before, cpu_before = process_cpu(server_pid), time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        run.wall = time.perf_counter() - started
    run.cpu = time.process_time() - cpu_before
    run.server_cpu = cpu_delta(server_pid, server_before)
    return run


async def crawl(
    start: str, pages: int, concurrency: int, server_pid: int, *, with_extraction: bool
) -> Run:
    """The real crawler, politeness off; extract and chunk each fetched page if asked."""
    run = Run()
    limits = CrawlLimits(
        max_pages=pages,
        max_depth=1_000,
        per_host_concurrency=concurrency,
        delay_seconds=0,
    )
    async with SafeHTTPClient(allow_loopback=True) as http:
        crawler = Crawler(http, limits)
        server_before, cpu_before = process_cpu(server_pid), time.process_time()
        started = time.perf_counter()
        async with contextlib.aclosing(crawler.crawl(start)) as crawled:
            async for page in crawled:
                run.statuses[page.status] += 1
                if page.status != "fetched":
                    run.reasons[f"{page.status}: {page.reason}"] += 1
                    continue
                run.pages += 1
                if with_extraction:
                    extract_page(run, page.url, page.body, page.content_type or "")
        run.wall = time.perf_counter() - started
    run.cpu = time.process_time() - cpu_before
    run.server_cpu = cpu_delta(server_pid, server_before)
    return run


def extract_page(run: Run, url: str, body: bytes, content_type: str) -> None:
    """What the crawl job does with a fetched page, less the database; timed."""
    started, cpu_started = time.perf_counter(), time.thread_time()
    try:
        document = extract(body, content_type=content_type, url=url)
    except ExtractionError as exc:
        run.reasons[f"extraction: {exc}"] += 1
        text = ""
    else:
        text = document.text
        run.chunks += len(chunk_text(text))
    run.extract_wall += time.perf_counter() - started
    run.extract_cpu += time.thread_time() - cpu_started
    run.texts[urlsplit(url).path] = text


# --- Extraction quality -----------------------------------------------------------------------


Score = tuple[float, float, float | None]  # precision, recall, share of headings kept
Quality = tuple[int, float, float, float | None]  # pages and the means of a Score


def mean_quality(scores: list[Score]) -> Quality:
    if not scores:
        return 0, 0.0, 0.0, None
    precisions, recalls, headings = zip(*scores, strict=True)
    kept = [h for h in headings if h is not None]
    mean_kept = statistics.mean(kept) if kept else None
    return len(scores), statistics.mean(precisions), statistics.mean(recalls), mean_kept


def headings_kept(text: str, headings: list[str]) -> float | None:
    """The share of `headings` that are heading lines (`#`…) of the extracted Markdown."""
    if not headings:
        return None
    lines = {line.lstrip("#").strip().casefold() for line in text.splitlines() if line[:1] == "#"}
    return sum(heading.casefold() in lines for heading in headings) / len(headings)


def labelled_quality() -> Quality:
    scores: list[Score] = []
    for name, expected, boilerplate in LABELLED_PAGES:
        body = (PAGES_DIR / name).read_bytes()
        text = extract(body, content_type="text/html", url=f"https://site.example/{name}").text
        scores.append((*precision_recall(text, expected, boilerplate), None))
    return mean_quality(scores)


def generated_quality(site: list[Page], texts: dict[str, str]) -> dict[str, Quality]:
    """Per layout and overall; a page never fetched or extracted counts as text ''."""
    by_layout: dict[str, list[Score]] = {}
    for page in site:
        text = texts.get(page.path, "")
        score = (
            *precision_recall(text, page.main, page.boilerplate),
            headings_kept(text, page.headings),
        )
        by_layout.setdefault(page.section, []).append(score)
    quality = {"all": mean_quality([s for scores in by_layout.values() for s in scores])}
    quality |= {layout: mean_quality(scores) for layout, scores in sorted(by_layout.items())}
    return quality


# --- Report -----------------------------------------------------------------------------------


def print_throughput(rows: list[tuple[str, Run]], concurrency: int) -> None:
    baseline = rows[0][1]
    print(f"Crawl of a {baseline.pages}-page site on loopback, concurrency {concurrency}:")
    print(
        f"{'':<30} {'pages':>6} {'wall s':>7} {'pages/s':>8} {'ratio':>7}"
        f" {'cpu s':>6} {'server cpu s':>12}"
    )
    for label, run in rows:
        server = f"{run.server_cpu:12.1f}" if run.server_cpu is not None else f"{'-':>12}"
        print(
            f"{label:<30} {run.pages:>6} {run.wall:>7.1f} {run.rate:>8.1f}"
            f" {run.rate / max(baseline.rate, 1e-9):>6.2f}x {run.cpu:>6.1f} {server}"
        )


def print_split(full: Run) -> None:
    fetching = full.wall - full.extract_wall
    per_page = 1000 * full.extract_cpu / max(full.pages, 1)
    print(
        f"\nfull crawl, {full.wall:.1f} s: fetching and crawling {fetching:.1f} s,"
        f" extract+chunk {full.extract_wall:.1f} s wall / {full.extract_cpu:.1f} s CPU"
        f" ({per_page:.1f} ms CPU per page)"
    )
    print(f"chunks: {full.chunks} ({full.chunks / max(full.pages, 1):.1f} per page)")
    print(
        f"target: >= {TARGET_PAGES_PER_SECOND:.0f} pages/s per worker with extraction;"
        f" measured {full.rate:.1f} pages/s"
    )


def print_outcomes(runs: list[tuple[str, Run]], expected: int) -> None:
    for label, run in runs:
        if run.pages != expected or run.reasons:
            details = ", ".join(f"{reason} x{n}" for reason, n in run.reasons.most_common(6))
            print(f"{label}: {run.pages} of {expected} pages fetched; other decisions: {details}")


def print_quality(labelled: Quality, generated: dict[str, Quality]) -> None:
    print("\nExtraction quality (main-text sentences, and article headings kept as headings):")
    print(
        f"{'set (mean over pages)':<30} {'pages':>6} {'precision':>10} {'recall':>7}"
        f" {'headings':>9}"
    )
    rows = [("labelled (tests/knowledge)", labelled)]
    rows += [(f"generated: {layout}", quality) for layout, quality in generated.items()]
    for label, (pages, precision, recall, headings) in rows:
        kept = f"{headings:>9.3f}" if headings is not None else f"{'-':>9}"
        print(f"{label:<30} {pages:>6} {precision:>10.3f} {recall:>7.3f} {kept}")


# --- Main -------------------------------------------------------------------------------------


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    site = build_site(args.pages)
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    server = serve(args.pages, port)
    try:
        await wait_ready(f"{origin}/robots.txt", server)
        labelled = labelled_quality()  # also warms up the extractor
        urls = [f"{origin}{page.path}" for page in site]
        baseline = await plain_gets(urls, args.concurrency, server.pid)
        bare = await crawl(
            f"{origin}/", args.pages, args.concurrency, server.pid, with_extraction=False
        )
        full = await crawl(
            f"{origin}/", args.pages, args.concurrency, server.pid, with_extraction=True
        )
    finally:
        server.terminate()
        server.wait(timeout=10)

    rows = [
        ("plain GETs (httpx, baseline)", baseline),
        ("crawler, no extraction", bare),
        ("crawler + extract + chunk", full),
    ]
    print_throughput(rows, args.concurrency)
    print_split(full)
    print_outcomes(rows, args.pages)
    print_quality(labelled, generated_quality(site, full.texts))


if __name__ == "__main__":
    asyncio.run(main())
