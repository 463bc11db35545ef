"""Pausing DMs between members on Discord: a moderator's command, carried out like any other.

``/mod dms pause <hours>`` on Discord (that guild) and ``!dms pause <duration>`` in a Matrix
moderators' room (every protected Discord guild) open a case whose PauseDms actions go
through the outbox, with the audit record, in one transaction; ``resume`` likewise with
ResumeDms. Discord accepts a pause at most 24 hours ahead, so a longer one gets a renewal
timer: every ``RENEW_EVERY`` the scheduler queues the pause again, until its end. A newer
pause or a resume of the same guild cancels the older pause's renewals. Matrix has no such
lever (a bot cannot pause DMs on a homeserver; the antispam callbacks refuse DM invites
without consent instead), and the answer says so.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Final

from bridge.answers import summarise
from bridge.commands import NO_REASON, CommandError
from bridge.members import Members
from bridge.names import Names
from bridge.sanctions import DISCORD_REACH, RENEW_EVERY, RENEW_TIMER, renewal, timer_prefix
from bridge.writer import CaseWriter
from domain.actions import ActionKind
from domain.cases import NewCase, OriginKind
from domain.durations import format_duration
from domain.model import Author, ModCommand, PauseDms, Platform, ResumeDms
from domain.records import ActionRow, ActionState, TimerRow
from domain.storage_ports import TimerQueue

log = logging.getLogger(__name__)

MAX_PAUSE: Final = timedelta(days=28)  # as /mod dms pause offers (24 * 28 hours)
MATRIX_NOTE: Final = "Matrix has no equivalent: only Discord servers are paused."

_KINDS = (ActionKind.PAUSE_DMS, ActionKind.RESUME_DMS)
Settled = Callable[[int], Awaitable[list[ActionRow]]]


async def renew(timer: TimerRow, *, writer: CaseWriter, timers: TimerQueue, now: datetime) -> None:
    """A renewal timer fired: queue the pause again, and the next renewal if it reaches on."""
    pause = PauseDms(
        space_id=str(timer.payload["space_id"]),
        until=datetime.fromisoformat(str(timer.payload["until"])),
        reason=str(timer.payload.get("reason", "")),
    )
    if pause.until <= now:
        return
    await writer.enqueue_actions(timer.case_id, [pause], member_id=None, origin=f"timer:{timer.id}")
    if pause.until - now > DISCORD_REACH:
        step = int(timer.payload.get("step", 1)) + 1
        base = timer.key.rsplit(":", 1)[0]
        await timers.schedule(renewal(base, timer.case_id, pause, now + RENEW_EVERY, step=step))
    log.info("timer %s renewed the DM pause of case %s", timer.id, timer.case_id)


class DmPauseDesk:
    """The core's answer to ``dms pause`` and ``dms resume``."""

    def __init__(
        self,
        *,
        writer: CaseWriter,
        members: Members,
        names: Names,
        clock: Callable[[], datetime],
        settled: Settled,
    ) -> None:
        self._writer = writer
        self._members = members
        self._names = names
        self._clock = clock
        self._settled = settled

    async def command(self, command: ModCommand, moderator: Author, origin: str) -> str:
        """Pause or resume DMs in the command's guild (or every protected one); the answer."""
        guilds = list(self._writer.community().spaces.get(Platform.DISCORD, ()))
        if command.space_id is not None:
            if command.space_id not in guilds:
                return "This server is not one modbridge protects: nothing was paused."
            guilds = [command.space_id]
        if not guilds:
            return f"No Discord server is protected, and pausing DMs is Discord's. {MATRIX_NOTE}"
        now = self._clock()
        reason = command.reason or NO_REASON
        actions = self._actions(command, guilds, now, reason)
        # The writer schedules the renewals with the case (bridge.sanctions.schedule_timers).
        opened = await self._writer.open_case(
            NewCase(
                subject=moderator.account, origin_kind=OriginKind.MODERATOR,
                origin=moderator.account.key, reason=reason, dedupe_key=f"cmd:{origin}",
            ),
            actions, member_id=await self._members.member_of(moderator.account),
        )  # fmt: skip
        rows = [r for r in await self._settled(opened.case.id) if r.kind in _KINDS]
        if rows and all(r.state is ActionState.FAILED for r in rows):
            # Refused for good (the bot lacks Manage Server): renewing would fail the same way.
            for action in actions:
                await self._writer.cancel_timers(RENEW_TIMER, timer_prefix(action.space_id))
        return "\n".join([self._head(opened.case.id, command, rows, now) + ":",
                          *summarise(rows, self._names), MATRIX_NOTE])  # fmt: skip

    @staticmethod
    def _actions(
        command: ModCommand, guilds: list[str], now: datetime, reason: str
    ) -> list[PauseDms | ResumeDms]:
        if command.resume:
            return [ResumeDms(space_id=g, reason=reason) for g in guilds]
        if command.duration is None:
            raise CommandError("dms pause needs a duration, e.g. dms pause 12h")
        if command.duration > MAX_PAUSE:
            raise CommandError(f"DMs can be paused for at most {format_duration(MAX_PAUSE)}")
        return [PauseDms(space_id=g, until=now + command.duration, reason=reason) for g in guilds]

    @staticmethod
    def _head(case_id: int, command: ModCommand, rows: list[ActionRow], now: datetime) -> str:
        done = any(r.state is ActionState.DONE for r in rows)
        failed = rows and all(r.state is ActionState.FAILED for r in rows)
        if command.resume:
            state = "are back on" if done else "could not be resumed" if failed else "resume soon"
            return f"Case #{case_id}: DMs between members {state}"
        if failed or command.duration is None:
            return f"Case #{case_id}: DMs between members could not be paused"
        end = now + command.duration
        head = (
            f"Case #{case_id}: DMs between members {'are' if done else 'will be'} paused "
            f"until {end:%Y-%m-%d %H:%M} UTC"
        )
        if command.duration > DISCORD_REACH:
            head += " (renewed past Discord's 24-hour limit)"
        return head
