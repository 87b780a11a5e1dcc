"""Embedding knowledge is spending like any model call: a workspace that may not spend (no
credits left, budget spent) gets no embeddings and is charged nothing, its sources say why, and
the chunks are embedded once it may spend again."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from backend.billing import credits_repository as credits
from backend.knowledge import tasks
from backend.tasks import run_worker
from tests.fixtures.factories import connect_openai, create_chatbot
from tests.fixtures.servers import LiveServer

# Long enough that embedding it costs something visible at $0.02 per million tokens.
SECTIONS = [
    (
        f"Collection {n}",
        " ".join(
            f"Sarees of collection {n}, design {d}, can be returned within {n + d} days for a"
            f" full refund; express delivery of design {d} takes {d % 3 + 1} days in city {n * d}."
            for d in range(12)
        ),
    )
    for n in range(8)
]
TEXT = "\n\n".join(f"## {heading}\n\n{body}" for heading, body in SECTIONS)


@pytest.fixture
async def bot(client, admin, fake_openai):
    await connect_openai(client, admin, fake_openai.key)
    return await create_chatbot(client, admin)


async def state(context, workspace_id: str, chatbot_id: str) -> dict:
    async with context.db.system() as conn:
        cur = await conn.execute(
            "select"
            " (select count(*) from knowledge_chunks where chatbot_id = %(bot)s) as chunks,"
            " (select count(*) from knowledge_chunks where chatbot_id = %(bot)s"
            "   and embedding is null) as missing,"
            " (select coalesce(sum(cost), 0) from token_usage where workspace_id = %(ws)s"
            "   and service = 'OPENAI_EMBEDDING') as charged,"
            " (select count(*) from token_usage where workspace_id = %(ws)s) as usage_rows,"
            " (select used_credits from billing_accounts where workspace_id = %(ws)s) as used,"
            " (select month_spend from billing_accounts where workspace_id = %(ws)s) as spend,"
            " (select count(*) from billing_reservations where workspace_id = %(ws)s) as held",
            {"ws": workspace_id, "bot": chatbot_id},
        )
        row = await cur.fetchone()
    assert row is not None
    return row


async def sources(client, admin, chatbot_id: str) -> list[dict]:
    response = await client.get(f"/api/chatbots/{chatbot_id}/knowledge", headers=admin.headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def test_a_prepaid_workspace_without_credits_embeds_once_it_has_some(
    client, context, admin, bot, fake_openai
):
    async with context.db.system() as conn:
        await conn.execute(
            "insert into billing_accounts (workspace_id, billing_mode) values (%s, 'prepaid')",
            (admin.workspace_id,),
        )
    added = await client.post(
        f"/api/chatbots/{bot['id']}/knowledge/text",
        headers=admin.headers,
        json={"title": "Policies", "text": TEXT},
    )
    assert added.status_code == 201, added.text
    source_id = added.json()["data"]["id"]
    await run_worker(context, concurrency=1, wait=False)  # the embedding job

    assert fake_openai.embedding_requests == []  # no call reached the model
    before = await state(context, admin.workspace_id, bot["id"])
    assert before["chunks"] > 1 and before["missing"] == before["chunks"]
    assert (before["usage_rows"], before["used"], before["spend"], before["held"]) == (0, 0, 0, 0)
    [source] = await sources(client, admin, bot["id"])
    assert source["status"] == "ready"  # searchable by its words …
    assert source["error"] == (  # … and the admin sees why it is not embedded
        "Embedding paused: This workspace has no credits left. The chunks not embedded yet are"
        " searchable by their words only, and are embedded as soon as the workspace can spend"
        " again."
    )
    # Nothing is queued while the workspace still may not spend.
    assert await tasks.resume_paused_embeddings(context) == []

    async with context.db.system() as conn:
        await credits.grant(conn, UUID(admin.workspace_id), Decimal("1.00"), "cli", "top-up")
    assert await tasks.resume_paused_embeddings(context) == [UUID(source_id)]
    assert await tasks.resume_paused_embeddings(context) == []  # queued once
    await run_worker(context, concurrency=1, wait=False)

    assert len(fake_openai.embedding_requests) >= 1
    after = await state(context, admin.workspace_id, bot["id"])
    assert after["missing"] == 0
    assert after["charged"] > 0 and after["used"] == after["charged"] == after["spend"]
    assert after["held"] == 0
    [source] = await sources(client, admin, bot["id"])
    assert (source["status"], source["error"]) == ("ready", None)


def site_app() -> Starlette:
    pages = {
        "/": "<html><head><title>Chicx</title></head><body><main><h1>Chicx</h1>"
        "<p>Handwoven silk sarees from Kanchipuram. <a href='/returns'>Returns</a></p>"
        "</main></body></html>",
        "/returns": "<html><head><title>Returns</title></head><body><main><h1>Returns</h1>"
        + "".join(f"<h2>{heading}</h2><p>{body}</p>" for heading, body in SECTIONS)
        + "</main></body></html>",
    }

    async def serve(request: Request) -> Response:
        if request.url.path == "/robots.txt":
            return PlainTextResponse("User-agent: *\nAllow: /\n")
        if request.url.path not in pages:
            return PlainTextResponse("not found", status_code=404)
        return HTMLResponse(pages[request.url.path])

    return Starlette(routes=[Route("/{path:path}", serve)])


async def test_a_spent_budget_stops_the_embedding_of_a_crawl_until_it_is_raised(
    client, context, admin, bot, fake_openai
):
    await client.put("/api/business/credits", headers=admin.headers, json={"monthlyBudget": 0})
    with LiveServer(site_app()) as site:
        crawled = await client.post(
            "/api/chat/crawl",
            headers=admin.headers,
            json={"chatbot_id": bot["id"], "url": site.url, "max_pages": 5},
        )
        assert crawled.json()["state"] == "succeeded", crawled.text
        await run_worker(context, concurrency=1, wait=False)
        assert fake_openai.embedding_requests == []
        before = await state(context, admin.workspace_id, bot["id"])
        assert before["chunks"] > 1 and before["missing"] == before["chunks"]
        assert before["usage_rows"] == 0 and before["spend"] == 0
        [source] = await sources(client, admin, bot["id"])
        assert source["error"].startswith(
            "Embedding paused: This workspace has spent its monthly budget."
        )

        # A higher budget, then a re-crawl that finds nothing new: the chunks are embedded.
        await client.put("/api/business/credits", headers=admin.headers, json={"monthlyBudget": 5})
        recrawl = await client.post(
            f"/api/chatbots/{bot['id']}/knowledge/{source['id']}/recrawl", headers=admin.headers
        )
        assert recrawl.status_code == 202, recrawl.text
        await run_worker(context, concurrency=1, wait=False)  # the crawl, then the embedding

    assert len(fake_openai.embedding_requests) >= 1
    after = await state(context, admin.workspace_id, bot["id"])
    assert after["missing"] == 0 and after["spend"] == after["charged"] > 0
    assert after["used"] == 0  # not prepaid: the budget limits it, credits are not charged
    [source] = await sources(client, admin, bot["id"])
    assert (source["status"], source["error"]) == ("ready", None)
