"""Words that say which country a phone number is from ("my UK mobile", "mi móvil inglés",
"meine Schweizer Nummer", "رقمي السعودي"), in the languages lead extraction reads: country
names and adjectives, by ISO 3166-1 alpha-2 code. A number written in another country's national
format can only be read with its country, and people say it in these words."""

from __future__ import annotations

import re

_WORDS: dict[str, str] = {
    "GB": r"uk|u\.k\.|british|britain|england|english|scotland|scottish|wales|welsh|london|"
    r"reino unido|brit[aá]nic[oa]|ingl[eé]s|inglesa|inglaterra|royaume-uni|britannique|"
    r"anglais|anglaise|angleterre|großbritannien|britisch(?:e[nrs]?)?|englisch(?:e[nrs]?)?|"
    r"england|brit[aâ]nico|inglês|यूके|इंग्लैंड|பிரிட்டன்|بريطاني|البريطاني|بريطانيا",
    "US": r"us|u\.s\.|usa|u\.s\.a\.|american|america|the states|estadounidense|"
    r"estados unidos|americano|americana|am[eé]ricain(?:e)?|[ée]tats-unis|"
    r"amerikanisch(?:e[nrs]?)?|usa-|amerikas?|americano|अमेरिका|அமெரிக்க|أمريكي|الأمريكي|أمريكا",
    "CA": r"canada|canadian|canadiense|canadien(?:ne)?|kanadisch(?:e[nrs]?)?|kanada|canadense",
    "IN": r"india|indian|indio|india|indien(?:ne)?|indisch(?:e[nrs]?)?|indiano|भारत|भारतीय|"
    r"இந்திய|இந்தியா|هندي|الهندي|الهند",
    "AE": r"uae|u\.a\.e\.|emirates|emirati|dubai|abu dhabi|emiratos|emirat(?:s|i)|"
    r"emiratisch(?:e[nrs]?)?|emirados|दुबई|துபாய்|إماراتي|الإماراتي|الإمارات",
    "SA": r"saudi|ksa|saudí|saudita|arabia saudita|arabie saoudite|saoudien(?:ne)?|"
    r"saudi-arabien|saudisch(?:e[nrs]?)?|saudita|सऊदी|சவுதி|سعودي|السعودي|السعودية",
    "QA": r"qatar|qatari|catar[ií]?|katar|قطري|القطري|قطر",
    "KW": r"kuwait|kuwaiti|koweït|كويتي|الكويتي|الكويت",
    "OM": r"oman|omani|omaní|عماني|العماني|عمان",
    "BH": r"bahrain|bahraini|bahréin|بحريني|البحريني|البحرين",
    "PK": r"pakistan|pakistani|paquistan[ií]|pakistanais(?:e)?|पाकिस्तान|பாகிஸ்தான்|باكستاني",
    "LK": r"sri lanka|sri lankan|இலங்கை|श्रीलंका",
    "NP": r"nepal|nepali|nepalese|नेपाल|नेपाली",
    "BD": r"bangladesh|bangladeshi|बांग्लादेश",
    "SG": r"singapore|singaporean|singapur|singapour|சிங்கப்பூர்|सिंगापुर",
    "MY": r"malaysia|malaysian|malasia|malaisie|மலேசியா",
    "AU": r"australia|australian|australiano|australien(?:ne)?|australisch(?:e[nrs]?)?|"
    r"austrália|ஆஸ்திரேலிய|ऑस्ट्रेलिया",
    "NZ": r"new zealand|kiwi|nueva zelanda|nouvelle-z[ée]lande|neuseeland",
    "IE": r"ireland|irish|irlanda|irland[eé]s|irlande|irlandais(?:e)?|irland|irisch(?:e[nrs]?)?",
    "DE": r"germany|german|alemania|alem[aá]n|alemana|allemagne|allemand(?:e)?|deutschland|"
    r"deutsch(?:e[nrs]?)?|alemanha|alem[aã]o|जर्मनी|ஜெர்மனி|ألماني|الألماني|ألمانيا",
    "FR": r"france|french|francia|franc[eé]s|francesa|fran[cç]ais(?:e)?|frankreich|"
    r"französisch(?:e[nrs]?)?|fran[cç]a|franc[eê]s|फ़्रांस|பிரான்ஸ்|فرنسي|الفرنسي|فرنسا",
    "ES": r"spain|spanish|españa|español|española|espagne|espagnol(?:e)?|spanien|"
    r"spanisch(?:e[nrs]?)?|espanha|espanhol|स्पेन|ஸ்பெயின்|إسباني|إسبانيا",
    "PT": r"portugal|portuguese|portugu[eé]s|portuguesa|portugais(?:e)?|"
    r"portugiesisch(?:e[nrs]?)?|pt",
    "BR": r"brazil|brazilian|brasil|brasileño|brasileña|br[eé]sil|br[eé]silien(?:ne)?|"
    r"brasilien|brasilianisch(?:e[nrs]?)?|brasileir[oa]",
    "MX": r"mexico|méxico|mexican|mexicano|mexicana|mexique|mexicain(?:e)?|mexiko|"
    r"mexikanisch(?:e[nrs]?)?",
    "IT": r"italy|italian|italia|italiano|italiana|italie|italien(?:ne)?|italienisch(?:e[nrs]?)?|"
    r"itália",
    "NL": r"netherlands|dutch|holland|pa[ií]ses bajos|holand[eé]s|pays-bas|n[ée]erlandais(?:e)?|"
    r"niederlande|niederländisch(?:e[nrs]?)?|holanda",
    "BE": r"belgium|belgian|b[ée]lgica|belga|belgique|belge|belgien|belgisch(?:e[nrs]?)?",
    "CH": r"switzerland|swiss|suiza|suizo|suiza|suisse|schweiz|schweizer(?:ische[nrs]?)?|"
    r"su[ií][cç]a|su[ií][cç]o",
    "AT": r"austria|austrian|austríaco|autriche|autrichien(?:ne)?|österreich|"
    r"österreichisch(?:e[nrs]?)?|áustria",
    "ZA": r"south africa|south african|sudáfrica|afrique du sud|südafrika",
}

_PATTERNS = [
    (region, re.compile(rf"(?<![\w-])(?:{words})(?![\w-])", re.IGNORECASE | re.UNICODE))
    for region, words in _WORDS.items()
]
# Short words that name a country only in upper case ("US mobile", not "call us").
_CASED = {"us", "pt"}
# Adjectives that are also languages: "my English number" names a country, "can you answer in
# English" does not, so they count only next to a number.
_LANGUAGES = re.compile(
    r"english|ingl[eéê]s[a]?|anglais[e]?|englisch\w*|german|deutsch\w*|alem[aáã][no]?|"
    r"alemana|allemand[e]?|french|fran[cç]ais[e]?|franc[eéê]s[a]?|französisch\w*|spanish|"
    r"español[a]?|espagnol[e]?|spanisch\w*|espanhol|portuguese|portugu[eê]s[a]?|portugais[e]?|"
    r"portugiesisch\w*|italian[oa]?|italien\w*|dutch|holand[eé]s|n[ée]erlandais[e]?|"
    r"niederländisch\w*",
    re.IGNORECASE,
)


def mentioned(text: str, *, languages: bool = True) -> list[tuple[int, str]]:
    """Where a country is named in `text`, and which: (position, region), in text order;
    without `languages`, words that are also a language's name do not count."""
    found = []
    for region, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            word = match.group()
            if word.lower() in _CASED and not word.isupper():
                continue
            if not languages and _LANGUAGES.fullmatch(word):
                continue
            found.append((match.start(), region))
    return sorted(found)
