"""The one duration parser: the policy, Matrix commands and Discord commands read alike."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.commands import parse_command
from domain.durations import format_duration, parse_duration
from domain.model import ModCommand
from rules.policy import ActionSpec


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)), ("10m", timedelta(minutes=10)),
        ("1h", timedelta(hours=1)), ("1H", timedelta(hours=1)), ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)), ("1h30m", timedelta(minutes=90)),
        ("2d12h", timedelta(days=2, hours=12)), ("1H30M", timedelta(minutes=90)),
        ("1w2d3h4m5s", timedelta(weeks=1, days=2, hours=3, minutes=4, seconds=5)),
        (" 90m ", timedelta(minutes=90)), (3600, timedelta(hours=1)),
    ],
)  # fmt: skip
def test_durations_parse(text: str | int, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "10", "0m", "0h0m", "ten minutes", "-1h", "1y", "3651d", "99999999999999w",
             "h", "1h30", "1.5h", True],
)  # fmt: skip
def test_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|too long"):
        parse_duration(text)


@given(st.integers(1, 3650 * 86400))
def test_formatting_reads_back(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value


def test_policy_and_commands_read_the_same_compound_durations() -> None:
    """`1H30M` in the TOML, in a Matrix command and in Discord's option all mean 90 min."""
    assert ActionSpec.model_validate("mute 1H30M").duration == timedelta(minutes=90)
    command = parse_command("!mute @kip:hs 1H30M spam")
    assert command == ModCommand(
        name=command.name, target=command.target, duration=timedelta(minutes=90), reason="spam"
    )
