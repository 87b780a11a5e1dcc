"""Main-text extraction from pages, PDFs and plain text (no database, no network)."""

# The pages' text has typographic quotes, dashes and heading separators on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

import io

import pytest
from pypdf import PageObject, PdfWriter
from pypdf.generic import DictionaryObject, NameObject, StreamObject

from backend.knowledge.extract import Document, ExtractionError, extract
from tests.knowledge.labelled import LABELLED_PAGES, PAGES_DIR, found, precision_recall


def page(name: str, content_type: str = "text/html") -> Document:
    return extract(
        (PAGES_DIR / name).read_bytes(),
        content_type=content_type,
        url=f"https://site.example/{name}",
    )


def make_pdf(
    pages: list[list[str]], *, title: str | None = None, password: str | None = None
) -> bytes:
    """A PDF whose pages show the given lines in Helvetica (Windows-1252 text)."""
    writer = PdfWriter()
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
                NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
            }
        )
    )
    for lines in pages:
        pdf_page = PageObject.create_blank_page(width=612, height=792)
        pdf_page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
        operators = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
        operators += [f"({_pdf_string(line)}) Tj T*" for line in lines]
        operators.append("ET")
        stream = StreamObject()
        stream.set_data("\n".join(operators).encode("ascii"))
        pdf_page[NameObject("/Contents")] = writer._add_object(stream)
        writer.add_page(pdf_page)
    if title:
        writer.add_metadata({"/Title": title})
    if password is not None:
        writer.encrypt(user_password=password, owner_password="owner-secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _pdf_string(line: str) -> str:
    return "".join(
        chr(byte) if 32 <= byte < 127 and chr(byte) not in "()\\" else f"\\{byte:03o}"
        for byte in line.encode("cp1252")
    )


# --- Web pages --------------------------------------------------------------------------------


def test_shop_page_keeps_the_product_and_drops_nav_footer_cookies_and_scripts() -> None:
    doc = page("shop_product.html")
    assert doc.title == "Alpine Trail Hiking Boot"
    assert doc.url == "https://site.example/shop_product.html"
    assert doc.language == "en"
    assert doc.content_type == "text/html"
    assert doc.text.startswith("# Alpine Trail Hiking Boot\n\n")
    assert "\n## Features\n" in doc.text
    assert "\n- Vibram Megagrip outsole for sure footing on wet rock.\n" in doc.text
    assert "£149.00" in doc.text
    for absent in [
        "Women's Footwear",
        "Basket",
        "Careers at Northpeak",
        "newsletter",
        "We use cookies",
        "Accept all cookies",
        "dataLayer",
        "SCRIPT",
        "schema.org",
        "cookie-banner",
    ]:
        assert absent not in doc.text


def test_blog_article_keeps_headings_lists_and_quote_in_order() -> None:
    doc = page("blog_article.html")
    assert doc.title == "How we cut our cloud bill by 40%"
    headings = [line for line in doc.text.splitlines() if line.startswith("#")]
    assert headings == [
        "# How we cut our cloud bill by 40%",
        "## Measure before you cut",
        "## What we changed",
        "## What did not work",
    ]
    assert (
        "- We shut down development environments automatically every night and at weekends.\n"
        "- We moved batch jobs to spot instances" in doc.text
    )
    assert "The cheapest server is the one you turn off when nobody is using it." in doc.text
    for absent in ["Popular posts", "staging clusters", "Terms of service", "disqus", "hiring"]:
        assert absent not in doc.text


_UTILITY_LAYOUT = """<!DOCTYPE html><html lang="en"><head><title>Caring for silk</title></head>
<body class="bg-white text-slate-800"><div id="__next">
<div class="border-b"><div class="mx-auto flex max-w-6xl"><a href="/">Chicx</a>
<div class="hidden gap-6 md:flex"><a href="/shop">Shop</a> <a href="/care">Care guides</a>
<a href="/about">About us</a></div></div></div>
<div class="mx-auto grid max-w-6xl grid-cols-12 gap-8"><div class="col-span-12 lg:col-span-8">
<h1 class="text-3xl font-semibold">Caring for silk</h1>
<div class="mt-8 space-y-4 leading-7">
<p>Silk sarees keep their sheen for decades when they are cleaned and stored with a little care.
Most damage comes from water, sunlight and the metal of hangers rather than from wearing them.</p>
<h2>Cleaning a silk saree</h2>
<p>Dry cleaning is the safest choice for zari borders and heavy embroidery. If a plain silk saree
needs a wash at home, use cold water and a mild shampoo, and never wring it.</p>
<ul><li>Test the colour on a hidden corner first.</li>
<li>Rinse in cold water until the water runs clear.</li>
<li>Dry flat in the shade, away from direct sunlight.</li></ul>
<h2>Storing it between weddings</h2>
<p>Wrap each saree in a soft cotton cloth and refold it along new lines every three months, so
that the creases never set into the fabric. Keep neem leaves in the cupboard against moths.</p>
</div></div>
<div class="col-span-12 lg:col-span-4"><div class="text-sm font-semibold">Keep reading</div>
<div class="mt-2 text-sm"><a href="/care/cotton">Cotton care</a> <a href="/care/linen">Linen care</a>
<a href="/care/wool">Wool care</a> <a href="/care/zari">Zari care</a></div></div></div>
<div class="border-t bg-slate-50"><div class="text-xs">© Chicx Fashion. All rights reserved.
<a href="/privacy">Privacy</a> <a href="/terms">Terms</a></div></div>
</div></body></html>"""


def test_a_layout_of_bare_divs_keeps_its_headings_and_list_items() -> None:
    """Utility-CSS layouts (no article, no main): the article's structure survives."""
    doc = extract(_UTILITY_LAYOUT.encode(), content_type="text/html; charset=utf-8")
    lines = doc.text.splitlines()
    assert [line for line in lines if line.startswith("#")] == [
        "## Cleaning a silk saree",
        "## Storing it between weddings",
    ]
    assert (
        "- Test the colour on a hidden corner first.\n"
        "- Rinse in cold water until the water runs clear.\n"
        "- Dry flat in the shade, away from direct sunlight." in doc.text
    )
    assert "Keep neem leaves in the cupboard against moths." in doc.text
    for absent in ["Care guides", "Keep reading", "Linen care", "All rights reserved"]:
        assert absent not in doc.text


def test_paragraphs_are_separated_by_blank_lines_with_single_spaces_inside() -> None:
    doc = page("blog_article.html")
    blocks = doc.text.split("\n\n")
    assert (
        "The report showed that idle development databases accounted for almost a fifth of the total spend."
        in blocks
    )
    assert all(block == block.strip() and "  " not in block for block in blocks)


def test_docs_page_keeps_heading_levels_and_tables_and_drops_the_sidebar() -> None:
    doc = page("docs_page.html")
    assert doc.title == "Webhooks"
    assert "\n## Verifying signatures\n" in doc.text
    assert "\n### Retries\n" in doc.text
    assert "First retry | 5 minutes" in doc.text
    for absent in ["Quickstart guide", "Was this page helpful", "Edit this page", "CC BY 4.0"]:
        assert absent not in doc.text


def test_news_article_language_from_the_page() -> None:
    doc = page("news_article.html")
    assert doc.title == "City council approves new cycle lanes on Harbour Road"
    assert doc.language == "en"
    assert "Refinance" not in doc.text
    assert "Most read" not in doc.text


def test_hindi_page_comes_out_intact() -> None:
    doc = page("help_hi.html")
    assert doc.language == "hi"
    assert doc.title == "रिफ़ंड नीति"
    assert "\n## रिफ़ंड में कितना समय लगता है?\n" in doc.text
    assert "- उपहार कार्ड और डिजिटल डाउनलोड।" in doc.text
    assert "कुकीज़" not in doc.text


@pytest.mark.parametrize(
    "content_type", ["text/html; charset=ISO-8859-1", "text/html; charset=latin1", "text/html"]
)
def test_latin1_page_decodes_with_the_declared_or_the_detected_charset(content_type: str) -> None:
    doc = page("latin1_page.html", content_type)
    assert doc.title == "Öffnungszeiten und Anfahrt"
    assert "Unsere Bäckerei in der Hauptstraße 12" in doc.text
    assert "zwei Minuten zu Fuß." in doc.text
    assert "\ufffd" not in doc.text
    assert doc.language is None  # the page does not say
    assert "Datenschutzerklärung" not in doc.text


def test_meta_charset_windows_1252_is_honoured() -> None:
    doc = page("cp1252_page.html")
    assert doc.title == "Nos tarifs"
    assert doc.language == "fr"
    assert "Le cours d’initiation à la pâtisserie française coûte 65 € par personne" in doc.text
    assert "carte – le tarif « duo »" in doc.text
    assert "Mentions légales" not in doc.text


def test_the_content_type_charset_wins_over_meta_charset() -> None:
    body = (
        '<html><head><meta charset="windows-1252"><title>Café</title></head><body><article>'
        "<h1>Crème brûlée</h1><p>Our crème brûlée is made every morning with Madagascar vanilla"
        " and costs €6.50 a portion.</p></article></body></html>"
    ).encode()
    doc = extract(body, content_type="text/html; charset=utf-8")
    assert "Our crème brûlée is made every morning" in doc.text
    assert "€6.50" in doc.text


def test_a_byte_order_mark_decides_the_encoding() -> None:
    body = "\ufeff<html><body><p>Smörgåsbord served daily from noon.</p></body></html>"
    doc = extract(body.encode("utf-8"), content_type="text/html")
    assert doc.text == "Smörgåsbord served daily from noon."


def test_a_utf16_meta_label_on_an_ascii_compatible_page_means_utf8() -> None:
    body = '<html><head><meta charset="utf-16"></head><body><p>Café open today.</p></body></html>'
    doc = extract(body.encode(), content_type="text/html")
    assert doc.text == "Café open today."


def test_near_empty_page_keeps_its_little_text() -> None:
    doc = page("near_empty.html")
    assert doc.title == "Bientôt disponible"
    assert doc.language == "fr"
    assert doc.text == "# Bientôt disponible\n\nNotre boutique en ligne ouvre en mai."


def test_fallback_reads_the_page_when_the_extractor_finds_nothing() -> None:
    body = b"""<html lang="de-AT"><head><title>Kontakt</title><script>var x = "SCRIPT";</script>
    </head><body><nav><a href="/">Startseite</a></nav>
    <section><h2>Telefon</h2>Rufen Sie <b>uns</b> an<br>Mo-Fr 9-17 Uhr</section>
    <div class="cookie-hint">Wir verwenden Cookies.</div><footer>Impressum</footer></body></html>"""
    doc = extract(body, content_type="text/html")
    assert doc.title == "Kontakt"
    assert doc.language == "de"
    assert doc.text == "## Telefon\n\nRufen Sie uns an\nMo-Fr 9-17 Uhr"


def test_fallback_keeps_list_items_and_skips_comments() -> None:
    body = b"""<html><body><main><h1>Hours</h1><!-- build 42 --><ul><li><p>Mon 9-5</p></li>
    <li>Sat 10-2<ul><li>Sun closed</li></ul></li></ul></main></body></html>"""
    doc = extract(body, content_type="text/html")
    assert "build 42" not in doc.text
    assert "- Mon 9-5" in doc.text
    assert "- Sat 10-2" in doc.text
    assert "- Sun closed" in doc.text


def test_xhtml_with_an_xml_declaration() -> None:
    body = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="es"><head><title>Envíos</title>'
        "</head><body><article><h1>Envíos</h1><p>Enviamos a toda España en 48 horas laborables"
        " desde nuestro almacén de Zaragoza, con seguimiento incluido.</p></article></body></html>"
    ).encode()
    doc = extract(body, content_type="application/xhtml+xml")
    assert doc.content_type == "application/xhtml+xml"
    assert doc.title == "Envíos"
    assert "Enviamos a toda España en 48 horas laborables" in doc.text


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"<html><head><title>Empty</title></head><body></body></html>",
        b"<html><body><nav><a href='/'>Home</a></nav><script>var a = 1;</script></body></html>",
    ],
)
def test_pages_without_text_are_refused(body: bytes) -> None:
    with pytest.raises(ExtractionError, match="no text"):
        extract(body, content_type="text/html")


