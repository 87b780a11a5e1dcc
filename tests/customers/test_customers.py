"""Customers: admins add them with a portal login, find them, and handle their tickets."""

from __future__ import annotations

from tests.fixtures.factories import PASSWORD, add_customer, create_chatbot


async def test_an_admin_adds_a_customer_who_signs_in_to_the_portal(
    client, admin, anon_key, customer
):
    assert customer.email.startswith("customer-")
    me = await client.get("/api/customers/portal/me", headers=customer.headers)
    assert me.status_code == 200, me.text
    assert me.json() == {
        "id": customer.id,
        "user_id": customer.user_id,
        "email": customer.email,
        "full_name": "Priya Raman",
        "company_name": "Raman Silks",
        "chatbot_id": None,
        "created_by_user_id": admin.user_id,
    }
    again = await client.post(
        "/api/customers",
        headers=admin.headers,
        json={"email": customer.email.upper(), "password": PASSWORD},
    )
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "email"
    bad = await client.post(
        "/api/customers",
        headers=admin.headers,
        json={"email": "not-an-email", "phone": "12345"},
    )
    assert bad.status_code == 400
    assert {e["field"] for e in bad.json()["errors"]} >= {"email", "phone"}


async def test_a_customers_national_number_is_read_in_the_workspaces_country(
    client, admin, anon_key
):
    body = {"email": "kiran@example.in", "phone": "98765 43210"}
    refused = await client.post("/api/customers", headers=admin.headers, json=body)
    assert refused.status_code == 400, refused.text  # no country, no phone: whose number?
    assert [e["field"] for e in refused.json()["errors"]] == ["phone"]
    patched = await client.patch("/api/business/me", headers=admin.headers, json={"country": "IN"})
    assert patched.status_code == 200, patched.text
    created = await client.post("/api/customers", headers=admin.headers, json=body)
    assert created.status_code == 201, created.text
    listed = (await client.get("/api/customers", headers=admin.headers)).json()["data"]
    assert [(c["email"], c["phone"]) for c in listed] == [("kiran@example.in", "+919876543210")]


async def test_customers_are_listed_searched_and_filtered(client, admin, anon_key, customer):
    await add_customer(client, admin, anon_key, full_name="Arjun Mehta", tags=["new"])
    everyone = (await client.get("/api/customers", headers=admin.headers)).json()
    assert everyone["success"] is True
    assert everyone["pagination"] == {"page": 1, "limit": 20, "total": 2, "totalPages": 1}
    item = next(c for c in everyone["data"] if c["id"] == customer.id)
    assert item["phone"] == "+919876543210" and item["tags"] == ["vip", "wholesale"]
    assert item["isVerified"] is True and item["trustScore"] == 50
    for query, expected in (
        ({"search": "priya"}, ["Priya Raman"]),
        ({"search": "98765"}, ["Priya Raman"]),  # digits of the phone
        ({"search": "mehta"}, ["Arjun Mehta"]),
        ({"tags": "vip,wholesale"}, ["Priya Raman"]),
        ({"tags": "vip,new"}, []),
        ({"verified": "false"}, []),
        ({"limit": 1, "page": 2}, ["Priya Raman", "Arjun Mehta"]),
    ):
        body = (await client.get("/api/customers", headers=admin.headers, params=query)).json()
        names = [c["name"] for c in body["data"]]
        if "page" in query:
            assert len(names) == 1 and names[0] in expected
            assert body["pagination"]["totalPages"] == 2
        else:
            assert names == expected, query
    too_many = await client.get("/api/customers", headers=admin.headers, params={"limit": 101})
    assert too_many.status_code == 400 and too_many.json()["code"] == "VALIDATION_ERROR"


async def test_tickets_between_admin_and_customer(client, admin, anon_key, customer):
    opened = await client.post(
        "/api/customers/tickets",
        headers=admin.headers,
        json={"customer_id": customer.id, "subject": "Order late", "priority": "high"},
    )
    assert opened.status_code == 201, opened.text
    assert (opened.json()["status"], opened.json()["priority"]) == ("open", "high")
    mine = await client.post(
        "/api/customers/portal/tickets",
        headers=customer.headers,
        json={"subject": "Wrong colour", "description": "Ordered red, got maroon"},
    )
    assert mine.status_code == 201 and mine.json()["priority"] == "medium"
    listed = (await client.get("/api/customers/portal/tickets", headers=customer.headers)).json()
    assert [t["subject"] for t in listed["data"]] == ["Wrong colour", "Order late"]

    resolved = await client.patch(
        f"/api/customers/tickets/{mine.json()['id']}",
        headers=admin.headers,
        json={"status": "resolved"},
    )
    assert resolved.json()["status"] == "resolved" and resolved.json()["resolved_at"]
    only_open = await client.get(
        "/api/customers/tickets", headers=admin.headers, params={"status": "open"}
    )
    assert [t["subject"] for t in only_open.json()["data"]] == ["Order late"]
    for bad in ({"status": "done"}, {"priority": "asap"}, {}):
        response = await client.patch(
            f"/api/customers/tickets/{mine.json()['id']}", headers=admin.headers, json=bad
        )
        assert response.status_code == 400, bad


