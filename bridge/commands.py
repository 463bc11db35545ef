"""Moderator commands: parsing the text form (``!ban @x:hs spam``) into a ModCommand.

Pure. Discord's slash commands arrive already structured; Matrix's come as text and are
parsed here. A malformed command raises CommandError whose text is the usage line.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from typing import TypeVar

from bridge.model import Account, CommandName, ModCommand, Platform
from rules.policy import parse_duration

USAGE = {
    CommandName.WARN: "!warn <user> <reason>",
    CommandName.MUTE: "!mute <user> <duration, e.g. 10m, 2h, 7d> <reason>",
    CommandName.UNMUTE: "!unmute <user>",
    CommandName.REMOVE: "!remove <user> <reason>",
    CommandName.BAN: "!ban <user> <reason>",
    CommandName.UNBAN: "!unban <user>",
    CommandName.CASE: "!case <number>",
    CommandName.HISTORY: "!history <user>",
    CommandName.NOTE: "!note <case number> <text>",
    CommandName.PARDON: "!pardon <case number>",
    CommandName.CLOSE: "!close <case number> action|noaction [note]",
    CommandName.LINK: "!link <user> <other user> <reason>",
    CommandName.UNLINK: "!unlink <user> <reason>",
    CommandName.HELP: "!help",
    CommandName.LISTS: "!lists",
}
NEEDS_REASON = {
    CommandName.WARN, CommandName.MUTE, CommandName.REMOVE, CommandName.BAN, CommandName.LINK,
    CommandName.UNLINK,
}  # fmt: skip
HELP_TEXT = "Moderator commands (a user is @name:server or discord:<id>):\n" + "\n".join(
    f"  {line}" for line in USAGE.values()
)

_MATRIX_ID = re.compile(r"^@[^:\s]+:[^\s]+$")
_DISCORD_MENTION = re.compile(r"^<@!?(\d{15,21})>$")
_SNOWFLAKE = re.compile(r"^\d{15,21}$")
_MATRIX_PILL = re.compile(r"^https://matrix\.to/#/(@[^:\s]+:[^\s/?]+)")


T = TypeVar("T")


class CommandError(ValueError):
    """A command that cannot be carried out as written; the text says how to write it."""


def parse_account(text: str) -> Account:
    """Read a user as moderators write them: @name:server, <@id>, discord:id, matrix:@x:hs."""
    text = text.strip()
    if text.startswith("discord:"):
        text = text.removeprefix("discord:")
        if _SNOWFLAKE.match(text):
            return Account(platform=Platform.DISCORD, id=text)
    elif text.startswith("matrix:"):
        text = text.removeprefix("matrix:")
    if pill := _MATRIX_PILL.match(text):
        text = pill.group(1)
    if _MATRIX_ID.match(text):
        return Account(platform=Platform.MATRIX, id=text)
    if mention := _DISCORD_MENTION.match(text):
        return Account(platform=Platform.DISCORD, id=mention.group(1))
    if _SNOWFLAKE.match(text):
        return Account(platform=Platform.DISCORD, id=text)
    raise CommandError(f"{text!r} is not a user: write @name:server or discord:<id>")


def _case_number(text: str, name: CommandName) -> int:
    number = text.lstrip("#")
    if not number.isdecimal() or len(number) > 12:  # isdigit() lets "²" through
        raise CommandError(f"{text!r} is not a case number. Usage: {USAGE[name]}")
    return int(number)


def _parsed(text: str, parse: Callable[[str], T], usage: str) -> T:
    """``parse(text)``, or a CommandError that says what was wrong and how to write it."""
    try:
        return parse(text)
    except ValueError as exc:  # CommandError is a ValueError too
        raise CommandError(f"{exc}. {usage}") from None


def parse_command(text: str) -> ModCommand:
    """Parse ``!name args...``; raise CommandError with the usage line when it is wrong."""
    body = text.strip()
    if not body.startswith("!"):
        raise CommandError("commands start with '!'; try !help")
    try:
        words = shlex.split(body[1:])
    except ValueError:
        words = body[1:].split()
    if not words:
        raise CommandError(HELP_TEXT)
    try:
        name = CommandName(words[0].lower())
    except ValueError:
        raise CommandError(f"unknown command !{words[0][:32]}; {HELP_TEXT}") from None
    args = words[1:]
    usage = f"Usage: {USAGE[name]}"
    if name is CommandName.HELP or name is CommandName.LISTS:
        return ModCommand(name=name)
    local = name is CommandName.BAN and "--local" in args
    if local:
        args = [a for a in args if a != "--local"]
    if name is CommandName.CASE or name is CommandName.PARDON:
        if len(args) != 1:
            raise CommandError(usage)
        return ModCommand(name=name, case_id=_case_number(args[0], name))
    if name is CommandName.CLOSE:
        if len(args) < 2 or args[1].lower() not in ("action", "noaction"):
            raise CommandError(usage)
        return ModCommand(
            name=name,
            case_id=_case_number(args[0], name),
            action_taken=args[1].lower() == "action",
            reason=" ".join(args[2:])[:500],
        )
    if name is CommandName.NOTE:
        if len(args) < 2:
            raise CommandError(usage)
        return ModCommand(name=name, case_id=_case_number(args[0], name), reason=" ".join(args[1:]))
    if not args:
        raise CommandError(usage)
    target = _parsed(args[0], parse_account, usage)
    rest = args[1:]
    other = None
    if name is CommandName.LINK:
        if not rest:
            raise CommandError(usage)
        other, rest = _parsed(rest[0], parse_account, usage), rest[1:]
    duration = None
    if name is CommandName.MUTE:
        if not rest:
            raise CommandError(usage)
        duration, rest = _parsed(rest[0], parse_duration, usage), rest[1:]
    reason = " ".join(rest).strip()
    if name in NEEDS_REASON and not reason:
        raise CommandError(f"a reason is required. {usage}")
    return ModCommand(
        name=name, target=target, other=other, duration=duration, reason=reason[:500],
        local=local,
    )  # fmt: skip
