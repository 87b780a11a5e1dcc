"""Two workspaces never see, change or delete each other's rows: not through any endpoint,
and not through SQL run under their own claims (RLS)."""

from __future__ import annotations

import pytest
from psycopg import errors as pg_errors

from backend.db import set_claims
from tests.fixtures.factories import create_api_key


async def test_every_public_table_has_row_level_security(context):
    async with context.db.system() as conn:
        rows = await (
            await conn.execute(
                "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
                " where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relrowsecurity"
            )
        ).fetchall()
    assert [r["relname"] for r in rows] == []


async def test_admin_cannot_reach_another_workspace_through_the_api(client, admin, other_admin):
    theirs = other_admin.workspace_id
    for method, path, body in [
        ("GET", f"/api/workspaces/{theirs}", None),
        ("PATCH", f"/api/workspaces/{theirs}", {"name": "pwned"}),
        ("DELETE", f"/api/workspaces/{theirs}", None),
        ("GET", f"/api/workspaces/{theirs}/members", None),
        ("POST", f"/api/workspaces/{theirs}/members", {"email": admin.email, "role": "owner"}),
        ("DELETE", f"/api/workspaces/{theirs}/members/{other_admin.user_id}", None),
    ]:
        response = await client.request(method, path, headers=admin.headers, json=body)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["code"] == "NOT_FOUND"

    # Selecting their workspace as the acting one is refused the same way.
    response = await client.get(
        "/api/api-keys", headers={**admin.headers, "X-Workspace-Id": theirs}
    )
    assert response.status_code == 404

    # Nothing changed on their side.
    mine = await client.get(f"/api/workspaces/{theirs}", headers=other_admin.headers)
    assert mine.status_code == 200
    assert mine.json()["data"]["name"] != "pwned"
    members = await client.get(f"/api/workspaces/{theirs}/members", headers=other_admin.headers)
    assert [m["email"] for m in members.json()["data"]] == [other_admin.email]


async def test_api_keys_of_another_workspace_are_invisible_and_unrevocable(
    client, admin, other_admin
):
    their_key = await create_api_key(client, other_admin)
    listed = await client.get("/api/api-keys", headers=admin.headers)
    assert listed.json()["data"] == []
    revoke = await client.delete(f"/api/api-keys/{their_key['id']}", headers=admin.headers)
    assert revoke.status_code == 404
    still = await client.get("/api/api-keys", headers=other_admin.headers)
    assert [k["revoked_at"] for k in still.json()["data"]] == [None]


def _user_claims(admin) -> dict:
    return {"sub": admin.user_id, "role": "authenticated", "email": admin.email}


async def test_sql_under_a_users_claims_sees_only_their_workspaces(context, admin, other_admin):
    async with context.db.as_claims(_user_claims(admin)) as conn:
        workspaces = await (await conn.execute("select id from public.workspaces")).fetchall()
        members = await (
            await conn.execute("select user_id from public.workspace_members")
        ).fetchall()
    assert [str(w["id"]) for w in workspaces] == [admin.workspace_id]
    assert [str(m["user_id"]) for m in members] == [admin.user_id]


async def test_sql_under_a_users_claims_cannot_change_another_workspace(
    context, admin, other_admin
):
    theirs = other_admin.workspace_id
    async with context.db.as_claims(_user_claims(admin)) as conn:
        updated = await conn.execute(
            "update public.workspaces set name = 'pwned' where id = %s", (theirs,)
        )
        deleted = await conn.execute("delete from public.workspaces where id = %s", (theirs,))
        assert (updated.rowcount, deleted.rowcount) == (0, 0)

    # Writing a row into their workspace is refused outright.
    with pytest.raises(pg_errors.InsufficientPrivilege):
        async with context.db.as_claims(_user_claims(admin)) as conn:
            await conn.execute(
                "insert into public.workspace_members (workspace_id, user_id, role)"
                " values (%s, %s, 'owner')",
                (theirs, admin.user_id),
            )
    with pytest.raises(pg_errors.InsufficientPrivilege):
        async with context.db.as_claims(_user_claims(admin)) as conn:
            await conn.execute(
                "insert into public.api_keys (workspace_id, name, prefix, key_hash, scopes)"
                " values (%s, 'x', 'x', 'x', '{api}')",
                (theirs,),
            )

    async with context.db.system() as conn:
        row = await (
            await conn.execute("select name from public.workspaces where id = %s", (theirs,))
        ).fetchone()
    assert row is not None and row["name"] != "pwned"


