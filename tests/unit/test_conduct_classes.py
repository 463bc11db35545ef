"""The classes of misses and false alarms members hit with the example policy, each through
`Engine.evaluate` as `modbridge rules test` shows it: which rule hits, enforced or not."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import count
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.config import load_settings
from bridge.evaluate import make_message
from domain.model import Mode, Platform
from rules.engine import Engine

ROOT = Path(__file__).resolve().parents[2]
_ids = count()


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_settings(ROOT / "config.example.toml").policy)


def enforced(engine: Engine, text: str) -> set[str]:
    n = next(_ids)
    message = make_message(
        id=str(n), platform=Platform.CLI, author=f"m{n}", channel="c", text=text,
        ts=datetime(2026, 12, 3, tzinfo=UTC),
    )  # fmt: skip
    verdict = engine.evaluate(message)
    return {h.rule_id for h in verdict.hits if h.mode is Mode.ENFORCE and h.points}


@pytest.mark.parametrize(
    "text",
    [
        "ring him on 733 111 222 tonight",  # mobile without the leading 0
        "her phone 07-33-11-12-13",  # pairs with dashes
        "namba yake: sifuri saba tatu tatu moja moja moja mbili mbili mbili",  # Swahili words
        "his cell is zero seven double three one one one two two two",  # English, "double"
        "nine digits: seven three three, one one one, two two two - call her",
        "mail her: w a n j i k u 7 @ y a h o o . c o m",  # spaced-out e-mail
        "her insta is @wanjiku.codes",  # a handle about someone
        "follow him on snapchat @otieno_254",
        "his ig is otieno_254 if you want to find him",  # no "@"
        "you can write to her at amina.k@outlook.com",  # third person after a verb
        "reach him at +44 20 7946 0958",
        "her line: zero7 22 33 44 55",  # the word for 0 glued to the digits
        "whatsapp him on 722334455",  # no leading 0, one group, after a contact word
    ],
)
def test_contact_details_in_their_less_usual_shapes_are_enforced(engine: Engine, text: str) -> None:
    assert "contact-details" in enforced(engine, text)


@pytest.mark.parametrize("text", ["my tiktok is @baraka.dev", "my insta is baraka_dev"])
def test_a_members_own_handle_is_only_told_to_the_moderators(engine: Engine, text: str) -> None:
    assert enforced(engine, text) == set()


@pytest.mark.parametrize("text", ["her ig is private now", "his twitter is down again"])
def test_talk_about_someones_account_is_not_a_handle(engine: Engine, text: str) -> None:
    assert enforced(engine, text) == set()


@pytest.mark.parametrize(
    "text",
    [
        "what's her telegram?",
        "does anybody have his number",
        "can someone send me their whatsapp",
    ],
)
def test_asking_for_someone_elses_contact_is_solicitation(engine: Engine, text: str) -> None:
    assert "off-platform-contact" in enforced(engine, text)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("y o u a r e a m o r o n", "insults"),  # a whole phrase spaced out
        ("you are a complete moron", "insults"),
        ("u r such an imbecile", "insults"),
        ("ur a real bastard", "insults"),
        ("fuk you", "insults"),
        ("fck off", "insults"),
        ("fuck u all", "insults"),
        ("go kill ur self", "threats"),
        ("k i l l y o u r s e l f", "threats"),
        ("what a f4660t", "discrimination"),  # digits for letters inside a slur
        ("k8s 1.29 on 6 nodes, sha256 ok", None),  # digits that decode to nothing listed
    ],
)
def test_insults_and_threats_through_chat_spelling(
    engine: Engine, text: str, rule: str | None
) -> None:
    hits = enforced(engine, text)
    assert (rule in hits) if rule else not hits


@pytest.mark.parametrize(
    "hidden",
    ["\x00", "\x07", "\u2063", "\u3164", "\uffa0", "\u180e", "\U000e0067"],
)
def test_a_control_format_or_filler_character_does_not_hide_a_word(
    engine: Engine, hidden: str
) -> None:
    assert "insults" in enforced(engine, f"you m{hidden}o{hidden}ron")


def test_a_right_to_left_override_is_read_as_members_see_it(engine: Engine) -> None:
    assert "insults" in enforced(engine, "such a \u202enorom\u202c, really")


@pytest.mark.parametrize(
    "text",
    [
        "the gallery's nudes exhibition opens friday, free entry",
        "we're at the fag end of the release cycle",
        "to stop it, kill the process and then restart the nova-api service",
        "order #0722123456 was delivered to the venue",
        "receipt 0711222333 attached for the projector",
        "ticket no. 0733444555 is still open with the ISP",
        "build 722334455 passed, the job took 712345678 ms",
    ],
)
def test_innocent_uses_are_not_enforced(engine: Engine, text: str) -> None:
    assert enforced(engine, text) == set()


_PIECES = [
    "her", "his", "my", "ig", "insta", "is", ":", "@", "_", ".", "zero", "sifuri", "seven",
    "saba", "0", "7", "12", "345", "you", "ur", "r", "an", "idiot", "f", "u", "k", " ",
    "\u202e", "\u202c", "\x00", "\u3164", "at", "dot", "com", "-", "#", "order", "on", "call",
]  # fmt: skip


_ENGINE = Engine(load_settings(ROOT / "config.example.toml").policy)


@settings(max_examples=300)
@given(st.lists(st.sampled_from(_PIECES), max_size=60))
def test_the_engine_never_raises_on_mixed_pieces_of_these_shapes(pieces: list[str]) -> None:
    # pieces of every shape above, in any order and spacing: a crash would drop the message
    engine = _ENGINE
    enforced(engine, " ".join(pieces))
    enforced(engine, "".join(pieces))
