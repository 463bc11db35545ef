"""Dry run: everything is judged, recorded as cases and shown to the moderators, and nothing
is done on the platforms.

Each platform's executor gets a simulated twin that records what it would have done (the
outbox keeps the twin's answer as the action's result, so ``case N`` shows it). Only words
to the staff still go out -- the moderators' notices and private words to admins and
reporters -- each marked "(dry run)", as is every answer the bot gives.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from bridge.core import Core
from domain.cases import NewCase, OriginKind
from domain.model import (
    Account,
    Action,
    Author,
    Ban,
    Channel,
    DeleteMessage,
    Message,
    ModCommand,
    Mute,
    NotifyModerators,
    PauseDms,
    Platform,
    Remove,
    ResumeDms,
    Space,
    Tell,
    Unban,
    Unmute,
    Warn,
)
from domain.ports import ActionExecutor, Replier

log = logging.getLogger(__name__)

DRY_RUN = "(dry run)"


def mark(text: str) -> str:
    """``text`` marked as said by a service in dry run (once)."""
    return text if text.startswith(DRY_RUN) else f"{DRY_RUN} {text}"


def would(action: Action) -> str:
    """What carrying out ``action`` would have done, in the moderators' words (ids only)."""
    match action:
        case Warn():
            return f"warn {action.target.key}"
        case Mute():
            return f"mute {action.target.key} until {action.until.isoformat(timespec='minutes')}"
        case Unmute():
            return f"unmute {action.target.key}"
        case Remove():
            return f"remove {action.target.key}"
        case Ban():
            until = f" until {action.until.isoformat(timespec='minutes')}" if action.until else ""
            return f"ban {action.target.key}{until}"
        case Unban():
            return f"unban {action.target.key}"
        case DeleteMessage():
            return f"delete message {action.message_id} in {action.channel_id}"
        case Tell():
            return f"tell {action.target.key}"
        case NotifyModerators():
            return "notify the moderators"
        case PauseDms():
            return (
                f"pause DMs in {action.space_id} until {action.until.isoformat(timespec='minutes')}"
            )
        case ResumeDms():
            return f"resume DMs in {action.space_id}"


def with_notice(case: NewCase, actions: Sequence[Action]) -> Sequence[Action]:
    """A case's actions plus a notice telling the moderators what would have been done, when
    the case has no notice of its own: in a dry run the moderators see every case."""
    if case.origin_kind is OriginKind.MODERATOR or any(
        isinstance(a, NotifyModerators) for a in actions
    ):
        return actions  # a moderator's own command is answered; a notice would repeat it
    done = ", ".join(would(a) for a in actions) or "nothing"
    text = f"{case.subject.key}: {case.reason or case.origin}. Would: {done}"
    return [*actions, NotifyModerators(text=text)]


class SimulatedExecutor:
    """The twin of one platform's executor: records what it would do, does nothing.

    Words to the staff (NotifyModerators, Tell) go through the real executor, marked
    "(dry run)": the moderators must see the cases to judge the policy.
    """

    def __init__(self, real: ActionExecutor) -> None:
        self.platform: Platform = real.platform
        self._real = real
        self.would: list[tuple[Action, Space]] = []  # what a live run would have done

    async def execute(self, action: Action, space: Space, *, key: str = "") -> str:
        """Record ``action``; carry out only words to the staff, marked."""
        if isinstance(action, NotifyModerators | Tell):
            marked = replace(action, text=mark(action.text))
            return await self._real.execute(marked, space, key=key)
        self.would.append((action, space))
        where = f" in {space.id}" if space.id else ""
        result = f"{DRY_RUN} would {would(action)}{where}"
        log.info("%s", result)
        return result


class DryRunReplier:
    """Answers as the real replier does, marked "(dry run)"."""

    def __init__(self, real: Replier) -> None:
        self._real = real

    async def reply(self, channel: Channel, text: str) -> None:
        """Answer in ``channel`` with the marked text."""
        await self._real.reply(channel, mark(text))


class DryRunCore(Core):
    """The core of a service in dry run: structured answers (Discord's slash commands and
    report menu) are marked too; the rest goes through the marked repliers and executors."""

    async def on_mod_command(self, command: ModCommand, *, moderator: Author, origin: str) -> str:
        """The live answer, marked."""
        return mark(await super().on_mod_command(command, moderator=moderator, origin=origin))

    async def on_report(
        self, *, reporter: Account, message: Message | None, details: str, origin: str
    ) -> str:
        """The live answer, marked."""
        return mark(
            await super().on_report(
                reporter=reporter, message=message, details=details, origin=origin
            )
        )
