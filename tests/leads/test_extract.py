"""The deterministic reader on what the labelled set measures only in bulk: numbers of another
country, corrections, "name is" phrasing; and the model's phone read as the parsers read it."""

from __future__ import annotations

import json

import pytest

from backend.leads.extract import deterministic, from_model


def read(region, *texts):
    return deterministic([{"role": "user", "content": t} for t in texts], region)


@pytest.mark.parametrize(
    ("region", "texts", "phone"),
    [
        # said next to the number, even where it is valid in the shop's country too
        ("US", ["my UK mobile is 07911 123456"], "+447911123456"),
        ("FR", ["Mon portable belge : 0470 12 34 56"], "+32470123456"),
        ("AE", ["رقمي السعودي 0501234567"], "+966501234567"),
        # a country code the visitor used elsewhere
        ("IN", ["the country code here is +44", "Mobile: 07911 123456"], "+447911123456"),
        # a country the visitor named, when the shop's country cannot read it
        ("IN", ["I live in Germany", "my number is 0151 23456789"], "+4915123456789"),
        # nothing tells whose it is: as written
        ("US", ["call me on 07911 123456 after 6pm"], "07911 123456"),
        # a country named in another clause is not the number's
        ("US", ["I was born in India, call (415) 555-2671"], "+14155552671"),
        # the shop's country still reads its own numbers
        ("IN", ["my number is 98765 43210"], "+919876543210"),
    ],
)
def test_a_number_is_read_in_the_country_the_conversation_gives(region, texts, phone):
    assert read(region, *texts).phone == phone


@pytest.mark.parametrize(
    "texts",
    [
        ["My order number is 40512345 please check"],
        ["Invoice no. 2024051234"],
        ["طلبي رقم 55501234 متأخر"],
        ["the price is 12345678 rupees"],
        ["9876543210@example.in"],
    ],
)
def test_numbers_that_are_not_phones_are_not_kept_as_written(texts):
    assert read("GB", *texts).phone is None


@pytest.mark.parametrize(
    ("region", "texts", "field", "value"),
    [
        ("IN", ["98765 43210", "Actually no, use 98401 23456 instead of 98765 43210."], "phone",
         "+919840123456"),
        ("IN", ["Send it to kiran.rao@example.in, not kiran@example.in"], "email",
         "kiran.rao@example.in"),
        ("ES", ["Perdón, mejor usa lucia.f@gmail.com en vez de lucia@gmail.com"], "email",
         "lucia.f@gmail.com"),
        ("DE", ["Doch lieber die 0151 23456798 statt 0151 23456789."], "phone", "+4915123456798"),
        ("IN", ["सही नंबर 98401 23456 है, 98765 43210 गलत था।"], "phone", "+919840123456"),
        ("SA", ["عفواً، استخدم 0501234568 بدلاً من 0501234567"], "phone", "+966501234568"),
        # without a correction, the last one given wins
        ("IN", ["98765 43210", "98401 23456"], "phone", "+919840123456"),
        # a value taken back and nothing else: none
        ("IN", ["98765 43210 is wrong"], "phone", None),
    ],
)  # fmt: skip
def test_the_correction_wins(region, texts, field, value):
    assert getattr(read(region, *texts), field) == value


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("name is priya raman, email priya.r@example.in", "priya raman"),
        ("The name's Tom Baker.", "Tom Baker"),
        ("El nombre es Andrés Gómez", "Andrés Gómez"),
        ("Mon nom c'est Hugo Lambert.", "Hugo Lambert"),
        ("Name ist Anna Schmidt", "Anna Schmidt"),
        ("Me chamo Bruno Lima", "Bruno Lima"),
        ("मेरा नाम है राकेश मेहता।", "राकेश मेहता"),
        ("Mera naam hai Pooja Singh", "Pooja Singh"),
        ("Rohit Kumar naam hai", "Rohit Kumar"),
        ("பெயர் அருண் குமார்.", "அருண் குமார்"),
        ("اسمي هو محمد علي", "محمد علي"),
        # not a person's name
        ("Our company name is Lumen Labs", None),
        ("my name is spelled wrong on the invoice", None),
        ("هل توصلون إلى الرياض؟", None),
    ],
)
def test_name_is(text, name):
    assert read("IN", text).name == name


def test_the_models_phone_is_read_where_the_visitor_wrote_it():
    messages = [{"role": "user", "content": "Mon portable belge : 0470 12 34 56"}]
    answer = {"name": None, "email": None, "company": None, "notes": None}
    # valid in France too, but the visitor said Belgian
    found = from_model(json.dumps({**answer, "phone": "0470 12 34 56"}), messages, "FR")
    assert found.phone == "+32470123456"
    # digits the visitor never wrote are dropped
    found = from_model(json.dumps({**answer, "phone": "0470 99 99 99"}), messages, "FR")
    assert found.phone is None
