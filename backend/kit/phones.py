"""Phone numbers in one form everywhere: E.164, parsed by `phonenumbers`."""

from __future__ import annotations

import re

import phonenumbers

# Regions `phonenumbers` knows that are not ISO 3166-1 countries (Ascension, Tristan da Cunha,
# Kosovo's user-assigned code).
_NOT_ISO = frozenset({"AC", "TA", "XK"})


def to_e164(text: str, region: str | None = None) -> str:
    """The number in E.164 (`+919876543210`); ValueError when it is not a possible number.
    Without a country code a number is ambiguous (a visitor may be anywhere): read in `region`
    when one is given (the workspace's country), refused otherwise."""
    message = (
        f"must be a phone number, with its country code (+…) unless it is in {region}"
        if region
        else "must be a phone number with its country code (+…)"
    )
    try:
        number = phonenumbers.parse(text.strip(), region)
    except phonenumbers.NumberParseException:
        raise ValueError(message) from None
    if not phonenumbers.is_possible_number(number):
        raise ValueError(message)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def valid_e164(text: str, region: str | None) -> str | None:
    """The number in E.164 when it is a valid one (read in `region` without a country code);
    None otherwise. Stricter than `to_e164`, for numbers read from what people wrote."""
    try:
        number = phonenumbers.parse(text.strip(), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def region_of(phone: str | None) -> str | None:
    """The country of an international number (`+44…` -> `GB`); None when it has none."""
    if not phone:
        return None
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return None
    # A number no region claims (not valid, or short) still says its country code's main one.
    region = phonenumbers.region_code_for_number(number) or (
        phonenumbers.region_code_for_country_code(number.country_code or 0)
    )
    return region if len(region) == 2 and region != "ZZ" else None


def country_code(text: str) -> str:
    """An ISO 3166-1 alpha-2 country with a telephone numbering plan, upper-cased (`gb` ->
    `GB`); ValueError otherwise (a country without one cannot read a phone number)."""
    code = text.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS or code in _NOT_ISO:
        raise ValueError("must be an ISO 3166-1 alpha-2 country code, like IN or GB")
    return code


def national_digits(e164: str | None) -> str | None:
    """The number without its country code (`+919876543210` -> `9876543210`), as shops'
    order systems often store it; None for no number."""
    if not e164:
        return None
    try:
        return str(phonenumbers.parse(e164, None).national_number)
    except phonenumbers.NumberParseException:
        return None


def digits(text: str) -> str | None:
    """The digits of a phone number as `calls.phone` and WhatsApp ids keep them (6 to 15, no
    `+`), or None."""
    found = re.sub(r"\D", "", text)
    return found if 6 <= len(found) <= 15 else None


def search_prefixes(search: str, region: str | None) -> list[str]:
    """The starts of stored numbers (international digits, no '+') a phone search may mean:
    its digits as typed (an international number, or its beginning: `+91 98765`), and, unless
    it starts with '+', the same read as a national number of `region` (`98765 43210`,
    `098765`): trunk prefix dropped, country code put in front. Empty: nothing to search."""
    typed = "".join(c for c in search if c.isdigit())
    if not typed:
        return []
    prefixes = [typed]
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region) if region else None
    if metadata is not None and not search.lstrip().startswith("+"):
        trunk = metadata.national_prefix
        national = typed.removeprefix(trunk) if trunk else typed
        if national:
            prefixes.append(f"{metadata.country_code}{national}")
    return list(dict.fromkeys(prefixes))
