"""Moderator commands: parsing the text form (``!ban @x:hs 7d spam --purge 24h``) into a
ModCommand.

Pure. Discord's slash commands arrive already structured; Matrix's come as text and are
parsed here. A malformed command raises CommandError whose text is the usage line (or, for
an unknown command, the closest one). Flags (``--purge 24h``, ``--local``) are read
generically, wherever they are written, from the table ``FLAGS``: a command accepts the
flags listed for it, and a flag that takes a value reads it with its own parser.
"""

from __future__ import annotations

import difflib
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from domain.durations import EXAMPLES, looks_like_duration, parse_duration
from domain.model import Account, CommandName, ModCommand
from domain.userids import parse_account as read_account
from domain.userids import resolve_pills

USAGE = {
    CommandName.WARN: "warn <member> [reason]",
    CommandName.MUTE: "mute <member> <duration> [reason]",
    CommandName.UNMUTE: "unmute <member> [reason]",
    CommandName.KICK: "kick <member> [reason]   (also: remove)",
    CommandName.BAN: "ban <member> [duration] [reason] [--purge <duration>] [--local]",
    CommandName.UNBAN: "unban <member> [reason]",
    CommandName.CASE: "case <number>",
    CommandName.CASES: "cases [page]",
    CommandName.HISTORY: "history <member>",
    CommandName.REASON: "reason <case number> <text>",
    CommandName.DURATION: "duration <case number> <duration>",
    CommandName.NOTE: "note <case number> <text>",
    CommandName.PARDON: "pardon <case number>",
    CommandName.CLOSE: "close <case number> action|noaction [note]",
    CommandName.LINK: "link <member> <other account> [reason]",
    CommandName.UNLINK: "unlink <member> [reason]",
    CommandName.STATUS: "status",
    CommandName.LISTS: "lists",
    CommandName.DMS: "dms pause <duration> [reason]   (also: dms resume; Discord servers only)",
    CommandName.HELP: "help",
}
ALIASES = {"remove": CommandName.KICK}
NO_REASON = "no reason given"
_ON_MEMBERS = {
    CommandName.WARN, CommandName.MUTE, CommandName.UNMUTE, CommandName.KICK, CommandName.BAN,
    CommandName.UNBAN, CommandName.HISTORY, CommandName.LINK, CommandName.UNLINK,
}  # fmt: skip

T = TypeVar("T")


class CommandError(ValueError):
    """A command that cannot be carried out as written; the text says how to write it."""


MAX_PURGE = timedelta(days=7)  # Discord deletes at most a week of a banned member's messages


def _purge(text: str) -> timedelta:
    window = parse_duration(text)
    if window > MAX_PURGE:
        raise ValueError("--purge reaches back at most 7d (Discord's limit)")
    return window


@dataclass(frozen=True, slots=True)
class Flag:
    """A ``--name`` a command accepts: a switch, or with a value read by ``parse``."""

    commands: frozenset[CommandName]
    parse: Callable[[str], object] | None = None  # None: a switch without a value
    example: str = ""


# Every flag of every command: a new flag is one line here and its field in ModCommand
# (a switch sets the boolean field of its name).
FLAGS: dict[str, Flag] = {
    "purge": Flag(frozenset({CommandName.BAN}), parse=_purge, example="--purge 24h"),
    # Not published to the community's policy list (Matrix policy lists).
    "local": Flag(frozenset({CommandName.BAN})),
}


def written(prefix: str, command: str) -> str:
    """A command as typed with ``prefix``: ``!ban``, or ``!mb ban`` for a word prefix."""
    return f"{prefix} {command}" if prefix[-1:].isalnum() else f"{prefix}{command}"


