"""Phone numbers in one form everywhere: E.164, parsed by `phonenumbers`."""

from __future__ import annotations

import phonenumbers


def to_e164(text: str) -> str:
    """The number in E.164 (`+919876543210`); ValueError when it is not a possible number.
    Without a country code a number is ambiguous (a visitor may be anywhere): refused."""
    message = "must be a phone number with its country code (+…)"
    try:
        number = phonenumbers.parse(text.strip(), None)
    except phonenumbers.NumberParseException:
        raise ValueError(message) from None
    if not phonenumbers.is_possible_number(number):
        raise ValueError(message)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def national_digits(e164: str | None) -> str | None:
    """The number without its country code (`+919876543210` -> `9876543210`), as shops'
    order systems often store it; None for no number."""
    if not e164:
        return None
    try:
        return str(phonenumbers.parse(e164, None).national_number)
    except phonenumbers.NumberParseException:
        return None
