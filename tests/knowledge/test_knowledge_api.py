"""A chatbot learns from a website, pasted text and files, and answers from it with links."""

from __future__ import annotations

from uuid import UUID

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from backend.tasks import run_worker
from tests.fakes.openai import Reply
from tests.fixtures.factories import chat, connect_openai, create_chatbot
from tests.fixtures.servers import LiveServer


def page(title: str, body: str, links: list[str] = ()) -> str:  # type: ignore[assignment]
    nav = "".join(f'<a href="{href}">{href}</a> ' for href in links)
    return (
        f"<html lang='en'><head><title>{title}</title></head><body><nav>{nav}</nav>"
        f"<main><h1>{title}</h1><p>{body}</p></main><footer>© Shop</footer></body></html>"
    )


class Site:
    """A small shop site whose pages can change between crawls."""

    def __init__(self) -> None:
        self.pages = {
            "/": page(
                "Chicx Sarees",
                "Handwoven silk sarees from Kanchipuram and Banaras, shipped across India.",
                ["/shipping", "/returns", "/care"],
            ),
            "/shipping": page(
                "Shipping",
                "We ship to every city in India within three to five "
                "working days. Express delivery takes one day in Chennai.",
            ),
            "/returns": page(
                "Returns",
                "Unworn sarees can be returned within fourteen days for "
                "a full refund to the original payment method.",
            ),
            "/care": page(
                "Saree care",
                "Dry clean silk sarees only. Store them wrapped in muslin "
                "cloth, away from sunlight.",
            ),
        }

    def app(self) -> Starlette:
        async def serve(request: Request) -> Response:
            path = request.url.path
            if path == "/robots.txt":
                return PlainTextResponse("User-agent: *\nAllow: /\n")
            if path not in self.pages:
                return PlainTextResponse("not found", status_code=404)
            return HTMLResponse(self.pages[path])

        return Starlette(routes=[Route("/{path:path}", serve)])


@pytest.fixture
def site():
    shop = Site()
    with LiveServer(shop.app()) as server:
        shop.url = server.url  # type: ignore[attr-defined]
        yield shop


async def crawl(client, admin, bot, url, max_pages=10):
    return await client.post(
        "/api/chat/crawl",
        headers=admin.headers,
        json={"chatbot_id": bot["id"], "url": url, "max_pages": max_pages},
    )


async def test_a_small_crawl_answers_as_documented_and_the_bot_uses_it(client, admin, site):
    bot = await create_chatbot(client, admin)
    response = await crawl(client, admin, bot, site.url)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True and body["state"] == "succeeded"
    assert body["pages_crawled"] == 4 and body["content_extracted"] > 200

    progress = (
        await client.get(f"/api/chat/crawl/{body['crawl_id']}", headers=admin.headers)
    ).json()
    assert (progress["pages_fetched"], progress["pages_failed"]) == (4, 0)
    [source] = (
        await client.get(f"/api/chatbots/{bot['id']}/knowledge", headers=admin.headers)
    ).json()["data"]
    assert (source["kind"], source["status"], source["pages"]) == ("website", "ready", 4)
    assert source["chunks"] >= 4

    # Without a model key the bot answers from the pages, with their links.
    answer = (await chat(client, bot["id"], "How many days do I have to return a saree?")).json()
    assert answer["source"] == "knowledge"
    assert "fourteen days" in answer["message"]
    assert answer["citations"][0]["url"] == f"{site.url}/returns"
    assert "© Shop" not in answer["message"]  # boilerplate was left out


async def test_a_large_crawl_runs_as_a_job_with_progress(client, context, admin, site):
    bot = await create_chatbot(client, admin)
    body = (await crawl(client, admin, bot, site.url, max_pages=50)).json()
    assert (body["state"], body["pages_crawled"]) == ("queued", 0)
    await run_worker(context, concurrency=1, wait=False)
    progress = (
        await client.get(f"/api/chat/crawl/{body['crawl_id']}", headers=admin.headers)
    ).json()
    assert progress["state"] == "succeeded"
    assert progress["pages_fetched"] == 4 and progress["finished_at"] is not None


