"""Moderators' commands about cases: show, list, history, notes, pardon, close, and the
corrections ``!reason`` and ``!duration``.

A report about a moderator stays hidden from moderators who are no admins, in every
listing. Corrections leave a note on the case and a line in the modlog.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from bridge.answers import summarise
from bridge.members import Members
from bridge.names import Names
from bridge.reports import Reports
from bridge.writer import CaseWriter
from domain.cases import CaseRow, OriginKind
from domain.durations import format_duration
from domain.model import Author, Ban, ModCommand, Mute
from domain.storage_ports import Records

MAX_NOTE = 2000  # characters: notes are read in !case answers, on every platform
PAGE = 10  # cases per page of !cases
RECENT_REPORTS = timedelta(days=7)  # closed reports still listed by !cases


def case_id(command: ModCommand) -> int:
    """The command's case number (the parser makes sure there is one)."""
    if command.case_id is None:
        raise ValueError(f"{command.name.value} needs a case number")
    return command.case_id


class CaseDesk:
    """Answers the commands that read or correct cases."""

    def __init__(
        self,
        *,
        writer: CaseWriter,
        members: Members,
        reports: Reports,
        repos: Records,
        names: Names,
        clock: Callable[[], datetime],
    ) -> None:
        self._writer = writer
        self._members = members
        self._reports = reports
        self._repos = repos
        self._names = names
        self._clock = clock

    async def visible_case(self, number: int, reader: Author) -> CaseRow | None:
        """The case, unless it is a report about a moderator and ``reader`` is no admin."""
        case = await self._repos.cases.get(number)
        if case is None or not await self._reports.reporter_visible(case, reader.account):
            return None
        return case

    def _origin(self, case: CaseRow) -> str:
        if case.origin_kind is OriginKind.MODERATOR:
            return f"moderator {self._names.key(case.origin)}"
        if case.origin_kind is OriginKind.REPORT:
            return "a member's report"
        return f"{case.origin_kind.value} {case.origin}"

    async def show(self, command: ModCommand, reader: Author) -> str:
        """``!case <n>``: the case, what was done where, and its notes."""
        case = await self.visible_case(case_id(command), reader)
        if case is None:
            return f"There is no case #{command.case_id}."
        lines = [
            f"Case #{case.id} ({case.status.value}): {self._names.account(case.subject)}",
            f"  opened {case.created_at:%Y-%m-%d %H:%M} UTC by {self._origin(case)}",
            f"  reason: {case.reason or 'no reason given'}",
        ]
        if case.evidence:
            lines.append(f"  evidence: {case.evidence}")
        lines.extend(summarise(await self._repos.outbox.of_case(case.id), self._names))
        lines.extend(
            f"  note by {self._names.key(n.author)}: {n.body}"
            for n in await self._repos.cases.notes(case.id)
        )
        return "\n".join(lines)

    async def listing(self, command: ModCommand, reader: Author) -> str:
        """``!cases [page]``: open cases and recent reports, newest first."""
        page = max(1, command.page)
        since = self._clock() - RECENT_REPORTS
        rows = await self._repos.cases.listing(
            reports_since=since, limit=PAGE + 1, offset=(page - 1) * PAGE
        )
        more = len(rows) > PAGE
        shown = [c for c in rows[:PAGE] if await self._reports.reporter_visible(c, reader.account)]
        if not shown:
            return "No open cases and no recent reports." if page == 1 else f"No page {page}."
        lines = [f"Open cases and recent reports, newest first (page {page}):"]
        for case in shown:
            kind = "report" if case.origin_kind is OriginKind.REPORT else case.status.value
            reason = " ".join((case.reason or "no reason given").split())[:80]
            lines.append(
                f"  #{case.id} {case.created_at:%Y-%m-%d %H:%M} {kind}: "
                f"{self._names.account(case.subject)}: {reason}"
            )
        if more:
            lines.append(f"  more: cases {page + 1}")
        return "\n".join(lines)

    async def history(self, command: ModCommand, reader: Author) -> str:
        """``!history <member>``: the member's cases and live points."""
        if command.target is None:
            raise ValueError("history needs a member")
        member_id = await self._members.member_of(command.target)
        cases = [
            c
            for c in await self._repos.cases.of_member(member_id)
            if await self._reports.reporter_visible(c, reader.account)
        ]
        points = await self._members.live_points(member_id)
        accounts = ", ".join(
            self._names.account(a) for a in await self._members.accounts_of(member_id)
        )
        if not cases:
            return f"No cases for {accounts}. Live points: {points}."
        lines = [f"History of {accounts} (live points: {points}):"]
        lines.extend(
            f"  #{c.id} {c.created_at:%Y-%m-%d} {c.status.value}: {c.reason or 'no reason given'}"
            for c in cases[-20:]
        )
        return "\n".join(lines)

    async def close(self, command: ModCommand, moderator: Author) -> str:
        """``!close <n> action|noaction [note]``; a reporter is told in general terms."""
        case = await self.visible_case(case_id(command), moderator)
        if case is None:
            return f"There is no case #{command.case_id}."
        told = await self._reports.close(case, action_taken=command.action_taken)
        outcome = "action taken" if command.action_taken else "no action"
        note = f"closed: {outcome}" + (f": {command.reason}" if command.reason else "")
        # Closed, noted and the reporter's word queued together, or none of it.
        if not await self._writer.close_case(
            case.id, by=moderator.account.key, note=note, told=told
        ):
            return f"Case #{case.id} is already closed."
        reporter = " The reporter is told." if told else ""
        return f"Case #{case.id} closed ({outcome}).{reporter}"

    async def note(self, command: ModCommand, moderator: Author) -> str:
        """``!note <n> <text>``."""
        number = case_id(command)
        if await self.visible_case(number, moderator) is None:
            return f"There is no case #{number}."
        if len(command.reason) > MAX_NOTE:
            return (
                f"A note is at most {MAX_NOTE:,} characters; this one has {len(command.reason):,}."
            )
        await self._writer.add_note(number, by=moderator.account.key, text=command.reason)
        return f"Note added to case #{number}."

    async def pardon(self, command: ModCommand, moderator: Author) -> str:
        """``!pardon <n>``: the case's strike points stop counting; the record stays."""
        case = await self.visible_case(case_id(command), moderator)
        if case is None:
            return f"There is no case #{command.case_id}."
        removed = await self._writer.pardon(case.id, by=moderator.account.key)
        return f"Case #{case.id} pardoned: {removed} strike(s) removed; the record stays."

    async def reason(self, command: ModCommand, moderator: Author, origin: str) -> str:
        """``!reason <n> <text>``: correct the case's reason (the old one stays in a note)."""
        case = await self.visible_case(case_id(command), moderator)
        if case is None:
            return f"There is no case #{command.case_id}."
        text = command.reason.strip()[:500]
        await self._writer.set_reason(case, by=moderator.account.key, text=text)
        await self._writer.log_case(
            case.id, [], origin=f"reason:{origin}",
            by=self._names.account(moderator.account), reason=f"reason now: {text}",
        )  # fmt: skip
        return f"Case #{case.id}: reason now {text!r}."

    async def duration(self, command: ModCommand, moderator: Author, origin: str) -> str:
        """``!duration <n> <duration>``: the case's mute or ban ends that long after the case
        was opened (at once if that time has passed)."""
        case = await self.visible_case(case_id(command), moderator)
        if case is None or command.duration is None:
            return f"There is no case #{command.case_id}."
        sanction = next(
            (s for s in await self._members.sanctions_unlifted(case.member_id)
             if s.case_id == case.id),
            None,
        )  # fmt: skip
        if sanction is None:
            return f"Case #{case.id} has no mute or ban in force to change."
        until = max(case.created_at + command.duration, self._clock())
        accounts = await self._members.accounts_of(case.member_id) or [case.subject]
        action: Mute | Ban = (
            Mute(target=accounts[0], until=until, reason=sanction.reason)
            if sanction.kind == "mute"
            else Ban(target=accounts[0], until=until, reason=sanction.reason)
        )
        await self._writer.change_end(
            case, sanction, until, by=moderator.account.key,
            note=f"duration changed to {format_duration(command.duration)}",
        )  # fmt: skip
        if sanction.kind == "mute":  # Discord's timeout carries its own end: set it again
            await self._writer.enqueue_actions(
                case.id, [action], member_id=case.member_id, origin=f"duration:{origin}"
            )
        await self._writer.log_case(
            case.id, [action], origin=f"duration:{origin}",
            by=self._names.account(moderator.account),
            reason=f"duration changed to {format_duration(command.duration)}",
        )  # fmt: skip
        return (
            f"Case #{case.id}: the {sanction.kind} now ends "
            f"{until:%Y-%m-%d %H:%M:%S} UTC ({format_duration(command.duration)} from its start)."
        )
