"""Who a visitor is, read from what they wrote: name, e-mail, phone, company.

Two readers. The deterministic one (always) finds e-mail addresses (also spelled out: "priya dot
raman at gmail dot com") and phone numbers (`phonenumbers`, in the shop's country when a number
has no country code) in the visitor's own messages, never the bot's, skipping those said to be
someone else's, the last one given winning (people correct themselves); and names and companies
from the usual phrasings in several languages. The model (when the workspace has a key) reads the
conversation with a structured-output schema; a value it returns that the visitor did not write is
dropped, so the model cannot invent contact data.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email

FIELDS = ("name", "email", "phone", "company")

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# "at" and "dot" as people spell them out, in the languages of the labelled set.
_AT_WORDS = r"at|arroba|chez|ät"
_DOT_WORDS = r"dot|punto|punkt|point|ponto"
_AT = rf"(?:\[(?:{_AT_WORDS})\]|\((?:{_AT_WORDS})\)|\{{(?:{_AT_WORDS})\}}|\s+(?:{_AT_WORDS})\s+)"
_DOT = (
    rf"(?:\[(?:{_DOT_WORDS})\]|\((?:{_DOT_WORDS})\)|\{{(?:{_DOT_WORDS})\}}|\s+(?:{_DOT_WORDS})\s+)"
)
_SPELLED_AT = re.compile(rf"\s*{_AT}\s*", re.IGNORECASE)
_SPELLED_DOT = re.compile(rf"\s*{_DOT}\s*", re.IGNORECASE)
_SPELLED = re.compile(
    rf"[\w.+-]+(?:\s*{_DOT}\s*[\w+-]+)*\s*{_AT}\s*[\w-]+(?:\s*(?:{_DOT}|\.)\s*[a-z]{{2,}})+",
    re.IGNORECASE | re.UNICODE,
)
# Words before a detail that make it someone else's.
_THIRD_PARTY = re.compile(
    r"\b(?:my\s+(?:manager|boss|wife|husband|son|daughter|friend|colleague|brother|sister|"
    r"mother|father|mom|dad|partner|assistant|secretary)|his|her|their|"
    r"mi\s+(?:jefe|esposa|esposo|amigo|hermano|hermana)|"
    r"mon\s+(?:patron|mari|ami|frère|chef)|ma\s+(?:femme|sœur|soeur|mère)|"
    r"mein(?:e|em)?\s+(?:chef|frau|mann|freund|bruder|schwester|kollege)|"
    r"meu\s+(?:chefe|marido|irmão|amigo)|minha\s+(?:esposa|irmã|mãe))\b"
    r"[^.!?\n]{0,40}$",
    re.IGNORECASE | re.UNICODE,
)
# A word of a name: letters with their combining marks (Indic vowel signs are not \\w), initials.
_NAME_WORD = r"[^\W\d_][^\s\d,;:!?()\"،]*"
_NAME = rf"({_NAME_WORD}(?:\s+{_NAME_WORD}){{0,3}})"
_NAME_PHRASES = [
    re.compile(p, re.IGNORECASE | re.UNICODE)
    for p in (
        rf"\bmy name is\s+{_NAME}",
        rf"\bmy name's\s+{_NAME}",
        rf"\bi am\s+{_NAME}",
        rf"\bi'm\s+{_NAME}",
        rf"\bthis is\s+{_NAME}",
        rf"\bcall me\s+{_NAME}",
        rf"\bi mean\s+{_NAME}",
        rf"\bme llamo\s+{_NAME}",
        rf"\bmi nombre es\s+{_NAME}",
        rf"\bsoy\s+{_NAME}",
        rf"\bje m'appelle\s+{_NAME}",
        rf"\bmon nom est\s+{_NAME}",
        rf"\bje suis\s+{_NAME}",
        rf"\bich heiße\s+{_NAME}",
        rf"\bich heisse\s+{_NAME}",
        rf"\bmein name ist\s+{_NAME}",
        rf"\bich bin\s+{_NAME}",
        rf"\bmeu nome é\s+{_NAME}",
        rf"\bmeu nome e\s+{_NAME}",
        rf"\bsou (?:o|a)\s+{_NAME}",
        rf"\bmera naam\s+{_NAME}\s+(?:hai|h)\b",
        rf"\bnaam\s+{_NAME}",
        rf"\bname:\s*{_NAME}",
        rf"मेरा नाम\s+{_NAME}",
        rf"اسمي\s+{_NAME}",
        rf"என் பெயர்\s+{_NAME}",
        rf"என் பேர்\s+{_NAME}",
        rf"நான்\s+{_NAME}",
        rf"मैं\s+{_NAME}",
        rf"أنا\s+{_NAME}",
    )
]
_COMPANY_PHRASES = [
    re.compile(p, re.UNICODE)
    for p in (
        r"\b(?:[Ii] work (?:at|for)|[Ww]orking (?:at|for)|[Ff]rom|[Aa]t|[Oo]n behalf of|"
        r"[Oo]ur company(?: is|,)?|[Mm]y company(?: is|,)?|[Cc]ompany name is|[Ii] run|"
        r"[Ww]e're|[Ww]e are|[Vv]on|de la société|de l'entreprise|de la empresa|da empresa|"
        r"[Tt]rabajo en|[Tt]ravaille (?:chez|pour)|[Aa]rbeite (?:bei|für)|[Tt]rabalho (?:na|no|em))"
        r"\s+((?:[A-Z][\w&.'-]*)(?:\s+(?:[A-Z][\w&.'-]*|&|and|of))*)",
        # Hinglish "Main <company> se <name> bol raha hoon", Arabic "من شركة <company>"
        r"\b[Mm]ain\s+((?:[A-Z][\w&.'-]*)(?:\s+[A-Z][\w&.'-]*)*)\s+se\b",
        r"من شركة\s+([^\s،,.]+(?:\s+[^\s،,.]+){0,3})",
    )
]
# Words that start a capitalised phrase without naming anyone.
_NOT_NAMES = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "not",
        "here",
        "there",
        "interested",
        "looking",
        "trying",
        "calling",
        "writing",
        "asking",
        "sorry",
        "fine",
        "good",
        "ok",
        "okay",
        "happy",
        "glad",
        "sure",
        "just",
        "also",
        "still",
        "from",
        "at",
        "in",
        "on",
        "with",
        "planning",
        "going",
        "unable",
        "able",
        "new",
        "back",
        "available",
        "waiting",
    ]
)
# Words after a name in scripts without case ("… शर्मा है": "is").
_NOT_NAMES_SCRIPTS = frozenset(["है", "हूँ", "हूं", "हैं", "से", "बोल", "ஆகும்", "هو", "من"])
_INITIAL = re.compile(r"[^\W\d_]{1,2}\.", re.UNICODE)
_COMPANY_SUFFIX_NOISE = re.compile(r"\s+(?:and|of|&)$", re.IGNORECASE)


@dataclass
class Found:
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    company: str | None = None
    notes: str | None = None
    sources: dict[str, str] = field(default_factory=dict)  # field -> "parser", "model", "form"

    def values(self) -> dict[str, str | None]:
        return {f: getattr(self, f) for f in FIELDS}

    def any_contact(self) -> bool:
        return bool(self.email or self.phone)


def visitor_text(messages: list[dict[str, Any]]) -> list[str]:
    return [m["content"] for m in messages if m["role"] == "user"]


def deterministic(messages: list[dict[str, Any]], region: str | None) -> Found:
    found = Found()
    for text in visitor_text(messages):
        emails, phones = _emails(text), _phones(text, region)
        for value in emails:
            found.email, found.sources["email"] = value, "parser"
        for value in phones:
            found.phone, found.sources["phone"] = value, "parser"
        signed = _signature(text) if emails or phones or len(text) < 60 else (None, None)
        name = _name(text) or signed[0]
        if name:
            found.name, found.sources["name"] = name, "parser"
        company = _company(text) or signed[1]
        if company:
            found.company, found.sources["company"] = company, "parser"
    return found


# The parts of a sign-off: commas, sentence ends, a hyphen, en dash or em dash between spaces.
_SEGMENT = re.compile(r"\s*(?:[,;\n]|\.(?:\s|$)|\s[-\u2013\u2014]\s)\s*")
_GREETINGS = frozenset(
    ["hi", "hello", "hey", "thanks", "thank", "dear", "bonjour", "hola", "oi", "olá", "ola",
     "guten", "hallo", "namaste", "yes", "no", "ok", "okay", "sure", "please", "sorry", "also"]
)  # fmt: skip
_ORG_WORDS = re.compile(
    r"\b(?:ltd|llc|inc|gmbh|ag|sa|sarl|pvt|co|corp|labs|studio|traders|architects|tutors|"
    r"analytics|cafe|café|stores?|enterprises|solutions)\b\.?$",
    re.IGNORECASE,
)


def _signature(text: str) -> tuple[str | None, str | None]:
    """A sign-off such as "Meera Nair, meera@x.example, Lumen Labs": a first part of two to
    four capitalised words (or words of a script without case) is a name; a later capitalised
    part that is not contact data is the company."""
    parts = [p for p in _SEGMENT.split(text) if p]
    name = company = None
    for index, part in enumerate(parts):
        words = part.split()
        if any(c.isdigit() for c in part) or "@" in part:
            continue
        looks = [w for w in words if w[:1].isupper() or not w[:1].isascii()]
        if (
            name is None
            and 2 <= len(words) <= 4
            and len(looks) == len(words)
            and words[0].lower().strip("!") not in _GREETINGS
        ):
            name = part.strip()
            continue
        if (
            name is not None
            and index > 0
            and 1 <= len(words) <= 5
            and words[0][:1].isupper()
            and (len(looks) >= len(words) - 1 or _ORG_WORDS.search(part))
        ):
            company = part.strip()
            break
    if name is not None:
        # "Priya Raman btw": the name ends where ordinary words start.
        kept = []
        for word in name.split():
            if word[:1].isascii() and word[:1].islower():
                break
            kept.append(word)
        name = " ".join(kept) if len(kept) >= 1 else None
    return name, company


def _someone_elses(text: str, start: int) -> bool:
    clause = re.split(r"[.!?\n]", text[max(0, start - 80) : start])[-1]
    return bool(_THIRD_PARTY.search(clause))


def _emails(text: str) -> list[str]:
    found: list[tuple[int, str]] = []
    for match in _EMAIL.finditer(text):
        found.append((match.start(), match.group()))
    for match in _SPELLED.finditer(text):
        if "@" in match.group():
            continue
        joined = _SPELLED_DOT.sub(".", _SPELLED_AT.sub("@", match.group()))
        found.append((match.start(), re.sub(r"\s+", "", joined)))
    emails = []
    for start, raw in sorted(found):
        if _someone_elses(text, start):
            continue
        try:
            emails.append(
                validate_email(raw.strip("."), check_deliverability=False).normalized.lower()
            )
        except EmailNotValidError:
            continue
    return emails


def _phones(text: str, region: str | None) -> list[str]:
    phones = []
    for match in phonenumbers.PhoneNumberMatcher(
        text, region or "ZZ", leniency=phonenumbers.Leniency.VALID
    ):
        if _someone_elses(text, match.start):
            continue
        phones.append(phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164))
    if not phones:  # digits spaced one by one ("9 8 7 6 5 4 3 2 1 0")
        for spaced in re.finditer(r"\+?\d(?:[ -]\d){7,14}", text):
            if _someone_elses(text, spaced.start()):
                continue
            phones += _phones(re.sub(r"[ -]", "", spaced.group()), region)
    return phones


def _name(text: str) -> str | None:
    best: tuple[int, str] | None = None
    for phrase in _NAME_PHRASES:
        for match in phrase.finditer(text):
            if _someone_elses(text, match.start()):
                continue
            words = match.group(1).split()
            # Keep the leading words that look like a name (capitalised, or a script without
            # case), stopping at the first ordinary word.
            kept: list[str] = []
            for word in words:
                if _INITIAL.fullmatch(word):  # "R. Krishnan"
                    kept.append(word)
                    continue
                bare = word.strip(".,;:!?।")
                if (
                    bare.lower() in _NOT_NAMES
                    or bare in _NOT_NAMES_SCRIPTS
                    or (bare[:1].islower() and bare[:1].isascii())
                ):
                    break
                kept.append(bare)
                if bare != word:  # punctuation ends the name
                    break
            if kept and (best is None or match.start() >= best[0]):
                best = (match.start(), " ".join(kept))
    return best[1] if best else None


def _company(text: str) -> str | None:
    for phrase in _COMPANY_PHRASES:
        for match in phrase.finditer(text):
            # The phrase ends with its sentence ("… Raman Silks. Email me …").
            phrase_text = re.split(r"[.,;:!?](?:\s|$)", match.group(1))[0]
            company = _COMPANY_SUFFIX_NOISE.sub("", phrase_text.strip(".,;:!? "))
            if company and company.split()[0].lower() not in _NOT_NAMES and len(company) > 1:
                return company
    return None


# -- the model --------------------------------------------------------------------------------

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "email", "phone", "company", "notes"],
    "properties": {
        "name": {"type": ["string", "null"], "description": "the visitor's own full name"},
        "email": {"type": ["string", "null"], "description": "the visitor's own e-mail"},
        "phone": {"type": ["string", "null"], "description": "the visitor's own phone number"},
        "company": {"type": ["string", "null"], "description": "the visitor's company"},
        "notes": {"type": ["string", "null"], "description": "what they want, one sentence"},
    },
}
INSTRUCTIONS = (
    "You read a customer-service chat and return the visitor's OWN contact details as JSON. "
    "Use only what the visitor (role user) wrote; never the assistant's details, never someone "
    "else's the visitor mentions (a manager, a relative). When the visitor corrects a detail, "
    "return the corrected one. Unknown fields are null. Copy values exactly as written."
)


def model_request(messages: list[dict[str, Any]], model: str) -> dict[str, Any]:
    transcript = "\n".join(f"{m['role']}: {m['content']}" for m in messages)
    return {
        "model": model,
        "temperature": 0,
        "max_tokens": 300,
        "messages": [
            {"role": "system", "content": INSTRUCTIONS},
            {"role": "user", "content": transcript},
        ],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "lead", "strict": True, "schema": SCHEMA},
        },
    }


def from_model(content: str | None, messages: list[dict[str, Any]], region: str | None) -> Found:
    """The model's answer, keeping only values the visitor wrote."""
    try:
        data = json.loads(content or "")
    except json.JSONDecodeError:
        return Found()
    if not isinstance(data, dict):
        return Found()
    written = "\n".join(visitor_text(messages))
    folded = written.casefold()
    spelled = _SPELLED_DOT.sub(".", _SPELLED_AT.sub("@", written)).casefold()
    digits = re.sub(r"\D", "", written)
    found = Found()

    def text_of(key: str) -> str | None:
        value = data.get(key)
        return value.strip() if isinstance(value, str) and value.strip() else None

    email = text_of("email")
    if email and (email.casefold() in folded or email.casefold() in spelled):
        try:
            found.email = validate_email(email, check_deliverability=False).normalized.lower()
            found.sources["email"] = "model"
        except EmailNotValidError:
            pass
    phone = text_of("phone")
    if phone:
        parsed = _phones(phone, region)
        national = str(phonenumbers.parse(parsed[0]).national_number) if parsed else None
        if parsed and national and national in digits:
            found.phone, found.sources["phone"] = parsed[0], "model"
    for key in ("name", "company"):
        value = text_of(key)
        if value and value.casefold() in folded:
            setattr(found, key, value)
            found.sources[key] = "model"
    found.notes = text_of("notes")
    return found


def merge(*readings: Found) -> Found:
    """The first reading's value for each field that has one (callers order them by trust)."""
    merged = Found()
    for reading in readings:
        for key in FIELDS:
            if getattr(merged, key) is None and getattr(reading, key) is not None:
                setattr(merged, key, getattr(reading, key))
                merged.sources[key] = reading.sources.get(key, "")
        merged.notes = merged.notes or reading.notes
    return merged
