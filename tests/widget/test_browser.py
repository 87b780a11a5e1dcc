"""The widget in a real browser (Playwright driving Debian's Chromium): a customer's page on
another site embeds the loader, a visitor opens the chat, talks, reloads, moves around the site,
fills a form; the messenger renders only text and keeps to its Content-Security-Policy."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from playwright.async_api import Browser, Frame, Page, async_playwright
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from backend.app import create_app
from backend.seed import seed_demo
from backend.widget.identity import sign
from tests.conftest import make_settings
from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS
from tests.fixtures.factories import add_faq, create_admin, create_chatbot
from tests.fixtures.servers import LiveServer, free_port

TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def product(database_url: str, fake_openai_server: Any) -> Iterator[LiveServer]:
    """The product on a real port, with rate limits a test's many page loads stay under."""
    port = free_port()
    settings = make_settings(
        database_url,
        public_url=f"http://127.0.0.1:{port}",
        openai_base_url=fake_openai_server.base_url,
        rate_limit_anonymous="10000/minute",
        rate_limit_chat_visitor="1000/minute",
    )
    with LiveServer(create_app(settings), port=port) as server:
        yield server


class HostSite:
    """A customer's website on another site than the widget's, embedding it with one script
    tag; every path is a page of the shop."""

    def __init__(self) -> None:
        self.script = ""

    def app(self) -> Starlette:
        async def page(request: Request) -> HTMLResponse:
            return HTMLResponse(
                "<!doctype html><html><head><title>Chicx</title>"
                "<style>body{font-family:serif} button{background:rgb(1, 2, 3)}</style></head>"
                "<body><h1>Chicx Sarees</h1><button id='own'>Their button</button>"
                "<a href='/sarees/silk'>Silk sarees</a>"
                f"{self.script}</body></html>"
            )

        return Starlette(routes=[Route("/{path:path}", page)])


@pytest.fixture(scope="module")
def host_site() -> Iterator[tuple[HostSite, LiveServer]]:
    site = HostSite()
    with LiveServer(site.app()) as server:
        # localhost and 127.0.0.1 (the product's) are different sites, as shop.example and
        # voxtro.example are: the chat's frame is third-party on the host page.
        server.url = f"http://localhost:{server.port}"
        yield site, server


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    page = await context.new_page()
    yield page
    await context.close()


@pytest.fixture
async def api(product: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=product.url) as client:
        yield client


@pytest.fixture
async def bot(api: httpx.AsyncClient, anon_key: str) -> dict[str, Any]:
    admin = await create_admin(api, anon_key, "shopkeeper")
    bot = await create_chatbot(
        api,
        admin,
        name="Chicx Assistant",
        first_message="Namaste! How can I help?",
        theme={"primary_color": "#aa3366"},
        knowledge_base="Source: https://chicx.example/care\n# Saree care\n"
        "Dry clean silk sarees only. Store them wrapped in muslin cloth.",
    )
    await add_faq(api, admin, bot["id"], "Do you ship abroad?", "Only within India, in 3-5 days.")
    await add_faq(
        api,
        admin,
        bot["id"],
        "Show me something odd",
        'Here: <img src=x onerror="window.pwned=1"> and [a link](javascript:window.pwned=2) '
        "and [our shop](https://chicx.example/shop) **in bold**.",
    )
    form = await api.post(
        f"/api/chatbots/{bot['id']}/forms",
        headers=admin.headers,
        json={
            "name": "callback",
            "title": "Ask for a call back",
            "fields": [
                {"name": "name", "label": "Your name", "type": "text", "required": True},
                {"name": "email", "label": "E-mail", "type": "email", "required": True},
            ],
            "submit_message": "Thanks, we will call you.",
        },
    )
    assert form.status_code == 201, form.text
    bot["admin"] = admin
    return bot


def embed(site: HostSite, product: LiveServer, bot_id: str, attributes: str = "") -> None:
    site.script = (
        f'<script src="{product.url}/api/widget/{bot_id}/script.js" async {attributes}></script>'
    )


async def messenger(page: Page) -> Frame:
    for _ in range(100):
        frame = next((f for f in page.frames if "/messenger/" in f.url), None)
        if frame is not None:
            await frame.wait_for_load_state()
            return frame
        await page.wait_for_timeout(100)
    raise AssertionError("the messenger frame never appeared")


