"""How visitors say things, per language: stemming, words that carry no meaning, greetings and
thanks, and the curated map of the ways people name what businesses' FAQs commonly cover
(shipping, opening hours, returns, payment…). The map is data (`<language>.json` beside this
file), so a language is added or corrected without touching code.

A text is *read* into features: the stems of its meaningful words, and `@concept` for every word
or phrase the map knows ("delivery", "ship", "courier" all read as `@shipping`), so two wordings
of one question share their features.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import Stemmer

_HERE = Path(__file__).resolve().parent
# Word characters, and the vowel signs of Indic scripts (which \w does not count as letters).
_TOKEN = re.compile(r"[\w\u0900-\u0DFF]+", re.UNICODE)
MAX_EXPANSION = 16  # words searched for one concept of a question
CONCEPT = "@"

# Languages with a data file of their own; any other reads with English data.
_DATA = {"en": "en", "es": "es", "fr": "fr", "de": "de", "hi": "hi"}
_ALIASES = {
    "english": "en",
    "spanish": "es",
    "espanol": "es",
    "french": "fr",
    "francais": "fr",
    "german": "de",
    "deutsch": "de",
    "hindi": "hi",
    "hinglish": "hi",
}
# The Snowball algorithm of each language a workspace may answer in, by ISO code. PostgreSQL's
# text search configurations carry the same names, so knowledge search reads this table too.
SNOWBALL = {
    "ar": "arabic",
    "da": "danish",
    "de": "german",
    "el": "greek",
    "en": "english",
    "es": "spanish",
    "fi": "finnish",
    "fr": "french",
    "hi": "hindi",
    "hu": "hungarian",
    "id": "indonesian",
    "it": "italian",
    "nl": "dutch",
    "no": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sv": "swedish",
    "ta": "tamil",
    "tr": "turkish",
}

SMALL_TALK = ("greeting", "thanks", "goodbye")


def fold(word: str) -> str:
    """Accents off Latin letters ("envío" and "envio" are one word to a visitor); other
    scripts as written."""
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFKD", word)
    if all(ord(c) < 0x250 or unicodedata.combining(c) for c in decomposed):
        return "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", word)


def tokens(text: str) -> list[str]:
    return [fold(t) for t in _TOKEN.findall(text.lower()) if t != "_"]


@dataclass(frozen=True, slots=True)
class Reading:
    """What a text says. `features` must match; `also` are the stems of the words inside the
    phrases it used (matchable, never required: "free shipping" reads as `@shipping_cost` and
    `@shipping`, and still holds "free"). `words` maps each feature to the visitor's words."""

    features: frozenset[str]
    also: frozenset[str]
    words: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SmallTalk:
    kind: str  # greeting, thanks, goodbye
    rest: str  # what the message says besides ("Hi, how long does shipping take?")


