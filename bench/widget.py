"""What the widget costs a customer's page, in bytes and in time, in headless Chromium.

    python bench/widget.py [--runs 10]

Starts an embedded PostgreSQL and Voxtro (uvicorn, in-process) with the demo workspace and its
chatbot, and a customer page on another loopback origin that embeds the loader with one script
tag. It prints the loader's size (raw and gzipped), the messenger's (page, script, style), the
bytes the page fetches from Voxtro before the visitor does anything, and, over `--runs` fresh
browser contexts, the time from navigation to the launcher being on screen, from the click to
the bot's first message being visible in the chat, and from sending a question to its (FAQ)
answer being visible. The sizes are printed next to those of peers' embeds, as published by
them (not measured here): a baseline, not a race on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import statistics
import sys
import tempfile
import time
from pathlib import Path

from cryptography.fernet import Fernet
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.app import create_app  # noqa: E402
from backend.config import Settings  # noqa: E402
from backend.context import AppContext  # noqa: E402
from backend.embedded import start_postgres  # noqa: E402
from backend.migrate import migrate  # noqa: E402
from backend.seed import seed_demo  # noqa: E402
from backend.widget import repository  # noqa: E402
from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.fixtures.servers import LiveServer, free_port  # noqa: E402

DIST = ROOT / "widget" / "dist"
VIEWPORT = {"width": 1280, "height": 800}
# Published sizes of peers' embeds (gzipped unless said), for comparison only.
PEERS = [
    ("Dify embed.min.js", "about 3 KB gzipped"),
    ("Chatwoot SDK", "loads a ~170 KB frame at page load"),
    ("Typebot embed", "about 196 KB gzipped"),
]


def kb(n: int) -> str:
    return f"{n / 1024:.1f} KB"


def sizes() -> list[tuple[str, int, int]]:
    files = [("loader.js", DIST / "loader.js"), ("messenger.html", DIST / "messenger.html")]
    files += [(p.name, p) for p in sorted((DIST / "assets").iterdir())]
    return [(name, len(b := p.read_bytes()), len(gzip.compress(b, 9))) for name, p in files]


async def setup(data_dir: Path) -> tuple[Settings, str]:
    url = start_postgres(data_dir)
    await migrate(url)
    port = free_port()
    settings = Settings(
        database_url=url,
        port=port,
        public_url=f"http://127.0.0.1:{port}",
        supabase_jwt_secret=Fernet.generate_key().decode() * 2,
        encryption_keys=Fernet.generate_key().decode(),
        rate_limit_anonymous="100000/minute",
        rate_limit_chat_visitor="100000/minute",
        rate_limit_bot_address="100000/minute",
    )
    context = AppContext.build(settings)
    await context.db.open()
    try:
        await seed_demo(context, password="bench-demo-password")
        async with context.db.system() as conn:
            bot = await repository.demo_bot(conn)
    finally:
        await context.aclose()
    assert bot is not None
    return settings, str(bot["id"])


def host_page(script_src: str) -> Starlette:
    page = (
        "<!doctype html><html><head><title>Shop</title></head><body><h1>A shop</h1>"
        f'<script src="{script_src}" async></script></body></html>'
    )
    return Starlette(routes=[Route("/", lambda _: HTMLResponse(page))])


LAUNCHER_ON_SCREEN = (
    "() => { const e = document.elementFromPoint(innerWidth - 48, innerHeight - 48);"
    " return e !== null && e.id === 'voxtro-widget'; }"
)


async def one_run(browser, host_url: str, origin: str) -> tuple[float, float, float, int]:
    from playwright.async_api import Frame

    context = await browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    fetched = 0

    def count(response) -> None:
        nonlocal fetched
        if response.url.startswith(origin):
            fetched += int(response.headers.get("content-length", 0))

    page.on("response", count)
    await page.goto(host_url, wait_until="commit")
    await page.wait_for_function(LAUNCHER_ON_SCREEN, polling="raf")
    launcher_ms = await page.evaluate("performance.now()")
    await page.wait_for_load_state("networkidle")
    before_click = fetched

    started = time.perf_counter()
    await page.mouse.click(VIEWPORT["width"] - 48, VIEWPORT["height"] - 48)
    frame: Frame | None = None
    while frame is None:
        frame = next((f for f in page.frames if "/messenger/" in f.url), None)
        await asyncio.sleep(0.005)
    await frame.get_by_test_id("message-bot").first.wait_for()
    first_message_ms = (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    await frame.get_by_test_id("input").fill("Can I pay cash on delivery?")
    await frame.get_by_test_id("input").press("Enter")
    await frame.get_by_text("cash on delivery is available").wait_for()
    answer_ms = (time.perf_counter() - started) * 1000
    await context.close()
    return launcher_ms, first_message_ms, answer_ms, before_click


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return f"median {statistics.median(values):7.1f} ms   p90 {p90:7.1f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    from playwright.async_api import async_playwright

    print("Widget files (widget/dist):")
    for name, raw, zipped in sizes():
        print(f"  {name:<32} {kb(raw):>9} raw  {kb(zipped):>9} gzipped")
    loader_gz = next(z for n, _, z in sizes() if n == "loader.js")
    print("\nPeers' embeds (published figures, not measured here):")
    print(f"  {'Voxtro loader.js':<32} {kb(loader_gz)} gzipped (measured above)")
    for name, figure in PEERS:
        print(f"  {name:<32} {figure}")

    settings, bot_id = await setup(Path(tempfile.mkdtemp(prefix="vxw")))
    with (
        LiveServer(create_app(settings), port=settings.port) as product,
        LiveServer(host_page(f"{product.url}/api/widget/{bot_id}/script.js")) as host,
    ):
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            runs = [await one_run(browser, host.url, product.url) for _ in range(args.runs)]
            await browser.close()
    launcher, first, answer, fetched = zip(*runs, strict=True)
    print(f"\nIn headless Chromium on loopback, {args.runs} fresh visits:")
    print(f"  navigation -> launcher on screen       {summary(list(launcher))}")
    print(f"  click -> first message visible         {summary(list(first))}")
    print(f"  question -> FAQ answer visible         {summary(list(answer))}")
    print(
        f"  fetched from Voxtro before any click   {kb(int(statistics.median(fetched)))}"
        " (Content-Length: the loader and the bot's config)"
    )


if __name__ == "__main__":
    asyncio.run(main())