async def open_chat(page: Page) -> Frame:
    await page.evaluate("window.Voxtro.open()")
    frame = await messenger(page)
    await frame.get_by_test_id("input").wait_for()
    return frame


async def send(frame: Frame, text: str) -> None:
    """Type and send a message once the previous answer is complete (the chat takes one
    question at a time)."""
    await frame.wait_for_function(
        "() => document.querySelector('[role=log]').getAttribute('aria-busy') !== 'true'"
    )
    await frame.get_by_test_id("input").fill(text)
    await frame.get_by_test_id("input").press("Enter")


async def answered(frame: Frame, bot_messages: int) -> None:
    """Wait until the chat shows this many bot messages and is ready for the next question."""
    await frame.wait_for_function(
        """count => document.querySelectorAll('[data-testid=message-bot]').length >= count
                 && document.querySelector('[role=log]').getAttribute('aria-busy') !== 'true'""",
        arg=bot_messages,
    )


async def bot_messages(frame: Frame) -> list[str]:
    return await frame.get_by_test_id("message-bot").all_inner_texts()


async def forget_frame_storage(frame: Frame) -> None:
    """Empties the chat frame's own storage wherever the browser lets it have one (Chromium
    refuses it to a third-party frame, others keep it per site or for the session only): from
    here on, only the host page's storage can carry the conversation."""
    await frame.evaluate("() => { try { localStorage.clear() } catch {} }")


async def stored_session(page: Page, bot_id: str) -> Any:
    raw = await page.evaluate("key => localStorage.getItem(key)", f"voxtro:{bot_id}")
    return json.loads(raw) if raw else None


async def expect_sources_once(frame: Frame, answer: str) -> list[str]:
    """The links of the bot message with this text and of its sources: each source shown once,
    below the bubble, and the bubble's text has no list of them."""
    row = frame.locator(".vx-row").filter(
        has=frame.get_by_test_id("message-bot").filter(has_text=answer)
    )
    await row.wait_for()
    bubble_text = await row.get_by_test_id("message-bot").inner_text()
    assert "Sources" not in bubble_text, bubble_text
    hrefs = await row.locator("a").evaluate_all("links => links.map(a => a.href)")
    citations = await row.get_by_test_id("citation").count()
    assert citations >= 1 and len(hrefs) == len(set(hrefs)) == citations, hrefs
    return hrefs


async def test_the_loader_adds_a_launcher_and_opens_the_chat_only_on_click(
    page, product, host_site, bot
):
    site, host = host_site
    site.script = ""
    await page.goto(host.url)
    before = set(await _window_keys(page))  # the same page without the widget
    embed(site, product, bot["id"])
    await page.goto(host.url)
    await page.wait_for_function("window.Voxtro !== undefined")
    # Nothing heavy at page load: no frame until the visitor opens the chat.
    assert [f for f in page.frames if "/messenger/" in f.url] == []
    assert set(await _window_keys(page)) - before == {"Voxtro"}
    # The host page's own styles and elements are untouched.
    assert await page.eval_on_selector("#own", "e => getComputedStyle(e).backgroundColor") == (
        "rgb(1, 2, 3)"
    )

    # The launcher sits in the bottom-right corner; a click opens the chat.
    await page.mouse.click(1280 - 20 - 28, 800 - 20 - 28)
    frame = await messenger(page)
    assert frame.url.startswith(f"{product.url}/messenger/{bot['id']}?parent=")
    await frame.get_by_test_id("header-name").wait_for()
    assert await frame.get_by_test_id("header-name").inner_text() == "Chicx Assistant"
    assert (await bot_messages(frame))[0] == "Namaste! How can I help?"
    size = await (await frame.frame_element()).bounding_box()
    assert size is not None and (round(size["width"]), round(size["height"])) == (400, 600)

    await send(frame, "Do you ship abroad?")
    await frame.get_by_test_id("message-user").filter(has_text="Do you ship abroad?").wait_for()
    await frame.get_by_text("Only within India, in 3-5 days.").wait_for()

    # Escape closes it (the frame stays, hidden, with the conversation).
    await frame.get_by_test_id("input").press("Escape")
    await (await frame.frame_element()).wait_for_element_state("hidden")
    await page.evaluate("window.Voxtro.open()")
    await (await frame.frame_element()).wait_for_element_state("visible")
    assert "Only within India, in 3-5 days." in await bot_messages(frame)


