"""The dashboard stats API: an API key with `stats:read` or an admin's token, the documented
shapes, every channel, days in the workspace's time zone, and the documented errors (400 for bad
parameters)."""

from __future__ import annotations

import pytest

from tests.fixtures.factories import PASSWORD, create_api_key, create_chatbot


async def say(client, bot_id, text, visitor):
    response = await client.post(
        f"/api/widget/{bot_id}/message", json={"visitor_id": visitor, "message": text}
    )
    assert response.status_code == 200, response.text
    return response.json()["conversation_id"]


@pytest.fixture
async def stats(client, admin):
    key = await create_api_key(client, admin, scopes=["stats:read"])
    return {"X-API-Key": key["key"]}


async def add_call(context, workspace_id, **values):
    defaults = {
        "provider": "vapi",
        "provider_call_id": values.pop("call_id"),
        "direction": "inbound",
        "status": "resolved",
        "phone": "919876543210",
        "duration_seconds": 145,
        "language": "ta",
        "transcript": "Customer: Hi, I want to track my order",
        "recording_url": "https://storage.example/rec.mp3",
    }
    row = {**defaults, **values}
    async with context.db.system() as conn:
        cur = await conn.execute(
            "insert into calls (workspace_id, provider, provider_call_id, direction, status, phone,"
            " duration_seconds, language, transcript, recording_url, started_at, ended_at)"
            " values (%(ws)s, %(provider)s, %(provider_call_id)s, %(direction)s, %(status)s,"
            " %(phone)s, %(duration_seconds)s, %(language)s, %(transcript)s, %(recording_url)s,"
            " now() - interval '10 minutes', now() - interval '8 minutes') returning id",
            {**row, "ws": workspace_id},
        )
        return str((await cur.fetchone())["id"])


async def test_only_a_key_with_stats_read_or_an_admin_gets_in(client, admin):
    plain = await create_api_key(client, admin, scopes=["api"])
    assert (await client.get("/api/stats/overview")).status_code == 401
    refused = await client.get("/api/stats/overview", headers={"X-API-Key": plain["key"]})
    assert refused.status_code == 403
    assert refused.json()["code"] == "FORBIDDEN" and "stats:read" in refused.json()["message"]
    assert (await client.get("/api/stats/overview", headers=admin.headers)).status_code == 200


STATS_PATHS = (
    "/api/stats/overview",
    "/api/stats/messages-per-day?days=7",
    "/api/stats/conversations?limit=5",
    "/api/stats/calls",
    "/api/stats/calls/{call}",
    "/api/stats/calls/{call}/audio",
)


async def test_an_admin_token_gets_the_same_answers_as_a_stats_key(client, context, admin, stats):
    """The console reads the stats API with the admin's own token."""
    bot = await create_chatbot(client, admin)
    await say(client, bot["id"], "hello", "a")
    call = await add_call(context, admin.workspace_id, call_id="c1")
    for path in STATS_PATHS:
        url = path.format(call=call)
        by_key = await client.get(url, headers=stats)
        by_admin = await client.get(url, headers=admin.headers)
        assert by_key.status_code == by_admin.status_code == 200, (url, by_admin.text)
        assert by_admin.json() == by_key.json(), url
    assert (await client.get("/api/stats/overview", headers=admin.headers)).json()[
        "total_conversations"
    ] == 1
    # The workspace the console selects, like every admin route.
    chosen = {**admin.headers, "X-Workspace-Id": admin.workspace_id}
    assert (await client.get(f"/api/stats/calls/{call}", headers=chosen)).json()["id"] == call


async def test_customers_and_other_workspaces_admins_are_refused(
    client, context, admin, other_admin, anon_key
):
    call = await add_call(context, admin.workspace_id, call_id="c1")
    email = "priya@example.com"
    created = await client.post(
        "/api/customers", headers=admin.headers, json={"email": email, "password": PASSWORD}
    )
    assert created.status_code == 201, created.text
    session = await client.post(
        "/auth/v1/token?grant_type=password",
        headers={"apikey": anon_key},
        json={"email": email, "password": PASSWORD},
    )
    customer = {"Authorization": f"Bearer {session.json()['access_token']}"}
    for path in STATS_PATHS:
        refused = await client.get(path.format(call=call), headers=customer)
        assert refused.status_code == 403, path
        assert refused.json()["code"] == "FORBIDDEN"
        assert refused.json()["status"] == "error"  # the guide's error shape
    # Another workspace's admin: not through its own workspace, nor by naming this one.
    theirs = await client.get(f"/api/stats/calls/{call}", headers=other_admin.headers)
    assert theirs.status_code == 404
    assert (await client.get("/api/stats/calls", headers=other_admin.headers)).json()["total"] == 0
    naming = {**other_admin.headers, "X-Workspace-Id": admin.workspace_id}
    for path in STATS_PATHS:
        refused = await client.get(path.format(call=call), headers=naming)
        assert refused.status_code == 404, path
        assert refused.json()["code"] == "NOT_FOUND"


