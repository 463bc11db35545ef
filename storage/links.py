"""Link codes (proof that two accounts are one person) and sanctions in force."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import datetime, timedelta

from domain.model import Account, Platform
from domain.records import SanctionRow as SanctionRow
from domain.storage_ports import Tx
from storage.db import Database, from_db_time, opt_from_db_time, to_db_time


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


class LinkCodeRepository:
    """One-time, short-lived codes issued to one account and redeemed from another."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def issue(self, account: Account, code: str, ttl: timedelta) -> bool:
        """Store ``code`` for ``account``; earlier unused codes of that account stop working.
        False if another account holds the same code right now (ask again with a new one).

        Codes that can no longer be redeemed (used or expired) are deleted here, and failed
        attempts older than a day: the tables hold only what still matters.
        """
        now = to_db_time(self._db.clock())
        async with self._db.transaction() as t:
            await t.execute(
                "DELETE FROM link_codes WHERE used_at IS NOT NULL OR expires_at <= ?"
                " OR (platform = ? AND platform_id = ?)",
                (now, account.platform.value, account.id),
            )
            await t.execute(
                "DELETE FROM link_attempts WHERE at < ?",
                (to_db_time(self._db.clock() - timedelta(days=1)),),
            )
            inserted = await t.execute(
                "INSERT INTO link_codes (code_hash, platform, platform_id, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (code_hash) DO NOTHING",
                (_hash(code), account.platform.value, account.id, now,
                 to_db_time(self._db.clock() + ttl)),
            )  # fmt: skip
        return inserted > 0

    async def redeem(self, code: str) -> Account | None:
        """The account that was issued ``code``, if it is unused and unexpired; uses it up."""
        now = to_db_time(self._db.clock())
        async with self._db.transaction() as t:
            row = await t.fetchone(
                "UPDATE link_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL"
                " AND expires_at > ? RETURNING platform, platform_id",
                (now, _hash(code), now),
            )
        if row is None:
            return None
        return Account(platform=Platform(row["platform"]), id=str(row["platform_id"]))

    async def failed_attempt(self, account: Account) -> None:
        async with self._db.transaction() as t:
            await t.execute(
                "INSERT INTO link_attempts (platform, platform_id, at) VALUES (?, ?, ?)",
                (account.platform.value, account.id, to_db_time(self._db.clock())),
            )

    async def recent_failures(self, account: Account, window: timedelta) -> int:
        since = to_db_time(self._db.clock() - window)
        async with self._db.transaction(write=False) as t:
            row = await t.fetchrow(
                "SELECT count(*) AS n FROM link_attempts WHERE platform = ? AND platform_id = ?"
                " AND at > ?",
                (account.platform.value, account.id, since),
            )
        return int(row["n"])


def _sanction(row: sqlite3.Row) -> SanctionRow:
    return SanctionRow(
        id=int(row["id"]),
        member_id=int(row["member_id"]),
        case_id=row["case_id"],
        kind=str(row["kind"]),
        until=opt_from_db_time(row["until"]),
        reason=str(row["reason"]),
        created_at=from_db_time(row["created_at"]),
    )


class SanctionRepository:
    """Mutes and bans in force, by member."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def impose(
        self,
        member_id: int,
        kind: str,
        *,
        until: datetime | None,
        reason: str,
        case_id: int | None,
        tx: Tx | None = None,
    ) -> None:
        """Record a mute or ban; it replaces an earlier one of the same kind."""
        async with self._db.using(tx) as t:
            now = to_db_time(self._db.clock())
            await t.execute(
                "UPDATE sanctions SET lifted_at = ? WHERE member_id = ? AND kind = ?"
                " AND lifted_at IS NULL",
                (now, member_id, kind),
            )
            await t.execute(
                "INSERT INTO sanctions (member_id, case_id, kind, until, reason, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (member_id, case_id, kind, to_db_time(until) if until else None, reason, now),
            )

    async def lift(self, member_id: int, kind: str, *, tx: Tx | None = None) -> bool:
        async with self._db.using(tx) as t:
            return (
                await t.execute(
                    "UPDATE sanctions SET lifted_at = ? WHERE member_id = ? AND kind = ?"
                    " AND lifted_at IS NULL",
                    (to_db_time(self._db.clock()), member_id, kind),
                )
                > 0
            )

    async def unlifted(self, member_id: int) -> list[SanctionRow]:
        """The member's mutes and bans nobody lifted, whether or not their time is up."""
        async with self._db.transaction(write=False) as t:
            rows = await t.fetchall(
                "SELECT id, member_id, case_id, kind, until, reason, created_at FROM sanctions"
                " WHERE member_id = ? AND lifted_at IS NULL ORDER BY id",
                (member_id,),
            )
        return [_sanction(r) for r in rows]

    async def in_force(self, member_id: int, now: datetime) -> list[SanctionRow]:
        """The member's mutes and bans that have not been lifted nor run out at ``now``."""
        async with self._db.transaction(write=False) as t:
            rows = await t.fetchall(
                "SELECT id, member_id, case_id, kind, until, reason, created_at FROM sanctions"
                " WHERE member_id = ? AND lifted_at IS NULL AND (until IS NULL OR until > ?)"
                " ORDER BY id",
                (member_id, to_db_time(now)),
            )
        return [_sanction(r) for r in rows]

    async def members_in_force(self, now: datetime) -> list[int]:
        """Every member with a mute or ban in force at ``now`` (carried to an upgraded room)."""
        async with self._db.transaction(write=False) as t:
            rows = await t.fetchall(
                "SELECT DISTINCT member_id FROM sanctions WHERE lifted_at IS NULL"
                " AND (until IS NULL OR until > ?) ORDER BY member_id",
                (to_db_time(now),),
            )
        return [int(r["member_id"]) for r in rows]
