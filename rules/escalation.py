"""Strike points that decay, and the ladder that turns them into stronger actions.

Peer bots are criticised for warning points that never expire: here every strike expires
``decay`` after it was given, and only live points count towards the ladder.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime

from rules.policy import ActionSpec, Escalation


@dataclass(frozen=True, slots=True)
class Strike:
    """Points a member got from one rule at one moment."""

    ts: datetime
    points: int
    rule_id: str


class StrikeLedger:
    """Live strike points per member, in memory: for judging a stream of messages with no
    storage behind it (``modbridge rules eval``, tests). The service keeps no ledger: its
    strikes are in storage, and it hands the engine a member's live points per judgement.

    Each member's strikes are kept oldest first with their running sum, so asking for a
    member's live points costs the strikes that expired since, not all of them."""

    def __init__(self, escalation: Escalation) -> None:
        self._escalation = escalation
        self._strikes: dict[str, _Strikes] = {}

    def total(self, member: str, now: datetime) -> int:
        """The member's points that have not decayed at ``now``."""
        strikes = self._strikes.get(member)
        if strikes is None:
            return 0
        horizon = now - self._escalation.decay
        items = strikes.items
        while items and items[0].ts <= horizon:
            strikes.points -= items.popleft().points
        return strikes.points

    def add(self, member: str, strike: Strike) -> None:
        strikes = self._strikes.get(member)
        if strikes is None:
            strikes = self._strikes[member] = _Strikes()
        strikes.items.append(strike)
        strikes.points += strike.points

    def step_crossed(self, before: int, after: int) -> ActionSpec | None:
        """The strongest ladder action whose threshold lies in (before, after]."""
        return ladder_step(self._escalation, before, after)


class _Strikes:
    """One member's strikes, oldest first, and the sum of their points."""

    __slots__ = ("items", "points")

    def __init__(self) -> None:
        self.items: deque[Strike] = deque()
        self.points = 0


def ladder_step(escalation: Escalation, before: int, after: int) -> ActionSpec | None:
    """The strongest ladder action whose threshold lies in (``before``, ``after``]."""
    crossed = [s for s in escalation.ladder if before < s.points <= after]
    return crossed[-1].action if crossed else None
