"""`GET /api/analytics/dashboard`: conversations, customers, costs and the response cache at a
glance, in the omnichannel document's shape."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tests.analytics.factories import add_call, add_usage
from tests.fakes.openai import Reply
from tests.fixtures.factories import chat, connect_openai, create_api_key, create_chatbot


async def dashboard(client, headers) -> dict:
    response = await client.get("/api/analytics/dashboard", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"success", "data"} and body["success"] is True
    return body["data"]


async def test_an_empty_workspace(client, admin):
    assert await dashboard(client, admin.headers) == {
        "conversations": {"total": 0, "active": 0, "closed": 0, "avgDuration": 0.0},
        "customers": {"total": 0, "newThisMonth": 0, "verified": 0},
        "costs": {"today": 0.0, "thisMonth": 0.0, "projected": 0.0},
        "cache": {"hitRate": 0, "totalCached": 0},
    }


async def test_figures_match_what_happened(client, context, admin, other_admin, fake_openai):
    await connect_openai(client, admin, fake_openai.key)
    bot = await create_chatbot(client, admin)
    # gpt-4o-mini, 1,000 tokens in and 500 out: $0.00015 + $0.00030 = $0.00045.
    fake_openai.script(Reply(content="We open at nine.", prompt_tokens=1000, completion_tokens=500))
    first = await chat(client, bot["id"], "When do you open?", visitor_id="a")
    assert first.json()["source"] == "model"
    second = await chat(client, bot["id"], "When do you open?", visitor_id="b")
    assert second.json()["source"] == "cache"  # one answer of two from the cache: 50 %
    preview = await client.post(  # an admin trying the bot: left out of analytics
        "/api/chat/message",
        headers=admin.headers,
        json={
            "chatbot_id": bot["id"],
            "visitor_id": "admin",
            "message": "A preview",
            "preview_mode": True,
        },
    )
    assert preview.status_code == 200, preview.text

    now = datetime.now(UTC)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    async with context.db.system() as conn:
        # One conversation closed after 15 minutes, one still open 10 minutes in: 12.5 on average.
        await conn.execute(
            "update conversations set status = 'closed', started_at = %s, closed_at = %s,"
            " last_message_at = %s where id = %s",
            (
                now - timedelta(minutes=20),
                now - timedelta(minutes=5),
                now - timedelta(minutes=5),
                first.json()["conversation_id"],
            ),
        )
        await conn.execute(
            "update conversations set started_at = %s, last_message_at = %s where id = %s",
            (now - timedelta(minutes=10), now, second.json()["conversation_id"]),
        )
        await conn.execute(
            "insert into customers (workspace_id, name, is_verified, created_at) values"
            " (%(ws)s, 'Old', true, %(old)s), (%(ws)s, 'New', true, %(new)s),"
            " (%(ws)s, 'Newer', false, %(new)s), (%(other)s, 'Theirs', true, %(new)s)",
            {
                "ws": admin.workspace_id,
                "other": other_admin.workspace_id,
                "old": month_start - timedelta(days=3),
                "new": now,
            },
        )
    await add_usage(context, admin.workspace_id, at=now.isoformat(), cost="1.00")
    await add_call(context, admin.workspace_id, at=now.isoformat(), cost="0.25")
    await add_usage(context, admin.workspace_id, at=month_start.isoformat(), cost="2.00")
    last_month = (month_start - timedelta(seconds=1)).isoformat()
    await add_usage(context, admin.workspace_id, at=last_month, cost="9.00")

    # Today: the answer, $1.00 of usage and a $0.25 call (and the month's first $2.00 on the 1st).
    today = 3.25045 if now.day == 1 else 1.25045
    this_month = Decimal("3.25045")
    days = calendar.monthrange(now.year, now.month)[1]
    projected = (this_month * days / now.day).quantize(Decimal("0.000001"))
    data = await dashboard(client, admin.headers)
    assert data["conversations"] == {"total": 2, "active": 1, "closed": 1, "avgDuration": 12.5}
    assert data["customers"] == {"total": 3, "newThisMonth": 2, "verified": 2}
    assert data["costs"] == {
        "today": today,
        "thisMonth": float(this_month),
        "projected": float(projected),
    }
    # The cache's figures are those of `GET /api/cache/stats` (whose domain decides what is
    # cached): of the two answers visitors got, one came from the cache.
    cache = (await client.get("/api/cache/stats", headers=admin.headers)).json()["data"]
    assert data["cache"] == {"hitRate": 50, "totalCached": cache["totalCached"]}
    assert cache["hitRate"] == 50 and cache["totalCached"] >= 1

    key = (await create_api_key(client, admin, ["api"]))["key"]
    assert await dashboard(client, {"X-API-Key": key}) == data
    theirs = await dashboard(client, other_admin.headers)
    assert theirs["customers"]["total"] == 1 and theirs["costs"]["thisMonth"] == 0


async def test_anonymous_callers_are_refused(client):
    assert (await client.get("/api/analytics/dashboard")).status_code == 401
