"""The normaliser every detector reads: folding, invisibles, look-alikes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.keywords import KeywordIndex
from rules.text import clean

ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u202e", "\u2066"]


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
