"""Mutes and bans in force, and the timers that end or renew a case's actions.

Written in the same transaction as the case that imposes or lifts them: the sanctions table
is what mute evasion checks (a rejoin, a new linked account), the timers end timed actions
on time across restarts, Discord mutes past its 27-day limit get renewal timers, and so do
DM pauses past Discord's 24 hours (a newer pause or a resume ends the older one's).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from domain.cases import CaseRow
from domain.model import Action, Ban, Mute, PauseDms, ResumeDms, Unban, Unmute
from domain.records import NewTimer, SanctionRow
from domain.storage_ports import Stores, Tx

# Discord refuses timeouts of 28 days or more: longer mutes are renewed before they lapse.
DISCORD_MAX_TIMEOUT = timedelta(days=27)
DISCORD_RENEW_AFTER = timedelta(days=26)
RENEW_TIMER: Final = "renew-dm-pause"
#: How far ahead Discord accepts a DM pause (the executor keeps a minute's allowance within it).
DISCORD_REACH: Final = timedelta(hours=24) - timedelta(minutes=1)
#: Applied again well before the last application ends: a slow restart leaves no gap.
RENEW_EVERY: Final = timedelta(hours=12)


async def record_sanctions(
    repos: Stores,
    member_id: int,
    case_id: int | None,
    actions: Sequence[Action],
    *,
    tx: Tx,
) -> None:
    """Keep track of mutes and bans in force, for re-applying them on evasion."""
    sanctions = repos.sanctions
    for action in actions:
        if isinstance(action, Mute):
            await sanctions.impose(
                member_id, "mute", until=action.until, reason=action.reason,
                case_id=case_id, tx=tx,
            )  # fmt: skip
        elif isinstance(action, Ban):
            await sanctions.impose(
                member_id, "ban", until=action.until, reason=action.reason,
                case_id=case_id, tx=tx,
            )  # fmt: skip
        elif isinstance(action, Unmute):
            await sanctions.lift(member_id, "mute", tx=tx)
        elif isinstance(action, Unban):
            await sanctions.lift(member_id, "ban", tx=tx)


async def schedule_timers(
    repos: Stores,
    case: CaseRow,
    actions: Sequence[Action],
    member_id: int,
    now: datetime,
    *,
    tx: Tx,
) -> None:
    """The timers that end a case's timed mute or ban (and renew long Discord mutes and DM
    pauses)."""
    pauses = [a for a in actions if isinstance(a, PauseDms | ResumeDms)]
    if pauses:
        await schedule_renewals(repos, case.id, pauses, now, tx=tx)
    for action in actions:
        if isinstance(action, Mute):
            await schedule_end(
                repos, "mute", case_id=case.id, member_id=member_id, until=action.until,
                reason=action.reason, now=now, tx=tx,
            )  # fmt: skip
        elif isinstance(action, Ban) and action.until is not None:
            await schedule_end(
                repos, "ban", case_id=case.id, member_id=member_id, until=action.until,
                reason=action.reason, now=now, tx=tx,
            )  # fmt: skip


async def schedule_end(
    repos: Stores,
    kind: str,
    *,
    case_id: int,
    member_id: int,
    until: datetime,
    reason: str,
    now: datetime,
    tx: Tx,
    key_suffix: str = "",
    renew_now: bool = False,
) -> None:
    """The timer that ends one timed mute or ban (``kind``) of a case, and for a mute
    longer than Discord allows, the first renewal. ``key_suffix`` tells apart the timers
    of the same case for another member (an account unlinked while sanctioned), whose
    Discord timeout was set earlier: ``renew_now`` renews it at once, not in 26 days."""
    end = "unmute" if kind == "mute" else "unban"
    await repos.timers.schedule(
        NewTimer(
            key=f"{end}:case:{case_id}{key_suffix}", kind=end, due_at=until,
            member_id=member_id, case_id=case_id,
            payload={"reason": f"case #{case_id}: {kind} ended"},
        ),
        tx=tx,
    )  # fmt: skip
    if kind == "mute" and until - now > DISCORD_MAX_TIMEOUT:
        await repos.timers.schedule(
            NewTimer(
                key=f"renew-mute:case:{case_id}{key_suffix}:1", kind="renew-mute",
                due_at=now if renew_now else now + DISCORD_RENEW_AFTER,
                member_id=member_id, case_id=case_id,
                payload={"until": until.isoformat(), "reason": reason},
            ),
            tx=tx,
        )  # fmt: skip


async def carry_sanctions(
    repos: Stores,
    sanctions: Sequence[SanctionRow],
    member_id: int,
    now: datetime,
    *,
    tx: Tx,
) -> None:
    """An account unlinked while muted or banned is still muted or banned where it was: its
    new member takes the sanctions along, with the timers that end them, or they would never
    be lifted."""
    for sanction in sanctions:
        await repos.sanctions.impose(
            member_id, sanction.kind, until=sanction.until, reason=sanction.reason,
            case_id=sanction.case_id, tx=tx,
        )  # fmt: skip
        if sanction.until is not None and sanction.case_id is not None:
            await schedule_end(
                repos, sanction.kind, case_id=sanction.case_id, member_id=member_id,
                until=sanction.until, reason=sanction.reason, now=now, tx=tx,
                key_suffix=f":member:{member_id}", renew_now=True,
            )  # fmt: skip


def timer_prefix(space_id: str) -> str:
    """The start of the keys of the DM-pause renewal timers of one guild."""
    return f"{RENEW_TIMER}:{space_id}:"


async def schedule_renewals(
    repos: Stores,
    case_id: int,
    actions: Sequence[PauseDms | ResumeDms],
    now: datetime,
    *,
    tx: Tx,
) -> None:
    """In the case's transaction: end the renewals of older pauses of the same guilds, and
    renew a pause that reaches past what Discord accepts at once."""
    for action in actions:
        await repos.timers.cancel_kind(RENEW_TIMER, timer_prefix(action.space_id), tx=tx)
        if isinstance(action, PauseDms) and action.until - now > DISCORD_REACH:
            base = f"{timer_prefix(action.space_id)}case:{case_id}"
            await repos.timers.schedule(
                renewal(base, case_id, action, now + RENEW_EVERY, step=1), tx=tx
            )


def renewal(
    base: str, case_id: int | None, pause: PauseDms, due: datetime, *, step: int
) -> NewTimer:
    """The ``step``-th renewal timer of a DM pause."""
    return NewTimer(
        key=f"{base}:{step}", kind=RENEW_TIMER, due_at=due, case_id=case_id,
        payload={"space_id": pause.space_id, "until": pause.until.isoformat(),
                 "reason": pause.reason, "step": step},
    )  # fmt: skip
