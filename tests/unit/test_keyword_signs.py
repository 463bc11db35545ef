"""The keyword signs (rules.keyword_signs): the engine skips the keyword index only when the
index would have found nothing.

A digit or leet symbol touching a letter ("k8s", "10am", "@wanjiru") used to send a message
to the index's closer look; now it does so only with a word the closer look may read as a
word a listed phrase starts with (or a second-person form). These tests hold the index, read
on its own with every sign it computes itself, against the engine's answer.
"""

from __future__ import annotations

import pytest
import re2
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bridge.config import parse_settings
from rules.engine import Engine
from rules.keyword_signs import disguise_trigger, drop_edges
from rules.keywords import _ASCII, KeywordIndex
from rules.prefilter import ANY_KEYWORD_SIGN, KEYWORD_WORD
from rules.text import clean, reads_as_ascii

# Listed words with leet symbols, masks and digits in them, first words that are one letter
# ("i"), numbers, phrases that only hit in the second-person or future reading, and phrases
# whose key word (rules.phrasing.key_word) is not their first.
_WORDS = [
    "idiot", "f*ck you", "$hit", "@ss", "l0ser", "kys", "i know where you live", "404 page",
    "you are an idiot", "shut up", "b!tch", "go die", "x", "fuck off", "moron",
    "i will hurt you", "show me your body", "your boobs", "we will", "so up",
]  # fmt: skip
_TOML = f"""
[[rules]]
id = "insults"
kind = "keywords"
words = {_WORDS!r}
"""
_ENGINE = Engine(parse_settings(_TOML).policy)


def _keyword_hits(engine: Engine, cleaned: str) -> tuple[dict[str, str], dict[str, str]]:
    """What the index finds reading ``cleaned`` alone, and what the engine reports."""
    alone = engine._keywords.search(cleaned)
    _, found = engine._stateless(cleaned, reads_as_ascii(cleaned))
    through = {rule.id: matched for _, rule, matched in found}
    return alone, through


def _is_sign(pattern: str, text: str) -> bool:
    signs = re2.Set.SearchSet()
    signs.Add(pattern)
    signs.Compile()
    return bool(signs.Match(text.encode()))


@pytest.mark.parametrize(
    "text",
    [
        "1d10t", "!d!0t", "1d1ot!", "#1d10t", "l0s3r", "f*ck y0u", "f#ck you", "$h!t", "@$$",
        "4ss", "k y s", "kkkys", "y0u are an idiot", "1 know where u live", "id*ot", "$hi7",
        "5hit", "sh1t up", "b1tch", "g0 die", "f0ck 0ff", "m0r0n", "mor0n", "fuck 0ff",
        "| know where u live", "!1 know where y0u live", "g0 d1e", "60 die",
        # no sign of disguise: the whole phrase, with any separators, or its second person
        "ur an absolute idiot", "shut  up", "shut, up!", "fuck - you", "go\ndie", "u r stupid",
        "i  know where u live", "you, such a loser", "idiot? u", "ya are so stupid",
    ],
)  # fmt: skip
def test_disguised_listed_words_still_reach_the_index(text: str) -> None:
    cleaned = clean(text)
    alone, through = _keyword_hits(_ENGINE, cleaned)
    assert through == alone
    if alone:  # a disguise the index reads: the engine must have asked it
        signals, _ = _ENGINE._prefilter.scan(cleaned)
        assert signals & (ANY_KEYWORD_SIGN | KEYWORD_WORD)


@pytest.mark.parametrize(
    "text",
    [
        "k8s v2 rollout at 10am",
        "ping @wanjiru about ipv6",
        "sha256 of the 3pm build",
        "mail salim115@gmail.com",
        "x86 and mp4 on the b2b portal",
        "4th floor, 2nd door",
    ],
)
def test_digits_touching_letters_alone_do_not_make_the_engine_read(text: str) -> None:
    signals, _ = _ENGINE._prefilter.scan(clean(text))
    assert not signals & (ANY_KEYWORD_SIGN | KEYWORD_WORD)
    assert _ENGINE._keywords.search(clean(text)) == {}


def test_each_reading_of_a_listed_word_matches_its_pattern() -> None:
    pattern = disguise_trigger(["loser", "ass", "f*ck"])
    assert pattern is not None
    for text in ["l0s3r", "|oser", "loooser", "1o5er", "@$$", "4sss", "f#ck", "f*ck"]:
        assert _is_sign(pattern, f"you {text}!"), text
    for text in ["class", "lose", "losers2", "a5k", "k8s"]:
        assert not _is_sign(pattern, f"you {text}!"), text
    assert _is_sign(pattern, "l*ser")  # a mask inside a word
    assert not _is_sign(pattern, "**bold** and #tag")  # emphasis and hashtags are edges