async def test_a_workspace_bound_principal_sees_only_that_workspace(context, admin, other_admin):
    async with context.db.for_workspace(admin.workspace_id, "test") as conn:
        rows = await (await conn.execute("select id from public.workspaces")).fetchall()
    assert [str(r["id"]) for r in rows] == [admin.workspace_id]


async def test_job_queue_tables_are_closed_to_tenants(context, admin):
    async with context.db.as_claims(_user_claims(admin)) as conn:
        with pytest.raises(pg_errors.InsufficientPrivilege):
            await conn.execute("select * from public.procrastinate_jobs")


async def test_forged_claims_in_user_metadata_grant_nothing(context, admin, other_admin):
    """Users write their own user_metadata; a workspace id placed there must not count."""
    claims = {**_user_claims(admin), "user_metadata": {"vx_workspace_id": other_admin.workspace_id}}
    async with context.db.pool.connection() as conn, conn.transaction():
        await set_claims(conn, claims)
        rows = await (await conn.execute("select id from public.workspaces")).fetchall()
    assert [str(r["id"]) for r in rows] == [admin.workspace_id]


async def _add_member(client, owner, anon_key, label, role):
    from tests.fixtures.factories import create_admin

    member = await create_admin(client, anon_key, label)
    response = await client.post(
        f"/api/workspaces/{owner.workspace_id}/members",
        headers=owner.headers,
        json={"email": member.email, "role": role},
    )
    assert response.status_code == 201, response.text
    return member


async def test_an_admin_cannot_take_or_remove_ownership_even_in_sql(
    client, context, anon_key, admin
):
    """The console may write to Supabase directly: the owner rules hold in the database too."""
    deputy = await _add_member(client, admin, anon_key, "deputy", "admin")
    ws = admin.workspace_id
    for statement, args in [
        (
            "update public.workspace_members set role = 'owner' where workspace_id = %s and user_id = %s",
            (ws, deputy.user_id),
        ),
        (
            "update public.workspace_members set role = 'agent' where workspace_id = %s and user_id = %s",
            (ws, admin.user_id),
        ),
        (
            "delete from public.workspace_members where workspace_id = %s and user_id = %s",
            (ws, admin.user_id),
        ),
    ]:
        try:
            async with context.db.as_claims(_user_claims(deputy)) as conn:
                changed = await conn.execute(statement, args)
                assert changed.rowcount == 0, statement  # invisible to the write …
        except pg_errors.InsufficientPrivilege:
            pass  # … or refused outright
    async with context.db.system() as conn:
        roles = await (
            await conn.execute(
                "select user_id, role from workspace_members where workspace_id = %s", (ws,)
            )
        ).fetchall()
    assert {str(r["user_id"]): r["role"] for r in roles} == {
        admin.user_id: "owner",
        deputy.user_id: "admin",
    }
    with pytest.raises(pg_errors.InsufficientPrivilege):
        async with context.db.as_claims(_user_claims(deputy)) as conn:
            await conn.execute(
                "select public.add_workspace_member(%s, %s, 'owner')", (ws, deputy.email)
            )
    # The last owner cannot leave, even by their own hand in SQL.
    with pytest.raises(pg_errors.CheckViolation):
        async with context.db.as_claims(_user_claims(admin)) as conn:
            await conn.execute(
                "delete from public.workspace_members where workspace_id = %s and user_id = %s",
                (ws, admin.user_id),
            )


