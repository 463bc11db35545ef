"""Members and their accounts, as the core looks them up: who an account belongs to, the
member's other accounts, the mutes and bans in force on them, and whether a ban seen on a
platform was one modbridge queued. Reads only: every change goes through the case writer
(`bridge.writer`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from domain.actions import ActionKind
from domain.model import Account, MembershipChange, MembershipEvent
from domain.records import SanctionRow
from domain.storage_ports import MemberFile, OutboxFile, SanctionFile, StrikeFile


class Members:
    """Look-ups about members (a person with one or more linked accounts)."""

    def __init__(
        self,
        *,
        identity: MemberFile,
        sanctions: SanctionFile,
        strikes: StrikeFile,
        outbox: OutboxFile,
        clock: Callable[[], datetime],
    ) -> None:
        self._identity = identity
        self._sanctions = sanctions
        self._strikes = strikes
        self._outbox = outbox
        self._clock = clock

    async def member_of(self, account: Account) -> int:
        """The member id an account belongs to (created on first sight)."""
        return (await self._identity.ensure(account)).member_id

    async def accounts_of(self, member_id: int) -> list[Account]:
        """Every account of the member, on every platform."""
        return [row.account for row in await self._identity.accounts_of_member(member_id)]

    async def linked_accounts(self, account: Account) -> list[Account]:
        """Every account of the member behind ``account``, itself included; empty if the
        account was never seen (it is not created)."""
        return [row.account for row in await self._identity.linked_accounts(account)]

    async def sanctions_in_force(self, member_id: int) -> list[SanctionRow]:
        """The member's mutes and bans that hold now (not lifted, not run out)."""
        return await self._sanctions.in_force(member_id, self._clock())

    async def sanctions_unlifted(self, member_id: int) -> list[SanctionRow]:
        """The member's mutes and bans nobody lifted (a timer's own is among them until it
        fires)."""
        return await self._sanctions.unlifted(member_id)

    async def live_points(self, member_id: int) -> int:
        """The member's strike points that count now (storage keeps the only record)."""
        return await self._strikes.live_points(member_id, self._clock())

    async def queued_by_us(self, event: MembershipEvent) -> bool:
        """Whether a ban or kick seen on a platform is one modbridge queued itself."""
        kind = {
            MembershipChange.BAN: ActionKind.BAN,
            MembershipChange.UNBAN: ActionKind.UNBAN,
        }.get(event.change, ActionKind.REMOVE)
        since = event.ts - timedelta(hours=1)
        return await self._outbox.queued_for(
            kind, event.space.platform, event.space.id, event.account.id, since
        )