async def test_a_login_link_answers_the_same_for_anyone(client, context, admin, customer):
    known = await client.post(
        "/api/customers/send-login-link", headers=admin.headers, params={"email": customer.email}
    )
    unknown = await client.post(
        "/api/customers/send-login-link",
        headers=admin.headers,
        params={"email": "nobody@example.com"},
    )
    assert known.status_code == unknown.status_code == 200
    assert known.json() == unknown.json()
    async with context.db.system() as conn:
        jobs = await (
            await conn.execute(
                "select args from procrastinate_jobs where task_name = 'auth.send_link_email'"
            )
        ).fetchall()
    assert [j["args"]["user_id"] for j in jobs] == [customer.user_id]

    # Without an e-mail provider (the embedded mode) the link waits in the workspace's outbox.
    from backend.tasks import run_worker

    await run_worker(context, concurrency=1, wait=False)
    outbox = (
        await client.get(
            "/api/notifications/emails", headers=admin.headers, params={"status": "outbox"}
        )
    ).json()["data"]
    assert [(e["kind"], e["to_email"]) for e in outbox] == [("sign_in_link", customer.email)]
    link = (
        await client.get(f"/api/notifications/emails/{outbox[0]['id']}", headers=admin.headers)
    ).json()["data"]
    assert "/auth/v1/verify?token=" in link["html"]


async def test_a_verified_widget_visitor_becomes_a_customer(client, context, admin, anon_key):
    from backend.widget.identity import sign

    bot = await create_chatbot(client, admin)
    known = await add_customer(client, admin, anon_key, email="meera@example.com")
    secret = (await client.get("/api/widget/identity-secret", headers=admin.headers)).json()[
        "data"
    ]["secret"]

    async def visit(user_id: str, email: str | None, visitor: str) -> str:
        body = {"visitor_id": visitor, "message": "hi", "user_id": user_id}
        body |= {"user_hash": sign(secret, user_id)}
        if email:
            body["user_email"] = email
        response = await client.post(f"/api/widget/{bot['id']}/message", json=body)
        assert response.status_code == 200, response.text
        return response.json()["conversation_id"]

    await visit("shop-user-1", "ravi@example.com", "tab-1")
    await visit("shop-user-1", None, "tab-2")  # the same person on another device
    # The hash vouches for the user id only: an e-mail sent with it claims no existing customer.
    await visit("shop-user-2", "Meera@Example.com", "tab-3")
    listed = (await client.get("/api/customers", headers=admin.headers)).json()["data"]
    by_email = {c["email"]: c for c in listed}
    assert set(by_email) == {"ravi@example.com", "meera@example.com", None}
    ravi = by_email["ravi@example.com"]
    assert ravi["isVerified"] is True
    conversations = await client.get(
        f"/api/customers/{ravi['id']}/conversations", headers=admin.headers
    )
    assert conversations.json()["pagination"]["total"] == 2
    meera = await client.get(f"/api/customers/{known.id}/conversations", headers=admin.headers)
    assert meera.json()["pagination"]["total"] == 0


async def test_a_customer_who_unmarks_themselves_is_still_a_customer(
    client, admin, anon_key, customer
):
    """`user_metadata` is the customer's to edit; the mark that counts is in `app_metadata`,
    which only the service role writes."""
    edited = await client.put(
        "/auth/v1/user",
        headers={**customer.headers, "apikey": anon_key},
        json={"data": {"is_customer": False}},
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["user_metadata"]["is_customer"] is False
    assert edited.json()["app_metadata"]["is_customer"] is True
    # A fresh token carries the edited metadata.
    session = await client.post(
        "/auth/v1/token?grant_type=password",
        headers={"apikey": anon_key},
        json={"email": customer.email, "password": PASSWORD},
    )
    headers = {"Authorization": f"Bearer {session.json()['access_token']}"}

    made = await client.post("/api/workspaces", headers=headers, json={"name": "Mine now"})
    assert made.status_code == 403, made.text
    assert (await client.get("/api/workspaces", headers=headers)).status_code == 403
    assert (await client.get("/api/chatbots", headers=headers)).status_code == 403
    assert (await client.get("/auth/me", headers=headers)).json()["is_customer"] is True
    assert (await client.get("/api/customers/portal/me", headers=headers)).status_code == 200
    workspaces = await client.get("/api/workspaces", headers=admin.headers)
    assert len(workspaces.json()["data"]) == 1