def test_the_media_type_is_normalised() -> None:
    doc = extract(
        b"<p>Opening hours are nine to five.</p>", content_type="Text/HTML ; Charset=UTF-8"
    )
    assert doc.content_type == "text/html"
    assert doc.url is None


@pytest.mark.parametrize("content_type", ["image/png", "application/octet-stream", ""])
def test_unsupported_types_are_refused(content_type: str) -> None:
    with pytest.raises(ExtractionError, match="unsupported content type"):
        extract(b"\x89PNG\r\n\x1a\n", content_type=content_type)


@pytest.mark.parametrize("content_type", ["text/html", "text/plain", "text/plain; charset=utf-8"])
def test_binary_files_sent_as_text_are_refused(content_type: str) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + bytes(range(256)) * 4
    with pytest.raises(ExtractionError, match="binary content"):
        extract(png, content_type=content_type)


# --- Labelled set -----------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "expected", "boilerplate"), LABELLED_PAGES)
def test_labelled_page_precision_and_recall(
    name: str, expected: list[str], boilerplate: list[str]
) -> None:
    precision, recall = precision_recall(page(name).text, expected, boilerplate)
    assert precision >= 0.8
    assert recall >= 0.8


def test_labelled_set_overall_precision_and_recall() -> None:
    hits = noise = total = 0
    for name, expected, boilerplate in LABELLED_PAGES:
        text = page(name).text
        hits += found(text, expected)
        noise += found(text, boilerplate)
        total += len(expected)
    assert len(LABELLED_PAGES) >= 6
    assert hits / (hits + noise) >= 0.9
    assert hits / total >= 0.9