async def test_overview_counts_every_channel(client, context, admin, stats):
    bot = await create_chatbot(client, admin)
    first = await say(client, bot["id"], "hello", "a")
    await say(client, bot["id"], "hi again", "b")
    await add_call(context, admin.workspace_id, call_id="c1")
    await add_call(context, admin.workspace_id, call_id="c2", direction="outbound")
    async with context.db.system() as conn:
        await conn.execute("update conversations set order_lookups = 2 where id = %s", (first,))
    body = (await client.get("/api/stats/overview", headers=stats)).json()
    assert body == {
        "total_conversations": 2,
        "orders_tracked": 2,
        "inbound_calls": 1,
        "messages_today": 4,
    }


async def test_messages_per_day_has_every_day_in_the_workspaces_time_zone(
    client, context, admin, stats
):
    bot = await create_chatbot(client, admin)
    conversation = await say(client, bot["id"], "hello", "a")
    # One more message at 00:01 today in Kolkata: yesterday evening in UTC.
    async with context.db.system() as conn:
        await conn.execute(
            "insert into messages (workspace_id, conversation_id, role, content, created_at)"
            " values (%s, %s, 'user', 'early bird',"
            " (date_trunc('day', now() at time zone 'Asia/Kolkata') + interval '1 minute')"
            "   at time zone 'Asia/Kolkata')",
            (admin.workspace_id, conversation),
        )
    utc = (await client.get("/api/stats/messages-per-day?days=7", headers=stats)).json()["data"]
    assert len(utc) == 7 and all(set(r) == {"date", "count"} for r in utc)
    assert [r["date"] for r in utc] == sorted(r["date"] for r in utc)
    assert sum(r["count"] for r in utc) == 3
    patched = await client.patch(
        "/api/business/me", headers=admin.headers, json={"timeZone": "Asia/Kolkata"}
    )
    assert patched.status_code == 200 and patched.json()["data"]["timeZone"] == "Asia/Kolkata"
    kolkata = (await client.get("/api/stats/messages-per-day?days=7", headers=stats)).json()["data"]
    # All three are today's in Kolkata; in UTC the early bird is the evening before (or
    # today, once the UTC clock has passed 18:31).
    assert kolkata[-1]["count"] == 3
    assert utc[-1]["count"] >= 2 and utc[-1]["count"] + utc[-2]["count"] == 3
    async with context.db.system() as conn:
        today_utc = await (
            await conn.execute("select (now() at time zone 'UTC')::date as d")
        ).fetchone()
        today_kolkata = await (
            await conn.execute("select (now() at time zone 'Asia/Kolkata')::date as d")
        ).fetchone()
    assert utc[-1]["date"] == today_utc["d"].isoformat()
    assert kolkata[-1]["date"] == today_kolkata["d"].isoformat()
    bad_zone = await client.patch(
        "/api/business/me", headers=admin.headers, json={"timeZone": "Mars/Olympus"}
    )
    assert bad_zone.status_code == 400
    for days in (0, 91, "x"):
        response = await client.get(f"/api/stats/messages-per-day?days={days}", headers=stats)
        assert response.status_code == 400, days
        assert response.json()["code"] == "VALIDATION_ERROR"


async def test_conversations_filter_search_and_page(client, context, admin, stats):
    bot = await create_chatbot(client, admin)
    ids = [await say(client, bot["id"], "hi", f"v{n}") for n in range(3)]
    async with context.db.system() as conn:
        await conn.execute(
            "update conversations set phone = '919876543210', status = 'escalated' where id = %s",
            (ids[0],),
        )
    body = (await client.get("/api/stats/conversations?limit=2", headers=stats)).json()
    assert (body["total"], body["page"], body["limit"], len(body["items"])) == (3, 1, 2, 2)
    assert set(body["items"][0]) == {
        "id",
        "phone",
        "status",
        "channel",
        "message_count",
        "started_at",
    }
    escalated = (
        await client.get("/api/stats/conversations?status=escalated", headers=stats)
    ).json()
    assert [c["id"] for c in escalated["items"]] == [ids[0]]
    for search in ("%2B91%2098765", "98765%2043210"):  # international, or national
        found = (
            await client.get(f"/api/stats/conversations?search={search}", headers=stats)
        ).json()
        assert [c["phone"] for c in found["items"]] == ["919876543210"], search
    for bad in ("status=open", "limit=101", "page=0"):
        response = await client.get(f"/api/stats/conversations?{bad}", headers=stats)
        assert response.status_code == 400 and response.json()["code"] == "VALIDATION_ERROR"


