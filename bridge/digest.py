"""The notice digest: during a raid, one warning and one moderators' notice per member and
window, not one of each per message.

The first hit of a member's rule opens a window and is told at once, as always (a lone
offence must not wait). Further hits within the window are recorded as usual -- their cases,
deletions, strike points and sanctions are queued at once -- but their warning and notice are
held back. When the window ends, one warning tells the member and one notice tells the
moderators what happened meanwhile ("12 more messages removed from matrix:@kip:hs in 3 rooms
in the last minute, muted for 10m"), and, if anything was held, the next window opens then.

The window is a timer (it survives a restart), and the summary is read from the cases and
the outbox at its end, so nothing is kept in memory. Everything the moderators are told about
a member's rule hits in bulk goes through here (`NoticeDigest`), so that other per-case
notices can be merged in one place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from domain.cases import CaseRow, OriginKind
from domain.durations import format_duration
from domain.model import (
    Account,
    Action,
    Ban,
    DeleteMessage,
    Mute,
    NotifyModerators,
    Platform,
    Remove,
    Warn,
)
from domain.records import NewTimer, TimerRow
from domain.storage_ports import Stores, Transactions, Tx
from rules.engine import Engine, plain_reason

log = logging.getLogger(__name__)

DIGEST_TIMER = "digest"
DEFAULT_WINDOW = timedelta(minutes=1)


class Enqueue(Protocol):
    """Queues actions on an existing case in the caller's transaction (the pipeline's)."""

    async def __call__(
        self,
        case_id: int | None,
        actions: Sequence[Action],
        *,
        member_id: int | None,
        origin: str,
        tx: Tx | None = None,
    ) -> int: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Held:
    """What a window held back: the cases and what they did."""

    cases: tuple[CaseRow, ...]
    removed: int  # messages deleted
    places: frozenset[str]  # the rooms or channels they were deleted in
    sanctions: tuple[str, ...]  # "muted for 10m", "banned", "removed"


def is_told(action: Action) -> bool:
    """The actions a window holds back: the member's warning and the moderators' notice."""
    return isinstance(action, Warn | NotifyModerators)


class NoticeDigest:
    """Coalesces a member's warnings and notices per window (``window``; None: never)."""

    def __init__(
        self,
        *,
        db: Transactions,
        repos: Stores,
        engine: Callable[[], Engine],
        window: timedelta | None = DEFAULT_WINDOW,
    ) -> None:
        self._db = db
        self._repos = repos
        self._engine = engine
        self.window = window

    async def admit(
        self, member_id: int, case: CaseRow, actions: Sequence[Action], *, tx: Tx
    ) -> list[Action]:
        """The actions of a rule's new case to queue now. Without an open window for the
        member, all of them (and the window opens); within one, all but the warning and
        the notice, which the window's summary covers."""
        if self.window is None or case.origin_kind is not OriginKind.RULE:
            return list(actions)
        if not any(is_told(a) for a in actions):
            return list(actions)
        if await self._repos.timers.pending_for(DIGEST_TIMER, member_id, tx=tx) is None:
            await self._open(member_id, case.id, case.created_at, tx=tx)
            return list(actions)
        return [a for a in actions if not is_told(a)]

    async def _open(self, member_id: int, after: int, now: datetime, *, tx: Tx) -> None:
        if self.window is None:
            return
        await self._repos.timers.schedule(
            NewTimer(
                key=f"{DIGEST_TIMER}:{member_id}:{after}", kind=DIGEST_TIMER,
                due_at=now + self.window, member_id=member_id, case_id=after,
                payload={"after_case": after},
            ),
            tx=tx,
        )  # fmt: skip

    async def fire(self, timer: TimerRow, enqueue: Enqueue) -> None:
        """The window ended: tell what it held, and open the next window if it held any.

        One transaction with the hits' own (which also read the window): a hit either made
        it into this summary or opens the next window itself.
        """
        member_id = timer.member_id
        if member_id is None:
            return
        after = int(timer.payload.get("after_case", 0))
        async with self._db.transaction() as tx:
            if not await self._repos.timers.mark_fired(timer.id, tx=tx):
                return
            held = await self._held(member_id, after, tx=tx)
            if held is None:
                return  # a quiet window: the next hit is told at once
            last = held.cases[-1]
            actions = self._summary(held, last.subject, timer)
            # A warning and a notice need no fan-out over the member's accounts (member None).
            await enqueue(
                last.id, actions, member_id=None, origin=f"{DIGEST_TIMER}:{timer.id}", tx=tx
            )
            await self._open(member_id, last.id, self._db.clock(), tx=tx)
        log.info("digest for member %s: %d held case(s)", member_id, len(held.cases))

    async def _held(self, member_id: int, after: int, *, tx: Tx) -> Held | None:
        cases = [
            c
            for c in await self._repos.cases.of_member(member_id, tx=tx)
            if c.id > after and c.origin_kind is OriginKind.RULE
        ]
        if not cases:
            return None
        removed: set[tuple[str, str]] = set()
        sanctions: list[str] = []
        for case in cases:
            for row in await self._repos.outbox.of_case(case.id, tx=tx):
                action = row.action
                if isinstance(action, DeleteMessage):
                    removed.add((action.channel_id, action.message_id))
                elif isinstance(action, Mute):
                    muted = f"muted for {format_duration(action.until - case.created_at)}"
                    sanctions.append(muted)
                elif isinstance(action, Ban):
                    sanctions.append("banned")
                elif isinstance(action, Remove):
                    sanctions.append("removed")
        return Held(
            cases=tuple(cases),
            removed=len(removed),
            places=frozenset(channel for channel, _ in removed),
            sanctions=tuple(dict.fromkeys(sanctions)),
        )

    def _summary(self, held: Held, member: Account, timer: TimerRow) -> list[Action]:
        span = _span(timer.due_at - timer.created_at)
        first, last = held.cases[0].id, held.cases[-1].id
        numbers = f"Case #{first}" if first == last else f"Cases #{first}-#{last}"
        hits = len(held.cases)
        what = (
            f"{_count(held.removed, 'more message')} removed"
            if held.removed
            else f"{_count(hits, 'more rule hit')}"
        )
        place = "room" if member.platform is Platform.MATRIX else "channel"
        where = f" in {_count(len(held.places), place)}" if held.places else ""
        done = "".join(f", {s}" for s in held.sanctions)
        rules = self._rules(held.cases)
        notice = f"{numbers}: {what} from {member.key}{where} in the last {span}{done} ({rules})"
        reason, clause = self._reason(held.cases)
        told = f"{what}{where} in the last {span}" if held.removed else f"{what} in the last {span}"
        return [
            Warn(target=member, reason=f"{told}: {reason}", clause=clause),
            NotifyModerators(text=notice),
        ]

    def _rules(self, cases: Sequence[CaseRow]) -> str:
        ids = dict.fromkeys(rule for case in cases for rule in case.origin.split(",") if rule)
        return ", ".join(ids) or "rules"

    def _reason(self, cases: Sequence[CaseRow]) -> tuple[str, str]:
        """The plain reason and clause of the latest hit's rule, as a member reads them."""
        rules = {rule.id: rule for rule in self._engine().policy.rules}
        for case in reversed(cases):
            for rule_id in case.origin.split(","):
                if rule_id in rules:
                    return plain_reason(rules[rule_id]), rules[rule_id].clause
        return "breaking the code of conduct", ""


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _span(window: timedelta) -> str:
    """A window in words: 'minute', '5 minutes', '30 seconds', 'hour'."""
    seconds = int(window.total_seconds())
    for size, unit in ((3600, "hour"), (60, "minute"), (1, "second")):
        if seconds % size == 0:
            n = seconds // size
            return unit if n == 1 else f"{n} {unit}s"
    return f"{seconds} seconds"