def help_text(prefix: str = "!") -> str:
    """The list of commands, written with the room's command prefix."""
    lines = [
        "Moderator commands (a member is @name:server, a mention, or discord:<id>; reasons "
        "are optional but help the other moderators, and the member, understand):"
    ]
    lines.extend(f"  {written(prefix, usage)}" for usage in USAGE.values())
    lines.append(f"Durations: {EXAMPLES}.")
    return "\n".join(lines)


HELP_TEXT = help_text()


def parse_account(text: str) -> Account:
    """Read a member as moderators write them (the one parser), or raise CommandError."""
    account = read_account(text)
    if account is None:
        raise CommandError(
            f"{text.strip()[:64]!r} is not a user: write @name:server, pick them from the "
            "mention list, or discord:<id>"
        )
    return account


def _case_number(text: str, name: CommandName, prefix: str) -> int:
    number = text.lstrip("#")
    if not number.isdecimal() or len(number) > 12:  # isdigit() lets "²" through
        raise CommandError(f"{text!r} is not a case number. Usage: {written(prefix, USAGE[name])}")
    return int(number)


def _parsed(text: str, parse: Callable[[str], T], usage: str) -> T:
    """``parse(text)``, or a CommandError that says what was wrong and how to write it."""
    try:
        return parse(text)
    except ValueError as exc:  # CommandError is a ValueError too
        raise CommandError(f"{exc}. {usage}") from None


def command_name(word: str, prefix: str = "!") -> CommandName:
    """The command a word names (aliases too); else CommandError naming the closest one."""
    word = word.lower()
    if word in ALIASES:
        return ALIASES[word]
    try:
        return CommandName(word)
    except ValueError:
        pass
    known = [*(n.value for n in CommandName), *ALIASES]
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    hint = f"did you mean {written(prefix, close[0])}? " if close else ""
    raise CommandError(
        f"Unknown command {written(prefix, word[:32])}; {hint}"
        f"{written(prefix, 'help')} lists them all."
    )


def _split_flags(
    name: CommandName, words: Sequence[str], usage: str
) -> tuple[list[str], dict[str, object]]:
    """The words without their flags, and the flags' values (True for a switch)."""
    rest: list[str] = []
    found: dict[str, object] = {}
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if not word.startswith("--") or len(word) < 3:
            rest.append(word)
            continue
        flag_name, _, inline = word[2:].partition("=")
        flag = FLAGS.get(flag_name.lower())
        if flag is None or name not in flag.commands:
            own = [n for n, f in FLAGS.items() if name in f.commands]
            close = difflib.get_close_matches(flag_name.lower(), own, n=1, cutoff=0.6)
            if close:  # a typo of one of this command's flags must not pass as the reason
                raise CommandError(f"{word[:32]}: did you mean --{close[0]}? {usage}")
            rest.append(word)  # not a flag of this command: part of what the moderator wrote
            continue
        if flag.parse is None:
            found[flag_name.lower()] = True
            continue
        if not inline:
            if index >= len(words):
                raise CommandError(f"--{flag_name} needs a value, e.g. {flag.example}. {usage}")
            inline, index = words[index], index + 1
        found[flag_name.lower()] = _parsed(inline, flag.parse, usage)
    return rest, found


def _words(body: str) -> list[str]:
    try:
        return shlex.split(body)
    except ValueError:  # an unclosed quote: read it word by word
        return body.split()


def strip_prefix(text: str, prefix: str = "!") -> str | None:
    """The command without its prefix (``!mb ban x`` -> ``ban x``), or None when ``text``
    is not a command for this bot."""
    body = text.strip()
    if not body.startswith(prefix):
        return None
    rest = body[len(prefix) :]
    # "!mb" must not take "!mbx ..." (another bot's command): a word prefix ends the word.
    if prefix[-1:].isalnum() and rest[:1] not in ("", " ", "\t", "\n"):
        return None
    return rest.strip()


