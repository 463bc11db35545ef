"""Timers that end timed actions: unmute and unban on time, also across restarts; and
timers that renew what a platform keeps only for a while (long Discord mutes, DM pauses).

Timers live in SQLite. Firing one queues its actions with an idempotency key made from the
timer id, so a crash between queueing and marking it fired queues nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta

from bridge.dm_pauses import renew
from bridge.members import Members
from bridge.sanctions import DISCORD_MAX_TIMEOUT, DISCORD_RENEW_AFTER, RENEW_TIMER
from bridge.writer import CaseWriter
from domain.model import Account, Action, Mute, Platform, Unban, Unmute
from domain.records import NewTimer, TimerRow
from domain.storage_ports import TimerQueue

log = logging.getLogger(__name__)

RETRY_AFTER = timedelta(minutes=1)  # a timer that failed to fire is tried again after this
CHORES_EVERY = timedelta(hours=1)
Chore = Callable[[datetime], Awaitable[int]]  # given now, delete what is stale; say how many
# Timers of other kinds than the scheduler's own (the notice digest's windows), by kind.
TimerHandler = Callable[[TimerRow], Awaitable[None]]


class Scheduler:
    """Fires due timers: their actions go to the case writer."""

    def __init__(
        self,
        *,
        timers: TimerQueue,
        writer: CaseWriter,
        members: Members,
        clock: Callable[[], datetime],
        interval: float = 1.0,
        chores: Sequence[Chore] = (),
        handlers: Mapping[str, TimerHandler] | None = None,
    ) -> None:
        self._timers = timers
        self._handlers = dict(handlers or {})
        self._writer = writer
        self._members = members
        self._clock = clock
        self._interval = interval
        self._stop = asyncio.Event()
        self._chores = chores
        self._chores_done: datetime | None = None

    def stop(self) -> None:
        self._stop.set()

    async def run(self, ready: Awaitable[object] | None = None) -> None:
        """Fire due timers every ``interval`` until stopped; first wait for ``ready`` (every
        platform connected: a timer fired before would find no space to act in)."""
        if ready is not None:
            await ready
        while not self._stop.is_set():
            try:
                await self.fire_due()
                await self.tidy()
            except Exception as exc:  # the database is busy or gone: try again next tick
                log.warning("timers could not be fired: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self._interval)

    async def tidy(self) -> None:
        """Once an hour, the chores: delete what no longer matters (fired timers, abandoned
        report drafts), so the database does not grow without end."""
        now = self._clock()
        if self._chores_done is not None and now - self._chores_done < CHORES_EVERY:
            return
        self._chores_done = now
        for chore in self._chores:
            removed = await chore(now)
            if removed:
                log.info("housekeeping removed %d old rows", removed)

    async def fire_due(self) -> int:
        """Fire every timer that is due now; return how many fired."""
        fired = 0
        for timer in await self._timers.due(self._clock(), limit=100):
            try:
                await self._fire(timer)
            except Exception as exc:  # one broken timer must not stall every other one
                log.error("timer %s (%s) failed, again in a minute: %s", timer.id, timer.kind,
                          type(exc).__name__)  # fmt: skip
                await self._timers.postpone(timer.id, self._clock() + RETRY_AFTER)
                continue
            await self._timers.mark_fired(timer.id)
            fired += 1
        return fired

    async def _in_force(self, timer: TimerRow, kind: str) -> bool:
        """Whether the timer's own case still holds the member's mute or ban: a newer one
        replaced it, or a moderator lifted it, and the timer has nothing left to end."""
        if timer.member_id is None:
            return False
        sanctions = await self._members.sanctions_unlifted(timer.member_id)
        return any(s.kind == kind and s.case_id == timer.case_id for s in sanctions)

    async def _fire(self, timer: TimerRow) -> None:
        handler = self._handlers.get(timer.kind)
        if handler is not None:
            await handler(timer)
            return
        if timer.kind == RENEW_TIMER:  # a DM pause past Discord's 24 hours: apply it again
            await renew(timer, writer=self._writer, timers=self._timers, now=self._clock())
            return
        if timer.member_id is None:
            return
        reason = str(timer.payload.get("reason", "timer"))
        accounts = await self._members.accounts_of(timer.member_id)
        if not accounts:
            return
        actions: list[Action]
        wanted = {"unmute": "mute", "renew-mute": "mute", "unban": "ban"}.get(timer.kind)
        if wanted is not None and not await self._in_force(timer, wanted):
            log.info("timer %s skipped: case %s no longer holds the %s", timer.id,
                     timer.case_id, wanted)  # fmt: skip
            return
        if timer.kind == "unmute":
            actions = [Unmute(target=accounts[0], reason=reason)]
        elif timer.kind == "unban":
            actions = [Unban(target=accounts[0], reason=reason)]
        elif timer.kind == "renew-mute":
            await self._renew(timer, [a for a in accounts if a.platform is Platform.DISCORD])
            return
        else:
            log.warning("timer %s has an unknown kind %s", timer.id, timer.kind)
            return
        await self._writer.enqueue_actions(
            timer.case_id, actions, member_id=timer.member_id, origin=f"timer:{timer.id}"
        )
        if timer.case_id is not None:
            try:  # the modlog line must never hold up what the timer does
                await self._writer.log_case(
                    timer.case_id, actions, origin=f"timer:{timer.id}", by="the timer",
                    reason=f"the {wanted} ran its time",
                )  # fmt: skip
            except Exception as exc:
                log.warning("timer %s: no modlog line: %s", timer.id, type(exc).__name__)
        log.info("timer %s fired: %s for case %s", timer.id, timer.kind, timer.case_id)

    async def _renew(self, timer: TimerRow, accounts: list[Account]) -> None:
        """Discord timeouts stop at 27 days: apply the next stretch of a longer mute."""
        until = datetime.fromisoformat(str(timer.payload["until"]))
        now = self._clock()
        if until <= now or not accounts or timer.member_id is None:
            return
        mute = Mute(target=accounts[0], until=until, reason=str(timer.payload.get("reason", "")))
        await self._writer.enqueue_actions(
            timer.case_id, [mute], member_id=timer.member_id, origin=f"timer:{timer.id}"
        )
        if until - now > DISCORD_MAX_TIMEOUT:
            step = int(timer.key.rsplit(":", 1)[-1]) + 1
            await self._timers.schedule(
                NewTimer(
                    key=f"{timer.key.rsplit(':', 1)[0]}:{step}",
                    kind="renew-mute",
                    due_at=now + DISCORD_RENEW_AFTER,
                    member_id=timer.member_id,
                    case_id=timer.case_id,
                    payload=dict(timer.payload),
                )
            )
