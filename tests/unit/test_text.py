"""The normaliser every detector reads: folding, invisibles, look-alikes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.keywords import KeywordIndex
from rules.text import LINK_HIDERS, clean, clean_reading, reads_as_ascii

ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u2066", "\x00", "\x07"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Hello World", "hello world"),
        ("ＨＥＬＬＯ ｗｏｒｌｄ １２３", "hello world 123"),
        ("l\u200bo\u200cs\u200de\u2060r", "loser"),
        ("lоsеr", "loser"),  # Cyrillic o and e
        ("іdіot", "idiot"),  # Cyrillic i
        ("ΑSS", "ass"),  # Greek capital alpha
        ("ѕhіt", "shit"),
        ("кill", "kill"),
        ("straße", "strasse"),
        (
            "e-mail: bob@example.org, +254 700 000 000!",
            "e-mail: bob@example.org, +254 700 000 000!",
        ),
        ("caf\u200be\u0301", "café"),  # an invisible between a letter and its accent
    ],
)
def test_clean(raw: str, expected: str) -> None:
    assert clean(raw) == expected


@given(st.text())
def test_clean_is_idempotent(text: str) -> None:
    once = clean(text)
    assert clean(once) == once


@given(st.text(), st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(ZERO_WIDTH))))
def test_zero_width_characters_change_nothing(text: str, inserts: list[tuple[int, str]]) -> None:
    spiked = text
    for position, char in inserts:
        at = position % (len(spiked) + 1)
        spiked = spiked[:at] + char + spiked[at:]
    assert clean(spiked) == clean(text)


ASCII_PRINTABLE = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E))


@given(ASCII_PRINTABLE)
def test_full_width_forms_fold_to_ascii(text: str) -> None:
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in text)
    assert clean(full_width) == text.lower()


@given(st.text(st.characters(codec="ascii") | st.sampled_from("äöüéèçñåøаеорсух")))
def test_case_does_not_matter(text: str) -> None:
    assert clean(text.upper()) == clean(text.lower()) == clean(text)


@given(st.text(st.characters(exclude_categories=())))  # lone surrogates too
def test_search_never_raises(text: str) -> None:
    index = KeywordIndex({"insults": ["loser", "ass", "kill yourself", "n00b"]})
    hits = index.search(clean(text))
    assert set(hits) <= {"insults"}


# Characters are chosen by class, so these stand for their whole category.
HIDDEN_BY_CLASS = [
    "\x00", "\x07", "\x1b", "\x7f",  # Cc in ASCII
    "\x85", "\x9b",  # Cc beyond ASCII
    "\u2062", "\u206a", "\u061c", "\U000110bd", "\U0001d173", "\U000e0041",  # Cf
    "\u3164", "\u115f", "\u1160", "\uffa0", "\u17b4",  # fillers (default-ignorable)
    "\ufe0f", "\U000e0100",  # variation selectors
]  # fmt: skip


@pytest.mark.parametrize("hidden", HIDDEN_BY_CLASS)
def test_control_format_and_filler_characters_inside_a_word_are_removed(hidden: str) -> None:
    assert clean(f"you i{hidden}d{hidden}iot") == "you idiot"


def test_ascii_control_characters_go_whether_or_not_the_text_is_ascii() -> None:
    """Cleaning finds ASCII control characters with the characters past ASCII when there
    are any, by another scan when there are none: the same characters go either way."""
    for code in [*range(0x20), 0x7F]:
        char = chr(code)
        kept = char in "\t\n"
        assert clean(f"i{char}d") == (f"i{char}d" if kept else "id"), hex(code)
        assert clean(f"🎉 i{char}d") == (f"🎉 i{char}d" if kept else "🎉 id"), hex(code)
        assert clean(f"é{char}\u0301") == (f"é{char}\u0301" if kept else "é\u0301"), hex(code)


def test_a_right_to_left_override_reads_as_the_screen_shows_it() -> None:
    # U+202E shows what follows reversed: members see "you idiot", so the engine must too.
    assert clean("you \u202etoidi") == "you idiot"
    assert clean("a \u202etoidi\u202c b") == "a idiot b"
    assert clean("line one \u202eeno\nline two") == "line one one\nline two"


def test_blank_lookalike_spaces_separate_words() -> None:
    assert clean("you\u2800idiot") == "you idiot"
    assert clean("you\u3000idiot") == "you idiot"


_MIXED = st.text(
    st.characters(codec="ascii")
    | st.sampled_from("🎉👍️\u200b\u00a0\u202e\u202cаеоé\u0301ß漢字٣ⅻ①ＡＢ１\u3164\U000e0041")
    | st.characters(exclude_categories=())
)


def _free_of_link_hiders(text: str) -> bool:
    return not any(char in text for char in LINK_HIDERS)


@given(_MIXED)
def test_reading_as_ascii_comes_with_the_cleaned_text(text: str) -> None:
    """clean_reading's shortcut answers what reads_as_ascii answers of the cleaned text."""
    cleaned, ascii_like, links_kept = clean_reading(text)
    assert cleaned == clean(text)
    assert ascii_like is reads_as_ascii(cleaned)
    assert links_kept is _free_of_link_hiders(text)


def test_every_character_reads_as_ascii_or_not_as_it_should() -> None:
    for code in range(0x80, 0x110000):
        text = f"a{chr(code)}b"
        cleaned, ascii_like, links_kept = clean_reading(text)
        assert ascii_like is reads_as_ascii(cleaned), hex(code)
        assert links_kept is _free_of_link_hiders(text), hex(code)
