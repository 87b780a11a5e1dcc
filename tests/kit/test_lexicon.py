"""The lexicons are data that people edit: each must load, say each thing once, and read the
ways its speakers ask about the common intents as one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.kit.lexicon import CONCEPT, language_code, lexicon, tokens

DATA = Path(__file__).resolve().parents[2] / "backend" / "kit" / "lexicon"
LANGUAGES = sorted(p.stem for p in DATA.glob("*.json"))
REPLIES = {"greeting", "examples", "thanks", "goodbye", "topics", "found", "sources"}


def test_every_language_has_its_data():
    assert set(LANGUAGES) >= {"en", "es", "fr", "de", "hi"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_lexicon_names_each_thing_once_and_replies_in_full(language):
    data = json.loads((DATA / f"{language}.json").read_text(encoding="utf-8"))
    assert set(data["replies"]) == REPLIES
    words = lexicon(language)
    seen: dict[tuple[str, ...], str] = {}
    for concept, phrases in data["concepts"].items():
        assert phrases, concept
        for phrase in phrases:
            key = tuple(words.stem(t) for t in tokens(phrase))
            # A phrase listed under two concepts would silently belong to the first.
            assert seen.setdefault(key, concept) == concept, (phrase, seen[key], concept)
    for concept in data.get("parents", {}):
        assert concept in data["concepts"]
    for kind, name in (("greeting", "greetings"), ("thanks", "thanks")):
        for phrase in data[name]:
            talk = words.small_talk(phrase)
            assert talk is not None and talk.kind == kind and not talk.rest, (language, phrase)


@pytest.mark.parametrize(
    ("language", "one", "other"),
    [
        ("en", "How long does shipping take?", "how many days for delivery"),
        ("en", "What time do you open?", "What are your opening hours?"),
        ("en", "can I get my money back", "refund"),
        ("es", "¿A qué hora abren?", "¿cuál es su horario?"),
        ("fr", "Quels sont vos horaires ?", "à quelle heure ouvrez-vous"),
        ("de", "Wie lange dauert der Versand?", "wie viele Tage Lieferung"),
        ("hi", "delivery kitne din mein aayegi", "how long does shipping take"),
    ],
)
def test_two_wordings_of_a_question_read_alike(language, one, other):
    words = lexicon(language)
    first, second = words.read(one).features, words.read(other).features
    assert first == second and all(f.startswith(CONCEPT) for f in first), (first, second)


def test_a_workspace_language_is_found_by_code_or_name():
    assert [language_code(x) for x in ("en-GB", "Spanish", "français", "hinglish", None)] == [
        "en",
        "es",
        "fr",
        "hi",
        "en",
    ]
    # A language without data of its own still reads, in English words with its own stems.
    assert lexicon("pt").read("Hello, shipping?").features == {"@shipping"}