async def _window_keys(page: Page) -> list[str]:
    return await page.evaluate("Object.keys(window)")


async def test_the_conversation_follows_the_visitor_across_reloads_and_pages_of_the_site(
    page, product, host_site, bot, context
):
    site, host = host_site
    embed(site, product, bot["id"])
    await page.goto(host.url)
    frame = await open_chat(page)
    await send(frame, "Do you ship abroad?")
    await frame.get_by_text("Only within India, in 3-5 days.").wait_for()
    await send(frame, "How do I care for silk?")
    await answered(frame, 3)
    assert await expect_sources_once(frame, "Dry clean silk") == ["https://chicx.example/care"]
    link = frame.get_by_test_id("citation").first
    assert await link.get_attribute("rel") == "noopener noreferrer"
    await forget_frame_storage(frame)

    await page.reload()
    frame = await open_chat(page)
    await frame.get_by_text("Only within India, in 3-5 days.").wait_for()
    assert await expect_sources_once(frame, "Dry clean silk") == ["https://chicx.example/care"]
    await forget_frame_storage(frame)

    # Another page of the shop: the same conversation, and it goes on.
    await page.get_by_role("link", name="Silk sarees").click()
    await page.wait_for_url("**/sarees/silk")
    frame = await open_chat(page)
    await frame.get_by_text("Only within India, in 3-5 days.").wait_for()
    assert await frame.get_by_test_id("message-user").all_inner_texts() == [
        "Do you ship abroad?",
        "How do I care for silk?",
    ]
    await send(frame, "Do you ship abroad?")
    await answered(frame, 4)
    async with context.db.system() as conn:
        rows = await (
            await conn.execute("select id, visitor_id, message_count from conversations")
        ).fetchall()
    assert [row["message_count"] for row in rows] == [6]
    # Kept by the host page, under the bot's own key.
    stored = await stored_session(page, bot["id"])
    assert stored == {
        "visitor_id": rows[0]["visitor_id"],
        "conversations": {"": str(rows[0]["id"])},
    }


async def test_visitor_and_bot_text_is_shown_as_text_never_as_html(page, product, bot):
    await page.goto(f"{product.url}/messenger/{bot['id']}")
    frame = page.main_frame
    await frame.get_by_test_id("suggestion").filter(has_text="Show me something odd").click()
    answer = frame.get_by_test_id("message-bot").filter(has_text="our shop")
    await answer.wait_for()
    await send(frame, '<img src=x onerror="window.pwned=3"><b>hi</b>')
    user = frame.get_by_test_id("message-user").last
    await user.wait_for()
    await frame.get_by_test_id("message-bot").nth(2).wait_for()  # the answer to it
    assert await user.inner_text() == '<img src=x onerror="window.pwned=3"><b>hi</b>'
    assert await page.evaluate("window.pwned") is None
    assert await frame.locator("[data-testid=messages] img").count() == 0
    hrefs = await answer.locator("a").evaluate_all("links => links.map(a => a.href)")
    assert hrefs == ["https://chicx.example/shop"]  # the javascript: link stays text
    assert await answer.locator("strong").inner_text() == "in bold"
    assert "[a link](javascript:window.pwned=2)" in await answer.inner_text()


async def test_the_standalone_page_keeps_to_its_content_security_policy(page, product, bot):
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    await page.goto(f"{product.url}/messenger/{bot['id']}")
    await page.get_by_test_id("header-name").wait_for()
    await send(page.main_frame, "Do you ship abroad?")
    await page.get_by_text("Only within India, in 3-5 days.").wait_for()
    # With no host page to keep it, the page keeps the conversation itself.
    await page.reload()
    await page.get_by_text("Only within India, in 3-5 days.").wait_for()
    # Accessible: a labelled input, and new messages announced politely.
    assert await page.get_by_role("log").get_attribute("aria-live") == "polite"
    assert await page.get_by_test_id("input").evaluate("e => e.labels.length > 0 || !!e.ariaLabel")
    assert violations == []


