"""A small labelled set for main-text extraction: real-looking pages in `pages/`, each with
sentences of its main text and sentences of its boilerplate (navigation, footer, cookie banner,
sidebar, scripts). Used by the extraction tests and by the crawl benchmark.

Precision is the share of labelled sentences found in the extracted text that are main text;
recall is the share of main-text sentences found.
"""

# The pages' text has typographic quotes, dashes and heading separators on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

from pathlib import Path

PAGES_DIR = Path(__file__).parent / "pages"

LABELLED_PAGES: list[tuple[str, list[str], list[str]]] = [
    (
        "shop_product.html",
        [
            "Alpine Trail Hiking Boot",
            "The Alpine Trail is our most popular three-season hiking boot, built for long days on rocky mountain paths.",
            "Its full-grain leather upper is treated with a waterproof membrane, so your feet stay dry when you cross streams or walk through wet grass.",
            "Vibram Megagrip outsole for sure footing on wet rock.",
            "Cushioned EVA midsole that absorbs shock on long descents.",
            "Padded collar and tongue that keep out grit and small stones.",
            "The boot runs true to size; if you are between sizes or wear thick socks, we recommend choosing half a size up.",
            "Each pair weighs about 1.2 kilograms and comes with a two-year warranty against manufacturing defects.",
        ],
        [
            "Free delivery on orders over £50",
            "Women's Footwear",
            "Find a Store Near You",
            "Careers at Northpeak",
            "Sign up to our newsletter for exclusive offers and early access to sales.",
            "Registered in England and Wales, company number 01234567.",
            "We use cookies to improve your shopping experience and to show you personalised advertising.",
            "Accept all cookies",
            "UA-TRACKING-SCRIPT-SECRET",
            "basket_add_SCRIPT_CONTENT",
            "Merino Trek Socks",
        ],
    ),
    (
        "blog_article.html",
        [
            "Last year our infrastructure costs grew faster than our revenue, and we decided to treat cost as a first-class engineering metric.",
            "This post describes the three changes that made the biggest difference, and the ones that did not work at all.",
            "We started by tagging every resource with a team and a service name, which let us build a weekly cost report per team.",
            "The report showed that idle development databases accounted for almost a fifth of the total spend.",
            "We shut down development environments automatically every night and at weekends.",
            "We moved batch jobs to spot instances with checkpointing so interrupted work could resume.",
            "We right-sized our largest database after profiling its real memory usage.",
            "Reserved instances saved less than expected because our workloads changed shape every quarter.",
            "In the end, visibility mattered more than any single discount: once teams saw their own numbers, they fixed most problems themselves.",
        ],
        [
            "We're hiring!",
            "Contact sales",
            "Upgrading Postgres with zero downtime",
            "What we learned from a year of on-call",
            "Get our best engineering stories in your inbox every month.",
            "Great write-up, we saw the same thing with our staging clusters!",
            "500 Market Street, San Francisco",
            "SCRIPT_SECRET_POST_42",
        ],
    ),
    (
        "docs_page.html",
        [
            "Webhooks let your application receive events from Relaypay as soon as they happen, instead of polling the API.",
            "Create an endpoint in the dashboard under Settings, then choose the events you want to receive.",
            "Relaypay sends each event as an HTTP POST request with a JSON body to the URL you registered.",
            "Every request carries a Relaypay-Signature header that contains a timestamp and an HMAC-SHA256 signature.",
            "Compute the signature with your endpoint secret and reject the request if it does not match or if the timestamp is older than five minutes.",
            "If your endpoint does not answer with a 2xx status code, Relaypay retries the delivery with exponential backoff for up to three days.",
        ],
        [
            "Quickstart guide",
            "Authentication and API keys",
            "Error codes explained",
            "Issuing refunds",
            "Was this page helpful?",
            "Next: Handling disputes",
            "Edit this page on GitHub",
            "Documentation licensed under CC BY 4.0.",
            "SCRIPT_DOCSEARCH_KEY",
        ],
    ),
    (
        "news_article.html",
        [
            "The city council voted seven to two on Tuesday night to build protected cycle lanes along the full length of Harbour Road.",
            "Construction is expected to begin in September and will take about eight months, according to the council's transport department.",
            "Supporters say the lanes will make the busy route safer for the hundreds of commuters who already cycle to the port every day.",
            "Several shop owners spoke against the plan, arguing that the loss of forty parking spaces would hurt their businesses.",
            "The council agreed to review the parking situation six months after the lanes open.",
        ],
        [
            "Refinance your home today with rates from 3.9 percent APR.",
            "Subscribe for $1 a week",
            "Bus fares to rise by ten cents next year",
            "Storm warning issued for the weekend coastline",
            "Local bakery wins national award for sourdough",
            "Contact the newsroom at tips@riverside.example.",
            "This website uses cookies to analyse traffic and personalise content.",
            "SCRIPT_AD_TAG",
        ],
    ),
    (
        "recipe.html",
        [
            "This roast chicken is our family's favourite Sunday dinner: crisp skin, juicy meat and a bright lemon and thyme flavour.",
            "It takes about fifteen minutes to prepare and one and a half hours in the oven, so start it in the early afternoon.",
            "One whole chicken of about 1.8 kilograms.",
            "Three tablespoons of olive oil, salt and black pepper.",
            "Heat the oven to 200 degrees Celsius and take the chicken out of the fridge thirty minutes before cooking.",
            "Roast for one and a half hours, until the juices run clear when you pierce the thickest part of the thigh.",
            "Let the chicken rest for fifteen minutes under foil before carving.",
            "For extra crisp skin, leave the chicken uncovered in the fridge overnight so the skin dries out.",
        ],
        [
            "Shop our cookware",
            "Hi, I'm Maya! I share simple seasonal recipes for busy families.",
            "Subscribe to get new recipes delivered straight to your inbox every Friday.",
            "As an Amazon Associate I earn from qualifying purchases.",
            "We value your privacy. We and our partners store and access information on your device.",
            "SCRIPT_RECIPE_JSON",
        ],
    ),
    (
        "latin1_page.html",
        [
            "Unsere Bäckerei in der Hauptstraße 12 ist von Montag bis Samstag ab sechs Uhr morgens für Sie geöffnet.",
            "Am Sonntag verkaufen wir frische Brötchen und Kuchen von sieben bis elf Uhr, solange der Vorrat reicht.",
            "Mit dem Bus erreichen Sie uns über die Haltestelle Marktplatz; von dort sind es nur zwei Minuten zu Fuß.",
            "Kostenlose Parkplätze finden Sie direkt hinter dem Gebäude, gegenüber der Apotheke.",
            "Besonders beliebt sind unser Roggenbrot aus Natursauerteig und die Käsestangen mit würzigem Bergkäse.",
        ],
        [
            "Unser Brotsortiment",
            "Kontakt und Impressum",
            "Copyright Bäckerei Müller GmbH. Alle Rechte vorbehalten.",
            "Datenschutzerklärung",
        ],
    ),
    (
        "cp1252_page.html",
        [
            "Le cours d’initiation à la pâtisserie française coûte 65 € par personne et dure trois heures.",
            "Chaque participant repart avec ses créations : éclairs, macarons et tarte au citron meringuée.",
            "Les étudiants bénéficient d’une réduction de 15 € sur présentation de leur carte – le tarif « duo » est aussi disponible.",
            "Les bons cadeaux sont valables un an à compter de la date d’achat.",
        ],
        [
            "Nos cours de pâtisserie",
            "Nous contacter",
            "8 rue des Lilas, Lyon",
        ],
    ),
    (
        "help_hi.html",
        [
            "अगर आप अपने ऑर्डर से संतुष्ट नहीं हैं, तो आप डिलीवरी के तीस दिनों के भीतर रिफ़ंड का अनुरोध कर सकते हैं।",
            "रिफ़ंड उसी भुगतान माध्यम में भेजा जाता है जिससे आपने भुगतान किया था।",
            "सामान वापस मिलने के बाद रिफ़ंड आमतौर पर पाँच से सात कार्यदिवसों में आपके खाते में पहुँच जाता है।",
            "यूपीआई से किए गए भुगतान का रिफ़ंड अक्सर दो दिनों में पूरा हो जाता है।",
            "खुले हुए खाद्य पदार्थ और व्यक्तिगत देखभाल के उत्पाद।",
            "उपहार कार्ड और डिजिटल डाउनलोड।",
        ],
        [
            "मेरे ऑर्डर",
            "लॉग इन करें",
            "क्या यह लेख मददगार था?",
            "सर्वाधिकार सुरक्षित।",
            "उपयोग की शर्तें",
            "हम आपके अनुभव को बेहतर बनाने के लिए कुकीज़ का उपयोग करते हैं।",
        ],
    ),
]


def _normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


def found(text: str, sentences: list[str]) -> int:
    """How many of `sentences` occur in `text` (white space and case ignored)."""
    haystack = _normalise(text)
    return sum(_normalise(sentence) in haystack for sentence in sentences)


def precision_recall(text: str, expected: list[str], boilerplate: list[str]) -> tuple[float, float]:
    hits, noise = found(text, expected), found(text, boilerplate)
    precision = hits / (hits + noise) if hits + noise else 0.0
    return precision, hits / len(expected)
