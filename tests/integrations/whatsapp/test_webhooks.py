"""Reading what Meta posts: the signature, the envelope's changes, and every inbound type,
in the shapes Meta sends (the fake's builders follow pywa's recorded payloads)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

import pytest

from backend.integrations.whatsapp import webhooks
from backend.integrations.whatsapp.webhooks import (
    SIGNATURE_HEADER,
    changes,
    message_summary,
    message_text,
    signature_valid,
)
from tests.fakes import whatsapp as meta

SECRET = meta.APP_SECRET


def test_the_header_is_metas() -> None:
    assert SIGNATURE_HEADER == "X-Hub-Signature-256"


def test_a_body_signed_with_the_app_secret_is_valid() -> None:
    body = meta.encode(meta.webhook_body([meta.message_change(messages=[meta.text_message()])]))
    header = meta.sign(body, SECRET)
    assert header == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()

    assert signature_valid(body, header, SECRET)
    assert signature_valid(body, header.upper().replace("SHA256=", "sha256="), SECRET)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha256=" + "0" * 64,
        "sha1=" + "0" * 40,
        "SHA256={sig}",
        "{sig}",  # the hex without its prefix
        "sha256=ünïcode",
    ],
)
def test_a_missing_wrong_or_unprefixed_signature_is_invalid(header: str | None) -> None:
    body = b'{"object":"whatsapp_business_account","entry":[]}'
    good = meta.sign(body, SECRET).removeprefix("sha256=")
    presented = header.format(sig=good) if header else header
    assert not signature_valid(body, presented, SECRET)


def test_another_secret_or_another_body_is_invalid() -> None:
    body = b'{"object":"whatsapp_business_account","entry":[]}'
    header = meta.sign(body, SECRET)
    assert not signature_valid(body, header, "another-tenants-secret")
    assert not signature_valid(body + b" ", header, SECRET)
    assert not signature_valid(body, header, "")


def test_several_entries_and_changes_in_one_body() -> None:
    first = meta.text_message("919800000001", "Hi", wamid="wamid.one", timestamp="1765100000")
    second = meta.image_message("919800000002", caption="this one", wamid="wamid.two")
    delivered = meta.status("wamid.out", "delivered", "919800000003")
    payload = meta.webhook_body(
        entries=[
            meta.entry(
                [
                    meta.message_change("111", "15550000001", "919800000001", "Asha", [first]),
                    meta.status_change("111", [delivered]),
                ],
                waba_id="waba-1",
            ),
            meta.entry(
                [
                    {"field": "message_template_status_update", "value": {"event": "APPROVED"}},
                    meta.message_change("222", "15550000002", "919800000002", None, [second]),
                ],
                waba_id="waba-2",
            ),
        ]
    )

    found = changes(payload)

    assert [(c.phone_number_id, c.business_account_id) for c in found] == [
        ("111", "waba-1"),
        ("111", "waba-1"),
        ("222", "waba-2"),
    ]
    assert found[0].display_phone_number == "15550000001"
    assert found[0].contacts == {"919800000001": "Asha"}
    assert found[0].messages == [first] and found[0].statuses == [] and found[0].errors == []
    assert found[1].statuses == [delivered] and found[1].messages == []
    assert found[2].contacts == {"919800000002": None}
    assert found[2].messages[0]["id"] == "wamid.two"
    assert {c.field for c in found} == {"messages"}
    assert webhooks.moment(first) == datetime.fromtimestamp(1765100000, UTC)


def test_statuses_carry_errors_pricing_and_our_callback_data() -> None:
    failed = meta.status(
        "wamid.f",
        "failed",
        errors=[meta.error(131047)],
        biz_opaque_callback_data="outbox-7",
        timestamp="1765100100",
    )
    read = meta.status("wamid.r", "read", category="utility")
    [change] = changes(meta.webhook_body([meta.status_change(statuses=[read, failed])]))

    assert [s["status"] for s in change.statuses] == ["read", "failed"]
    assert change.statuses[0]["pricing"] == {
        "billable": True,
        "pricing_model": "CBP",
        "category": "utility",
    }
    error = change.statuses[1]["errors"][0]
    assert (error["code"], error["title"]) == (131047, "Re-engagement message")
    assert "24 hours" in error["error_data"]["details"]
    assert change.statuses[1]["biz_opaque_callback_data"] == "outbox-7"
    assert "pricing" not in change.statuses[1]
    assert webhooks.moment(change.statuses[1]) == datetime.fromtimestamp(1765100100, UTC)


def test_system_level_errors_arrive_in_value_errors() -> None:
    [change] = changes(meta.webhook_body([meta.errors_change(errors=[meta.error(130429)])]))
    assert change.messages == [] and change.statuses == []
    assert change.errors[0]["code"] == 130429
    assert change.errors[0]["title"] == "Rate limit hit"


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [],
        "text",
        {"entry": "x"},
        {"entry": [None, {"changes": "x"}, {"changes": [None, {"value": "x"}]}]},
        {"entry": [{"changes": [{"field": "messages", "value": {"metadata": {}}}]}]},
        {"entry": [{"changes": [{"field": "messages", "value": {"messages": "x"}}]}]},
    ],
)
def test_a_body_of_another_shape_has_no_changes(payload: Any) -> None:
    assert changes(payload) == []


def test_numbers_sent_as_numbers_are_read_as_ids() -> None:
    value = {"metadata": {"phone_number_id": 106540352242922, "display_phone_number": 1555}}
    value["contacts"] = [{"wa_id": 919876543210, "profile": {"name": "Asha"}}, "junk"]
    value["messages"] = [meta.text_message(), "junk"]
    [change] = changes({"entry": [{"changes": [{"field": "messages", "value": value}]}]})
    assert change.phone_number_id == "106540352242922"
    assert change.contacts == {"919876543210": "Asha"}
    assert len(change.messages) == 1


# -- every inbound type ---------------------------------------------------------------------

REPLY_CONTEXT = {"from": meta.DISPLAY_PHONE_NUMBER, "id": "wamid.template"}

CASES: list[tuple[str, dict[str, Any], str | None, str, dict[str, Any]]] = [
    # (name, message, message_text, summary content, details subset)
    ("text", meta.text_message(body="Where is my order?"), "Where is my order?",
     "Where is my order?", {}),
    ("image", meta.image_message(caption="this saree", media_id="65463453"), "this saree",
     "[image] this saree",
     {"media": {"id": "65463453", "mime_type": "image/jpeg", "caption": "this saree"}}),
    ("image without caption", meta.image_message(media_id="1"), None, "[image]",
     {"media": {"id": "1", "mime_type": "image/jpeg"}}),
    ("document", meta.document_message(filename="invoice.pdf", caption="wrong amount"),
     "wrong amount", "[document] invoice.pdf: wrong amount",
     {"media": {"filename": "invoice.pdf", "mime_type": "application/pdf"}}),
    ("audio", meta.audio_message(voice=False), None, "[audio]",
     {"media": {"mime_type": "audio/ogg; codecs=opus", "voice": False}}),
    ("voice", meta.audio_message(voice=True), None, "[voice message]", {"media": {"voice": True}}),
    ("video", meta.video_message(caption="unboxing"), "unboxing", "[video] unboxing",
     {"media": {"mime_type": "video/mp4"}}),
    ("sticker", meta.sticker_message(animated=True), None, "[sticker]",
     {"media": {"mime_type": "image/webp", "animated": True}}),
    ("button", meta.button_message(text="Track Order", payload="TRACK"), "Track Order",
     "Track Order", {"button": {"payload": "TRACK", "text": "Track Order"},
                     "context": REPLY_CONTEXT}),
    ("button_reply", meta.button_reply(reply_id="yes", title="Yes", context_id="wamid.q"), "Yes",
     "Yes", {"reply": {"type": "button_reply", "id": "yes", "title": "Yes"},
             "context": {"from": meta.PHONE_NUMBER_ID, "id": "wamid.q"}}),
    ("list_reply", meta.list_reply(reply_id="r2", title="Kurtas", description="Cotton"),
     "Kurtas", "Kurtas — Cotton",
     {"reply": {"type": "list_reply", "id": "r2", "title": "Kurtas", "description": "Cotton"}}),
    ("location", meta.location_message(latitude=19.0760, longitude=72.8777, name="Store",
                                       address="1 Main St"), None,
     "[location] Store, 1 Main St (19.076, 72.8777)",
     {"location": {"latitude": 19.0760, "longitude": 72.8777, "name": "Store"}}),
    ("bare location", meta.location_message(latitude=12.25089, longitude=43.90539), None,
     "[location] (12.25089, 43.90539)", {}),
    ("contacts", meta.contacts_message(), None, "[contacts] Chandler Bing (+1 555-555-5555)", {}),
    ("reaction", meta.reaction_message(message_id="wamid.ours", emoji="😮"), None,
     "[reaction] 😮", {"reaction": {"message_id": "wamid.ours", "emoji": "😮"}}),
    ("unreaction", meta.reaction_message(message_id="wamid.ours", emoji=""), None,
     "[reaction removed]", {"reaction": {"message_id": "wamid.ours", "emoji": None}}),
    ("order", meta.order_message(text="gift wrap"), None,
     "[order] 2 x SAREE-RED, 1 x KURTA-BLUE (total 3897 INR): gift wrap",
     {"order": {"catalog_id": "354160437058781"}}),
    ("system", meta.system_message(wa_id="919800000001", new_wa_id="919800000009"), None,
     "[system] User A changed from 919800000001 to 919800000009",
     {"system": {"type": "user_changed_number", "wa_id": "919800000009"}}),
    ("unsupported", meta.unsupported_message(), None,
     "[unsupported] Message type is currently not supported.",
     {"unsupported": {"type": "poll"}, "errors": [{"code": 131051}]}),
    ("a type added later", meta.inbound(meta.WA_ID, "request_welcome", None), None,
     "[request_welcome]", {}),
]  # fmt: skip


def _contains(whole: Any, part: Any) -> bool:
    """Whether `part`'s keys and values are all in `whole` (dicts and lists, recursively)."""
    if isinstance(part, dict):
        return isinstance(whole, dict) and all(
            k in whole and _contains(whole[k], v) for k, v in part.items()
        )
    if isinstance(part, list):
        return isinstance(whole, list) and all(any(_contains(w, p) for w in whole) for p in part)
    return bool(whole == part)


