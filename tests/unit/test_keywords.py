"""The keyword detector: whole words, through the usual evasions, never inside other words."""

from __future__ import annotations

import pytest

from rules.keywords import KeywordIndex
from rules.text import clean

POLICY = {
    "insults": ["loser", "ass", "hell", "idiot", "shit", "fuck", "n00b"],
    "self-harm": ["kill yourself"],
}


@pytest.fixture(scope="module")
def index() -> KeywordIndex:
    return KeywordIndex(POLICY)


def search(index: KeywordIndex, raw: str) -> dict[str, str]:
    return index.search(clean(raw))


@pytest.mark.parametrize(
    ("message", "rule", "matched"),
    [
        ("you LOSER", "insults", "loser"),
        ("Loser.", "insults", "loser"),
        ("lоsеr", "insults", "loser"),  # Cyrillic o, e
        ("іdіot", "insults", "idiot"),  # Cyrillic i
        ("ｌｏｓｅｒ", "insults", "loser"),  # full width
        ("l\u200bo\u200ds\u2060er", "insults", "loser"),  # zero width
        ("lösér", "insults", "loser"),  # accents
        ("l0s3r", "insults", "loser"),
        ("1oser", "insults", "loser"),
        ("|oser", "insults", "loser"),
        ("l0$er", "insults", "loser"),
        ("@ss", "insults", "ass"),
        ("a$$", "insults", "ass"),
        ("4ss", "insults", "ass"),
        ("$h!t", "insults", "shit"),
        ("sh1t", "insults", "shit"),
        ("5hit", "insults", "shit"),
        ("sh7t", None, None),  # 7 reads as t, not as i: no word
        ("he|| no", "insults", "hell"),
        ("1d10t", "insults", "idiot"),
        ("l o s e r", "insults", "loser"),
        ("l.o.s.e.r", "insults", "loser"),
        ("l-o-s-e-r", "insults", "loser"),
        ("l_o_s_e_r", "insults", "loser"),
        ("l. o. s. e. r", "insults", "loser"),
        ("you are a l o s e r", "insults", "loser"),
        ("a s s", "insults", "ass"),
        ("looooser", "insults", "loser"),
        ("loserrrr", "insults", "loser"),
        ("asssss", "insults", "ass"),
        ("l000ser", "insults", "loser"),
        ("l*ser", "insults", "loser"),
        ("l#ser", "insults", "loser"),
        ("f**k off", "insults", "fuck"),
        ("sh*t", "insults", "shit"),
        ("losers", "insults", "loser"),
        ("l0sers", "insults", "loser"),
        ("asses", "insults", "ass"),
        ("*hell*", "insults", "hell"),
        ("what the hell!!!", "insults", "hell"),
        ("#hell", "insults", "hell"),
        ("n00b", "insults", "n00b"),
        ("n0ob", "insults", "n00b"),
        ("go kill yourself", "self-harm", "kill yourself"),
        ("KILL   YOURSELF!", "self-harm", "kill yourself"),
        ("kill, yourself", "self-harm", "kill yourself"),
        ("k1ll yourself", "self-harm", "kill yourself"),
        ("kill y0urs3lf", "self-harm", "kill yourself"),
        ("k i l l yourself", "self-harm", "kill yourself"),
        ("kiiiill yourself", "self-harm", "kill yourself"),
        ("k*ll yourself", "self-harm", "kill yourself"),
        ("kіll уourself", "self-harm", "kill yourself"),  # Cyrillic i, y
    ],
)
def test_evasions_hit(index: KeywordIndex, message: str, rule: str | None, matched: str) -> None:
    expected = {} if rule is None else {rule: matched}
    assert search(index, message) == expected


CLEAN_CHATTER = [
    "assess the class of the passport service",
    "hello shell",
    "kubectl apply -f deploy.yaml",
    "the cluster is looser now",
    "the bolts are loose, looser than yesterday",
    "nova 2023.1 antelope, neutron v1.2.3, python 3.11.7",
    "we need assistance with the classifier",
    "assassin's creed is a game",
    "run helm upgrade in the shell, then say hello",
    "check the embassy passport assessment",
    "k8s s3 ec2 ipv4 sha256 x86_64 arm64",
    "retry after 4s, backoff 5s, timeout 30s",
    "the fee is $5, or $100 a year",
    "ping 10.0.0.1 and 192.168.1.455",
    "ping 1.4.5.5 then a.s.s.e.s.s it",
    "port 455 is open, 1337 too",
    "use a.b.c notation, e.g. i.e.",
    "@alice can you review #1234? thanks!",
    "grep -r 'foo|bar' /var/log",
    "shellcheck found 3 issues in hello.sh",
    "the a s s i s t a n t replied",
    "a*b*c = d",
    "**bold** and *italic*",
    "skill yourself up on ansible",
    "killing the process yourself is fine",
    "cocktail hour, scunthorpe and penistone",
    "a** and **s are mostly masks",
    "bill will fill the till",
    "loose ends: l00se",
    "zzz sleeping, www.example.org, aaa battery",
    "très bien, ça marche 👍",
    "",
    "   ",
    "!!!",
]


@pytest.mark.parametrize("message", CLEAN_CHATTER)
def test_clean_chatter_does_not_hit(index: KeywordIndex, message: str) -> None:
    assert search(index, message) == {}


def test_every_rule_reports_its_own_first_hit(index: KeywordIndex) -> None:
    hits = search(index, "you l0ser, go kill yourself, idiot")
    assert hits == {"insults": "loser", "self-harm": "kill yourself"}


def test_one_word_in_two_rules_hits_both() -> None:
    index = KeywordIndex({"a": ["troll"], "b": ["Troll", "spam"]})
    assert index.search(clean("TR0LL")) == {"a": "troll", "b": "troll"}


def test_digit_runs_are_not_joined_into_words() -> None:
    index = KeywordIndex({"codes": ["1 4 8 8", "455"]})
    assert index.search(clean("1 4 8 8")) == {"codes": "1 4 8 8"}
    assert index.search(clean("port 4.5.5, l o l")) == {}
    assert index.search(clean("port 455")) == {"codes": "455"}


def test_no_rules_no_hits() -> None:
    assert KeywordIndex({}).search("anything") == {}


@pytest.mark.parametrize("word", ["", "   ", "!!!", "\u200b", "*"])
def test_blank_or_empty_words_are_refused(word: str) -> None:
    with pytest.raises(ValueError, match="rule 'r'"):
        KeywordIndex({"r": ["fine", word]})


@pytest.mark.parametrize(
    "message",
    ["my car is a n1994 model", "the n1994 batch shipped", "flying the a5555 today"],
)
def test_a_letter_before_a_long_number_is_a_model_number_not_leetspeak(message: str) -> None:
    # "n1994" decodes to a listed slur and "a5555" to "asss": model numbers and years
    index = KeywordIndex({"slurs": ["nigga"], "insults": ["ass"]})
    assert search(index, message) == {}


@pytest.mark.parametrize(
    ("message", "matched"), [("i know where you 574y", "stay"), ("n1gg4 please", "nigga")]
)
def test_leetspeak_with_digit_runs_still_hits(message: str, matched: str) -> None:
    index = KeywordIndex({"slurs": ["nigga"], "threats": ["i know where you stay"]})
    assert matched in " ".join(search(index, message).values())