async def test_a_form_in_the_chat_becomes_a_lead(page, product, bot, context):
    await page.goto(f"{product.url}/messenger/{bot['id']}")
    await page.get_by_test_id("form-button").click()
    form = page.get_by_test_id("form")
    await form.get_by_label("Your name").fill("Priya")
    await form.get_by_label("E-mail").fill("not-an-email")
    await page.get_by_test_id("form-submit").click()
    await form.get_by_text("must be an e-mail address").wait_for()
    await form.get_by_label("E-mail").fill("priya@example.com")
    await page.get_by_test_id("form-submit").click()
    await page.get_by_text("Thanks, we will call you.").wait_for()
    async with context.db.system() as conn:
        lead = await (await conn.execute("select name, email, source from leads")).fetchone()
    assert (lead["name"], lead["email"], lead["source"]) == ("Priya", "priya@example.com", "form")


async def test_identify_attaches_the_conversation_to_the_signed_in_user(
    page, product, host_site, bot, api, context
):
    secret = (await api.get("/api/widget/identity-secret", headers=bot["admin"].headers)).json()[
        "data"
    ]["secret"]
    site, host = host_site
    embed(site, product, bot["id"])
    await page.goto(host.url)
    await page.wait_for_function("window.Voxtro !== undefined")
    await page.evaluate(
        "([id, hash]) => window.Voxtro.identify({user_id: id, user_hash: hash,"
        " name: 'Priya', email: 'priya@example.com'})",
        ["cust-42", sign(secret, "cust-42")],
    )
    frame = await open_chat(page)
    await send(frame, "Do you ship abroad?")
    await frame.get_by_text("Only within India, in 3-5 days.").wait_for()
    async with context.db.system() as conn:
        row = await (
            await conn.execute("select user_id, user_name, user_email from conversations")
        ).fetchone()
    assert (row["user_id"], row["user_name"], row["user_email"]) == (
        "cust-42",
        "Priya",
        "priya@example.com",
    )


async def test_a_signed_in_visitor_who_reloads_sees_their_conversation(
    page, product, host_site, bot, api
):
    secret = (await api.get("/api/widget/identity-secret", headers=bot["admin"].headers)).json()[
        "data"
    ]["secret"]
    site, host = host_site
    embed(site, product, bot["id"])

    async def signed_in_chat() -> Frame:
        await page.goto(host.url)
        await page.wait_for_function("window.Voxtro !== undefined")
        await page.evaluate(
            "([id, hash]) => window.Voxtro.identify({user_id: id, user_hash: hash})",
            ["cust-7", sign(secret, "cust-7")],
        )
        return await open_chat(page)

    frame = await signed_in_chat()
    await send(frame, "Do you ship abroad?")
    await frame.get_by_text("Only within India, in 3-5 days.").wait_for()

    # The conversation is theirs only: its history is asked for with their identity.
    frame = await signed_in_chat()
    await frame.get_by_text("Only within India, in 3-5 days.").wait_for()
    assert await frame.get_by_test_id("message-user").all_inner_texts() == ["Do you ship abroad?"]


async def test_a_signed_in_users_conversation_is_not_handed_to_the_next_user_of_the_browser(
    page, product, host_site, bot, api, context
):
    secret = (await api.get("/api/widget/identity-secret", headers=bot["admin"].headers)).json()[
        "data"
    ]["secret"]
    site, host = host_site
    embed(site, product, bot["id"])

    async def chat_as(user_id: str | None) -> Frame:
        await page.goto(host.url)
        await page.wait_for_function("window.Voxtro !== undefined")
        if user_id is not None:
            await page.evaluate(
                "([id, hash]) => window.Voxtro.identify({user_id: id, user_hash: hash})",
                [user_id, sign(secret, user_id)],
            )
        frame = await open_chat(page)
        await answered(frame, 1)  # the greeting, and whatever history there is
        return frame

    frame = await chat_as("cust-7")
    await send(frame, "Do you ship abroad?")
    await frame.get_by_text("Only within India, in 3-5 days.").wait_for()

    # She signed out; whoever comes next on this browser starts afresh.
    frame = await chat_as(None)
    assert await frame.get_by_test_id("message-user").all_inner_texts() == []
    await send(frame, "How do I care for silk?")
    await answered(frame, 2)

    # Signed in again, she has her own conversation back, and not the one after hers.
    frame = await chat_as("cust-7")
    await frame.get_by_text("Only within India, in 3-5 days.").wait_for()
    assert await frame.get_by_test_id("message-user").all_inner_texts() == ["Do you ship abroad?"]

    raw = await page.evaluate("key => localStorage.getItem(key)", f"voxtro:{bot['id']}")
    # Her id and hash are not left behind for the next user to sign in with.
    assert "cust-7" not in raw and sign(secret, "cust-7") not in raw
    async with context.db.system() as conn:
        rows = await (
            await conn.execute(
                "select user_id, message_count from conversations order by started_at"
            )
        ).fetchall()
    assert [(row["user_id"], row["message_count"]) for row in rows] == [("cust-7", 2), (None, 2)]