# --- Plain text and Markdown ------------------------------------------------------------------


def test_plain_text_file() -> None:
    doc = page("faq.txt", "text/plain")
    assert doc.title == "Frequently asked questions – Café Lumière"
    assert doc.content_type == "text/plain"
    assert doc.language is None
    assert "delivery costs €4.50 and is free for orders over €40." in doc.text
    assert "\n\nCan I order a cake for a special occasion?\n" in doc.text


@pytest.mark.parametrize(
    ("encoding", "content_type"),
    [
        ("utf-8", "text/plain"),
        ("utf-16", "text/plain"),
        ("iso-8859-1", "text/plain; charset=iso-8859-1"),
        ("cp1252", "text/plain; charset=windows-1252"),
    ],
)
def test_plain_text_encodings(encoding: str, content_type: str) -> None:
    text = "Crème brûlée à la française\r\n\r\nNotre pâtissier la prépare chaque matin.\r\n"
    doc = extract(text.encode(encoding), content_type=content_type)
    assert doc.title == "Crème brûlée à la française"
    assert doc.text == "Crème brûlée à la française\n\nNotre pâtissier la prépare chaque matin."


def test_markdown_keeps_its_headings_and_titles_from_the_first_line() -> None:
    text = (
        "# Returns\n\nYou can return items within 30 days.\n\n\n\n## Exceptions\n\n- Gift cards\n"
    )
    doc = extract(text.encode(), content_type="text/markdown; charset=utf-8")
    assert doc.title == "Returns"
    assert (
        doc.text
        == "# Returns\n\nYou can return items within 30 days.\n\n## Exceptions\n\n- Gift cards"
    )