async def test_a_recrawl_skips_unchanged_pages_reindexes_changed_ones_and_drops_removed(
    client, context, admin, site
):
    bot = await create_chatbot(client, admin)
    first = (await crawl(client, admin, bot, site.url)).json()
    [source] = (
        await client.get(f"/api/chatbots/{bot['id']}/knowledge", headers=admin.headers)
    ).json()["data"]
    site.pages["/shipping"] = page(
        "Shipping", "Free shipping on every order above two thousand rupees."
    )
    del site.pages["/care"]
    site.pages["/"] = site.pages["/"].replace('<a href="/care">/care</a>', "")
    async with context.db.system() as conn:
        version_before = (
            await (
                await conn.execute("select cache_version from chatbots where id = %s", (bot["id"],))
            ).fetchone()
        )["cache_version"]

    again = await client.post(
        f"/api/chatbots/{bot['id']}/knowledge/{source['id']}/recrawl", headers=admin.headers
    )
    assert again.status_code == 202
    await run_worker(context, concurrency=1, wait=False)
    progress = (
        await client.get(f"/api/chat/crawl/{again.json()['id']}", headers=admin.headers)
    ).json()
    assert progress["state"] == "succeeded"
    assert progress["pages_unchanged"] == 1 and progress["pages_fetched"] == 2  # /returns the same

    free = (
        await chat(client, bot["id"], "Is shipping free above two thousand rupees?", visitor_id="x")
    ).json()
    assert "Free shipping" in free["message"]
    gone = (
        await chat(client, bot["id"], "Muslin cloth away from sunlight?", visitor_id="y")
    ).json()
    assert gone["source"] == "fallback"  # the care page is gone
    async with context.db.system() as conn:
        care = await (
            await conn.execute(
                "select count(*) as n from knowledge_chunks where url = %s", (f"{site.url}/care",)
            )
        ).fetchone()
        assert care["n"] == 0
        version_after = (
            await (
                await conn.execute("select cache_version from chatbots where id = %s", (bot["id"],))
            ).fetchone()
        )["cache_version"]
    assert version_after > version_before  # cached answers went stale
    assert first["pages_crawled"] == 4


async def test_pasted_text_and_uploaded_files_are_knowledge_too(client, admin):
    bot = await create_chatbot(client, admin)
    text = await client.post(
        f"/api/chatbots/{bot['id']}/knowledge/text",
        headers=admin.headers,
        json={
            "title": "Store hours",
            "text": "# Store hours\n\nThe Mylapore store opens at ten in the morning.",
        },
    )
    assert text.status_code == 201, text.text
    upload = await client.post(
        f"/api/chatbots/{bot['id']}/knowledge/files",
        headers=admin.headers,
        files={
            "file": ("gift-wrap.txt", b"Gift wrapping costs fifty rupees per saree.", "text/plain")
        },
    )
    assert upload.status_code == 201, upload.text
    assert upload.json()["data"]["kind"] == "file"
    assert (
        "ten in the morning"
        in (await chat(client, bot["id"], "When does the Mylapore store open?")).json()["message"]
    )
    assert (
        "fifty rupees"
        in (await chat(client, bot["id"], "How much is gift wrapping?", visitor_id="b")).json()[
            "message"
        ]
    )

    binary = await client.post(
        f"/api/chatbots/{bot['id']}/knowledge/files",
        headers=admin.headers,
        files={"file": ("photo.png", b"\x89PNG\r\n", "image/png")},
    )
    assert binary.status_code == 400 and binary.json()["errors"][0]["field"] == "file"