def parse_command(text: str, *, prefix: str = "!", mentions: Sequence[Account] = ()) -> ModCommand:
    """Parse ``<prefix>name args...``; raise CommandError with the usage line when wrong.

    ``mentions`` are the pills of the message (Element writes a pill's display name in the
    plain text): their names are read as the accounts they point at.
    """
    body = strip_prefix(text, prefix)
    if body is None:
        raise CommandError(f"commands start with {prefix!r}; try {written(prefix, 'help')}")
    parts = body.split(maxsplit=1)
    if not parts:
        raise CommandError(help_text(prefix))
    head, rest = parts[0], parts[1] if len(parts) > 1 else ""
    name = command_name(head, prefix)
    # Pills only in the arguments: a member called "Ban" must not rename the command.
    words = [head, *_words(resolve_pills(rest, mentions))]
    usage = f"Usage: {written(prefix, USAGE[name])}"
    args, flags = _split_flags(name, words[1:], usage)
    purge = flags.pop("purge", None)
    common = {
        "purge": purge if isinstance(purge, timedelta) else None,
        "local": flags.pop("local", False) is True,
    }
    if name in _ON_MEMBERS:
        return _on_member(name, args, usage, common)
    if name is CommandName.DMS:
        return _on_dms(args, usage)
    return _on_cases(name, args, usage, prefix)


def _on_cases(name: CommandName, args: list[str], usage: str, prefix: str) -> ModCommand:
    """Commands about cases and the service, not about a member."""
    if name in (CommandName.HELP, CommandName.STATUS, CommandName.LISTS):
        return ModCommand(name=name)
    if name is CommandName.CASES:
        if len(args) > 1 or (args and not args[0].isdecimal()):
            raise CommandError(usage)
        return ModCommand(name=name, page=max(1, int(args[0])) if args else 1)
    if not args:
        raise CommandError(usage)
    case_id = _case_number(args[0], name, prefix)
    if name in (CommandName.CASE, CommandName.PARDON):
        if len(args) != 1:
            raise CommandError(usage)
        return ModCommand(name=name, case_id=case_id)
    if name is CommandName.CLOSE:
        if len(args) < 2 or args[1].lower() not in ("action", "noaction"):
            raise CommandError(usage)
        return ModCommand(
            name=name,
            case_id=case_id,
            action_taken=args[1].lower() == "action",
            reason=" ".join(args[2:])[:500],
        )
    if name is CommandName.DURATION:
        if len(args) != 2:
            raise CommandError(usage)
        return ModCommand(
            name=name, case_id=case_id, duration=_parsed(args[1], parse_duration, usage)
        )
    if len(args) < 2:  # note, reason
        raise CommandError(usage)
    return ModCommand(name=name, case_id=case_id, reason=" ".join(args[1:]))


def _on_dms(args: list[str], usage: str) -> ModCommand:
    """``dms pause <duration> [reason]`` or ``dms resume [reason]``: every protected Discord
    server (given as ``/mod dms`` on Discord, the command names its own server)."""
    verb = args[0].lower() if args else ""
    if verb == "resume":
        return ModCommand(name=CommandName.DMS, resume=True, reason=" ".join(args[1:])[:500])
    if verb != "pause" or len(args) < 2:
        raise CommandError(usage)
    duration = _parsed(args[1], parse_duration, usage)
    return ModCommand(name=CommandName.DMS, duration=duration, reason=" ".join(args[2:])[:500])


def _on_member(
    name: CommandName, args: list[str], usage: str, common: Mapping[str, object]
) -> ModCommand:
    """Commands that name a member: ``<member> [other] [duration] [reason]``."""
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
    elif name is CommandName.BAN and rest and looks_like_duration(rest[0]):
        duration, rest = _parsed(rest[0], parse_duration, usage), rest[1:]
    purge = common["purge"]
    return ModCommand(
        name=name,
        target=target,
        other=other,
        duration=duration,
        reason=" ".join(rest).strip()[:500],
        purge=purge if isinstance(purge, timedelta) else None,
        local=common["local"] is True,
    )
