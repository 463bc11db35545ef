"""The classes of misses and false alarms members hit with the example policy, each through
`Engine.evaluate` as `modbridge rules test` shows it: which rule hits, enforced or not."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import count
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.config import load_settings, parse_settings
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
        "find her on insta: njeri.w",  # a bare handle after the person and the platform
        "add him on tiktok otis_254 and tell him",
        "follow their twitter kenya_devs_2",
    ],
)
def test_contact_details_in_their_less_usual_shapes_are_enforced(engine: Engine, text: str) -> None:
    assert "contact-details" in enforced(engine, text)


@pytest.mark.parametrize("text", ["my tiktok is @baraka.dev", "my insta is baraka_dev"])
def test_a_members_own_handle_is_only_told_to_the_moderators(engine: Engine, text: str) -> None:
    assert enforced(engine, text) == set()


@pytest.mark.parametrize(
    "text",
    [
        "her ig is private now",
        "his twitter is down again",
        "their twitter api_v2 integration broke",  # a developer's identifier
        "my tg bot_token leaked, rotating it",
    ],
)
def test_talk_about_someones_account_is_not_a_handle(engine: Engine, text: str) -> None:
    assert enforced(engine, text) == set()


@pytest.mark.parametrize(
    "text",
    [
        "what's her telegram?",
        "does anybody have his number",
        "can someone send me their whatsapp",
        "anyone got his digits?",  # no "do"
        "who has her insta",
        "any1 have amina's number?",  # someone named
        "where can i find his home address",
        "does anyone know where she lives?",
        "where does he stay these days",
        "anyone knows where he stays?",
        "who's got his number",
        "nitumie namba yake",  # Swahili: "send me her number"
        "kuna mtu ana whatsapp yake?",
        "nipe number ya huyo msee",  # "that guy's number"
    ],
)
def test_asking_for_someone_elses_contact_is_solicitation(engine: Engine, text: str) -> None:
    assert "off-platform-contact" in enforced(engine, text)


@pytest.mark.parametrize(
    "text",
    [
        "where's his home directory on the bastion?",
        "version number yake ni ngapi?",  # "yake" is also "its"
        "who has the project's number of open issues?",
        "anyone know where the meetup lives now, meetup.com or luma?",
    ],
)
def test_talk_about_someones_things_is_not_solicitation(engine: Engine, text: str) -> None:
    assert "off-platform-contact" not in enforced(engine, text)


@pytest.mark.parametrize(
    "text",
    [
        "i'll kill you",  # the first-person future in its chat forms
        "ill hurt u",
        "im gonna stab you",
        "I’m going to beat you up",
        "imma literally murder you",
        "we'll hurt you",
        "i will really kill ya",
        "i will f*cking kill you",  # a masked adverb in between
        "i hope you die",
    ],
)
def test_threats_in_the_first_person_future(engine: Engine, text: str) -> None:
    assert "threats" in enforced(engine, text)


@pytest.mark.parametrize(
    "text",
    [
        "i'll kill the process and restart the service",
        "I'm going to beat you at chess tomorrow",
        "i'll shoot you an email with the slides",
        "ill be there at 6, you coming?",
    ],
)
def test_the_future_of_ordinary_plans_is_not_a_threat(engine: Engine, text: str) -> None:
    assert enforced(engine, text) == set()


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("women dont belong in this field", "discrimination"),  # a contraction closed up
        ("you re such a clown", "insults"),
        ("you are the dumbest idiot", "insults"),  # a superlative in between
        ("what a total moron you are", "insults"),  # the insult before its target
        ("WHAT AN IDIOT U R", "insults"),
        ("send noodz", "sexual-advances"),
    ],
)
def test_listed_phrases_in_their_chat_spellings(engine: Engine, text: str, rule: str) -> None:
    assert rule in enforced(engine, text)


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
        "commit 254712345678 fixed it",  # a number labelled as something else
        "run seq 0712345678 0712345690 for the test data",
        "till number 0712345678 takes M-Pesa at the venue",
        "questions? write to the organisers at info@openinfra.ke",  # a role's mailbox
        "support@kenet.or.ke answers within a day",
        "you idiot-proofed the installer, nice work",  # a compound about safe use
        "moron-proof docs are the goal",
        "what an idiot I am, forgot my charger",  # about oneself: observed, not enforced
    ],
)
def test_innocent_uses_are_not_enforced(engine: Engine, text: str) -> None:
    assert enforced(engine, text) == set()


def test_a_role_mailbox_at_a_free_mail_provider_is_someones_own() -> None:
    counted = Engine(
        parse_settings(
            "[[rules]]\nid = 'contacts'\nkind = 'pii'\nrole_addresses = 'count'\n"
        ).policy
    )
    allowed = Engine(parse_settings("[[rules]]\nid = 'contacts'\nkind = 'pii'\n").policy)
    assert enforced(allowed, "mail the team at info@openinfra.ke") == set()
    assert enforced(counted, "mail the team at info@openinfra.ke") == {"contacts"}
    assert enforced(allowed, "her email is info@gmail.com") == {"contacts"}
    assert enforced(allowed, "his email is kamau@openinfra.ke") == {"contacts"}


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
