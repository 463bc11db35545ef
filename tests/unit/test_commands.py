"""The text form of moderator commands: what parses, and the usage line for what does not."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.commands import CommandError, parse_account, parse_command
from bridge.model import Account, CommandName, ModCommand, Platform

ANN = Account(platform=Platform.MATRIX, id="@ann:example.org")
DISCORD_ANN = Account(platform=Platform.DISCORD, id="123456789012345678")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("!warn @ann:example.org keep it civil",
         ModCommand(name=CommandName.WARN, target=ANN, reason="keep it civil")),
        ("!mute @ann:example.org 2h flooding",
         ModCommand(name=CommandName.MUTE, target=ANN, duration=timedelta(hours=2),
                    reason="flooding")),
        ("!MUTE   <@123456789012345678>   10m   spam",
         ModCommand(name=CommandName.MUTE, target=DISCORD_ANN, duration=timedelta(minutes=10),
                    reason="spam")),
        ("!unmute @ann:example.org", ModCommand(name=CommandName.UNMUTE, target=ANN)),
        ("!remove discord:123456789012345678 raid",
         ModCommand(name=CommandName.REMOVE, target=DISCORD_ANN, reason="raid")),
        ('!ban https://matrix.to/#/@ann:example.org "doxxing a member"',
         ModCommand(name=CommandName.BAN, target=ANN, reason="doxxing a member")),
        ("!unban 123456789012345678", ModCommand(name=CommandName.UNBAN, target=DISCORD_ANN)),
        ("!case #12", ModCommand(name=CommandName.CASE, case_id=12)),
        ("!history @ann:example.org", ModCommand(name=CommandName.HISTORY, target=ANN)),
        ("!note 3 spoke with them", ModCommand(name=CommandName.NOTE, case_id=3,
                                              reason="spoke with them")),
        ("!pardon 3", ModCommand(name=CommandName.PARDON, case_id=3)),
        ("!help", ModCommand(name=CommandName.HELP)),
    ],
)  # fmt: skip
def test_commands_parse(text: str, expected: ModCommand) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("!ban", "Usage: !ban <user> <reason>"),
        ("!ban @ann:example.org", "a reason is required. Usage: !ban <user> <reason>"),
        ("!mute @ann:example.org soon spam", "'soon' is not a duration"),
        ("!mute @ann:example.org", "Usage: !mute <user> <duration"),
        ("!warn bob be nice", "'bob' is not a user"),
        ("!case twelve", "'twelve' is not a case number. Usage: !case <number>"),
        ("!explode @ann:example.org", "unknown command !explode"),
        ("!", "Moderator commands"),
        ("ban @x:y z", "commands start with '!'"),
    ],
)
def test_bad_commands_get_a_usage_line(text: str, message: str) -> None:
    with pytest.raises(CommandError) as info:
        parse_command(text)
    assert message in str(info.value)


@given(st.text(max_size=300))
def test_parser_never_crashes(text: str) -> None:
    try:
        command = parse_command("!" + text)
    except CommandError as exc:
        error = str(exc)
        assert error  # every refusal says something
    else:
        assert isinstance(command.name, CommandName)


@given(st.from_regex(r"@[a-z0-9._=-]{1,20}:[a-z0-9.-]{1,20}", fullmatch=True))
def test_any_matrix_id_is_a_matrix_account(user: str) -> None:
    assert parse_account(user) == Account(platform=Platform.MATRIX, id=user)
