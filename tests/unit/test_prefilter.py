"""The engine's one pass (rules.prefilter) never keeps a detector from a hit it would find.

Each detector is run here on its own, the way it reads a message when nobody tells it
anything (its own first checks included), and the engine's answer for the same text must be
the same: on the labelled evaluation set, on generated chatter, and on text built from the
characters the detectors care about (digits, leet symbols, number words, "@", look-alikes).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.config import parse_settings
from bridge.evaluate import make_message
from domain.model import Platform
from rules.engine import Engine
from rules.pii import find_contacts, is_own
from rules.policy import PiiRule, SolicitationRule
from rules.prefilter import LINK
from rules.solicitation import find_solicitation
from rules.text import clean, clean_reading, reads_as_ascii
from rules.windows import find_links

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / "config.example.toml").read_text(encoding="utf-8")
EXTRA = """
[[rules]]
id = "tickets"
kind = "regex"
patterns = ['ops-\\d{5}', '\\bcve-\\d{4}-\\d+']

[[rules]]
id = "norway"
kind = "pii"
default_region = "NO"
"""


_ENGINE = Engine(parse_settings(EXAMPLE + EXTRA).policy)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return _ENGINE


def each_detector_alone(engine: Engine, cleaned: str) -> list[tuple[str, str]]:
    """(rule id, what matched) for every stateless rule, each detector on its own."""
    found = [*engine._keywords.search(cleaned).items(), *engine._regexes.search(cleaned).items()]
    for rule in engine.policy.rules:
        if isinstance(rule, PiiRule):
            for contact in find_contacts(
                cleaned, phones=rule.phones, emails=rule.emails,
                default_region=rule.default_region, handles=rule.handles,
            ):  # fmt: skip
                if rule.allows(contact.excerpt):
                    continue
                if rule.own_contacts != "include" and is_own(cleaned, contact) is (
                    rule.own_contacts == "exclude"
                ):
                    continue
                found.append((rule.id, contact.excerpt))
                break
        elif isinstance(rule, SolicitationRule) and (asked := find_solicitation(cleaned)):
            found.append((rule.id, asked))
    return sorted(found)


def through_the_engine(engine: Engine, cleaned: str) -> list[tuple[str, str]]:
    _signals, hits = engine._stateless(cleaned, reads_as_ascii(cleaned))
    # the engine masks contacts it reports; compare which rules hit, and the rest verbatim
    return sorted((rule.id, "" if rule.kind == "pii" else matched) for _, rule, matched in hits)


def same(engine: Engine, text: str) -> None:
    cleaned = clean(text)
    alone = [
        (rule, "" if rule in _PII_RULES else matched)
        for rule, matched in each_detector_alone(engine, cleaned)
    ]
    assert through_the_engine(engine, cleaned) == sorted(alone), text


_PII_RULES = {"contact-details", "own-contact-details", "norway"}


def test_the_labelled_set_reads_the_same(engine: Engine) -> None:
    lines = (ROOT / "tests" / "data" / "conduct_eval.jsonl").read_text(encoding="utf-8")
    texts = [json.loads(line)["text"] for line in lines.splitlines() if line.strip()]
    assert len(texts) >= 2000
    for text in texts:
        same(engine, text)


@pytest.mark.parametrize(
    "text",
    [
        "call 0712 345 678 now", "zero seven one two three four five six seven eight",
        "sifuri saba moja mbili tatu nne tano sita saba", "712 345 678", "text him on 712345678",
        "b a r a k a @ g m a i l . c o m", "jane at gmail dot com", "mail j.k@x.org please",
        "her ig is @wanjiku_k", "her ig is wanjiku_k", "what is her whatsapp?", "l0s3r",
        "y o u i d i o t", "looooser", "l*ser", "fa66ot", "you🎉idiot", "thanks 🎉 you idiot",
        "ʏᴏᴜ ɪᴅɪᴏᴛ", "ur an absolute idiot", "ops-12345 and cve-2024-1234", "ＯＰＳ-12345",
        "tlf 41 23 45 67", "ring meg på 412 34 567", "zero712345678", "i\x00d\x07iot",
        "order #0712345678", "the nudes exhibition", "kill the process",
    ],
)  # fmt: skip
def test_the_shapes_detectors_look_for_read_the_same(engine: Engine, text: str) -> None:
    same(engine, text)


_PIECES = st.sampled_from([
    " ", "  ", "-", ".", "@", "0", "7", "12", "345", "678", "o", "l", "i", "!", "$", "*", "#",
    "|", "you", "ur", "idiot", "loser", "moron", "fuck", "zero", "seven", "saba", "at", "dot",
    "gmail", "com", "her", "ig", "is", "number", "whatsapp", "what", "send", "me", "your",
    "🎉", "é", "ı", "\u200b", "\u202e", "+254", "(0)", "ops-", "cve-", "\n", "x", "kys",
    "1d", "10t", "k8s", "404s", "m0r", "0n", "l00", "s3r", "b1tch", "ooo", "v2", "n1994",
])  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=24).map("".join))
def test_text_made_of_what_detectors_look_for_reads_the_same(text: str) -> None:
    same(_ENGINE, text)


_LINK_PIECES = st.sampled_from([
    " ", ".", "/", ":", "h", "t", "p", "s", "w", "W", "HTTP", "https://", "http:/", "www",
    "WWW.", "discord", "DISCORD", "app", ".com", "/invite", ".gg", "t.me", "T.ME", "chat.",
    "whatsapp", ".com/", "x", "\x00", "\x07", "\t", "\n", "-", "+", "(", ")", "]", "'",
    # past ASCII: what cleaning removes, spaces, folds, composes or reverses, and the
    # letters re reads case-insensitively as ASCII ones
    "🎉", "é", "\u0301", "\u0338", "\u0307", "\u200b", "\u00ad", "\u00a0", "\u3000",
    "\u202e", "\u202c", "\u202d", "\u2066", "\u2069", "ｈｔｔｐｓ", "ｗｗｗ．", "／", "：",
    "\u017f", "\u212a", "\u0131", "\u0130", "d", "scord", "nvite", "\u0455", "\u0440", "ß",
    "ǰ", "\u3164",
])  # fmt: skip


def links_window_skipped(engine: Engine, text: str) -> bool:
    """Whether the engine leaves the links window out for ``text`` (see Engine.evaluate)."""
    cleaned, ascii_like, links_kept = clean_reading(text)
    signals, _hits = engine._stateless(cleaned, ascii_like)
    return not signals & LINK and links_kept


@settings(max_examples=1500, deadline=None)
@given(st.lists(_LINK_PIECES, max_size=20).map("".join))
def test_no_text_with_a_link_skips_the_links_window(text: str) -> None:
    assert not find_links(text) or not links_window_skipped(_ENGINE, text), text


@pytest.mark.parametrize(
    "text",
    ["HTTPS://EVIL.EXAMPLE", "see Www.example.org", "join DISCORD.GG/abc", "t.me/+xyz",
     "http://a\x00b.org", "discordapp.com/invite/x", "CHAT.WHATSAPP.COM/abc",
     "🎉 https://x.org", "join d\u0131scord.gg/x 🎉", "d\u0130scord.gg/x", "\u202ehttps://x.org", "HTTP\u017f://x.org",
     "\u202e gg.drocsid//:sptth \u202c then https://y.org/\u0338 ok", "é www.x.org\u0301"],
)  # fmt: skip
def test_links_the_window_must_read_are_not_skipped(text: str) -> None:
    assert find_links(text)
    assert not links_window_skipped(_ENGINE, text)


def test_a_link_no_window_reads_is_still_counted() -> None:
    """The shortcut is the window's own business: a link in the text is a hit as before."""
    engine = Engine(parse_settings(EXAMPLE).policy)
    message = make_message(
        id="1", platform=Platform.DISCORD, author="ann", channel="general",
        text="come over: DISCORD.GG/elsewhere", ts=datetime(2026, 12, 1, tzinfo=UTC),
    )  # fmt: skip
    assert [hit.rule_id for hit in engine.evaluate(message).hits] == ["links"]


@pytest.mark.parametrize("text", ["look www.[::1 now", "https://[abc/x", "http://[::1/x]"])
def test_a_link_no_address_parser_can_read_is_still_judged(text: str) -> None:
    """urlsplit raises on an unclosed IPv6 bracket; the engine answered with a traceback."""
    engine = Engine(parse_settings(EXAMPLE).policy)
    message = make_message(
        id="1", platform=Platform.DISCORD, author="ann", channel="general", text=text,
        ts=datetime(2026, 12, 1, tzinfo=UTC),
    )  # fmt: skip
    assert engine.evaluate(message).message_id == "1"