class Lexicon:
    def __init__(self, code: str, data: list[dict[str, Any]], stemmer: str) -> None:
        self.code = code
        self._stemmer = Stemmer.Stemmer(stemmer)
        first = data[0]
        self.replies: dict[str, str] = {**data[-1]["replies"], **first["replies"]}
        self.stopwords: frozenset[str] = frozenset(
            fold(w) for d in data for w in d.get("stopwords", [])
        )
        # Phrase (as stems) -> the concept it names; "" for small talk, read as nothing.
        self._phrases: dict[tuple[str, ...], str] = {}
        self.concept_words: dict[str, list[str]] = {}
        self._parents: dict[str, list[str]] = {}
        self._small_talk: dict[tuple[str, ...], str] = {}
        courtesy: set[tuple[str, ...]] = set()
        for d in data:
            self._parents.update(d.get("parents", {}))
            for concept, words in d.get("concepts", {}).items():
                listed = self.concept_words.setdefault(concept, [])
                for phrase in words:
                    key = self._key(phrase)
                    if key and key not in self._phrases:
                        self._phrases[key] = concept
                        listed.append(phrase)
            for kind, name in (("greeting", "greetings"), ("thanks", "thanks"), ("goodbye", "goodbyes")):  # fmt: skip
                for phrase in d.get(name, []):
                    key = tuple(tokens(phrase))
                    if key:
                        self._small_talk.setdefault(key, kind)
            courtesy.update(tuple(tokens(p)) for p in d.get("courtesy", []))
        self._courtesy = frozenset(courtesy)
        for key in self._small_talk:
            self._phrases.setdefault(tuple(self.stem(t) for t in key), "")
        # The longest phrase starting with each word: most words start none, and are read
        # without trying any.
        self._starts = _longest(self._phrases)
        self._talk_starts = _longest({**dict.fromkeys(self._courtesy, ""), **self._small_talk})

    def stem(self, token: str) -> str:
        return str(self._stemmer.stemWord(token))

    def stems(self, words: list[str]) -> list[str]:
        return list(self._stemmer.stemWords(words))

    def _key(self, phrase: str) -> tuple[str, ...]:
        return tuple(self.stem(t) for t in tokens(phrase))

    def read(self, text: str) -> Reading:
        words = tokens(text)
        stems: list[str] = self._stemmer.stemWords(words)
        features: dict[str, list[str]] = {}
        also: set[str] = set()
        i = 0
        while i < len(words):
            # Most words start no phrase of the map: no phrase is tried for them.
            size, concept = (
                self._phrase_at(words, stems, i) if stems[i] in self._starts else (1, None)
            )
            if concept is None:
                if words[i] not in self.stopwords and (len(words[i]) > 1 or words[i].isdigit()):
                    features.setdefault(stems[i], []).append(words[i])
                i += 1
                continue
            # A phrase is searched by its concept's words, not by its parts ("send" of "send
            # back" would find the delivery page).
            said = words[i : i + 1] if size == 1 else []
            if concept:
                features.setdefault(CONCEPT + concept, []).extend(said)
                # Cash on delivery is a payment, but a question about payment is not asking
                # about cash on delivery: matchable, not required.
                also.update(CONCEPT + parent for parent in self._parents.get(concept, []))
            if size > 1:
                also.update(stems[j] for j in range(i, i + size) if words[j] not in self.stopwords)
            i += size
        return Reading(frozenset(features), frozenset(also), features)

    def _phrase_at(self, words: list[str], stems: list[str], i: int) -> tuple[int, str | None]:
        """The longest phrase of the map at word `i` (its length in words and its concept); a
        verb and its particle also with up to two words that mean nothing between ("send *it*
        back", "call *it* off").
        A word that means nothing alone names no concept ("am" is a time only in "9 am")."""
        longest = min(self._starts.get(stems[i], 0), len(words) - i)
        for size in range(longest, 1, -1):
            concept = self._phrases.get(tuple(stems[i : i + size]))
            if concept is not None:
                return size, concept
        if longest:
            for end in range(i + 2, min(i + 4, len(words))):
                if words[end - 1] not in self.stopwords:
                    break
                if words[end] not in self.stopwords:
                    continue
                concept = self._phrases.get((stems[i], stems[end]))
                if concept is not None:
                    return end - i + 1, concept
        if words[i] in self.stopwords:
            return 1, None
        return 1, self._phrases.get((stems[i],))

    def small_talk(self, text: str, *, names: frozenset[str] = frozenset()) -> SmallTalk | None:
        """A greeting, a thank-you or a goodbye, and what the message says besides it."""
        words = tokens(text)
        kinds: list[str] = []
        rest: list[str] = []
        i = 0
        while i < len(words):
            longest = max(self._talk_starts.get(words[i], 0), 1)
            for size in range(min(longest, len(words) - i), 0, -1):
                key = tuple(words[i : i + size])
                if key in self._small_talk:
                    kinds.append(self._small_talk[key])
                    i += size
                    break
                if key in self._courtesy or (size == 1 and words[i] in names):
                    rest.append("")  # a courtesy: neither small talk nor a question
                    i += size
                    break
            else:
                rest.append(words[i])
                i += 1
        if not kinds:
            return None
        # Thanks over a greeting over a goodbye ("hi, thanks!" is a thank-you).
        kind = min(kinds, key=lambda k: ("thanks", "greeting", "goodbye").index(k))
        return SmallTalk(kind, " ".join(w for w in rest if w))

    def expansion(self, feature: str, said: list[str]) -> list[str]:
        """Words to search full text for, for one feature of a question: the visitor's own,
        and for a concept the single words that name it too (each safe in a tsquery)."""
        found = dict.fromkeys(w.replace("_", "") for w in said if w not in self.stopwords)
        if feature.startswith(CONCEPT):
            for phrase in self.concept_words.get(feature[1:], []):
                if len(found) >= MAX_EXPANSION:
                    break
                words = tokens(phrase)
                if len(words) == 1:
                    found.setdefault(words[0].replace("_", ""), None)
        return [w for w in found if w]


def _longest(phrases: dict[tuple[str, ...], str]) -> dict[str, int]:
    longest: dict[str, int] = {}
    for key in phrases:
        longest[key[0]] = max(longest.get(key[0], 0), len(key))
    return longest


def language_code(language: str | None) -> str:
    raw = fold((language or "en").strip().lower())
    if raw in _ALIASES:
        return _ALIASES[raw]
    if raw in {"hi-latn", "hi_latn"}:
        return "hi"
    return raw[:2] or "en"


@cache
def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((_HERE / f"{name}.json").read_text(encoding="utf-8"))
    return data


@cache
def lexicon(language: str | None) -> Lexicon:
    """The lexicon of a workspace's language: its own data first, then English (visitors mix
    them), stemmed with the language's Snowball stemmer."""
    code = language_code(language)
    if code in _DATA:
        own = _load(_DATA[code])
        data = [own] if code == "en" else [own, _load("en")]
        return Lexicon(code, data, own["stemmer"])
    return Lexicon(code, [_load("en")], SNOWBALL.get(code, "english"))
