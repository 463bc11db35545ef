"""The text form of moderator commands: what parses, and the usage line for what does not."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.commands import CommandError, parse_account, parse_command
from domain.model import Account, CommandName, ModCommand, Platform

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
         ModCommand(name=CommandName.KICK, target=DISCORD_ANN, reason="raid")),
        ("!kick discord:123456789012345678", ModCommand(name=CommandName.KICK, target=DISCORD_ANN)),
        ("!ban @ann:example.org", ModCommand(name=CommandName.BAN, target=ANN)),
        ("!ban @ann:example.org 7d spam",
         ModCommand(name=CommandName.BAN, target=ANN, duration=timedelta(days=7), reason="spam")),
        ("!ban @ann:example.org 2D12h doxxing --purge 24h",
         ModCommand(name=CommandName.BAN, target=ANN, duration=timedelta(days=2, hours=12),
                    reason="doxxing", purge=timedelta(hours=24))),
        ("!ban --purge=1h30m @ann:example.org spam",
         ModCommand(name=CommandName.BAN, target=ANN, reason="spam",
                    purge=timedelta(hours=1, minutes=30))),
        ("!mute @ann:example.org 1H30M", ModCommand(name=CommandName.MUTE, target=ANN,
                                                   duration=timedelta(minutes=90))),
        ("!warn (@ann:example.org),", ModCommand(name=CommandName.WARN, target=ANN)),
        ("!cases", ModCommand(name=CommandName.CASES)),
        ("!cases 3", ModCommand(name=CommandName.CASES, page=3)),
        ("!status", ModCommand(name=CommandName.STATUS)),
        ("!reason 4 repeated insults", ModCommand(name=CommandName.REASON, case_id=4,
                                                  reason="repeated insults")),
        ("!duration #4 2d12h", ModCommand(name=CommandName.DURATION, case_id=4,
                                          duration=timedelta(days=2, hours=12))),
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
        ("!ban", "Usage: !ban <member> [duration] [reason] [--purge <duration>]"),
        ("!mute @ann:example.org soon spam", "'soon' is not a duration"),
        ("!mute @ann:example.org", "Usage: !mute <member> <duration"),
        ("!warn bob be nice", "'bob' is not a user"),
        ("!case twelve", "'twelve' is not a case number. Usage: !case <number>"),
        ("!explode @ann:example.org", "Unknown command !explode; !help lists them all."),
        ("!bna @ann:example.org", "Unknown command !bna; did you mean !ban?"),
        ("!ban @ann:example.org --purge", "--purge needs a value, e.g. --purge 24h"),
        ("!ban @ann:example.org --purge soon", "'soon' is not a duration"),
        ("!ban @ann:example.org --purg 1h", "--purg: did you mean --purge?"),
        ("!ban @ann:example.org --purge 8d", "--purge reaches back at most 7d"),
        ("!duration 4", "Usage: !duration <case number> <duration>"),
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


def test_an_unknown_command_answers_one_line() -> None:
    with pytest.raises(CommandError) as info:
        parse_command("!histroy @ann:example.org")
    assert str(info.value) == (
        "Unknown command !histroy; did you mean !history? !help lists them all."
    )


@pytest.mark.parametrize(
    ("text", "prefix", "expected"),
    [
        ("!mb ban @ann:example.org spam", "!mb",
         ModCommand(name=CommandName.BAN, target=ANN, reason="spam")),
        ("!mb   KICK @ann:example.org", "!mb", ModCommand(name=CommandName.KICK, target=ANN)),
        ("?status", "?", ModCommand(name=CommandName.STATUS)),
    ],
)  # fmt: skip
def test_a_room_prefix(text: str, prefix: str, expected: ModCommand) -> None:
    assert parse_command(text, prefix=prefix) == expected


@pytest.mark.parametrize("text", ["!ban @ann:example.org spam", "!mbx ban @a:b"])
def test_commands_for_another_bot_are_not_ours(text: str) -> None:
    with pytest.raises(CommandError):
        parse_command(text, prefix="!mb")


def test_element_pills_name_the_member() -> None:
    """Element writes a pill's display name in the body; the link holds the id."""
    kip = Account(platform=Platform.MATRIX, id="@kip:hs", display_name="Kip Kamau")
    ann = Account(platform=Platform.MATRIX, id="@ann:hs", display_name="Ann")
    command = parse_command("!ban Kip Kamau 7d insulted Ann", mentions=[ann, kip])
    assert command.target == Account(platform=Platform.MATRIX, id="@kip:hs")
    assert command.duration == timedelta(days=7)
    assert command.reason == "insulted @ann:hs"


def test_a_member_named_like_a_command_is_still_the_member() -> None:
    ban = Account(platform=Platform.MATRIX, id="@ban:hs", display_name="Ban")
    command = parse_command("!ban Ban spam", mentions=[ban])
    assert (command.name, command.target, command.reason) == (
        CommandName.BAN,
        Account(platform=Platform.MATRIX, id="@ban:hs"),
        "spam",
    )


def test_help_lists_every_command_with_the_prefix() -> None:
    from bridge.commands import help_text

    text = help_text("!mb")
    for name in CommandName:
        assert f"!mb {name.value}" in text
    assert "reasons are optional" in text


@given(st.from_regex(r"@[a-z0-9._=-]{1,20}:[a-z0-9]([a-z0-9.-]{0,18}[a-z0-9])?", fullmatch=True))
def test_any_matrix_id_is_a_matrix_account(user: str) -> None:
    assert parse_account(user) == Account(platform=Platform.MATRIX, id=user)
