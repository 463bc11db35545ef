"""Configuration: the example policy loads, and every mistake gets a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import ConfigError, load_settings, parse_settings

ROOT = Path(__file__).resolve().parents[2]


def test_example_policy_loads_and_covers_the_code_of_conduct() -> None:
    settings = load_settings(ROOT / "config.example.toml")
    kinds = {rule.kind for rule in settings.rules}
    assert kinds == {
        "keywords",
        "regex",
        "pii",
        "solicitation",
        "flood",
        "duplicate",
        "mentions",
        "links",
    }
    clauses = " ".join(rule.clause for rule in settings.rules)
    for clause in ("Harassment", "Insults", "contact details", "outside community platforms"):
        assert clause in clauses


def test_minimal_rule_needs_only_id_kind_and_its_own_keys() -> None:
    settings = parse_settings('[[rules]]\nid = "x"\nkind = "keywords"\nwords = ["idiot"]\n')
    rule = settings.rules[0]
    assert rule.points == 1
    assert rule.mode.value == "enforce"
    assert [str(a) for a in rule.actions] == ["delete", "notify"]
    assert rule.exempt_moderators is True


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[[rules]]\nid = 'x'\nkind = 'keywords'\n", "rules[0] (id 'x'): a keywords rule needs"),
        ("[[rules]]\nid = 'x'\nkind = 'nonsense'\n", "rules[0] (id 'x'): unknown rule kind"),
        ("[[rules]]\nid = 'x'\n", "rules[0] (id 'x'): every rule needs a 'kind'"),
        (
            "[[rules]]\nid = 'x'\nkind = 'regex'\npatterns = ['(a)\\1']\n",
            "rules[0] (id 'x').patterns: pattern '(a)\\\\1' cannot run in linear time",
        ),
        (
            "[[rules]]\nid = 'x'\nkind = 'regex'\npatterns = ['(?=a)b']\n",
            "lookaround",
        ),
        (
            "[[rules]]\nid = 'x'\nkind = 'flood'\nper = 'soon'\n",
            "rules[0] (id 'x').per: 'soon' is not a duration",
        ),
        (
            "[[rules]]\nid = 'x'\nkind = 'flood'\nactions = ['mute']\n",
            "rules[0] (id 'x').actions[0]: 'mute' needs a duration",
        ),
        (
            "[[rules]]\nid = 'x'\nkind = 'flood'\nactions = ['explode']\n",
            "unknown action 'explode'",
        ),
        (
            "[[rules]]\nid = 'x'\nkind = 'flood'\npionts = 3\n",
            "rules[0] (id 'x').pionts: unknown key",
        ),
        (
            "[[rules]]\nid = 'x'\nkind = 'flood'\n[[rules]]\nid = 'x'\nkind = 'flood'\n",
            "two rules have the id 'x'",
        ),
        ("[escalation]\ndecay = '-1d'\n", "escalation.decay: '-1d' is not a duration"),
        (
            "[texts]\nreport_received_anonymous = 'Asante. Kesi #{kesi}.'\n",
            "texts.report_received_anonymous: unknown placeholder {kesi}: this text can use {case}",
        ),
        ("[texts]\nreport_closed = 'kesi {case} {'\n", "write {{ and }} for a literal brace"),
        ("[escalation]\ndecay = '9999999w'\n", "escalation.decay: '9999999w' is too long"),
        ("[escalation]\ndecay = '99999999999d'\n", "at most 3650d"),
        (
            "[[rules]]\nid = 'x'\nkind = 'flood'\nactions = ['mute 9999999w']\n",
            "rules[0] (id 'x').actions[0]: '9999999w' is too long",
        ),
        (
            "[escalation]\nladder = [{points = 5, action = 'ban'}, "
            "{points = 3, action = 'warn'}]\n",
            "escalation.ladder: ladder steps must have strictly increasing points",
        ),
        ("[[rules]\nid = 'x'", "not valid TOML"),
        (
            "[discord]\ntoken = 'abc'\n",
            "discord.token must not be written in the file; set the environment variable "
            "MODBRIDGE_DISCORD__TOKEN",
        ),
        (
            "[matrix]\nhomeserver = 'http://x'\nuser_id = '@bot:x'\npassword = 'hunter2'\n",
            "MODBRIDGE_MATRIX__PASSWORD",
        ),
    ],
)
def test_bad_configuration_names_the_key_and_the_problem(toml: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(toml, source="policy.toml")
    message = str(info.value)
    assert expected in message
    assert "Traceback" not in message
    assert "hunter2" not in message
    assert "'abc'" not in message


def test_words_file_is_read_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "words.txt").write_text("# insults\nnincompoop\n\nnumpty  # Scots\n")
    (tmp_path / "policy.toml").write_text(
        "[[rules]]\nid = 'w'\nkind = 'keywords'\nwords_file = 'words.txt'\n"
    )
    settings = load_settings(tmp_path / "policy.toml")
    assert settings.rules[0].words == ("nincompoop", "numpty")  # type: ignore[union-attr]


def test_missing_words_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "policy.toml").write_text(
        "[[rules]]\nid = 'w'\nkind = 'keywords'\nwords_file = 'nope.txt'\n"
    )
    with pytest.raises(ConfigError, match=r"rules\[0\]\.words_file: cannot read .*nope\.txt"):
        load_settings(tmp_path / "policy.toml")


def test_an_environment_variable_that_cannot_be_read_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODBRIDGE_DISCORD__GUILDS", "[not json")
    with pytest.raises(ConfigError, match=r"environment: .*\"discord\".*written as JSON"):
        parse_settings("")


def test_environment_overrides_the_file_and_carries_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODBRIDGE_STORAGE__PATH", "/srv/elsewhere.db")
    monkeypatch.setenv("MODBRIDGE_MATRIX__PASSWORD", "s3cret")
    settings = parse_settings(
        "[storage]\npath = 'here.db'\n[matrix]\nhomeserver = 'http://hs'\nuser_id = '@bot:hs'\n"
    )
    assert settings.storage.path == "/srv/elsewhere.db"
    assert settings.matrix is not None
    assert settings.matrix.homeserver == "http://hs"
    assert settings.matrix.password is not None
    assert settings.matrix.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)
