"""The bot's Markdown as WhatsApp shows it, its sources as links, and long answers in parts."""

from __future__ import annotations

import re

import pytest

from backend.whatsapp.formatting import TEXT_LIMIT, has_link, split, to_whatsapp, with_sources


@pytest.fixture(autouse=True)
def _clean_database() -> None:
    """No database here."""


@pytest.mark.parametrize(
    ("markdown", "whatsapp"),
    [
        ("Plain words.", "Plain words."),
        ("We ship in **2-3 days**.", "We ship in *2-3 days*."),
        ("We ship in __2-3 days__.", "We ship in *2-3 days*."),
        ("It is *usually* fast.", "It is _usually_ fast."),
        ("It is _usually_ fast.", "It is _usually_ fast."),
        ("~~Free~~ shipping", "~Free~ shipping"),
        ("***Both***", "_*Both*_"),
        ("**bold _and italic_ inside**", "*bold _and italic_ inside*"),
        ("# Shipping", "*Shipping*"),
        ("### Returns **policy**", "*Returns policy*"),  # no bold inside the bold heading
        ("Setext heading\n===", "*Setext heading*"),
        (
            "See [our care guide](https://chicx.in/care).",
            "See our care guide (https://chicx.in/care).",
        ),
        ("[https://chicx.in](https://chicx.in)", "https://chicx.in"),
        ("Visit <https://chicx.in/sale>", "Visit https://chicx.in/sale"),
        ("Bare https://chicx.in/a_b_c stays", "Bare https://chicx.in/a_b_c stays"),
        ("[Write to us](mailto:help@chicx.in)", "Write to us (help@chicx.in)"),
        ("<help@chicx.in>", "help@chicx.in"),
        ("[**Bold link**](https://x.in)", "*Bold link* (https://x.in)"),
        ("![A red saree](https://cdn.chicx.in/red.png)", "https://cdn.chicx.in/red.png"),
        ("Use `ORD123` as the id", "Use `ORD123` as the id"),
        ("```python\nprint('hi')\n```", "```\nprint('hi')\n```"),
        ("    indented code", "```\nindented code\n```"),
        ("- silk\n- cotton", "- silk\n- cotton"),
        ("* silk\n* cotton", "- silk\n- cotton"),
        ("1. pay\n2. ship", "1. pay\n2. ship"),
        ("3. third\n4. fourth", "3. third\n4. fourth"),
        ("- silk\n  - mulberry\n- cotton", "- silk\n  - mulberry\n- cotton"),
        ("1. pay\n   - by card\n2. ship", "1. pay\n   - by card\n2. ship"),
        ("- **Silk**: dry clean", "- *Silk*: dry clean"),
        ("> Dry clean only\n> please", "> Dry clean only\n> please"),
        ("First line\nsecond line", "First line\nsecond line"),
        ("Hard  \nbreak", "Hard\nbreak"),
        ("One\n\n\n\nTwo", "One\n\nTwo"),
        ("Above\n\n---\n\nBelow", "Above\n\nBelow"),
        ("<b>Bold</b> words<br>next", "Bold words\nnext"),
        ("<div>A block of <i>HTML</i></div>", "A block of HTML"),
        ("<script>x</script>", "x"),
        ("| Size | Price |\n|---|---|\n| S | 10 |", "*Size | Price*\nS | 10"),
        ("5 \\* 3 and snake\\_case", "5 * 3 and snake_case"),
        ("Tom &amp; Jerry", "Tom & Jerry"),
        ("", ""),
    ],
)
def test_markdown_becomes_whatsapp_formatting(markdown: str, whatsapp: str) -> None:
    assert to_whatsapp(markdown) == whatsapp


def test_a_whole_answer() -> None:
    answer = (
        "## Your order\n\n"
        "Order **ORD123456** has *shipped* with Delhivery.\n\n"
        "- Track it [here](https://shiprocket.com/track/SR1)\n"
        "- Expected: __Friday__\n\n"
        "Questions? Reply to this message."
    )
    assert to_whatsapp(answer) == (
        "*Your order*\n\n"
        "Order *ORD123456* has _shipped_ with Delhivery.\n\n"
        "- Track it here (https://shiprocket.com/track/SR1)\n"
        "- Expected: *Friday*\n\n"
        "Questions? Reply to this message."
    )


