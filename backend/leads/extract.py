"""Who a visitor is, read from what they wrote: name, e-mail, phone, company.

Two readers. The deterministic one (always) finds e-mail addresses (also spelled out: "priya dot
raman at gmail dot com") and phone numbers (`phonenumbers`) in the visitor's own messages, never
the bot's, skipping those said to be someone else's; and names and companies from the usual
phrasings in several languages. A number without a country code is read in the country named
next to it ("my UK mobile …"), else of a country code the visitor used elsewhere, else the
workspace's, else a country the visitor named; one valid in none of them but said to be a phone is
kept as written (a person can still call it). The last value given wins unless the visitor took
it back ("not X", "X is wrong"); a correction ("actually no, use Y") takes back what came before. The model (when the workspace has a key) reads the
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

from backend.kit.phones import national_digits, valid_e164
from backend.leads import countries

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
# Words before "name" that make it not a person's ("company name is", "his name is").
_NOT_SOMEONE = "".join(
    rf"(?<!{word} )"
    for word in ("company", "business", "shop", "store", "brand", "firm", "product", "user",
                 "file", "your", "his", "her", "their", "account", "domain", "street", "the")
)  # fmt: skip
_NAME_PHRASES = [
    re.compile(p, re.IGNORECASE | re.UNICODE)
    for p in (
        rf"\bmy name is\s+{_NAME}",
        rf"\bmy name's\s+{_NAME}",
        rf"\bthe name's\s+{_NAME}",
        # "name is …" without "my", unless it names something else ("our company name is …")
        rf"{_NOT_SOMEONE}\bname(?:'s|\s+is|\s+ist)\s+{_NAME}",
        rf"\b(?:el\s+)?nombre es\s+{_NAME}",
        rf"\bmon nom c'est\s+{_NAME}",
        rf"\bme chamo\s+{_NAME}",
        rf"\b(?:o\s+)?nome é\s+{_NAME}",
        rf"\b(?:name|nombre|nom|nome)\s*:\s*{_NAME}",
        rf"(?<!\S)பெயர்\s+{_NAME}",
        rf"(?<!\S)الاسم\s+{_NAME}",
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
# "is" between the phrase and the name ("मेरा नाम है राकेश", "mera naam hai Pooja", "اسمي هو").
_COPULAS = frozenset(["है", "hai", "h", "هو", "هي"])
# Phrases after which a name may be written in lower case ("name is priya raman"): said so
# plainly that what follows is a name, when it ends where the clause does.
_PLAIN = re.compile(
    r"^(?:my name is|my name's|name is|me llamo|mi nombre es|je m'appelle|ich heiße|"
    r"ich heisse|mein name ist|meu nome é|me chamo)\s",
    re.IGNORECASE,
)
_LOWER_NOT_NAMES = frozenset(
    ["spelled", "spelt", "written", "wrong", "right", "correct", "missing", "incorrect",
     "misspelled", "same", "different", "mentioned", "above", "below", "listed", "there",
     "not", "on", "in", "is", "com", "con", "avec", "mit"]
)  # fmt: skip
# The name as the subject of "naam hai" (Hinglish: "Rohit Kumar naam hai").
_NAME_BEFORE = re.compile(r"((?:[A-Z][\w'.-]*\s+){1,3})naam\s+(?:hai|h)\b(?:\s+mera)?", re.UNICODE)
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
    texts = visitor_text(messages)
    context = context_regions(texts)
    emails: list[Given] = []
    phones: list[Given] = []
    for text in texts:
        text_emails, text_phones = _emails(text), _phones(text, region, context)
        emails += text_emails
        phones += text_phones
        signed = (
            _signature(text, contact=bool(text_emails or text_phones))
            if text_emails or text_phones or len(text) < 60
            else (None, None)
        )
        name = _name(text) or signed[0]
        if name:
            found.name, found.sources["name"] = name, "parser"
        company = _company(text) or signed[1]
        if company:
            found.company, found.sources["company"] = company, "parser"
    found.email = settled(emails)
    found.phone = settled(phones)
    for key in ("email", "phone"):
        if getattr(found, key) is not None:
            found.sources[key] = "parser"
    return found


# -- corrections ------------------------------------------------------------------------------


@dataclass
class Given:
    """A value the visitor wrote, and what the words around it say of it."""

    value: str
    at: int = 0  # where it was written in its message
    raw: str = ""  # as written (phones: to match the model's reading)
    rejected: bool = False  # "not X", "instead of X", "X is wrong", "X is my old one"
    correction: bool = False  # "actually no, use X", "X instead": what came before is replaced


def settled(given: list[Given]) -> str | None:
    """What the visitor settled on: the last value they gave that they did not take back. A
    correction takes back every other value given before it, even if one is repeated later
    ("actually no, use Y instead of X")."""
    dropped = {g.value for g in given if g.rejected}
    for index, g in enumerate(given):
        if g.correction and not g.rejected:
            dropped |= {earlier.value for earlier in given[:index] if earlier.value != g.value}
    kept = [g.value for g in given if g.value not in dropped]
    return kept[-1] if kept else None


# Words just before a value that take it back, or say it corrects what came before; and words
# just after it, in the languages of the labelled set.
_ARTICLE = r"(?:\s+(?:the|my|that|this|el|la|le|du|de|del|al|o|a|do|da|die|der|den|dem))?"
_REJECT_BEFORE = re.compile(
    r"(?:\bnot|\binstead of|\brather than|\b(?:don't|do not|never) (?:use|call)|\bignore|"
    r"\ben vez de(?:l)?|\ben lugar de(?:l)?|\bno (?:uses|llames al?)|\bau lieu d[eu]|"
    r"\bpas (?:le|la|au)|\bplutôt que|\b(?:an)?statt|\bnicht|\bem vez d[eoa]|\bao invés d[eoa]|"
    r"\be não|(?<!\S)(?:بدلاً من|بدلا من|بدل|وليس|ليس|لا تستخدم))"
    rf"{_ARTICLE}\s*[:,]?\s*$",
    re.IGNORECASE | re.UNICODE,
)
_REJECT_AFTER = re.compile(
    r"^[\s,;:.…)\-\u2013\u2014]*(?:(?:(?:that|this|which)(?: one)?(?:'s| is| was)|is|was|'s|it's)\s+"
    r"(?:(?:my|an?|the|now)\s+)?(?:wrong|incorrect|old|outdated|a typo|typo|no longer|"
    r"not (?:mine|in use|working|valid|active)|disconnected)|(?:that|this)(?: one)?'s old|"
    r"(?:est[aá]|es|era|estaba)\s+(?:mal|incorrect[oa]|equivocad[oa]|viej[oa]|antigu[oa])|"
    r"ya no|(?:est|était|c'est)\s+(?:faux|erron[ée]e?|l'ancien(?:ne)?|ancien(?:ne)?|mauvais)|"
    r"n'est plus|ne marche plus|(?:ist|war)\s+(?:falsch|alt|veraltet|nicht mehr)|"
    r"(?:est[aá]|estava|é|era)\s+(?:errad[oa]|antig[oa]|velh[oa])|já não|"
    r"ग़लत|गलत|पुराना|की जगह|के बजाय|galat|purana|nahi\b|ki jagah|"
    r"தவறு|இல்லை|பழைய|க்கு பதிலாக|خطأ|غلط|قديم)",
    re.IGNORECASE | re.UNICODE,
)
_CORRECTION_BEFORE = re.compile(
    r"(?:\bactually|\buse|\bcorrection|\bcorrect (?:one|number|e-?mail) is|\bi mean|"
    r"\bright (?:one|number|e-?mail) is|\bmejor|\busa|\ben realidad|\bcorrijo|\ben fait|"
    r"\bplutôt|\butilisez|\bappelez|\blieber|\bbesser|\beigentlich|\bkorrektur|\baliás|"
    r"\bna verdade|\bligue para|\bsahi|"
    r"(?<!\S)(?:सही(?: नंबर| ईमेल)?|சரியான(?: எண்)?|استخدم|الصحيح|بل))"
    rf"(?:\s+\w+){{0,2}}?{_ARTICLE}\s*[:,]?\s*$",
    re.IGNORECASE | re.UNICODE,
)
_CORRECTION_AFTER = re.compile(
    r"^[\s,;:.)\-\u2013\u2014]*(?:instead|is (?:the )?(?:right|correct)(?: one)?|es (?:el )?(?:bueno|"
    r"correcto)|est le bon|ist (?:richtig|korrekt)|(?:está|é) (?:o )?(?:certo|correto)|"
    r"use karo|use kijiye|सही है|சரி|هو الصحيح)",
    re.IGNORECASE | re.UNICODE,
)


def _given(text: str, start: int, end: int, value: str) -> Given:
    """The value at text[start:end], with what the words next to it say of it."""
    # The words before it, back to the previous value or the start of its sentence.
    before = re.split(r"[.!?\n]\s|[\d@]", text[max(0, start - 40) : start])[-1]
    after = re.split(r"[\d@]", text[end : end + 40])[0]
    return Given(
        value=value,
        at=start,
        raw=text[start:end],
        rejected=bool(_REJECT_BEFORE.search(before) or _REJECT_AFTER.search(after)),
        correction=bool(_CORRECTION_BEFORE.search(before) or _CORRECTION_AFTER.search(after)),
    )


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


def _signature(text: str, *, contact: bool) -> tuple[str | None, str | None]:
    """A sign-off such as "Meera Nair, meera@x.example, Lumen Labs": a first part of two to
    four capitalised words (or words of a script without case, when the message also gives
    contact data: a short question in them looks the same) is a name; a later capitalised part
    that is not contact data is the company."""
    parts = [p for p in _SEGMENT.split(text) if p]
    name = company = None
    for index, part in enumerate(parts):
        words = part.split()
        if any(c.isdigit() for c in part) or "@" in part or "?" in part or "؟" in part:
            continue
        cased = [w for w in words if w[:1].isupper()]
        looks = [w for w in words if w[:1].isupper() or not w[:1].isascii()]
        if not contact and not cased:
            continue
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


def _emails(text: str) -> list[Given]:
    found: list[tuple[int, int, str]] = []
    for match in _EMAIL.finditer(text):
        found.append((match.start(), match.end(), match.group()))
    for match in _SPELLED.finditer(text):
        if "@" in match.group():
            continue
        joined = _SPELLED_DOT.sub(".", _SPELLED_AT.sub("@", match.group()))
        found.append((match.start(), match.end(), re.sub(r"\s+", "", joined)))
    emails = []
    for start, end, raw in sorted(found):
        if _someone_elses(text, start):
            continue
        try:
            value = validate_email(raw.strip("."), check_deliverability=False).normalized.lower()
        except EmailNotValidError:
            continue
        emails.append(_given(text, start, end, value))
    return emails


# -- phones -----------------------------------------------------------------------------------

# Words that say a number is a phone, and words that say it is not (an order, a parcel).
_PHONE_WORDS = re.compile(
    r"\b(?:phone|mobile|cell|cellphone|tel|telephone|whatsapp|call|text|reach|ring|contact|"
    r"teléfono|telefono|móvil|movil|celular|cel|llama|llámame|téléphone|portable|tél|appelez|"
    r"joindre|telefon|handy|handynummer|mobil|anrufen|telefone|telemóvel|telemovel|contacto|"
    r"ligue|ligar|fone|karo)\b|"
    r"फ़ोन|फोन|मोबाइल|தொலைபேசி|மொபைல்|رقمي|جوال|جوالي|هاتف|هاتفي|واتساب",
    re.IGNORECASE | re.UNICODE,
)
# "Number" alone: a phone's ("my number is …") unless an order's ("order number …").
_NUMBER_WORDS = re.compile(
    r"\b(?:number|no\.|número|numero|numéro|nummer)\b|नंबर|नम्बर|எண்|رقم",
    re.IGNORECASE | re.UNICODE,
)
_NOT_PHONE_WORDS = re.compile(
    r"\b(?:order|ord|awb|tracking|track|invoice|sku|ref|reference|pedido|factura|commande|"
    r"facture|bestellung|rechnung|encomenda|fatura|pin|pincode|zip)\b|"
    r"ऑर्डर|ஆர்டர்|طلبي|طلب|#|n°",
    re.IGNORECASE | re.UNICODE,
)
# A run of digits with the separators people put in phone numbers.
_DIGIT_RUN = re.compile(r"(?<![\w@.+])(?:\+|00)?\(?\d[\d\s().\-/]{5,20}\d(?![\w@])", re.UNICODE)
_INTERNATIONAL = re.compile(r"(?<![\w+])(?:\+|00)\s?(\d{1,3})\b")


@dataclass
class Context:
    """The countries the visitor's messages point to, latest first: the country codes they
    used (a "+44" number, or "+44" alone), and the countries they named ("I live in Germany")."""

    codes: list[str] = field(default_factory=list)
    named: list[str] = field(default_factory=list)


def context_regions(texts: list[str]) -> Context:
    codes: list[tuple[int, int, str]] = []
    named: list[tuple[int, int, str]] = []
    for index, text in enumerate(texts):
        for match in _INTERNATIONAL.finditer(text):
            digits = match.group(1)
            for length in (1, 2, 3):  # "+447911…" written without spaces: the code's digits
                region = phonenumbers.region_code_for_country_code(int(digits[:length]))
                if region != "ZZ":
                    codes.append((index, match.start(), region))
                    break
        named += [
            (index, start, region) for start, region in countries.mentioned(text, languages=False)
        ]

    def latest_first(seen: list[tuple[int, int, str]]) -> list[str]:
        return list(dict.fromkeys(region for _, _, region in sorted(seen, reverse=True)))

    return Context(latest_first(codes), latest_first(named))


def _cue(text: str, start: int, end: int) -> str | None:
    """The country named next to the number ("my UK mobile 07911…", "079 123 45 67 (Swiss)")."""
    # In the same clause: "I was born in India, call (415) 555-2671" names no number's country.
    before = re.split(r"[.!?\n]\s|[,;]|\d", text[max(0, start - 40) : start])[-1]
    named = countries.mentioned(before)
    if named:
        return named[-1][1]
    after = re.split(r"[.!?,;\n]|\d", text[end : end + 20])[0]
    named = countries.mentioned(after)
    return named[0][1] if named else None


def resolve(raw: str, region: str | None, context: Context, cue: str | None = None) -> str | None:
    """A number in E.164: its own country code; else the country named next to it; else the
    country of a code the visitor used elsewhere; else the workspace's country; else a country
    the visitor named. None: valid in none of them."""
    if raw.lstrip().startswith(("+", "00")):
        return valid_e164(raw, None) or valid_e164("+" + raw.lstrip()[2:], None)
    for candidate in dict.fromkeys([cue, *context.codes, region, *context.named]):
        if candidate is not None and (value := valid_e164(raw, candidate)):
            return value
    return None


def _valid_somewhere(raw: str) -> bool:
    return any(valid_e164(raw, r) for r in phonenumbers.SUPPORTED_REGIONS)


def _not_a_phone(text: str, start: int, end: int) -> bool:
    """An order id, a parcel, an e-mail's local part: said so by the words just before it."""
    if text[end : end + 1] == "@":
        return True
    before = re.split(r"[.!?\n]\s|\d", text[max(0, start - 30) : start])[-1]
    said = list(_NOT_PHONE_WORDS.finditer(before))
    return bool(said) and not _PHONE_WORDS.search(before[said[-1].end() :])


