"""The bot-builder document's `POST /flows/contacts/` and `GET /flows/contacts/`, over HTTP."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx

from backend.context import AppContext
from backend.events import repository as events
from tests.fixtures.factories import PASSWORD, Admin, unique_email

URL = "/flows/contacts/"


async def create(client: httpx.AsyncClient, admin: Admin, **fields: Any) -> httpx.Response:
    return await client.post(URL, headers=admin.headers, json={"phone": "+919876543210", **fields})


async def set_country(client: httpx.AsyncClient, admin: Admin, country: str) -> None:
    patched = await client.patch(
        "/api/business/me", headers=admin.headers, json={"country": country}
    )
    assert patched.status_code == 200, patched.text


async def event_types(context: AppContext, contact_id: str) -> list[str]:
    async with context.db.system() as conn:
        return [e["type"] for e in await events.list_for_subject(conn, UUID(contact_id))]


async def contacts_stored(context: AppContext) -> int:
    async with context.db.system() as conn:
        row = await (await conn.execute("select count(*) as n from public.contacts")).fetchone()
    assert row is not None
    return int(row["n"])


async def test_a_contact_is_created_with_the_documents_fields(client, admin, context):
    response = await create(
        client,
        admin,
        phone="+91 98765 43210",
        first_name=" Asha ",
        last_name="Rao",
        email="Asha@Example.com",
        attributes={"plan": "gold", "orders": 3, "vip": True},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["success"] is True
    contact = body["data"]
    assert contact["phone"] == "+919876543210"
    assert (contact["first_name"], contact["last_name"]) == ("Asha", "Rao")
    assert contact["email"] == "asha@example.com"
    assert contact["attributes"] == {"plan": "gold", "orders": 3, "vip": True}
    assert contact["marketing_opt_in"] is False and contact["opt_in_changed_at"] is None
    assert contact["identities"] == [] and contact["last_inbound_at"] == {}
    assert contact["created_at"].endswith("Z")
    assert await event_types(context, contact["id"]) == ["contact.created"]


async def test_the_same_phone_again_is_the_same_contact_unchanged(client, admin, context):
    first = await create(client, admin, first_name="Asha")
    assert first.status_code == 201, first.text
    await set_country(client, admin, "IN")
    again = await create(client, admin, phone="098765 43210", first_name="Someone else")
    assert again.status_code == 200, again.text
    assert again.json()["data"] == first.json()["data"]
    assert await contacts_stored(context) == 1
    assert await event_types(context, first.json()["data"]["id"]) == ["contact.created"]


async def test_an_invalid_phone_is_a_400_naming_phone_and_stores_nothing(client, admin, context):
    for phone in ("12", "not a phone", "9876543210"):  # the last: national, no country known
        response = await create(client, admin, phone=phone)
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["code"] == "VALIDATION_ERROR"
        assert [e["field"] for e in body["errors"]] == ["phone"]
    for fields in ({"email": "nope"}, {"attributes": {"1st": "x"}}, {"phone": None}):
        response = await create(client, admin, **fields)
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "VALIDATION_ERROR"
    assert await contacts_stored(context) == 0


async def test_a_national_number_is_read_in_the_workspaces_country(client, admin):
    await set_country(client, admin, "GB")
    response = await create(client, admin, phone="07911 123456")
    assert response.status_code == 201, response.text
    assert response.json()["data"]["phone"] == "+447911123456"


async def test_consent_given_on_creation_is_recorded_once(client, admin, context):
    response = await create(client, admin, marketing_opt_in=True)
    assert response.status_code == 201, response.text
    contact = response.json()["data"]
    assert contact["marketing_opt_in"] is True
    assert contact["opt_in_source"] == "api" and contact["opt_in_changed_at"]
    assert await event_types(context, contact["id"]) == ["contact.created", "contact.opted_in"]


async def test_a_contact_is_linked_to_the_customer_with_its_phone(client, admin):
    customer = await client.post(
        "/api/customers",
        headers=admin.headers,
        json={"email": unique_email("cust"), "password": PASSWORD, "phone": "+14155550100"},
    )
    assert customer.status_code == 201, customer.text
    linked = await create(client, admin, phone="+1 415 555 0100")
    assert linked.json()["data"]["customer_id"] == customer.json()["customer_id"]
    unlinked = await create(client, admin, phone="+14155550199")
    assert unlinked.json()["data"]["customer_id"] is None


async def test_contacts_are_paged_and_searched(client, admin):
    await set_country(client, admin, "IN")
    for phone, first, email in (
        ("+919876543210", "Asha", "asha@example.com"),
        ("+919812345678", "Ravi", None),
        ("+14155550100", "Maria", "maria@shop.example"),
    ):
        response = await create(client, admin, phone=phone, first_name=first, email=email)
        assert response.status_code == 201, response.text

    page = (await client.get(URL, headers=admin.headers, params={"limit": 2})).json()
    assert [c["first_name"] for c in page["data"]] == ["Maria", "Ravi"]  # newest first
    assert page["pagination"] == {"page": 1, "limit": 2, "total": 3, "totalPages": 2}
    rest = (await client.get(URL, headers=admin.headers, params={"limit": 2, "page": 2})).json()
    assert [c["first_name"] for c in rest["data"]] == ["Asha"]

    async def found(search: str) -> list[str]:
        response = await client.get(URL, headers=admin.headers, params={"search": search})
        assert response.status_code == 200, response.text
        return sorted(c["first_name"] for c in response.json()["data"])

    assert await found("asha") == ["Asha"]
    assert await found("SHOP.example") == ["Maria"]
    assert await found("98") == ["Asha", "Ravi"]  # national, in the workspace's country
    assert await found("098123") == ["Ravi"]
    assert await found("+1 415") == ["Maria"]
    assert await found("50%") == []
    beyond = (await client.get(URL, headers=admin.headers, params={"page": 9})).json()
    assert beyond["data"] == [] and beyond["pagination"]["total"] == 3
    bad = await client.get(URL, headers=admin.headers, params={"limit": 0})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "limit"


async def test_another_workspaces_contacts_are_never_visible(client, admin, other_admin):
    mine = await create(client, admin, first_name="Mine")
    assert mine.status_code == 201
    listed = (await client.get(URL, headers=other_admin.headers)).json()
    assert listed["data"] == [] and listed["pagination"]["total"] == 0
    theirs = await create(client, other_admin, first_name="Theirs")  # the same phone
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["data"]["id"] != mine.json()["data"]["id"]
    assert theirs.json()["data"]["first_name"] == "Theirs"


async def test_the_bot_builders_token_works_and_no_token_does_not(client):
    email = unique_email("builder")
    registered = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    token = await client.post("/auth/token", data={"username": email, "password": PASSWORD})
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    created = await client.post(URL, headers=headers, json={"phone": "+919876543210"})
    assert created.status_code == 201, created.text
    listed = await client.get(URL, headers=headers)
    assert [c["id"] for c in listed.json()["data"]] == [created.json()["data"]["id"]]
    anonymous = await client.get(URL)
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "UNAUTHORIZED"