async def test_on_a_phone_the_chat_fills_the_screen(browser, product, host_site, bot):
    site, host = host_site
    embed(site, product, bot["id"], 'data-position="bottom-left" data-open="true"')
    context = await browser.new_context(viewport={"width": 375, "height": 667})
    try:
        page = await context.new_page()
        await page.goto(host.url)
        frame = await messenger(page)  # data-open: opened on load
        await frame.get_by_test_id("input").wait_for()
        size = await (await frame.frame_element()).bounding_box()
        assert size is not None and (size["width"], size["height"]) == (375, 667)
    finally:
        await context.close()


async def test_the_answer_streams_in_as_the_model_writes_it(
    page, product, host_site, bot, api, fake_openai
):
    from tests.fakes.openai import Reply
    from tests.fixtures.factories import connect_openai

    await connect_openai(api, bot["admin"], fake_openai.key)
    answer = "Dry clean your silk sarees, and keep them wrapped in soft muslin cloth."
    fake_openai.script(Reply(content=answer))
    fake_openai.chunk_delay = 0.05
    try:
        site, host = host_site
        embed(site, product, bot["id"])
        await page.goto(host.url)
        frame = await open_chat(page)
        await send(frame, "How should I look after silk?")
        # Part of the answer is on screen before the rest has been written.
        partial = await frame.wait_for_function(
            """final => {
                const bubbles = document.querySelectorAll('[data-testid=message-bot]');
                const text = bubbles[bubbles.length - 1].innerText.trim();
                return bubbles.length > 1 && text.length > 0 && text !== final ? text : null;
            }""",
            arg=answer,
        )
        assert answer.startswith(await partial.json_value())
        await frame.get_by_test_id("message-bot").filter(has_text=answer).wait_for()
    finally:
        fake_openai.chunk_delay = 0.0


# Markup, script and outside requests a visitor, a model or a crawled page might slip in.
XSS_PAYLOADS = [
    "<script>window.pwned='script'</script>",
    "<img src=x onerror=\"window.pwned='img'\">",
    "<svg onload=\"window.pwned='svg'\"></svg>",
    "<svg><script>window.pwned='svgscript'</script></svg>",
    "<iframe src=\"javascript:parent.pwned='iframe'\"></iframe>",
    "<body onload=\"window.pwned='body'\">",
    "<a href=\"javascript:window.pwned='a'\">click</a>",
    "[click me](javascript:window.pwned='md')",
    "[click me](JaVaScRiPt:window.pwned='mdcase')",
    "[click me](  javascript:window.pwned='mdspace')",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[vb](vbscript:msgbox(1))",
    "![tracker](https://evil.example/pixel.png)",
    "![tracker](http://127.0.0.2:9/pixel.png)",
    '<img src="https://evil.example/x.png">',
    '<link rel=stylesheet href="https://evil.example/x.css">',
    "<style>@import 'https://evil.example/x.css';</style>",
    '<div style="background:url(https://evil.example/bg.png)">bg</div>',
    "\"><script>window.pwned='breakout'</script>",
    "'><img src=x onerror=window.pwned='quote'>",
    "</textarea><script>window.pwned='textarea'</script>",
    "<math><mtext><table><mglyph><style><img src=x onerror=window.pwned='mxss'>",
    "<noscript><p title=\"</noscript><img src=x onerror=window.pwned='noscript'>\">",
    "<details open ontoggle=\"window.pwned='details'\">",
    "<input autofocus onfocus=\"window.pwned='focus'\">",
    "<object data=\"javascript:window.pwned='object'\"></object>",
    '<embed src="https://evil.example/x.swf">',
    '<meta http-equiv="refresh" content="0;url=https://evil.example">',
    '<base href="https://evil.example/">',
    '<form action="https://evil.example"><button>go</button></form>',
    "[link](https://evil.example/\"onmouseover=\"window.pwned='attr')",
    "**<img src=x onerror=window.pwned='bold'>**",
    "`<img src=x onerror=window.pwned='code'>`",
    '<a href="https://chicx.example" onclick="window.pwned=\'onclick\'">ok</a>',
]