def _phones(text: str, region: str | None, context: Context) -> list[Given]:
    """The visitor's numbers in `text`: found by `phonenumbers` in the workspace's country or a
    country the conversation points to, read as `resolve` says; a number said to be a phone
    that no country of the conversation makes valid is kept as written."""
    matched: list[tuple[int, int, str]] = []
    for reading in dict.fromkeys([region or "ZZ", *context.codes, *context.named]):
        for match in phonenumbers.PhoneNumberMatcher(
            text, reading, leniency=phonenumbers.Leniency.VALID
        ):
            matched.append((match.start, match.end, match.raw_string))
    # One number read in two countries may be matched over different spans ("(11) 91234-5678"
    # and "91234-5678"): the longest stands.
    spans: list[tuple[int, int, str]] = []
    for start, end, raw in sorted(matched, key=lambda m: (m[0], -m[1])):
        if not any(s <= start and end <= e for s, e, _ in spans):
            spans.append((start, end, raw))
    phones = []
    for start, end, raw in spans:
        if _someone_elses(text, start) or _not_a_phone(text, start, end):
            continue
        value = resolve(raw, region, context, _cue(text, start, end))
        if value:
            phones.append(_given(text, start, end, value))
    if not phones:  # digits spaced one by one ("9 8 7 6 5 4 3 2 1 0")
        for spaced in re.finditer(r"\+?\d(?:[ -]\d){7,14}", text):
            if _someone_elses(text, spaced.start()):
                continue
            joined = re.sub(r"[ -]", "", spaced.group())
            phones += [
                _given(text, spaced.start(), spaced.end(), p.value)
                for p in _phones(joined, region, context)
            ]
    taken = [(start, end) for start, end, _ in spans]
    for run in _DIGIT_RUN.finditer(text):
        start, end = run.span()
        digits = re.sub(r"\D", "", run.group())
        if any(s < end and start < e for s, e in taken) or not 8 <= len(digits) <= 15:
            continue
        if any(p.raw and p.raw in run.group() for p in phones):
            continue
        before = re.split(r"[.!?\n]\s|\d", text[max(0, start - 30) : start])[-1]
        cue = _cue(text, start, end)
        said = _PHONE_WORDS.search(before) or _NUMBER_WORDS.search(before)
        if not (said or cue) or _not_a_phone(text, start, end):
            continue
        if _someone_elses(text, start):
            continue
        raw = run.group().strip(" .-/")
        value = resolve(raw, region, context, cue)
        if value is None and _valid_somewhere(raw):
            value = raw  # whose it is cannot be told: as written, for a person to read
        if value is not None:
            phones.append(_given(text, start, end, value))
    return sorted(phones, key=lambda p: p.at)


