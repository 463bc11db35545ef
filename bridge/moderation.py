"""Carrying out moderators' commands through the pipeline, and answering what happened where.

A command becomes a case whose actions are queued like any verdict's; the answer waits a
few seconds for the worker so it can say, per platform and space, what was done, what
failed and why, and what is still being retried. Commands about cases are answered by
:class:`bridge.case_commands.CaseDesk`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from bridge.answers import summarise
from bridge.case_commands import CaseDesk
from bridge.commands import NO_REASON, CommandError, help_text
from bridge.dm_pauses import DmPauseDesk
from bridge.linking import Linking
from bridge.members import Members
from bridge.names import Names
from bridge.reports import Reports
from bridge.writer import CaseWriter
from domain.cases import NewCase, OriginKind
from domain.durations import format_duration
from domain.model import (
    Account,
    Action,
    Author,
    Ban,
    CommandName,
    ModCommand,
    Mute,
    Remove,
    Unban,
    Unmute,
    Warn,
)
from domain.records import ActionRow, ActionState
from domain.storage_ports import Records

Status = Callable[[], Awaitable[str]]

log = logging.getLogger(__name__)

_PAST = {
    CommandName.WARN: "warned",
    CommandName.MUTE: "muted",
    CommandName.UNMUTE: "unmuted",
    CommandName.KICK: "kicked",
    CommandName.BAN: "banned",
    CommandName.UNBAN: "unbanned",
}


def _target(command: ModCommand) -> Account:
    if command.target is None:
        raise CommandError(f"!{command.name.value} needs a user")
    return command.target


def _actions(command: ModCommand, now: datetime) -> list[Action]:
    target = _target(command)
    reason = command.reason or NO_REASON
    match command.name:
        case CommandName.WARN:
            return [Warn(target=target, reason=reason, clause=reason)]
        case CommandName.MUTE:
            if command.duration is None:
                raise CommandError("!mute needs a duration")
            return [Mute(target=target, until=now + command.duration, reason=reason)]
        case CommandName.UNMUTE:
            return [Unmute(target=target, reason=reason)]
        case CommandName.KICK:
            return [Remove(target=target, reason=reason)]
        case CommandName.BAN:
            until = None if command.duration is None else now + command.duration
            return [Ban(target=target, reason=reason, until=until, purge=command.purge)]
        case CommandName.UNBAN:
            return [Unban(target=target, reason=reason)]
    return []


class Moderation:
    """The core's answer to a moderator's command, on any platform."""

    def __init__(
        self,
        *,
        writer: CaseWriter,
        members: Members,
        linking: Linking,
        reports: Reports,
        repos: Records,
        clock: Callable[[], datetime],
        answer_wait: float = 8.0,
        names: Names | None = None,
        status: Status | None = None,
        prefix: str = "!",
    ) -> None:
        self._writer = writer
        self._members = members
        self._linking = linking
        self._reports = reports
        self._repos = repos
        self._clock = clock
        self._answer_wait = answer_wait
        self._names = names or Names()
        self._status = status
        self._prefix = prefix
        self._desk = CaseDesk(
            writer=writer,
            members=members,
            reports=reports,
            repos=repos,
            names=self._names,
            clock=clock,
        )
        self._dms = DmPauseDesk(
            writer=writer, members=members, names=self._names, clock=clock,
            settled=self._settled,
        )  # fmt: skip
        # The answer to !lists; the service sets it when policy lists are configured.
        self.lists: Callable[[], str] = lambda: "No policy lists are subscribed."

    async def on_mod_command(self, command: ModCommand, *, moderator: Author, origin: str) -> str:
        """Carry out ``command`` if ``moderator`` may; return the answer to show them."""
        if not moderator.is_moderator:
            # Who it was goes to the audit log only: in a direct message to the bot, the
            # account in a log line could tie a reporter to the report that follows.
            log.warning("command %s refused: not from a moderator", command.name.value)
            await self._writer.audit(
                moderator.account.key, "command_refused", "", {"command": command.name.value}
            )
            return "Only moderators can use moderation commands."
        answer = await self._about_cases(command, moderator, origin)
        if answer is not None:
            return answer
        if command.name is CommandName.LINK:
            if command.other is None:
                raise CommandError("!link needs two users")
            return await self._linking.link(
                _target(command), command.other, by=moderator.account.key, reason=command.reason
            )
        if command.name is CommandName.DMS:
            return await self._dms.command(command, moderator, origin)
        if command.name is CommandName.UNLINK:
            return await self._linking.unlink(
                _target(command), by=moderator.account.key, reason=command.reason
            )
        return await self._act(command, moderator, origin)

    async def _about_cases(self, command: ModCommand, moderator: Author, origin: str) -> str | None:
        """The answer to a command about cases or the service; None for any other."""
        desk = self._desk
        match command.name:
            case CommandName.HELP:
                return help_text(self._prefix)
            case CommandName.LISTS:
                return self.lists()
            case CommandName.STATUS:
                return await self._status() if self._status else "No status to give."
            case CommandName.CASE:
                return await desk.show(command, moderator)
            case CommandName.CASES:
                return await desk.listing(command, moderator)
            case CommandName.HISTORY:
                return await desk.history(command, moderator)
            case CommandName.NOTE:
                return await desk.note(command, moderator)
            case CommandName.PARDON:
                return await desk.pardon(command, moderator)
            case CommandName.CLOSE:
                return await desk.close(command, moderator)
            case CommandName.REASON:
                return await desk.reason(command, moderator, origin)
            case CommandName.DURATION:
                return await desk.duration(command, moderator, origin)
        return None

    async def _act(self, command: ModCommand, moderator: Author, origin: str) -> str:
        target = _target(command)
        # Named before acting: a banned member leaves the rooms that knew their name.
        named = self._names.account(target)
        member_id = await self._members.member_of(target)
        opened = await self._writer.open_case(
            NewCase(
                subject=target,
                origin_kind=OriginKind.MODERATOR,
                origin=moderator.account.key,
                reason=command.reason or NO_REASON,
                dedupe_key=f"cmd:{origin}",
            ),
            _actions(command, self._clock()),
            member_id=member_id,
            publish=not command.local,
        )
        rows = await self._settled(opened.case.id)
        verb = _PAST.get(command.name, command.name.value)
        head = f"Case #{opened.case.id}: {named} {verb}"
        if command.duration is not None:
            end = self._clock() + command.duration
            head += f" for {format_duration(command.duration)} (until {end:%Y-%m-%d %H:%M} UTC)"
        if command.purge is not None:
            head += f", their messages of the last {format_duration(command.purge)} removed"
        if not command.reason:
            head += f" ({NO_REASON})"
        lines = summarise(rows, self._names)
        if not lines:
            lines = ["  nothing to do: no protected space on the member's platforms"]
        return "\n".join([head + ":", *lines])

    async def _settled(self, case_id: int) -> list[ActionRow]:
        """The case's actions once none is waiting for its first attempt (or time is up)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._answer_wait
        while True:
            rows = await self._repos.outbox.of_case(case_id)
            waiting = [r for r in rows if r.state is ActionState.PENDING and r.attempts == 0]
            if not waiting or loop.time() >= deadline:
                return rows
            await asyncio.sleep(0.05)