async def test_no_payload_runs_script_or_fetches_from_outside(
    browser, product, bot, api, anon_key, fake_openai
):
    """Each payload as a visitor message, in the model's answer (the fake echoes the visitor),
    and as crawled text the bot answers from without a model."""
    from tests.fixtures.factories import connect_openai

    assert len(XSS_PAYLOADS) >= 30
    crawled = "\n\n".join(
        f"Source: https://chicx.example/page-{n}\n# Page {n} quokka{n}\n{payload}"
        for n, payload in enumerate(XSS_PAYLOADS)
    )
    # Another workspace, without a model key: it answers with the passages themselves.
    keyless_admin = await create_admin(api, anon_key, "keyless")
    keyless = await create_chatbot(api, keyless_admin, name="Keyless", knowledge_base=crawled)
    await connect_openai(api, bot["admin"], fake_openai.key)  # for `bot`: answers echo

    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    outside: list[str] = []
    context.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith((product.url, "data:")) else None,
    )
    try:
        page = await context.new_page()
        await page.goto(f"{product.url}/messenger/{bot['id']}")
        for payload in XSS_PAYLOADS:
            await send(page.main_frame, payload)
            await (
                page.get_by_test_id("message-bot")
                .filter(has_text="Echo:")
                .nth(XSS_PAYLOADS.index(payload))
                .wait_for()
            )
        assert await page.get_by_test_id("message-user").all_inner_texts() == XSS_PAYLOADS

        second = await context.new_page()
        await second.goto(f"{product.url}/messenger/{keyless['id']}")
        for n in range(len(XSS_PAYLOADS)):
            await send(second.main_frame, f"quokka{n}")
            await answered(second.main_frame, n + 2)
        answers = await second.get_by_test_id("message-bot").all_inner_texts()
        assert sum("Here is what I found" in a for a in answers) == len(XSS_PAYLOADS)

        for tab in (page, second):
            assert await tab.evaluate("window.pwned") is None
            log = tab.get_by_test_id("messages")
            for tag in ("script", "img", "svg", "iframe", "object", "embed", "style", "form"):
                assert await log.locator(tag).count() == 0, tag
            hrefs = await log.locator("a").evaluate_all("links => links.map(a => a.href)")
            assert all(h.startswith(("https://", "http://")) for h in hrefs), hrefs
        assert outside == []
    finally:
        await context.close()


async def test_messages_from_other_origins_are_ignored(page, product, host_site, bot, context):
    site, host = host_site
    embed(site, product, bot["id"])
    await page.goto(host.url)
    frame = await open_chat(page)
    # The host page's own window posting to itself is not the messenger: the chat stays open.
    await page.evaluate("window.postMessage({type: 'voxtro:close'}, '*')")
    # Nor is the messenger's own window its parent: no identity from there.
    await frame.evaluate(
        "window.postMessage({type: 'voxtro:identify', user_id: 'cust-1', user_hash: 'x'}, '*')"
    )
    await page.wait_for_timeout(200)
    assert await (await frame.frame_element()).is_visible()
    await send(frame, "Do you ship abroad?")
    await frame.get_by_text("Only within India, in 3-5 days.").wait_for()
    async with context.db.system() as conn:
        row = await (await conn.execute("select user_id from conversations")).fetchone()
    assert row["user_id"] is None

    # Only the chat's frame may change what the host page keeps for it.
    kept = await stored_session(page, bot["id"])
    assert kept["conversations"] == {"": str((await conversation_ids(context))[0])}
    await page.evaluate(
        "window.postMessage({type: 'voxtro:session', visitor_id: 'intruder',"
        " conversation_id: null}, '*')"
    )
    await page.wait_for_timeout(200)
    assert await stored_session(page, bot["id"]) == kept