@pytest.mark.parametrize(("message", "text", "content", "details"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_every_inbound_type(
    message: dict[str, Any], text: str | None, content: str, details: dict[str, Any]
) -> None:
    # Through the envelope, as the webhook reads it.
    payload = meta.webhook_body([meta.message_change(messages=[message])])
    [change] = changes(payload)
    [read] = change.messages

    kind, summary, kept = message_summary(read)

    assert kind == message["type"]
    assert message_text(read) == text
    assert summary == content
    assert _contains(kept, details), kept


def test_contacts_keep_every_shared_card() -> None:
    cards = [
        {"name": {"first_name": "Monica", "formatted_name": "Monica"},
         "phones": [{"phone": "+1 666-666-6666", "type": "HOME"}]},
        {"name": {"first_name": "Rachel", "last_name": "Green"}, "phones": []},
    ]  # fmt: skip
    _, content, details = message_summary(meta.contacts_message(contacts=cards))
    assert content == "[contacts] Monica (+1 666-666-6666); Rachel Green"
    assert details["contacts"] == cards


def test_a_forwarded_message_and_an_ad_referral_are_kept() -> None:
    referral = {"source_url": "https://fb.me/ad", "source_type": "ad", "ctwa_clid": "CLID"}
    message = meta.text_message(
        body="I saw your ad", context={"forwarded": True}, referral=referral
    )
    _, content, details = message_summary(message)
    assert content == "I saw your ad"
    assert details == {"context": {"forwarded": True}, "referral": referral}


def test_a_message_of_a_broken_shape_still_reads() -> None:
    assert message_summary({}) == ("unsupported", "[unsupported]", {})
    assert message_summary({"type": "text", "text": "x"}) == ("text", "[text]", {})
    assert message_summary({"type": "interactive"}) == ("interactive", "[interactive]", {})
    assert message_text({"type": "interactive", "interactive": {"type": 3}}) is None
    assert message_text({"type": "text", "text": {"body": "   "}}) is None
    _, content, _ = message_summary({"type": "order", "order": {"product_items": "x"}})
    assert content == "[order] no items"