async def _search(client, stats, search):
    response = await client.get(
        "/api/stats/conversations", params={"search": search}, headers=stats
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["items"])
    return sorted(c["phone"] for c in body["items"])


async def test_a_phone_search_matches_the_start_of_the_number_international_or_national(
    client, context, admin, stats
):
    bot = await create_chatbot(client, admin)
    ids = [await say(client, bot["id"], "hi", f"v{n}") for n in range(3)]
    async with context.db.system() as conn:
        for conversation_id, phone in zip(
            ids, ["919876543210", "14155550100", "449876543210"], strict=True
        ):
            await conn.execute(
                "update conversations set phone = %s where id = %s", (phone, conversation_id)
            )
    # The workspace has no phone: national numbers are read as Indian ones.
    for search in ("+91 98765 43210", "919876", "98765 43210", "98765", "098765-43210"):
        assert await _search(client, stats, search) == ["919876543210"], search
    assert await _search(client, stats, "+1 415 555") == ["14155550100"]
    assert await _search(client, stats, "+44 98765") == ["449876543210"]
    # Only the start of the number: a piece from its middle or its end is no match.
    for search in ("43210", "55501", "+98765"):
        assert await _search(client, stats, search) == [], search
    assert len(await _search(client, stats, "no digits")) == 3  # no phone filter at all

    patched = await client.patch(
        "/api/business/me", headers=admin.headers, json={"phone": "+1 212 555 0199"}
    )
    assert patched.status_code == 200, patched.text
    assert await _search(client, stats, "415 555 0100") == ["14155550100"]  # now American
    assert await _search(client, stats, "98765 43210") == []
    # The workspace's country, once set, wins over its phone's.
    patched = await client.patch("/api/business/me", headers=admin.headers, json={"country": "IN"})
    assert patched.status_code == 200, patched.text
    assert await _search(client, stats, "98765 43210") == ["919876543210"]


async def test_a_phone_search_reads_the_phone_index_under_the_row_policies(context, admin):
    """`strpos` or `like` on the phone read every conversation of the workspace (under RLS
    neither can become an index condition): the search must be a range of the phone index."""
    from uuid import UUID

    from backend.conversations.repository import stats_filter

    async with context.db.system() as conn:
        bot = await (
            await conn.execute(
                "insert into chatbots (workspace_id, name) values (%s, 'b') returning id",
                (admin.workspace_id,),
            )
        ).fetchone()
        await conn.execute(
            "insert into conversations (workspace_id, chatbot_id, channel, started_at, phone)"
            " select %s, %s, 'whatsapp', now() - make_interval(mins => g),"
            "  case when g %% 10 <> 0 then '91' || (6000000000 + g * 7919)::text end"
            " from generate_series(1, 3000) g",
            (admin.workspace_id, bot["id"]),
        )
        await conn.execute("analyze conversations")
    where, params = stats_filter(
        UUID(admin.workspace_id), status=None, phone_prefixes=["9876543210", "919876543210"]
    )
    async with context.db.for_workspace(UUID(admin.workspace_id), "test") as conn:
        rows = await (
            await conn.execute(
                f"explain select id from public.conversations where {where}"
                " order by started_at desc, id limit 20",
                params,
            )
        ).fetchall()
    plan = "\n".join(r["QUERY PLAN"] for r in rows)
    assert "conversations_phone_idx" in plan and "phone ~>=~ '919876543210'" in plan, plan


