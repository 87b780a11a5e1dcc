"""Hybrid retrieval: words and vectors, each bot's own chunks only."""

from __future__ import annotations

import math
import random
from uuid import UUID

from backend.cache.repository import vector_literal
from backend.knowledge import repository, service, vector_index
from tests.fixtures.factories import create_chatbot


def unit(seed: int, dims: int = 1536) -> list[float]:
    rng = random.Random(seed)
    v = [rng.gauss(0, 1) for _ in range(dims)]
    norm = math.sqrt(sum(x * x for x in v))
    return [x / norm for x in v]


async def _chunks(context, admin, bot_id, texts):
    async with context.db.system() as conn:
        source = await (
            await conn.execute(
                "insert into knowledge_sources (workspace_id, chatbot_id, kind, title, status)"
                " values (%s, %s, 'text', 't', 'ready') returning id",
                (admin.workspace_id, bot_id),
            )
        ).fetchone()
        page = await (
            await conn.execute(
                "insert into knowledge_pages (workspace_id, source_id, url, status)"
                " values (%s, %s, 'text:0', 'fetched') returning id",
                (admin.workspace_id, source["id"]),
            )
        ).fetchone()
        for n, (text, seed) in enumerate(texts):
            await conn.execute(
                "insert into knowledge_chunks (workspace_id, chatbot_id, source_id, page_id, ordinal,"
                " title, content, token_count, ts_config, embedding)"
                " values (%s, %s, %s, %s, %s, 'Doc', %s, 10, 'english', %s::vector)",
                (
                    admin.workspace_id,
                    bot_id,
                    source["id"],
                    page["id"],
                    n,
                    text,
                    vector_literal(unit(seed)),
                ),
            )


async def test_vector_search_stays_inside_the_bot_and_finds_the_nearest(client, context, admin):
    mine = await create_chatbot(client, admin)
    theirs = await create_chatbot(client, admin, name="Other")
    await _chunks(context, admin, mine["id"], [(f"mine {i}", i) for i in range(30)])
    await _chunks(context, admin, theirs["id"], [(f"theirs {i}", 1000 + i) for i in range(200)])
    async with context.db.for_workspace(admin.workspace_id, "test") as conn:
        found = await repository.search_vector(conn, mine["id"], unit(7), limit=10)
    assert found[0]["content"] == "mine 7"  # the same vector as "mine 7"
    assert len(found) == 10 and all(r["content"].startswith("mine") for r in found)


async def test_a_large_bot_gets_its_own_vector_index_and_search_uses_it(client, context, admin):
    large = await create_chatbot(client, admin)
    small = await create_chatbot(client, admin, name="Small")
    await _chunks(context, admin, large["id"], [(f"large {i}", i) for i in range(60)])
    await _chunks(context, admin, small["id"], [(f"small {i}", 500 + i) for i in range(10)])
    large_id, small_id = UUID(large["id"]), UUID(small["id"])

    assert await vector_index.ensure(context.db, large_id, min_chunks=50) == "built"
    assert await vector_index.ensure(context.db, large_id, min_chunks=50) == "present"
    assert await vector_index.ensure(context.db, small_id, min_chunks=50) == "small"

    # The bot named as a value, the planner can prove the partial index applies (at 60 rows it
    # would rather sort them: told not to, as it would not want to at thousands).
    async with context.db.system() as conn:
        await conn.execute("set local enable_sort = off")
        plan = await (
            await conn.execute(
                "explain select id from knowledge_chunks where chatbot_id = %s"
                " and workspace_id = %s and embedding is not null"
                " order by embedding <=> %s::vector limit 10",
                (str(large_id), admin.workspace_id, vector_literal(unit(3))),
            )
        ).fetchall()
    assert vector_index.index_name(large_id) in " ".join(str(r) for r in plan)
    async with context.db.for_workspace(admin.workspace_id, "test") as conn:
        found = await repository.search_vector(conn, large_id, unit(3), limit=10)
    assert found[0]["content"] == "large 3" and len(found) == 10

    # A deleted bot's index goes with the nightly tidy-up.
    await client.delete(f"/api/chatbots/{large['id']}", headers=admin.headers)
    assert vector_index.index_name(large_id) in await vector_index.drop_orphans(context.db)
    async with context.db.system() as conn:
        left = await (
            await conn.execute(
                "select relname from pg_class where starts_with(relname, %s)",
                (vector_index.PREFIX,),
            )
        ).fetchall()
    assert left == []  # no bot has one now: every other was an orphan too


async def test_hybrid_search_fuses_words_and_meaning(client, context, admin):
    bot = await create_chatbot(client, admin)
    await _chunks(
        context,
        admin,
        bot["id"],
        [
            ("Returns are accepted within fourteen days.", 1),
            ("Shipping takes three days.", 2),
            ("Our stores open at ten.", 3),
        ],
    )
    async with context.db.for_workspace(admin.workspace_id, "test") as conn:
        by_words = await service.search(conn, bot["id"], "returning an item", language="en")
        by_meaning = await service.search(
            conn, bot["id"], "anything", language="en", embedding=unit(2)
        )
    assert by_words[0].text.startswith("Returns")  # stemmed: returning ~ returns
    assert by_meaning[0].text.startswith("Shipping")  # nearest vector, no shared word


async def test_searches_return_nothing_to_another_workspace(client, context, admin, other_admin):
    """The search functions run as the table's owner: they check the caller's workspace
    themselves, for a user of another workspace and for a principal bound to one."""
    bot = await create_chatbot(client, admin)
    await _chunks(context, admin, bot["id"], [("Returns are accepted within 14 days.", 1)])
    user_claims = {"sub": str(other_admin.user_id), "role": "authenticated"}
    async with context.db.as_claims(user_claims) as conn:
        assert await service.search(conn, bot["id"], "returns", language="en") == []
        assert await repository.search_vector(conn, bot["id"], unit(1), limit=5) == []
    async with context.db.for_workspace(other_admin.workspace_id, "test") as conn:
        assert await service.search(conn, bot["id"], "returns", language="en") == []
    async with context.db.for_workspace(admin.workspace_id, "test") as conn:
        assert len(await service.search(conn, bot["id"], "returns", language="en")) == 1


async def test_passages_with_every_word_of_the_question_come_first(client, context, admin):
    """All the words, then any two, then any one: a chunk that repeats one word of the
    question does not push out the one that answers all of it."""
    bot = await create_chatbot(client, admin)
    noise = [(f"Silk, silk and more silk in colour {n}.", n) for n in range(40)]
    await _chunks(
        context,
        admin,
        bot["id"],
        [
            *noise,
            ("Silk sarees are washed by dry cleaning only.", 100),
            ("Cotton sarees can be washed at home.", 101),
        ],
    )
    async with context.db.for_workspace(admin.workspace_id, "test") as conn:
        found = await service.search(
            conn, bot["id"], "how are silk sarees washed", language="en", k=3
        )
    assert found[0].text == "Silk sarees are washed by dry cleaning only."
    assert found[1].text == "Cotton sarees can be washed at home."  # two of the three words


def test_text_queries_go_from_strict_to_loose():
    assert service.text_queries(["silk", "saree", "wash"]) == [
        "silk & saree & wash",
        "(silk & saree) | (silk & wash) | (saree & wash)",
        "silk | saree | wash",
    ]
    assert service.text_queries(["silk"]) == ["silk"]
    assert service.text_queries([]) == []