async def test_agents_read_configuration_but_cannot_write_it_in_sql(
    client, context, anon_key, admin
):
    from tests.fixtures.factories import create_chatbot

    bot = await create_chatbot(client, admin)
    agent = await _add_member(client, admin, anon_key, "agent", "agent")
    async with context.db.as_claims(_user_claims(agent)) as conn:
        rows = await (await conn.execute("select id from public.chatbots")).fetchall()
        assert [str(r["id"]) for r in rows] == [bot["id"]]
        changed = await conn.execute(
            "update public.chatbots set system_prompt = 'x' where id = %s", (bot["id"],)
        )
        assert changed.rowcount == 0
    with pytest.raises(pg_errors.InsufficientPrivilege):
        async with context.db.as_claims(_user_claims(admin)) as conn:  # even an owner
            await conn.execute(
                "insert into public.token_usage (workspace_id, service, channel, model, cost, price_version)"
                " values (%s, 'OPENAI_GPT', 'CHAT', 'm', -100, 'v')",
                (admin.workspace_id,),
            )


async def test_direct_writes_to_faqs_make_cached_answers_stale(client, context, admin):
    from tests.fixtures.factories import create_chatbot

    bot = await create_chatbot(client, admin)
    async with context.db.system() as conn:
        before = (
            await (
                await conn.execute("select cache_version from chatbots where id = %s", (bot["id"],))
            ).fetchone()
        )["cache_version"]
    async with context.db.as_claims(
        _user_claims(admin)
    ) as conn:  # as a console would, via Supabase
        await conn.execute(
            "insert into public.chatbot_faqs (workspace_id, chatbot_id, question, answer)"
            " values (%s, %s, 'Q?', 'A.')",
            (admin.workspace_id, bot["id"]),
        )
        await conn.execute(
            "update public.chatbots set name = 'Renamed' where id = %s", (bot["id"],)
        )
    async with context.db.system() as conn:
        after = (
            await (
                await conn.execute("select cache_version from chatbots where id = %s", (bot["id"],))
            ).fetchone()
        )["cache_version"]
    assert after == before + 1  # the FAQ counts; a new name changes no answer


def _call_values(provider_call_id: str, **values) -> dict:
    return {
        "provider_call_id": provider_call_id,
        "agent_id": "assistant-1",
        "direction": "inbound",
        "status": "resolved",
        "phone": "919876543210",
        "language": "en",
        "started_at": None,
        "ended_at": None,
        "duration_seconds": 30,
        "transcript": "user: Hi",
        "summary": None,
        "analysis": {},
        "metadata": {},
        **values,
    }


async def test_a_provider_call_id_is_stored_once_per_workspace(context, admin, other_admin):
    """Two workspaces connected to one provider account both receive (or import) its calls:
    whoever stores an id first must not take it from the other."""
    from backend.voice.calls.repository import insert_once

    stored = []
    for workspace_id in (admin.workspace_id, other_admin.workspace_id, admin.workspace_id):
        async with context.db.for_workspace(workspace_id, "test") as conn:
            new = await insert_once(conn, workspace_id, "vapi", _call_values("call-1"))
            stored.append(new is not None)
    assert stored == [True, True, False]  # the third is a redelivery to the first workspace
    async with context.db.system() as conn:
        rows = await (
            await conn.execute("select workspace_id from public.calls order by workspace_id")
        ).fetchall()
    assert sorted(str(r["workspace_id"]) for r in rows) == sorted(
        [admin.workspace_id, other_admin.workspace_id]
    )


