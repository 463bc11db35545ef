"""Carrying out moderators' commands through the pipeline, and answering what happened where.

A command becomes a case whose actions are queued like any verdict's; the answer waits a
few seconds for the worker so it can say, per platform and space, what was done, what
failed and why, and what is still being retried.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from bridge.commands import HELP_TEXT, CommandError
from bridge.linking import Linking
from bridge.model import (
    Account,
    Action,
    Author,
    Ban,
    CommandName,
    ModCommand,
    Mute,
    NotifyModerators,
    Remove,
    Tell,
    Unban,
    Unmute,
    Warn,
)
from bridge.pipeline import Pipeline
from bridge.reports import Reports
from storage.cases import CaseRow, NewCase, OriginKind
from storage.outbox import ActionRow, ActionState
from storage.repositories import Repositories

log = logging.getLogger(__name__)

_PAST = {
    CommandName.WARN: "warned",
    CommandName.MUTE: "muted",
    CommandName.UNMUTE: "unmuted",
    CommandName.REMOVE: "removed",
    CommandName.BAN: "banned",
    CommandName.UNBAN: "unbanned",
}


def _target(command: ModCommand) -> Account:
    if command.target is None:
        raise CommandError(f"!{command.name.value} needs a user")
    return command.target


def _case_id(command: ModCommand) -> int:
    if command.case_id is None:
        raise CommandError(f"!{command.name.value} needs a case number")
    return command.case_id


def _actions(command: ModCommand, now: datetime) -> list[Action]:
    target = _target(command)
    reason = command.reason or "moderator decision"
    match command.name:
        case CommandName.WARN:
            return [Warn(target=target, reason=reason, clause=reason)]
        case CommandName.MUTE:
            if command.duration is None:
                raise CommandError("!mute needs a duration")
            return [Mute(target=target, until=now + command.duration, reason=reason)]
        case CommandName.UNMUTE:
            return [Unmute(target=target, reason=reason)]
        case CommandName.REMOVE:
            return [Remove(target=target, reason=reason)]
        case CommandName.BAN:
            return [Ban(target=target, reason=reason)]
        case CommandName.UNBAN:
            return [Unban(target=target, reason=reason)]
    return []


# Beyond this many spaces of one platform, the actions done there are counted, not listed:
# Discord clips an answer at 2000 characters, and a failure must not be what gets cut off.
LIST_LIMIT = 10


def summarise(rows: list[ActionRow]) -> list[str]:
    """What happened where, for the moderator's answer: failures first, then what is still
    being retried, then what was done; one line per space, or, past ``LIST_LIMIT`` spaces of
    one platform, one line counting them (with one of the errors)."""
    groups: dict[tuple[ActionState, str, str], list[ActionRow]] = {}
    for row in rows:
        # Notices, and private words to reporters or admins (never shown to moderators).
        if not isinstance(row.action, NotifyModerators | Tell):
            groups.setdefault((row.state, row.kind, row.platform.value), []).append(row)
    lines = []
    for state in (ActionState.FAILED, ActionState.PENDING, ActionState.DONE):
        for (in_state, kind, platform), group in groups.items():
            if in_state is state:
                lines.extend(_summary_lines(state, kind, platform, group))
    return lines


def _summary_lines(
    state: ActionState, kind: str, platform: str, rows: list[ActionRow]
) -> list[str]:
    head = {
        ActionState.DONE: "done",
        ActionState.FAILED: "FAILED",
        ActionState.PENDING: "pending, will retry",
    }[state]
    if len(rows) > LIST_LIMIT:
        unit = "guilds" if platform == "discord" else "rooms"
        where = f"{len(rows)} {platform} {unit}"
        error = next((r.last_error for r in rows if r.last_error), None)
        unchanged = sum(1 for r in rows if state is ActionState.DONE and _was_already(r))
        extra = f"e.g. {error}" if error else f"{unchanged} already so" if unchanged else ""
        return [f"  {head}: {kind} in {where}" + (f" ({extra})" if extra else "")]
    lines = []
    for row in rows:
        where = f"{platform} {row.space_id or '(direct message)'}"
        if state is ActionState.FAILED:
            lines.append(f"  {head}: {kind} in {where}: {row.last_error}")
        elif state is ActionState.PENDING and row.last_error:
            lines.append(f"  {head}: {kind} in {where} (last error: {row.last_error})")
        elif state is ActionState.DONE and _was_already(row):
            lines.append(f"  {head}: {kind} in {where} (already so: nothing changed)")
        else:
            lines.append(f"  {head}: {kind} in {where}")
    return lines


def _was_already(row: ActionRow) -> bool:
    """The platform was already as asked (another case, or a moderator by hand, got there
    first): the executors say so in the result they return."""
    return " already " in (row.result or "")


MAX_NOTE = 2000  # characters: notes are read in !case answers, on every platform


class Moderation:
    """The core's answer to a moderator's command, on any platform."""

    def __init__(
        self,
        *,
        pipeline: Pipeline,
        linking: Linking,
        reports: Reports,
        repos: Repositories,
        clock: Callable[[], datetime],
        answer_wait: float = 8.0,
    ) -> None:
        self._pipeline = pipeline
        self._linking = linking
        self._reports = reports
        self._repos = repos
        self._clock = clock
        self._answer_wait = answer_wait
        # The answer to !lists; the service sets it when policy lists are configured.
        self.lists: Callable[[], str] = lambda: "No policy lists are subscribed."

    async def on_mod_command(self, command: ModCommand, *, moderator: Author, origin: str) -> str:
        """Carry out ``command`` if ``moderator`` may; return the answer to show them."""
        if not moderator.is_moderator:
            # Who it was goes to the audit log only: in a direct message to the bot, the
            # account in a log line could tie a reporter to the report that follows.
            log.warning("command %s refused: not from a moderator", command.name.value)
            await self._repos.audit.append(
                moderator.account.key, "command_refused", "", {"command": command.name.value}
            )
            return "Only moderators can use moderation commands."
        if command.name is CommandName.HELP:
            return HELP_TEXT
        if command.name is CommandName.LISTS:
            return self.lists()
        if command.name is CommandName.CASE:
            return await self._show_case(command, moderator)
        if command.name is CommandName.HISTORY:
            return await self._history(command, moderator)
        if command.name is CommandName.NOTE:
            return await self._note(command, moderator)
        if command.name is CommandName.PARDON:
            return await self._pardon(command, moderator)
        if command.name is CommandName.CLOSE:
            return await self._close(command, moderator)
        if command.name is CommandName.LINK:
            if command.other is None:
                raise CommandError("!link needs two users")
            return await self._linking.link(
                _target(command), command.other, by=moderator.account.key, reason=command.reason
            )
        if command.name is CommandName.UNLINK:
            return await self._linking.unlink(
                _target(command), by=moderator.account.key, reason=command.reason
            )
        return await self._act(command, moderator, origin)

    async def _act(self, command: ModCommand, moderator: Author, origin: str) -> str:
        target = _target(command)
        member_id = await self._pipeline.member_of(target)
        opened = await self._pipeline.enqueue_case(
            NewCase(
                subject=target,
                origin_kind=OriginKind.MODERATOR,
                origin=moderator.account.key,
                reason=command.reason or command.name.value,
                dedupe_key=f"cmd:{origin}",
            ),
            _actions(command, self._clock()),
            member_id=member_id,
            publish=not command.local,
        )
        rows = await self._settled(opened.case.id)
        verb = _PAST.get(command.name, command.name.value)
        head = f"Case #{opened.case.id}: {target.key} {verb}"
        if command.duration is not None:
            head += f" until {(self._clock() + command.duration).strftime('%Y-%m-%d %H:%M:%S UTC')}"
        lines = summarise(rows)
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

    async def _show_case(self, command: ModCommand, reader: Author) -> str:
        case = await self._visible_case(_case_id(command), reader)
        if case is None:
            return f"There is no case #{command.case_id}."
        lines = [
            f"Case #{case.id} ({case.status.value}): {case.subject.key}",
            f"  opened {case.created_at:%Y-%m-%d %H:%M} UTC by {case.origin_kind.value} "
            f"{case.origin}",
            f"  reason: {case.reason}",
        ]
        if case.evidence:
            lines.append(f"  evidence: {case.evidence}")
        lines.extend(summarise(await self._repos.outbox.of_case(case.id)))
        lines.extend(
            f"  note by {n.author}: {n.body}" for n in await self._repos.cases.notes(case.id)
        )
        return "\n".join(lines)

    async def _history(self, command: ModCommand, reader: Author) -> str:
        member_id = await self._pipeline.member_of(_target(command))
        cases = [
            c
            for c in await self._repos.cases.of_member(member_id)
            if await self._reports.reporter_visible(c, reader.account)
        ]
        points = await self._repos.strikes.live_points(member_id, self._clock())
        accounts = ", ".join(a.key for a in await self._pipeline.accounts_of(member_id))
        if not cases:
            return f"No cases for {accounts}. Live points: {points}."
        lines = [f"History of {accounts} (live points: {points}):"]
        lines.extend(
            f"  #{c.id} {c.created_at:%Y-%m-%d} {c.status.value}: {c.reason}" for c in cases[-20:]
        )
        return "\n".join(lines)

    async def _close(self, command: ModCommand, moderator: Author) -> str:
        case = await self._visible_case(_case_id(command), moderator)
        if case is None:
            return f"There is no case #{command.case_id}."
        told = await self._reports.close(case, action_taken=command.action_taken)
        outcome = "action taken" if command.action_taken else "no action"
        note = f"closed: {outcome}" + (f": {command.reason}" if command.reason else "")
        # Closed, noted and the reporter's word queued together, or none of it.
        async with self._pipeline.transaction() as tx:
            if not await self._repos.cases.close(case.id, moderator.account.key, tx=tx):
                return f"Case #{case.id} is already closed."
            await self._repos.cases.add_note(case.id, moderator.account.key, note, tx=tx)
            if told:
                await self._pipeline.enqueue_actions(
                    case.id, told, member_id=None, origin=f"closed:{case.id}", tx=tx
                )
        reporter = " The reporter is told." if told else ""
        return f"Case #{case.id} closed ({outcome}).{reporter}"

    async def _visible_case(self, case_id: int, reader: Author) -> CaseRow | None:
        """The case, unless it is a report about a moderator and ``reader`` is no admin."""
        case = await self._repos.cases.get(case_id)
        if case is None or not await self._reports.reporter_visible(case, reader.account):
            return None
        return case

    async def _note(self, command: ModCommand, moderator: Author) -> str:
        case_id = _case_id(command)
        if await self._visible_case(case_id, moderator) is None:
            return f"There is no case #{case_id}."
        if len(command.reason) > MAX_NOTE:
            return (
                f"A note is at most {MAX_NOTE:,} characters; this one has {len(command.reason):,}."
            )
        await self._repos.cases.add_note(case_id, moderator.account.key, command.reason)
        return f"Note added to case #{command.case_id}."

    async def _pardon(self, command: ModCommand, moderator: Author) -> str:
        case = await self._visible_case(_case_id(command), moderator)
        if case is None:
            return f"There is no case #{command.case_id}."
        removed = await self._repos.strikes.pardon_case(case.id)
        await self._repos.cases.add_note(case.id, moderator.account.key, "pardoned")
        await self._pipeline.reload_strikes(case.member_id)
        return f"Case #{case.id} pardoned: {removed} strike(s) removed; the record stays."