async def test_calls_their_details_and_recordings(client, context, admin, other_admin, stats):
    resolved = await add_call(context, admin.workspace_id, call_id="r1")
    missed = await add_call(
        context, admin.workspace_id, call_id="m1", status="missed", recording_url=None
    )
    for status in ("queued", "in_progress"):  # not over yet: not listed
        await add_call(context, admin.workspace_id, call_id=status, status=status)
    listed = (await client.get("/api/stats/calls", headers=stats)).json()
    assert listed["total"] == 2 and {c["id"] for c in listed["items"]} == {resolved, missed}
    paged = (await client.get("/api/stats/calls?limit=1&page=2", headers=stats)).json()
    assert paged["total"] == 2 and len(paged["items"]) == 1
    only_missed = (await client.get("/api/stats/calls?status=missed", headers=stats)).json()
    assert [(c["id"], c["has_recording"]) for c in only_missed["items"]] == [(missed, False)]
    detail = (await client.get(f"/api/stats/calls/{resolved}", headers=stats)).json()
    assert detail["transcript"].startswith("Customer:") and detail["ended_at"]
    assert (detail["duration_seconds"], detail["language"], detail["phone"]) == (
        145,
        "ta",
        "919876543210",
    )
    audio = (await client.get(f"/api/stats/calls/{resolved}/audio", headers=stats)).json()
    assert audio == {
        "call_id": resolved,
        "audio_url": "https://storage.example/rec.mp3",
        "duration_seconds": 145,
    }
    assert (await client.get(f"/api/stats/calls/{missed}/audio", headers=stats)).status_code == 404
    theirs = await create_api_key(client, other_admin, scopes=["stats:read"])
    stranger = {"X-API-Key": theirs["key"]}
    assert (await client.get(f"/api/stats/calls/{resolved}", headers=stranger)).status_code == 404
    assert (await client.get("/api/stats/calls", headers=stranger)).json()["total"] == 0
    bad = await client.get("/api/stats/calls?status=done", headers=stats)
    assert bad.status_code == 400


async def _add_messages(context, workspace_id, conversation_id, days_ago, n):
    async with context.db.system() as conn:
        await conn.execute(
            "insert into messages (workspace_id, conversation_id, role, content, created_at)"
            " select %s, %s, 'user', 'then', now() - make_interval(days => %s)"
            " from generate_series(1, %s)",
            (workspace_id, conversation_id, days_ago, n),
        )


async def test_finished_days_are_rolled_up_to_the_same_figures_and_previews_never_count(
    client, context, admin, stats
):
    from backend.stats.tasks import roll_up_finished_days

    bot = await create_chatbot(client, admin)
    conversation = await say(client, bot["id"], "hello", "a")  # 2 messages today
    await _add_messages(context, admin.workspace_id, conversation, 3, 5)
    # Two days back, not one: yesterday is rolled up only once it has settled after midnight.
    await _add_messages(context, admin.workspace_id, conversation, 2, 2)
    async with context.db.system() as conn:
        preview = await (
            await conn.execute(
                "insert into conversations (workspace_id, chatbot_id, visitor_id, is_preview)"
                " values (%s, %s, 'console', true) returning id",
                (admin.workspace_id, bot["id"]),
            )
        ).fetchone()
    for days_ago in (0, 2, 3):  # an admin trying the bot in the console, now and then
        await _add_messages(context, admin.workspace_id, preview["id"], days_ago, 4)

    async def chart() -> list[int]:
        response = await client.get("/api/stats/messages-per-day?days=7", headers=stats)
        assert response.status_code == 200, response.text
        return [row["count"] for row in response.json()["data"]]

    async def today() -> int:
        body = (await client.get("/api/stats/overview", headers=stats)).json()
        return body["messages_today"]

    expected = [0, 0, 0, 5, 2, 0, 2]
    assert await chart() == expected and await today() == 2

    assert await roll_up_finished_days(context.db) >= 1
    async with context.db.system() as conn:
        rolled = await (
            await conn.execute(
                "select day, messages from message_day_counts where workspace_id = %s order by day",
                (admin.workspace_id,),
            )
        ).fetchall()
    assert [r["messages"] for r in rolled] == [5, 2]  # finished days only, no previews
    assert await chart() == expected and await today() == 2
    assert await roll_up_finished_days(context.db) == 0  # nothing new to roll up
    async with context.db.system() as conn:  # the chart reads finished days from the rollup
        await conn.execute(
            "delete from messages where conversation_id = %s and created_at < now() - interval"
            " '60 hours'",
            (conversation,),
        )
    assert await chart() == expected

    # Moving to another time zone ignores the old days until they are rolled up again in it.
    await client.patch(
        "/api/business/me", headers=admin.headers, json={"timeZone": "Pacific/Kiritimati"}
    )
    in_kiritimati = await chart()
    assert sum(in_kiritimati) == 4  # counted afresh: the deleted five are gone
    assert await roll_up_finished_days(context.db) >= 1
    assert await chart() == in_kiritimati
