"""Mutes and bans in force, and the timers that end them.

Written in the same transaction as the case that imposes or lifts them: the sanctions table
is what mute evasion checks (a rejoin, a new linked account), the timers end timed actions
on time across restarts, and Discord mutes past its 27-day limit get renewal timers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bridge.model import Action, Ban, Mute, Unban, Unmute
from storage.cases import CaseRow
from storage.db import Transaction
from storage.repositories import Repositories
from storage.timers import NewTimer

# Discord refuses timeouts of 28 days or more: longer mutes are renewed before they lapse.
DISCORD_MAX_TIMEOUT = timedelta(days=27)
DISCORD_RENEW_AFTER = timedelta(days=26)


async def record_sanctions(
    repos: Repositories,
    member_id: int,
    case_id: int | None,
    actions: Sequence[Action],
    *,
    tx: Transaction,
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
    repos: Repositories,
    case: CaseRow,
    actions: Sequence[Action],
    member_id: int,
    now: datetime,
    *,
    tx: Transaction,
) -> None:
    """The timers that end a case's timed mute or ban (and renew long Discord mutes)."""
    for action in actions:
        if isinstance(action, Mute):
            await repos.timers.schedule(
                NewTimer(
                    key=f"unmute:case:{case.id}", kind="unmute", due_at=action.until,
                    member_id=member_id, case_id=case.id,
                    payload={"reason": f"case #{case.id}: mute ended"},
                ),
                tx=tx,
            )  # fmt: skip
            if action.until - now > DISCORD_MAX_TIMEOUT:
                await repos.timers.schedule(
                    NewTimer(
                        key=f"renew-mute:case:{case.id}:1", kind="renew-mute",
                        due_at=now + DISCORD_RENEW_AFTER, member_id=member_id,
                        case_id=case.id,
                        payload={"until": action.until.isoformat(), "reason": action.reason},
                    ),
                    tx=tx,
                )  # fmt: skip
        elif isinstance(action, Ban) and action.until is not None:
            await repos.timers.schedule(
                NewTimer(
                    key=f"unban:case:{case.id}", kind="unban", due_at=action.until,
                    member_id=member_id, case_id=case.id,
                    payload={"reason": f"case #{case.id}: ban ended"},
                ),
                tx=tx,
            )  # fmt: skip