async def test_members_read_calls_and_confirmation_claims_but_only_the_backend_writes_them(
    client, context, anon_key, admin
):
    """A call is what a provider reported, and an order's confirmation row is the guard that
    the order is called once: members (owner included) read them through Supabase, but may not
    insert, rewrite or delete them; the backend's own transactions still do."""
    import uuid

    from backend.voice.bolna import repository as bolna_repository
    from backend.voice.calls.repository import insert_once

    ws = admin.workspace_id
    agent = await _add_member(client, admin, anon_key, "agent", "agent")
    async with context.db.for_workspace(ws, "test") as conn:
        assert await insert_once(conn, ws, "bolna", _call_values("exec-1", status="queued"))
        call = await (await conn.execute("select id from public.calls")).fetchone()
        claim = uuid.uuid4()
        assert await bolna_repository.claim_order(conn, ws, "ORD1", claim)
        await bolna_repository.settle_order(conn, ws, "ORD1", claim, call["id"])
        assert await bolna_repository.claim_order(conn, ws, "ORD2", uuid.uuid4())

    writes = [
        ("update public.calls set status = 'resolved', transcript = 'forged'", ()),
        ("delete from public.calls", ()),
        ("update public.order_confirmation_calls set call_id = null", ()),
        ("delete from public.order_confirmation_calls", ()),
    ]
    inserts = [
        (
            "insert into public.calls (workspace_id, provider, provider_call_id, status)"
            " values (%s, 'vapi', 'made-up', 'resolved')",
            (ws,),
        ),
        (
            "insert into public.order_confirmation_calls (workspace_id, order_id, claim_id)"
            " values (%s, 'ORD3', gen_random_uuid())",
            (ws,),
        ),
    ]
    for member in (agent, admin):
        async with context.db.as_claims(_user_claims(member)) as conn:
            calls = await (await conn.execute("select id from public.calls")).fetchall()
            orders = await (
                await conn.execute("select order_id from public.order_confirmation_calls")
            ).fetchall()
            assert [r["id"] for r in calls] == [call["id"]]  # members read them
            assert sorted(r["order_id"] for r in orders) == ["ORD1", "ORD2"]
            for statement, args in writes:
                changed = await conn.execute(statement, args)
                assert changed.rowcount == 0, (member.email, statement)
        for statement, args in inserts:
            with pytest.raises(pg_errors.InsufficientPrivilege):
                async with context.db.as_claims(_user_claims(member)) as conn:
                    await conn.execute(statement, args)

    async with context.db.system() as conn:
        row = await (await conn.execute("select status, transcript from public.calls")).fetchone()
        orders = await (
            await conn.execute(
                "select order_id, call_id from public.order_confirmation_calls order by order_id"
            )
        ).fetchall()
    assert row == {"status": "queued", "transcript": "user: Hi"}
    assert [(o["order_id"], o["call_id"]) for o in orders] == [
        ("ORD1", call["id"]),
        ("ORD2", None),
    ]

    # The backend still writes them: a released claim, and a call's next state.
    async with context.db.for_workspace(ws, "test") as conn:
        await bolna_repository.release_order(conn, ws, "ORD2", uuid.uuid4())  # not its claim
        changed = await conn.execute(
            "update public.calls set status = 'in_progress' where id = %s", (call["id"],)
        )
        assert changed.rowcount == 1
        deleted = await conn.execute(
            "delete from public.order_confirmation_calls where order_id = 'ORD2'"
        )
        assert deleted.rowcount == 1

    # A member deleting a customer still unlinks the customer's calls (the foreign key's own
    # action, which row policies do not apply to).
    async with context.db.system() as conn:
        customer = await (
            await conn.execute(
                "insert into public.customers (workspace_id, phone) values (%s, '+919876543210')"
                " returning id",
                (ws,),
            )
        ).fetchone()
        await conn.execute("update public.calls set customer_id = %s", (customer["id"],))
    async with context.db.as_claims(_user_claims(admin)) as conn:
        deleted = await conn.execute(
            "delete from public.customers where id = %s", (customer["id"],)
        )
        assert deleted.rowcount == 1
    async with context.db.system() as conn:
        row = await (await conn.execute("select customer_id from public.calls")).fetchone()
    assert row["customer_id"] is None