async def test_with_a_key_passages_reach_the_prompt_with_their_links(
    client, context, admin, site, fake_openai
):
    await connect_openai(client, admin, fake_openai.key)
    bot = await create_chatbot(client, admin)
    await crawl(client, admin, bot, site.url)
    await run_worker(context, concurrency=1, wait=False)  # embeddings
    async with context.db.system() as conn:
        missing = (
            await (
                await conn.execute(
                    "select count(*) as n from knowledge_chunks where chatbot_id = %s and embedding is null",
                    (bot["id"],),
                )
            ).fetchone()
        )["n"]
    assert missing == 0
    fake_openai.script(Reply(content="Express delivery takes one day in Chennai [1]."))
    answer = (await chat(client, bot["id"], "How fast is express delivery to Chennai?")).json()
    system = fake_openai.chat_requests[-1]["messages"][0]["content"]
    assert "Express delivery takes one day in Chennai." in system
    assert f"{site.url}/shipping" in system
    assert answer["citations"] == [{"title": "Shipping", "url": f"{site.url}/shipping"}]


async def test_bad_crawls_end_clearly_and_keep_what_was_there(client, admin, other_admin, site):
    bot = await create_chatbot(client, admin)
    over = await crawl(client, admin, bot, site.url, max_pages=100_000)
    assert over.status_code == 400 and over.json()["errors"][0]["field"] == "max_pages"
    missing = (await crawl(client, admin, bot, f"{site.url}/no-such-page")).json()
    assert (missing["success"], missing["state"], missing["pages_crawled"]) == (False, "failed", 0)
    assert missing["error"] == (
        f"{site.url}/no-such-page answered HTTP 404 Not Found: check that the address is right"
        " and the page is public."
    )
    progress = (
        await client.get(f"/api/chat/crawl/{missing['crawl_id']}", headers=admin.headers)
    ).json()
    assert progress["pages_failed"] == 1 and progress["error"] == missing["error"]
    # Unreachable, and a private address (the crawler refuses it without connecting).
    refused = (await crawl(client, admin, bot, "http://127.0.0.1:9/")).json()
    assert (refused["success"], refused["state"]) == (False, "failed")
    assert refused["error"] == (
        "Could not reach 127.0.0.1: the connection was refused. Check the address and its port,"
        " and that the service is running."
    )
    private = (await crawl(client, admin, bot, "http://10.0.0.1/")).json()
    assert private["success"] is False
    assert private["error"] == (
        "Nothing could be read at http://10.0.0.1/: it is not fetched for safety"
        " (it is a private address)."
    )
    # Another workspace's crawl is unknown here.
    theirs = await client.get(f"/api/chat/crawl/{missing['crawl_id']}", headers=other_admin.headers)
    assert theirs.status_code == 404
    sources = (
        await client.get(f"/api/chatbots/{bot['id']}/knowledge", headers=admin.headers)
    ).json()["data"]
    assert {s["status"] for s in sources} == {"failed"}
    assert {s["error"] for s in sources} == {missing["error"], refused["error"], private["error"]}


async def test_a_site_that_cannot_be_reached_is_a_failed_crawl_saying_why(client, admin):
    bot = await create_chatbot(client, admin)
    response = await crawl(client, admin, bot, "http://example.invalid/")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["success"], body["state"], body["pages_crawled"]) == (False, "failed", 0)
    # ("could not be looked up" where this machine has no DNS server at all)
    assert body["error"] in {
        "Could not reach example.invalid: the name does not resolve. Check the address for a typo.",
        "Could not reach example.invalid: the name could not be looked up (no DNS answer)."
        " Check this server's network and DNS, then try again.",
    }
    [source] = (
        await client.get(f"/api/chatbots/{bot['id']}/knowledge", headers=admin.headers)
    ).json()["data"]
    assert (source["status"], source["error"]) == ("failed", body["error"])


async def test_a_background_crawl_whose_pages_all_fail_is_failed(client, context, admin, site):
    bot = await create_chatbot(client, admin)
    site.pages.clear()  # every page answers 404
    started = (await crawl(client, admin, bot, site.url, max_pages=50)).json()
    assert (started["success"], started["state"]) == (True, "queued")
    await run_worker(context, concurrency=1, wait=False)
    progress = (
        await client.get(f"/api/chat/crawl/{started['crawl_id']}", headers=admin.headers)
    ).json()
    assert (progress["state"], progress["pages_fetched"]) == ("failed", 0)
    assert progress["error"] == (
        f"{site.url}/ answered HTTP 404 Not Found: check that the address is right and the page"
        " is public."
    )
    [source] = (
        await client.get(f"/api/chatbots/{bot['id']}/knowledge", headers=admin.headers)
    ).json()["data"]
    assert (source["status"], source["error"]) == ("failed", progress["error"])


