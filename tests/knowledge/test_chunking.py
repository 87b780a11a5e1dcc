"""Chunking light-Markdown text on its structure, to a token size, with overlap."""

# The pages' text has typographic quotes, dashes and heading separators on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

import itertools
import random
import re
import time

import pytest

from backend.chat.prompt import estimate_tokens
from backend.knowledge.chunking import Chunk, chunk_text
from backend.knowledge.extract import extract
from tests.knowledge.labelled import PAGES_DIR

_WORDS = [
    "parcel", "courier", "shipping", "order", "return", "refund", "invoice", "warehouse",
    "customer", "delivery", "tracking", "address", "payment", "discount", "voucher", "account",
    "basket", "product", "size", "colour", "warranty", "repair", "store",
]  # fmt: skip


def sentences(count: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [
        " ".join(rng.choice(_WORDS) for _ in range(rng.randint(8, 20))).capitalize() + "."
        for _ in range(count)
    ]


def paragraphs(count: int, per_paragraph: int = 4, seed: int = 1) -> str:
    items = sentences(count * per_paragraph, seed)
    return "\n\n".join(
        " ".join(items[i : i + per_paragraph]) for i in range(0, len(items), per_paragraph)
    )


def first_sentence(text: str) -> str:
    return re.split(r"(?<=[.!?।])\s", text, maxsplit=1)[0]


def check_invariants(chunks: list[Chunk], max_tokens: int) -> None:
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert chunk.text.strip() == chunk.text != ""
        assert chunk.token_count == estimate_tokens(chunk.text) <= max_tokens
        assert not chunk.text.startswith("#")


def test_chunks_stay_within_the_size_and_cover_every_sentence() -> None:
    text = paragraphs(40)
    chunks = chunk_text(text, max_tokens=120, overlap_tokens=30)
    check_invariants(chunks, 120)
    assert len(chunks) > 5
    joined = "\n".join(c.text for c in chunks)
    assert all(sentence in joined for sentence in sentences(160))


def test_consecutive_chunks_overlap_by_whole_sentences() -> None:
    chunks = chunk_text(paragraphs(40), max_tokens=120, overlap_tokens=30)
    for previous, current in itertools.pairwise(chunks):
        overlap = first_sentence(current.text)
        assert previous.text.endswith(overlap)
        assert estimate_tokens(overlap) <= 30
        assert current.text != overlap  # a chunk adds more than the repeated part


def test_overlap_can_be_turned_off() -> None:
    chunks = chunk_text(paragraphs(40), max_tokens=120, overlap_tokens=0)
    joined = " ".join(c.text.replace("\n\n", " ") for c in chunks)
    assert joined == paragraphs(40).replace("\n\n", " ")


def test_paragraphs_are_kept_whole_when_they_fit() -> None:
    text = paragraphs(12, per_paragraph=3)
    blocks = text.split("\n\n")
    chunks = chunk_text(text, max_tokens=200, overlap_tokens=0)
    for chunk in chunks:
        assert all(part in blocks for part in chunk.text.split("\n\n"))


def test_heading_paths_are_tracked() -> None:
    text = "\n\n".join(
        [
            "Welcome to our help centre.",
            "# Shipping",
            "We ship worldwide from our warehouse in Leeds.",
            "## Standard",
            paragraphs(3, seed=2),
            "## Express",
            "### Europe",
            paragraphs(3, seed=3),
            "# Returns",
            "Returns are free within 30 days.",
        ]
    )
    chunks = chunk_text(text, max_tokens=100, overlap_tokens=20)
    check_invariants(chunks, 100)
    assert chunks[0].heading is None
    assert chunks[0].text == "Welcome to our help centre."
    assert chunks[1].heading == "Shipping"
    headings = [c.heading for c in chunks]
    assert "Shipping › Standard" in headings
    assert "Shipping › Express › Europe" in headings
    assert headings[-1] == "Returns"
    assert chunks[-1].text == "Returns are free within 30 days."
    express = next(c for c in chunks if c.heading == "Shipping › Express › Europe")
    assert express.text.startswith(first_sentence(paragraphs(3, seed=3)))


def test_small_subsections_share_a_chunk_with_their_heading_lines() -> None:
    text = (
        "# Delivery\n\nWe deliver on weekdays.\n\n## Costs\n\nDelivery costs 4 euros.\n\n"
        "## Times\n\nOrders before noon leave the same day."
    )
    assert chunk_text(text) == [
        Chunk(
            ordinal=0,
            heading="Delivery",
            text="We deliver on weekdays.\n\n## Costs\n\nDelivery costs 4 euros.\n\n"
            "## Times\n\nOrders before noon leave the same day.",
            token_count=estimate_tokens(
                "We deliver on weekdays.\n\n## Costs\n\nDelivery costs 4 euros.\n\n"
                "## Times\n\nOrders before noon leave the same day."
            ),
        )
    ]


def test_top_level_sections_are_never_crossed() -> None:
    first, second = paragraphs(6, seed=4), paragraphs(6, seed=5)
    text = f"# Shipping\n\n{first}\n\n# Returns\n\n{second}"
    chunks = chunk_text(text, max_tokens=150, overlap_tokens=40)
    check_invariants(chunks, 150)
    first_sentences, second_sentences = sentences(24, seed=4), sentences(24, seed=5)
    for chunk in chunks:
        in_first = any(s in chunk.text for s in first_sentences)
        in_second = any(s in chunk.text for s in second_sentences)
        assert in_first != in_second
        assert chunk.heading == ("Shipping" if in_first else "Returns")
    opening = next(c for c in chunks if c.heading == "Returns")
    assert opening.text.startswith(second_sentences[0])


def test_a_cut_at_a_heading_carries_no_overlap() -> None:
    text = f"## One\n\n{paragraphs(2, seed=6)}\n\n## Two\n\n{paragraphs(2, seed=7)}"
    chunks = chunk_text(text, max_tokens=80, overlap_tokens=20)
    two = next(c for c in chunks if c.heading == "Two")
    assert two.text.startswith(sentences(8, seed=7)[0])


def test_a_giant_sentence_is_cut_between_words() -> None:
    words = [f"word{i}" for i in range(3000)]
    chunks = chunk_text(" ".join(words), max_tokens=100, overlap_tokens=20)
    check_invariants(chunks, 100)
    assert chunks[0].text.startswith("word0 word1 ")
    assert all(re.fullmatch(r"word\d+( word\d+)*", c.text) for c in chunks)
    assert {w for c in chunks for w in c.text.split()} == set(words)


def test_a_giant_word_is_sliced() -> None:
    blob = "QUJD" * 2000
    chunks = chunk_text(f"Attachment: {blob} end.", max_tokens=100, overlap_tokens=20)
    check_invariants(chunks, 100)
    assert "".join(c.text for c in chunks).replace(" ", "").count("QUJD") >= 2000 - 2


def test_lists_and_tables_keep_their_lines() -> None:
    items = "\n".join(f"- Item number {i} is a sturdy walking boot." for i in range(40))
    chunks = chunk_text(f"## Catalogue\n\n{items}", max_tokens=80, overlap_tokens=15)
    check_invariants(chunks, 80)
    for chunk in chunks:
        assert all(line.startswith("- Item number") for line in chunk.text.split("\n"))


def test_hashes_in_code_fences_are_not_headings() -> None:
    text = "## Setup\n\n```\n# install the client\npip install relaypay\n```\n\nThen run it."
    (chunk,) = chunk_text(text)
    assert chunk.heading == "Setup"
    assert "# install the client" in chunk.text


def test_hindi_and_tamil_text() -> None:
    hindi = "रिफ़ंड आमतौर पर पाँच से सात कार्यदिवसों में आपके खाते में पहुँच जाता है। " * 30
    tamil = "உங்கள் பணம் ஏழு நாட்களுக்குள் திருப்பி அனுப்பப்படும். " * 30
    text = f"# रिफ़ंड नीति\n\n{hindi.strip()}\n\n# திருப்பி அனுப்புதல்\n\n{tamil.strip()}"
    chunks = chunk_text(text, max_tokens=120, overlap_tokens=30)
    check_invariants(chunks, 120)
    assert {c.heading for c in chunks} == {"रिफ़ंड नीति", "திருப்பி அனுப்புதல்"}
    for chunk in chunks:
        if chunk.heading == "रिफ़ंड नीति":
            # whole sentences, cut after the danda
            assert chunk.text.startswith("रिफ़ंड आमतौर") and chunk.text.endswith("है।")
        else:
            assert chunk.text.startswith("உங்கள்") and chunk.text.endswith("அனுப்பப்படும்.")
    assert len(chunks) > 4


def test_an_extracted_page_chunks_with_its_headings() -> None:
    doc = extract((PAGES_DIR / "docs_page.html").read_bytes(), content_type="text/html")
    chunks = chunk_text(doc.text, max_tokens=60, overlap_tokens=15)
    check_invariants(chunks, 60)
    assert chunks[0].heading == "Webhooks"
    assert "Webhooks › Verifying signatures › Retries" in {c.heading for c in chunks}


def test_twenty_thousand_words_chunk_in_well_under_a_second() -> None:
    sections = [f"## Section {i}\n\n{paragraphs(10, seed=i)}" for i in range(40)]
    text = "# Handbook\n\n" + "\n\n".join(sections)
    assert len(text.split()) > 20_000
    started = time.perf_counter()
    chunks = chunk_text(text)
    elapsed = time.perf_counter() - started
    assert elapsed < 0.5
    check_invariants(chunks, 350)
    assert chunks == chunk_text(text)  # deterministic


def test_one_giant_twenty_thousand_word_sentence_is_fast_too() -> None:
    text = " ".join(_WORDS * 900)
    started = time.perf_counter()
    chunks = chunk_text(text)
    assert time.perf_counter() - started < 0.5
    check_invariants(chunks, 350)


@pytest.mark.parametrize("text", ["", "   \n\n  ", "# Only\n\n## Headings\n"])
def test_no_text_no_chunks(text: str) -> None:
    assert chunk_text(text) == []


@pytest.mark.parametrize(("max_tokens", "overlap_tokens"), [(100, 100), (100, -1), (3, 0)])
def test_bad_sizes_are_refused(max_tokens: int, overlap_tokens: int) -> None:
    with pytest.raises(ValueError):
        chunk_text("Some text.", max_tokens=max_tokens, overlap_tokens=overlap_tokens)