def test_a_long_first_line_makes_a_short_title() -> None:
    doc = extract(("word " * 200).encode(), content_type="text/plain")
    assert len(doc.title) <= 200
    assert doc.title.endswith("word…")


def test_pasted_text_with_only_white_space_is_refused() -> None:
    with pytest.raises(ExtractionError, match="no text"):
        extract(b" \n\t\n", content_type="text/plain")


# --- PDF --------------------------------------------------------------------------------------


def test_pdf_text_from_every_page_with_the_metadata_title() -> None:
    body = make_pdf(
        [
            ["Warranty terms", "Every boot is covered for two years.", "Crème brûlée costs 5 €."],
            ["Repairs are free within the first year."],
        ],
        title="Northpeak warranty",
    )
    doc = extract(body, content_type="application/pdf", url="https://site.example/w.pdf")
    assert doc.title == "Northpeak warranty"
    assert doc.content_type == "application/pdf"
    assert doc.url == "https://site.example/w.pdf"
    assert "Every boot is covered for two years." in doc.text
    assert "Crème brûlée costs 5 €." in doc.text
    assert doc.text.endswith("\n\nRepairs are free within the first year.")


def test_pdf_title_falls_back_to_the_first_line() -> None:
    doc = extract(
        make_pdf([["Price list 2024", "Boots from 99 pounds."]]), content_type="application/pdf"
    )
    assert doc.title == "Price list 2024"


def test_pdf_with_an_empty_user_password_is_read() -> None:
    body = make_pdf([["Readable by anyone."]], password="")
    assert extract(body, content_type="application/pdf").text == "Readable by anyone."


def test_encrypted_pdf_is_refused() -> None:
    body = make_pdf([["Top secret."]], password="letmein")
    with pytest.raises(ExtractionError, match="encrypted"):
        extract(body, content_type="application/pdf")


@pytest.mark.parametrize(
    "body",
    [b"%PDF-1.4 this is not a pdf", b"", b"hello", make_pdf([["Cut short here."]])[:300]],
)
def test_broken_pdf_is_refused(body: bytes) -> None:
    with pytest.raises(ExtractionError):
        extract(body, content_type="application/pdf")


def test_pdf_without_text_is_refused() -> None:
    with pytest.raises(ExtractionError, match="no text"):
        extract(make_pdf([[]]), content_type="application/pdf")