async def test_a_page_that_frames_the_chat_learns_nothing_from_the_chats_own_storage(
    page, product, host_site, bot
):
    # The visitor chatted on the chat's own page: its storage holds their ids.
    await page.goto(f"{product.url}/messenger/{bot['id']}")
    await send(page.main_frame, "Do you ship abroad?")
    await page.get_by_text("Only within India, in 3-5 days.").wait_for()
    key = f"voxtro:{bot['id']}:visitor"
    visitor = await page.evaluate("key => localStorage.getItem(key)", key)
    assert visitor

    # Another page of the same site (so the frame sees that same storage) frames the chat,
    # claims to be its host, and offers an empty session to learn what the frame has.
    site, host = host_site
    spy = f"http://127.0.0.1:{host.port}"
    site.script = (
        "<script>window.got = []; addEventListener('message', e => { window.got.push(e.data);"
        " if (e.data && e.data.type === 'voxtro:ready') e.source.postMessage({type:"
        " 'voxtro:anonymous', session: {visitor_id: null, conversation_id: null}}, '*') });"
        f"</script><iframe src='{product.url}/messenger/{bot['id']}?parent={quote(spy, safe='')}'>"
        "</iframe>"
    )
    await page.goto(f"{spy}/spy")
    frame = await messenger(page)
    await answered(frame, 1)
    assert await frame.evaluate("key => localStorage.getItem(key)", key) == visitor
    sessions = await page.evaluate("window.got.filter(m => m && m.type === 'voxtro:session')")
    assert [s["conversation_id"] for s in sessions] == [None]
    assert sessions[0]["visitor_id"] != visitor
    assert await frame.get_by_test_id("message-user").count() == 0


async def conversation_ids(context: Any) -> list[Any]:
    async with context.db.system() as conn:
        rows = await (await conn.execute("select id from conversations")).fetchall()
    return [row["id"] for row in rows]


@pytest.mark.parametrize("viewport", [(1280, 800), (390, 844)], ids=["desktop", "phone"])
async def test_the_demo_page_shows_the_whole_snippet_and_the_chat_reads_well(
    browser, product, context, viewport
):
    await seed_demo(context, password="a-demo-password-1")
    width, height = viewport
    browsing = await browser.new_context(viewport={"width": width, "height": height})
    browsing.set_default_timeout(TIMEOUT_MS)
    failed: list[str] = []
    browsing.on(
        "response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None
    )
    try:
        page = await browsing.new_page()
        await page.goto(f"{product.url}/demo")
        # The one line to copy is on screen whole: inside the page, nothing hidden to the right.
        snippet = page.locator("pre")
        box = await snippet.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
        assert await snippet.evaluate("e => e.scrollWidth <= e.clientWidth")
        assert (await snippet.inner_text()).strip().endswith("async></script>")
        assert await page.evaluate("document.documentElement.scrollWidth") <= width
        # The icon is in the page: the browser asks the server for no /favicon.ico.
        icon = await page.locator("link[rel=icon]").get_attribute("href")
        assert icon is not None and icon.startswith("data:image/svg+xml,")

        frame = await open_chat(page)
        await send(frame, "How do I care for silk?")
        await answered(frame, 2)
        assert "https://chicx.example/care" in await expect_sources_once(frame, "Dry clean")

        # A form taller than the chat opens at its top, below the header, ready to fill in.
        await frame.get_by_test_id("form-button").click()
        await frame.get_by_test_id("form").wait_for()
        form_top, header_bottom = await frame.evaluate(
            """() => [document.querySelector('[data-testid=form]').getBoundingClientRect().top,
                      document.querySelector('.vx-header').getBoundingClientRect().bottom]"""
        )
        assert form_top >= header_bottom
        assert await frame.get_by_label("Your name").evaluate("e => e === document.activeElement")
        assert failed == []
    finally:
        await browsing.close()
