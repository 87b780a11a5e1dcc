"""The phone helpers every domain reads numbers with."""

from __future__ import annotations

import pytest

from backend.kit.phones import (
    country_code,
    digits,
    region_of,
    search_prefixes,
    to_e164,
    valid_e164,
)


def test_a_national_number_needs_a_region():
    with pytest.raises(ValueError, match="country code"):
        to_e164("020 7946 0958")
    assert to_e164("020 7946 0958", "GB") == "+442079460958"
    assert to_e164("+91 98765 43210", "GB") == "+919876543210"  # its own code wins
    with pytest.raises(ValueError, match="unless it is in GB"):
        to_e164("12", "GB")


def test_valid_e164_is_stricter_than_possible():
    assert valid_e164("07911 123456", "GB") == "+447911123456"
    assert valid_e164("07911 123456", "US") is None
    assert valid_e164("+1 234 567 890", None) is None  # possible, not valid


@pytest.mark.parametrize(
    ("phone", "region"),
    [
        ("+44 20 7946 0958", "GB"),
        ("+1 415 555 0100", "US"),
        ("+1234567890", "US"),  # not a valid number, but +1 is still North America's
        ("+800 1234 5678", None),  # a code of no country
        ("020 7946 0958", None),
        ("not a phone", None),
        (None, None),
    ],
)
def test_region_of(phone, region):
    assert region_of(phone) == region


def test_country_code():
    assert country_code(" gb ") == "GB"
    for bad in ("XX", "GBR", "AC", "XK", "", "United Kingdom"):
        with pytest.raises(ValueError):
            country_code(bad)


def test_digits_are_what_calls_and_whatsapp_ids_keep():
    assert digits("+91 98765-43210") == "919876543210"
    assert digits("12345") is None  # too short for a phone
    assert digits("1234567890123456") is None  # longer than E.164 allows


def test_search_prefixes_read_a_national_start_in_the_region():
    assert search_prefixes("098765 43", "IN") == ["09876543", "919876543"]
    assert search_prefixes("+44 20", "IN") == ["4420"]  # international: as typed
    assert search_prefixes("98765", None) == ["98765"]  # no region: as typed
    assert search_prefixes("Asha", "IN") == []
