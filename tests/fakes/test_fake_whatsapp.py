"""Self-test of the Graph API fake: Meta's wire format (providers.md §4) over plain HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes import whatsapp as meta
from tests.fakes.whatsapp import ACCESS_TOKEN, BUSINESS_ACCOUNT_ID, PHONE_NUMBER_ID, FakeGraph

TEXT = {
    "messaging_product": "whatsapp",
    "recipient_type": "individual",
    "to": "919876543210",
    "type": "text",
    "text": {"body": "Hello"},
}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeGraph]:
    with FakeGraph() as fake:
        yield fake


@pytest.fixture
def fake(server: FakeGraph) -> FakeGraph:
    server.reset()
    server.add_number(PHONE_NUMBER_ID, ACCESS_TOKEN)
    return server


@pytest.fixture
def http(fake: FakeGraph) -> Iterator[httpx.Client]:
    headers = {"authorization": f"Bearer {ACCESS_TOKEN}"}
    with httpx.Client(base_url=f"{fake.url}/{meta.VERSION}", headers=headers) as c:
        yield c


def send(http: httpx.Client, body: Any, number: str = PHONE_NUMBER_ID, **kw: Any) -> httpx.Response:
    return http.post(f"/{number}/messages", json=body, **kw)


def test_a_send_answers_metas_shape_and_is_recorded(http: httpx.Client, fake: FakeGraph) -> None:
    before = time.monotonic()
    response = send(http, TEXT)

    assert response.status_code == 200
    answer = response.json()
    assert answer["messaging_product"] == "whatsapp"
    assert answer["contacts"] == [{"input": "919876543210", "wa_id": "919876543210"}]
    [message] = answer["messages"]
    assert message["id"].startswith("wamid.") and "message_status" not in message
    [record] = fake.sent
    assert record["number"] == PHONE_NUMBER_ID and record["token"] == ACCESS_TOKEN
    assert record["body"] == TEXT and record["wamid"] == message["id"]
    assert record["status"] == 200 and record["at"] >= before
    assert fake.accepted == [record] and fake.bodies("919876543210") == [TEXT]


def test_a_template_send_is_accepted(http: httpx.Client) -> None:
    body = {
        **TEXT,
        "to": "+919876543210",
        "type": "template",
        "template": {"name": "order_update", "language": {"code": "en_US"}},
    }
    del body["text"]
    answer = send(http, body).json()
    assert answer["messages"][0]["message_status"] == "accepted"
    assert answer["contacts"] == [{"input": "+919876543210", "wa_id": "919876543210"}]


def test_another_token_is_refused_with_190(http: httpx.Client, fake: FakeGraph) -> None:
    response = send(http, TEXT, headers={"authorization": "Bearer EAAG-other"})
    assert response.status_code == 401
    error = response.json()["error"]
    assert (error["code"], error["type"]) == (190, "OAuthException")
    assert fake.sent[0]["status"] == 401 and fake.sent[0]["code"] == 190
    assert fake.accepted == []


def test_a_second_token_for_a_number_works(http: httpx.Client, fake: FakeGraph) -> None:
    fake.add_number(PHONE_NUMBER_ID, "EAAG-marketing")
    response = send(http, TEXT, headers={"authorization": "Bearer EAAG-marketing"})
    assert response.status_code == 200


def test_an_unknown_number_is_an_unsupported_post(http: httpx.Client) -> None:
    response = send(http, TEXT, number="1111")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 100 and error["message"].startswith("Unsupported post request")


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"messaging_product": None}, "messaging_product"),
        ({"to": None}, "to"),
        ({"to": "12ab"}, "Invalid recipient"),
        ({"text": None}, "text"),
        ({"text": {"body": ""}}, "text['body']"),
        ({"type": "image", "image": {"link": "https://x/a.jpg", "id": "1"}}, "exactly one"),
        ({"type": "template", "template": {"name": "x"}}, "language"),
        ({"type": "interactive", "interactive": {"type": "button"}}, "action"),
    ],
)
def test_a_malformed_body_is_400_code_100(
    http: httpx.Client, change: dict[str, Any], said: str
) -> None:
    body = {k: v for k, v in {**TEXT, **change}.items() if v is not None}
    response = send(http, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 100
    assert said in error["message"] + error["error_data"]["details"]


def test_fail_next_answers_metas_error_body(http: httpx.Client, fake: FakeGraph) -> None:
    fake.fail_next(2, code=131047)
    fake.fail_next(code=130429, http_status=429, is_transient=True)
    first, second, third, fourth = (send(http, TEXT) for _ in range(4))

    assert first.status_code == second.status_code == 400
    error = first.json()["error"]
    assert error["code"] == 131047 and error["error_subcode"] == 2494010
    assert error["message"] == "(#131047) Re-engagement message"
    assert error["error_data"]["messaging_product"] == "whatsapp" and error["fbtrace_id"]
    assert third.status_code == 429 and third.json()["error"]["is_transient"] is True
    assert fourth.status_code == 200
    assert [s["status"] for s in fake.sent] == [400, 400, 429, 200]


def test_a_plain_5xx_has_no_graph_body(http: httpx.Client, fake: FakeGraph) -> None:
    fake.fail_next(status=502)
    response = send(http, TEXT)
    assert response.status_code == 502
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert send(http, TEXT).status_code == 200


def test_fail_number_fails_one_recipient_only(http: httpx.Client, fake: FakeGraph) -> None:
    fake.fail_number("+919800000001", 131026)
    bad = send(http, {**TEXT, "to": "919800000001"})
    good = send(http, TEXT)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == 131026
    assert good.status_code == 200
    assert [s["body"]["to"] for s in fake.accepted] == ["919876543210"]


def test_the_rate_cap_answers_130429_beyond_it(http: httpx.Client, fake: FakeGraph) -> None:
    fake.max_per_second = 5
    codes = [send(http, TEXT).status_code for _ in range(8)]
    assert codes.count(200) == 5 and codes[5:] == [400, 400, 400]
    assert fake.sent[-1]["code"] == 130429
    time.sleep(1.05)
    assert send(http, TEXT).status_code == 200


def test_delay_holds_the_answer(http: httpx.Client, fake: FakeGraph) -> None:
    fake.delay = 0.3
    started = time.monotonic()
    assert send(http, TEXT).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_the_phone_number_and_its_fields(http: httpx.Client, fake: FakeGraph) -> None:
    fake.add_number("2222", "EAAG-two", verified_name="Second", quality_rating="YELLOW")
    everything = http.get(f"/{PHONE_NUMBER_ID}").json()
    assert everything["verified_name"] == "CHICX" and everything["quality_rating"] == "GREEN"
    some = http.get(
        "/2222",
        params={"fields": "verified_name,quality_rating"},
        headers={"authorization": "Bearer EAAG-two"},
    ).json()
    assert some == {"verified_name": "Second", "quality_rating": "YELLOW", "id": "2222"}
    assert http.get("/2222").status_code == 401  # not this number's token
    assert http.get("/3333").json()["error"]["message"].startswith("Unsupported get request")


def test_templates_page_with_cursors_and_an_absolute_next(
    http: httpx.Client, fake: FakeGraph
) -> None:
    for i in range(5):
        fake.add_template(BUSINESS_ACCOUNT_ID, f"t{i}", components=[{"type": "BODY", "text": "x"}])
    first = http.get(f"/{BUSINESS_ACCOUNT_ID}/message_templates", params={"limit": 2}).json()
    assert [t["name"] for t in first["data"]] == ["t0", "t1"]
    assert first["data"][0]["components"] == [{"type": "BODY", "text": "x"}]
    assert set(first["paging"]["cursors"]) == {"before", "after"}
    assert first["paging"]["next"].startswith(fake.url + "/")

    names, following = ["t0", "t1"], first["paging"]["next"]
    while following:
        page = httpx.get(following, headers=http.headers).json()
        names += [t["name"] for t in page["data"]]
        following = page["paging"].get("next")
    assert names == [f"t{i}" for i in range(5)]

    only = http.get(
        f"/{BUSINESS_ACCOUNT_ID}/message_templates", params={"fields": "name,status"}
    ).json()
    assert only["data"][0] == {"name": "t0", "status": "APPROVED", "id": only["data"][0]["id"]}
    assert "next" not in only["paging"]


def test_templates_need_a_token_of_the_account(http: httpx.Client, fake: FakeGraph) -> None:
    fake.add_number("2222", "EAAG-other-account", business_account_id="999")
    response = http.get(
        f"/{BUSINESS_ACCOUNT_ID}/message_templates",
        headers={"authorization": "Bearer EAAG-other-account"},
    )
    assert response.status_code == 401


def test_webhook_builders_follow_metas_recorded_shapes() -> None:
    message = meta.text_message("919800000001", "Hi", wamid="wamid.x", timestamp="1697043223")
    body = meta.webhook_body([meta.message_change(messages=[message])])
    assert body["object"] == "whatsapp_business_account"
    value = body["entry"][0]["changes"][0]["value"]
    assert body["entry"][0]["changes"][0]["field"] == "messages"
    assert value["metadata"] == {
        "display_phone_number": meta.DISPLAY_PHONE_NUMBER,
        "phone_number_id": PHONE_NUMBER_ID,
    }
    assert value["contacts"] == [{"profile": {"name": meta.PROFILE_NAME}, "wa_id": meta.WA_ID}]
    assert value["messages"][0] == {
        "from": "919800000001",
        "id": "wamid.x",
        "timestamp": "1697043223",
        "type": "text",
        "text": {"body": "Hi"},
    }
    status = meta.status("wamid.x", "sent")
    assert isinstance(status["timestamp"], str)
    assert status["conversation"]["origin"] == {"type": "service"}
    assert "expiration_timestamp" in status["conversation"]
    raw = meta.encode(body)
    assert meta.sign(raw, "s").startswith("sha256=") and len(meta.sign(raw, "s")) == 71