async def test_a_recrawl_of_a_site_that_went_down_keeps_what_the_bot_knew(
    client, context, admin, site
):
    bot = await create_chatbot(client, admin)
    await crawl(client, admin, bot, site.url)
    [source] = (
        await client.get(f"/api/chatbots/{bot['id']}/knowledge", headers=admin.headers)
    ).json()["data"]
    site.pages.clear()  # every page now answers 404

    again = await client.post(
        f"/api/chatbots/{bot['id']}/knowledge/{source['id']}/recrawl", headers=admin.headers
    )
    await run_worker(context, concurrency=1, wait=False)
    progress = (
        await client.get(f"/api/chat/crawl/{again.json()['id']}", headers=admin.headers)
    ).json()
    assert progress["state"] == "failed" and progress["pages_failed"] >= 1
    assert progress["error"].startswith(f"{site.url}/ answered HTTP 404 Not Found")
    [after] = (
        await client.get(f"/api/chatbots/{bot['id']}/knowledge", headers=admin.headers)
    ).json()["data"]
    assert after["chunks"] == source["chunks"]
    # What the bot knew stays, and the source says its last crawl failed.
    assert after["status"] == "ready"
    assert after["error"] == f"The last crawl failed: {progress['error']}"
    answer = (await chat(client, bot["id"], "How many days do I have to return a saree?")).json()
    assert "fourteen days" in answer["message"]


