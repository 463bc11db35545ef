"""Configuration: the example policy loads, and every mistake gets a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import ConfigError, load_settings, parse_settings
from cli.main import main

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


MATRIX = "[matrix]\nhomeserver = 'https://hs'\nuser_id = '@bot:hs'\n"


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (  # a duplicate id: one line naming both rules, not pydantic's dump
            "[[rules]]\nid = 'x'\nkind = 'flood'\n[[rules]]\nid = 'x'\nkind = 'duplicate'\n",
            "rules[1] (id 'x'): two rules have the id 'x' (rules[0] and rules[1]); "
            "ids must be unique",
        ),
        (  # a syntax error is a syntax error, not a matter of linear time
            "[[rules]]\nid = 'r'\nkind = 'regex'\npatterns = ['(free']\n",
            "rules[0] (id 'r').patterns: pattern '(free' is not a valid regular expression: "
            "missing ), unterminated subpattern",
        ),
        (
            "[[rules]]\nid = 'p'\nkind = 'pii'\ndefault_region = 'ke'\n",
            "rules[0] (id 'p').default_region: must be a two-letter country code, upper case, "
            "e.g. \"KE\", not 'ke'",
        ),
        (
            "[matrix]\nhomeserver = 'https://hs'\nuser_id = 'modbridge'\n",
            'matrix.user_id: must be a full Matrix user id, e.g. "@modbridge:example.org", '
            "not 'modbridge'",
        ),
        (  # strict types: no silent "yes" -> True or "6" -> 6
            "[[rules]]\nid = 'p'\nkind = 'pii'\nphones = 'yes'\n",
            "rules[0] (id 'p').phones: must be true or false (without quotes), not 'yes'",
        ),
        (
            "[[rules]]\nid = 'p'\nkind = 'pii'\npoints = '6'\n",
            "rules[0] (id 'p').points: must be a whole number (without quotes), not '6'",
        ),
        (
            "[sync]\nmirror_manual_bans = 1\n",
            "sync.mirror_manual_bans: must be true or false (without quotes), not 1",
        ),
        (
            "[discord]\nmod_channels = {}\n",
            "discord.guilds: list the ids of the Discord servers to moderate",
        ),
        (
            "[discord]\nguilds = [1]\nmod_channels = { '2' = 3 }\n",
            "discord.mod_channels: guild 2 is not in discord.guilds",
        ),
        (
            "[http]\nlisten = '9187'\n",
            "http.listen: must be an address and a port, e.g. \"127.0.0.1:9187\", not '9187'",
        ),
        ("[service]\ndry_run = 'true'\n", "service.dry_run: must be true or false"),
    ],
)
def test_each_mistake_found_by_trying_gets_one_line_naming_the_key(
    toml: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(toml, source="policy.toml")
    message = str(info.value)
    assert expected in message
    assert "validation error" not in message  # pydantic's own dump
    assert "pydantic" not in message
    assert "linear time" not in message


@pytest.mark.parametrize(
    ("variable", "expected"),
    [
        (
            "MODBRIDGE_MATRIX__PASWORD",
            "environment variable MODBRIDGE_MATRIX__PASWORD: no such setting",
        ),
        (
            "MODBRIDGE_STORAGE__PAHT",
            "environment variable MODBRIDGE_STORAGE__PAHT: no such setting",
        ),
    ],
)
def test_a_typo_in_an_environment_variable_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, expected: str
) -> None:
    monkeypatch.setenv(variable, "x")
    with pytest.raises(ConfigError) as info:
        parse_settings(MATRIX, source="policy.toml")
    assert expected in str(info.value)
    assert "unknown key" not in str(info.value)


def test_values_from_the_environment_are_still_read_as_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODBRIDGE_MATRIX__MODERATOR_POWER_LEVEL", "75")
    monkeypatch.setenv("MODBRIDGE_SERVICE__DRY_RUN", "true")
    settings = parse_settings(MATRIX)
    assert settings.matrix is not None
    assert settings.matrix.moderator_power_level == 75
    assert settings.service.dry_run is True


@pytest.mark.parametrize(
    ("toml", "env", "warning"),
    [
        (MATRIX, {}, "[matrix] needs MODBRIDGE_MATRIX__PASSWORD or MODBRIDGE_MATRIX__ACCESS_TOKEN"),
        ("[discord]\nguilds = [1]\n", {}, "[discord] needs MODBRIDGE_DISCORD__TOKEN"),
        ("[antispam]\n", {}, "[antispam] needs MODBRIDGE_ANTISPAM__SECRET"),
        (MATRIX, {"MODBRIDGE_MATRIX__PASSWORD": "pw"}, None),
    ],
)
def test_check_config_warns_of_a_secret_run_will_miss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    toml: str, env: dict[str, str], warning: str | None,
) -> None:  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "c.toml").write_text(toml)
    assert main(["check-config", str(tmp_path / "c.toml")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{tmp_path / 'c.toml'}: OK")
    if warning is None:
        assert "warning" not in out
    else:
        assert f"warning: `modbridge run` will refuse to start: {warning}" in out