def test_a_very_long_listed_word_builds() -> None:
    word = "ab" * 3000  # the trie is built without recursion
    index = KeywordIndex({"long": [word]})
    pattern = index.disguise_pattern()
    assert pattern is not None
    assert _is_sign(pattern, f"x {word.replace('a', '4')} y")
    engine = Engine(
        parse_settings(f"[[rules]]\nid='long'\nkind='keywords'\nwords=['{word}']\n").policy
    )
    assert _keyword_hits(engine, word.replace("a", "4")) == ({"long": word}, {"long": word})


_PIECES = st.sampled_from([
    " ", "  ", ".", ",", "-", "'", "@", "#", "*", "!", "$", "|", "0", "1", "3", "4", "5",
    "7", "8", "9", "10", "am", "k8s", "v2", "i", "l", "d", "o", "t", "s", "h", "y", "u",
    "ur", "you", "y0u", "idiot", "1d10t", "id", "iot", "know", "where", "live", "l1ve",
    "f", "ck", "fuck", "off", "0ff", "shut", "up", "b", "tch", "x", "kys", "go", "die",
    "show", "me", "your", "body", "b0dy", "bbs", "8s", "boobs", "b00bs", "hurt", "ill",
    "i'll", "imma", "will", "we", "we'll", "h*rt", "really",
    "404", "page", "ass", "moron", "m0r0n", "are", "an", "🎉", "é", "\n", "self", "so",
])  # fmt: skip


_YOU_PIECES = st.sampled_from([
    "ur ", "u ", "you ", "ya ", "are ", "an ", "so ", "r ", "idiot ", "self ", "fuck ", "kill ",
    "y0u ", "1d10t ", "live ", "where ", "know ", "i ", "stupid ", "the ", "off ", "ur self ",
    "i'll ", "ill ", "im ", "gonna ", "going ", "to ", "will ", "we ", "we'll ", "really ",
    "hurt ", "fight ", "what ", "a ",
])  # fmt: skip


@settings(max_examples=600, deadline=None)
@given(st.lists(_PIECES | _YOU_PIECES, max_size=16).map("".join))
def test_the_engine_finds_what_the_index_finds_alone(text: str) -> None:
    alone, through = _keyword_hits(_ENGINE, clean(text))
    assert through == alone, text


@settings(max_examples=600, deadline=None)
@given(st.lists(_PIECES | _YOU_PIECES, max_size=12).map("".join))
@example("we'll fight you")  # a form without "you" that the future reading lets match
@example("imma really hurt ya")
def test_the_second_person_reading_is_skipped_only_when_it_adds_nothing(text: str) -> None:
    other = ["so idiot", "u r", "self", "i will hurt you", "we will fight", "ill will"]
    index = KeywordIndex({"insults": _WORDS, "other": other})
    always = KeywordIndex({"insults": _WORDS, "other": other})
    always._reread = None  # read every message with a second-person form again
    cleaned = clean(text)
    assert index.search(cleaned) == always.search(cleaned), text


def test_a_policy_without_you_in_its_phrases_is_not_read_for_you() -> None:
    index = KeywordIndex({"words": ["idiot", "shut up"]})
    assert index._reread == frozenset()
    trigger = index.trigger_pattern()
    assert trigger is not None
    assert not _is_sign(trigger, "are you coming, ur late")
    assert index.search("ur an absolute idiot") == {"words": "idiot"}
    with_you = KeywordIndex({"words": ["you idiot"]})
    assert with_you.trigger_pattern() is not None
    assert _is_sign(str(with_you.trigger_pattern()), "ur an absolute idiot")
    assert with_you.search("ur an absolute idiot") == {"words": "you idiot"}
    assert with_you.search("ur an absolute genius") == {}


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet="ab1@$|!*# .,-\n", max_size=60), st.integers(0, 60))
def test_word_edges_are_dropped_as_the_edge_regex_drops_them(marked: str, cut: int) -> None:
    pad = "ab 1 c2, " * 30  # long text takes the str.find path
    for text in (marked, pad + marked, marked + pad, marked[:cut] + pad + marked[cut:]):
        assert drop_edges(text, _ASCII.edge) == _ASCII.edge.sub(" ", text)
