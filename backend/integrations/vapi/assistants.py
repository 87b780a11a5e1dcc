"""VAPI's assistants and phone numbers (providers.md §2), read into our `voice_assistants`
columns."""

from __future__ import annotations

from typing import Any


def numbers_by_assistant(numbers: list[dict[str, Any]]) -> dict[str, str]:
    """Each assistant's phone number: the first listed that is assigned to it."""
    number_of: dict[str, str] = {}
    for number in numbers:
        if number.get("assistantId") and number.get("number"):
            number_of.setdefault(str(number["assistantId"]), str(number["number"]))
    return number_of


def local_fields(assistant: dict[str, Any], phone_number: str | None) -> dict[str, Any]:
    def obj(value: Any) -> dict[str, Any]:
        return value if isinstance(value, dict) else {}

    first = assistant.get("firstMessage")
    return {
        "vapi_id": str(assistant["id"]),
        "name": str(assistant.get("name") or ""),
        "first_message": first if isinstance(first, str) else None,
        "voice": obj(assistant.get("voice")),
        "model": obj(assistant.get("model")),
        "phone_number": phone_number,
        "raw": assistant,
    }
