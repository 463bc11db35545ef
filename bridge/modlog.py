"""The modlog: one short line per case in every moderators' room and channel that keeps it.

Like Zeppelin's and Dyno's modlog channels: the case number, the member (name and id), what
was done, where, by whom (a moderator, a rule, a timer; a report is "a member's report",
never the reporter) and the reason. Built when the case is opened, in the same transaction
as its actions; a timer ending a mute or ban adds its own line to the case.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from bridge.names import Names
from bridge.planner import SPACE_WIDE, Community, PlannedAction, plan
from domain.cases import CaseRow, OriginKind
from domain.durations import format_duration
from domain.model import (
    Action,
    Ban,
    DeleteMessage,
    Mute,
    NotifyModerators,
    PauseDms,
    Platform,
    Remove,
    ResumeDms,
    Tell,
    Unban,
    Unmute,
    Warn,
)

NO_REASON = "no reason given"
HIDDEN_ORIGINS = frozenset({"report about a moderator"})  # cases only admins may read
MAX_REASON = 200


def _left(until: datetime, now: datetime) -> str:
    """How long from ``now`` to ``until``, as the moderator wrote it: the case was opened a
    moment after the command's own clock read, so whole minutes are rounded to."""
    seconds = (until - now).total_seconds()
    if seconds >= 120:
        seconds = 60 * round(seconds / 60)
    return format_duration(timedelta(seconds=round(seconds)))


def describe(action: Action, now: datetime) -> str | None:
    """What an action does, in a word or three (``ban 7d``, ``mute 1h``, ``kick``)."""
    match action:
        case Warn():
            return "warn"
        case Mute():
            return f"mute {_left(action.until, now)}" if action.until > now else "mute"
        case Unmute():
            return "unmute"
        case Remove():
            return "kick"
        case Ban():
            words = "ban" if action.until is None else f"ban {_left(action.until, now)}"
            if action.purge is not None:
                words += f", purge {format_duration(action.purge)}"
            return words
        case Unban():
            return "unban"
        case DeleteMessage():
            return "message deleted"
        case PauseDms():
            return f"DMs paused {_left(action.until, now)}" if action.until > now else "DMs paused"
        case ResumeDms():
            return "DMs resumed"
    return None


class ModLog:
    """Writes the modlog lines of cases."""

    def __init__(self, names: Names, clock: Callable[[], datetime]) -> None:
        self._names = names
        self._clock = clock

    def by(self, case: CaseRow) -> str:
        """Who acted: a moderator by name, a rule, or a member's report (never who)."""
        if case.origin_kind is OriginKind.RULE:
            return f"rule {case.origin}"
        if case.origin_kind is OriginKind.REPORT:
            return "a member's report"
        return self._names.key(case.origin)

    def line(
        self,
        case: CaseRow,
        actions: Sequence[Action],
        where: Iterable[tuple[Platform, str]],
        *,
        by: str | None = None,
        reason: str | None = None,
    ) -> NotifyModerators | None:
        """The case's modlog line, or None for a case moderators may not read."""
        if case.origin in HIDDEN_ORIGINS:
            return None
        now = self._clock()
        done = [d for d in (describe(a, now) for a in actions) if d]
        what = " + ".join(dict.fromkeys(done)) or (
            "report" if case.origin_kind is OriginKind.REPORT else "recorded"
        )
        if reason is None:
            # A report's words stay in the case (!case): they may say who wrote them.
            reason = "see the case" if case.origin_kind is OriginKind.REPORT else case.reason
        reason = " ".join((reason or NO_REASON).split())
        if len(reason) > MAX_REASON:
            reason = reason[: MAX_REASON - 1] + "…"
        parts = [f"Case #{case.id}", what, self._names.account(case.subject)]
        places = self._names.places(where)
        if places:
            parts.append(places)
        parts.extend([f"by {by or self.by(case)}", reason])
        return NotifyModerators(text="[modlog] " + " · ".join(parts), modlog=True)

    def planned(
        self,
        key: str,
        case: CaseRow,
        actions: Sequence[Action],
        planned: Sequence[PlannedAction],
        community: Community,
        *,
        by: str | None = None,
        reason: str | None = None,
    ) -> list[PlannedAction]:
        """The case's modlog line, planned into every room and channel keeping the modlog;
        ``planned`` (the case's actions, planned) says where they applied."""
        where = [
            # A deleted Discord message is named by its channel: "#general in OpenInfra KE".
            (p.platform, p.action.channel_id)
            if isinstance(p.action, DeleteMessage) and p.platform is Platform.DISCORD
            else (p.platform, p.space_id)
            for p in planned
            if isinstance(p.action, (*SPACE_WIDE, DeleteMessage, PauseDms, ResumeDms))
            and p.space_id
        ]
        line = self.line(case, member_actions(actions), where, by=by, reason=reason)
        return plan(key, [line], community=community) if line is not None else []


def member_actions(actions: Iterable[Action]) -> list[Action]:
    """The actions on the member (not notices nor private words)."""
    return [a for a in actions if not isinstance(a, NotifyModerators | Tell)]