def test_sources_are_appended_as_links_once() -> None:
    text = "Dry clean silk sarees [1]."
    cited = with_sources(
        text,
        [
            {"title": "Saree care", "url": "https://chicx.in/care"},
            {"title": "Saree care", "url": "https://chicx.in/care"},  # cited twice
            {"title": "Returns", "url": None},  # a passage without a page
            {"title": None, "url": "https://chicx.in/faq"},
        ],
    )
    assert cited == (
        "Dry clean silk sarees [1].\n\n"
        "Sources:\n- Saree care: https://chicx.in/care\n- https://chicx.in/faq"
    )


def test_a_source_the_answer_shows_already_is_not_repeated() -> None:
    text = to_whatsapp("Read [the guide](https://chicx.in/care).")
    assert with_sources(text, [{"title": "Care", "url": "https://chicx.in/care"}]) == text
    assert with_sources("No sources", []) == "No sources"


def test_links_are_previewed() -> None:
    assert has_link("See https://chicx.in")
    assert not has_link("No link, just chicx.in")


def _words(parts: list[str]) -> str:
    return re.sub(r"\s+", "", "".join(parts))


def test_a_short_answer_is_one_part() -> None:
    assert split("Hello") == ["Hello"]
    assert split("  \n") == []
    exact = "x" * TEXT_LIMIT
    assert split(exact) == [exact]


def test_long_answers_are_cut_between_paragraphs() -> None:
    paragraphs = [f"Paragraph {n}. " + "word " * 150 for n in range(20)]
    text = "\n\n".join(p.strip() for p in paragraphs)
    parts = split(text)
    assert len(parts) > 1
    assert all(len(part) <= TEXT_LIMIT for part in parts)
    assert all(part.startswith("Paragraph") for part in parts)  # each begins a paragraph
    assert _words(parts) == _words([text])  # nothing lost, in order
    assert "\n\n".join(parts) == text


def test_then_between_lines_then_sentences_then_words() -> None:
    lines = "\n".join(f"Line {n} " + " ".join(["ab"] * 30) for n in range(100))
    parts = split(lines, limit=500)
    assert all(len(p) <= 500 and p.startswith("Line") for p in parts)
    assert "\n".join(parts) == lines

    sentences = " ".join(f"Sentence {n} says something true." for n in range(60))
    parts = split(sentences, limit=300)
    assert all(len(p) <= 300 and p.startswith("Sentence") and p.endswith(".") for p in parts)
    assert " ".join(parts) == sentences

    words = " ".join(f"w{n}" for n in range(400))
    parts = split(words, limit=100)
    assert all(len(p) <= 100 for p in parts)
    assert " ".join(parts) == words  # no word cut in two


def test_a_cut_is_never_inside_a_url() -> None:
    url = "https://chicx.in/products/" + "silk-saree-" * 8 + "red"
    text = ("Look at this one: " + url + " ") * 40
    parts = split(text, limit=300)
    assert all(len(p) <= 300 for p in parts)
    assert all(url in p for p in parts)
    for part in parts:
        assert all(found == url for found in re.findall(r"https?://\S+", part))
    assert _words(parts) == _words([text])


def test_a_word_longer_than_a_part_is_cut_but_nothing_is_lost() -> None:
    text = "start " + "x" * 250
    parts = split(text, limit=100)
    assert all(len(p) <= 100 for p in parts)
    assert "".join(parts) == "start" + "x" * 250


def test_a_long_word_is_cut_before_a_url_that_would_straddle_the_cut() -> None:
    text = "a" * 80 + "https://chicx.in/" + "b" * 40
    parts = split(text, limit=100)
    assert parts == ["a" * 80, "https://chicx.in/" + "b" * 40]


def test_a_paragraph_break_near_the_start_does_not_make_a_tiny_part() -> None:
    text = "Hi!\n\n" + " ".join(["lorem"] * 100)
    parts = split(text, limit=200)
    assert len(parts[0]) > 100