def _name(text: str) -> str | None:
    best: tuple[int, str] | None = None
    for phrase in _NAME_PHRASES:
        for match in phrase.finditer(text):
            if _someone_elses(text, match.start()):
                continue
            words = match.group(1).split()
            while words and words[0].lower() in _COPULAS:
                words = words[1:]
            kept = _name_words(words) or _plain_name(match, words)
            if kept and (best is None or match.start() >= best[0]):
                best = (match.start(), " ".join(kept))
    for match in _NAME_BEFORE.finditer(text):
        if best is None or match.start() >= best[0]:
            best = (match.start(), match.group(1).strip())
    return best[1] if best else None


def _name_words(words: list[str]) -> list[str]:
    """The leading words that look like a name (capitalised, or a script without case),
    stopping at the first ordinary word."""
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
    return kept


def _plain_name(match: re.Match[str], words: list[str]) -> list[str]:
    """A name in lower case after a phrase that plainly introduces one, when it is one to three
    words ending the clause ("name is priya raman, email …")."""
    if not _PLAIN.match(match.group(0)):
        return []
    rest = match.string[match.start(1) :]
    clause = re.split(r"[,;.!?\n]|\s(?:and|y|et|und|e|aur)\s", rest)[0].split()
    if not 1 <= len(clause) <= 3 or clause != words[: len(clause)]:
        return []
    if any(w.lower() in _LOWER_NOT_NAMES or w.lower() in _NOT_NAMES for w in clause):
        return []
    return clause


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
        found.phone = _model_phone(phone, messages, region, digits)
        if found.phone:
            found.sources["phone"] = "model"
    for key in ("name", "company"):
        value = text_of(key)
        if value and value.casefold() in folded:
            setattr(found, key, value)
            found.sources[key] = "model"
    found.notes = text_of("notes")
    return found


def _model_phone(
    phone: str, messages: list[dict[str, Any]], region: str | None, written: str
) -> str | None:
    """The model's phone as the parsers read the same digits where the visitor wrote them (the
    country named next to them counts); else read as they would be; None when the visitor did not
    write those digits."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 7:
        return None
    texts = visitor_text(messages)
    context = context_regions(texts)
    for text in texts:
        for given in _phones(text, region, context):
            if re.sub(r"\D", "", given.raw) == digits:
                return given.value
    value = resolve(phone, region, context)
    if value is None:
        return None
    national = national_digits(value)
    return value if national and national in written else None


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