async def test_the_knowledge_base_column_reads_as_a_summary_of_the_sources(client, admin, site):
    """The documented column: the admin's own text, then what the bot learnt from its sources.
    Writing back what was read changes only the admin's part."""
    bot = await create_chatbot(
        client, admin, knowledge_base="Our boutique is in Mylapore, Chennai."
    )
    await crawl(client, admin, bot, site.url)
    await client.post(
        f"/api/chatbots/{bot['id']}/knowledge/text",
        headers=admin.headers,
        json={"title": "Store hours", "text": "We open at ten."},
    )
    read = (await client.get(f"/api/chatbots/{bot['id']}", headers=admin.headers)).json()["data"]
    summary = read["knowledge_base"]
    assert summary.startswith("Our boutique is in Mylapore, Chennai.\n\n")
    assert f"- Website: {site.url}/ (4 pages)" in summary
    assert f"  - Returns: {site.url}/returns" in summary
    assert "- Text: Store hours (1 page)" in summary

    # A client saving the bot with the column as it read it, its own text edited.
    edited = summary.replace("Mylapore, Chennai.", "Mylapore, Chennai. Parking is free.")
    saved = await client.patch(
        f"/api/chatbots/{bot['id']}", headers=admin.headers, json={"knowledge_base": edited}
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["data"]["knowledge_base"] == edited
    sources = (
        await client.get(f"/api/chatbots/{bot['id']}/knowledge", headers=admin.headers)
    ).json()["data"]
    inline = [s for s in sources if s["title"] == "Knowledge base"]
    assert len(sources) == 3 and len(inline) == 1 and inline[0]["chunks"] == 1
    answer = (await chat(client, bot["id"], "Is parking free at the boutique?")).json()
    assert "Parking is free" in answer["message"]

    # Deleting a source takes it out of the summary.
    website = next(s for s in sources if s["kind"] == "website")
    await client.delete(
        f"/api/chatbots/{bot['id']}/knowledge/{website['id']}", headers=admin.headers
    )
    after = (await client.get(f"/api/chatbots/{bot['id']}", headers=admin.headers)).json()["data"]
    assert site.url not in after["knowledge_base"]
    assert "Store hours" in after["knowledge_base"]


async def test_a_bot_that_grows_large_gets_its_own_vector_index(
    database_url, anon_key, site, fake_openai
):
    """Once embedded, a bot over the size limit (here 3 chunks) gets an HNSW index of its own."""
    from backend.knowledge.vector_index import index_name
    from tests.conftest import app_with
    from tests.fixtures.factories import create_admin

    async with app_with(
        database_url,
        openai_base_url=fake_openai.base_url,
        fetch_allow_loopback=True,
        vector_index_min_chunks=3,
    ) as (c, context):
        admin = await create_admin(c, anon_key)
        await connect_openai(c, admin, fake_openai.key)
        bot = await create_chatbot(c, admin)
        await crawl(c, admin, bot, site.url)
        await run_worker(context, concurrency=1, wait=False)  # embeddings, then the index
        async with context.db.system() as conn:
            index = await (
                await conn.execute(
                    "select indexdef from pg_indexes where indexname = %s",
                    (index_name(UUID(bot["id"])),),
                )
            ).fetchone()
    assert index is not None and "hnsw" in index["indexdef"]
    assert bot["id"] in index["indexdef"]


async def upload(client, admin, bot, name, body, content_type="application/octet-stream"):
    return await client.post(
        f"/api/chatbots/{bot['id']}/knowledge/files",
        headers=admin.headers,
        files={"file": (name, body, content_type)},
    )


async def test_files_sent_as_octet_stream_are_read_by_their_name_and_content(client, admin):
    """curl -F file=@faq.md sends application/octet-stream."""
    bot = await create_chatbot(client, admin)
    markdown = await upload(client, admin, bot, "faq.md", b"# FAQ\n\nGift wrap is free in May.")
    assert markdown.status_code == 201, markdown.text
    assert markdown.json()["data"]["title"] == "FAQ"
    html = await upload(
        client,
        admin,
        bot,
        "returns",
        b"<!DOCTYPE html><html><head><title>Returns</title></head>"
        b"<body><main><p>Returns are accepted within fourteen days.</p></main></body></html>",
    )
    assert html.status_code == 201, html.text
    assert html.json()["data"]["title"] == "Returns"
    plain = await upload(client, admin, bot, "notes", "Café opens at nine.".encode())
    assert plain.status_code == 201, plain.text

    answer = (await chat(client, bot["id"], "Is gift wrap free in May?")).json()
    assert "Gift wrap is free in May" in answer["message"]

    image = await upload(client, admin, bot, "photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00")
    assert image.status_code == 400, image.text
    assert image.json()["message"] == (
        "'photo.jpg' is neither PDF, HTML, Markdown nor text: use PDF, HTML, Markdown or plain text"
    )
    fake_pdf = await upload(client, admin, bot, "menu.pdf", b"just words")
    assert fake_pdf.status_code == 400
    sources = (
        await client.get(f"/api/chatbots/{bot['id']}/knowledge", headers=admin.headers)
    ).json()["data"]
    assert len(sources) == 3


async def test_the_same_file_uploaded_twice_is_one_source(client, admin):
    bot = await create_chatbot(client, admin)
    body = b"# Shipping\n\nWe ship within three days."
    first = await upload(client, admin, bot, "faq.md", body)
    again = await upload(client, admin, bot, "faq-copy.md", body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["duplicate"] is False
    repeated = again.json()
    assert repeated["duplicate"] is True
    assert repeated["data"]["id"] == first.json()["data"]["id"]
    assert repeated["message"] == (
        'This content is already in the knowledge base as "Shipping": nothing was added'
    )
    other = await upload(client, admin, bot, "faq.md", body + b" Express takes one.")
    assert other.status_code == 201

    # Pasted text too.
    text = {"title": "Hours", "text": "We open at ten."}
    pasted = [
        await client.post(
            f"/api/chatbots/{bot['id']}/knowledge/text", headers=admin.headers, json=text
        )
        for _ in range(2)
    ]
    assert [r.status_code for r in pasted] == [201, 200]
    sources = (
        await client.get(f"/api/chatbots/{bot['id']}/knowledge", headers=admin.headers)
    ).json()["data"]
    assert sorted(s["kind"] for s in sources) == ["file", "file", "text"]

    # Another bot may hold the same file.
    second_bot = await create_chatbot(client, admin)
    assert (await upload(client, admin, second_bot, "faq.md", body)).status_code == 201
