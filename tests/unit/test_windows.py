"""The per-member windows of the flood and duplicate rules: counts, expiry, idle members."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.policy import DuplicateRule, FloodRule
from rules.text import clean
from rules.windows import (
    DuplicateDetector,
    FloodDetector,
    host_and_rest,
    repeat_key,
    split_host_and_rest,
)


@dataclass(frozen=True)
class _Plain:
    text: str = ""
    links: tuple[str, ...] = ()
    mentions: tuple[object, ...] = ()


NOTHING = _Plain()  # the window rules here read neither links nor mentions


def test_flood_counts_the_messages_inside_the_window_only() -> None:
    flood = FloodDetector(
        FloodRule(id="f", kind="flood", max_messages=3, per=timedelta(seconds=10))
    )
    seen = [flood.observe("ann", t, "", NOTHING) for t in (0.0, 1.0, 2.0)]
    assert seen == [None, None, None]
    assert flood.observe("ann", 3.0, "", NOTHING) == "4 messages within 10s"
    assert flood.observe("bob", 3.0, "", NOTHING) is None
    # 0.0 and 1.0 have left the window at 11.0: ann has 2.0, 3.0 and 11.0 in it
    assert flood.observe("ann", 11.0, "", NOTHING) is None


def test_idle_members_are_forgotten() -> None:
    flood = FloodDetector(
        FloodRule(id="f", kind="flood", max_messages=3, per=timedelta(seconds=10))
    )
    rule = DuplicateRule(id="d", kind="duplicate", max_repeats=1, per=timedelta(seconds=10))
    duplicate = DuplicateDetector(rule)
    for member in ("ann", "bob"):
        flood.observe(member, 0.0, "", NOTHING)
        duplicate.observe(member, 0.0, "the same long text", NOTHING)
    flood.observe("bob", 20.0, "", NOTHING)
    duplicate.observe("bob", 20.0, "the same long text", NOTHING)
    flood.forget_idle(25.0)
    duplicate.forget_idle(25.0)
    assert list(flood._times) == ["bob"]
    assert list(duplicate._seen) == ["bob"]
    # bob's copy at 0 has left the window; those at 20 and 21 are one more than allowed
    assert duplicate.observe("bob", 21.0, "the same long text", NOTHING) is not None


def test_texts_that_differ_only_in_spacing_are_the_same_text() -> None:
    rule = DuplicateRule(id="d", kind="duplicate", max_repeats=2, per=timedelta(seconds=60))
    duplicate = DuplicateDetector(rule)
    spaced = ["buy cheap tokens now", " buy  cheap tokens now", "buy\tcheap\u00a0tokens now\n"]
    seen = [duplicate.observe("ann", float(t), text, NOTHING) for t, text in enumerate(spaced)]
    assert seen == [None, None, "buy cheap tokens now"]
    # a text with one letter more is another text
    assert duplicate.observe("ann", 4.0, "buy cheap tokens nows", NOTHING) is None


def test_cleaned_text_holds_no_whitespace_but_space_tab_and_line_ends() -> None:
    """What ``repeat_key`` relies on, for every character there is."""
    others = [chr(c) for c in range(0x110000) if chr(c).isspace() and chr(c) not in " \t\n\r"]
    cleaned = "".join(clean(chr(code)) for code in range(0x110000))
    assert [hex(ord(char)) for char in others if char in cleaned] == []


_SPACING = st.sampled_from(
    [" ", "  ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x85", "\u00a0", "\u2028",
     "\u3000", "\u200b", "\u180e", "a", "B", "é", "🎉", "\u0301", "\u202e", "\x00"]
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(_SPACING, max_size=16).map("".join))
def test_the_repeat_key_is_the_text_split_and_joined(text: str) -> None:
    cleaned = clean(text)
    assert repeat_key(cleaned) == " ".join(cleaned.split())


_LINK_PARTS = st.sampled_from(
    ["https://", "HTTP://", "http:/", "ftp://", "://", "www.", "x", "X", "org", "0", ".", "-",
     "/", "?", "#", ":", "80", "@", "[", "]", "::1", "%20", "é", "\x00", " ", "\t", "\x7f",
     "a/b", "?q=1", "#f", "\\", "_", "discord.gg/", "t.me/+"]
)  # fmt: skip


@settings(max_examples=1000, deadline=None)
@given(st.lists(_LINK_PARTS, min_size=1, max_size=10).map("".join))
def test_a_links_host_and_path_are_urlsplits(link: str) -> None:
    """The quick reading of usual links answers what urlsplit answers, for every link."""
    assert host_and_rest(link) == split_host_and_rest(link)


@pytest.mark.parametrize(
    ("link", "host", "rest"),
    [
        ("https://GitHub.com/Ann/x?tab=1#top", "github.com", "github.com/Ann/x"),
        ("discord.gg/abc", "discord.gg", "discord.gg/abc"),
        ("http://user@x.org:8080/p", "x.org", "x.org/p"),
        ("www.x.org/a://b", "", "www.x.org/a://b"),  # as urlsplit reads it: no host
        ("www.[::1", "", "www.[::1"),  # urlsplit raises here; the engine must not
    ],
)
def test_hosts_are_read_as_urlsplit_reads_them(link: str, host: str, rest: str) -> None:
    assert host_and_rest(link) == (host, rest)
