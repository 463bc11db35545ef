"""Strikes: points a member earns by breaking rules, which decay and can be pardoned."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from domain.storage_ports import Tx
from storage.db import Database, from_db_time, opt_from_db_time, to_db_time


@dataclass(frozen=True, slots=True, kw_only=True)
class StrikeRow:
    """Points given to a member for breaking a rule, live from ``created_at`` until
    ``expires_at`` (None: never expires) unless pardoned."""

    id: int
    member_id: int
    case_id: int | None
    rule_id: str
    points: int
    created_at: datetime
    expires_at: datetime | None
    pardoned_at: datetime | None

    @property
    def pardoned(self) -> bool:
        """Whether a moderator pardoned it (it is kept, but no longer counts)."""
        return self.pardoned_at is not None

    def live_at(self, now: datetime) -> bool:
        """Whether the strike counts at ``now``."""
        return (
            not self.pardoned
            and self.created_at <= now
            and (self.expires_at is None or now < self.expires_at)
        )


_COLUMNS = "id, member_id, case_id, rule_id, points, created_at, expires_at, pardoned_at"
_SELECT = f"SELECT {_COLUMNS} FROM strikes"  # noqa: S608 -- constant column list
# The one definition of "counts at a time": the SQL twin of StrikeRow.live_at.
_LIVE = "pardoned = 0 AND created_at <= :now AND (expires_at IS NULL OR expires_at > :now)"


def _row(row: sqlite3.Row) -> StrikeRow:
    return StrikeRow(
        id=int(row["id"]),
        member_id=int(row["member_id"]),
        case_id=row["case_id"],
        rule_id=str(row["rule_id"]),
        points=int(row["points"]),
        created_at=from_db_time(row["created_at"]),
        expires_at=opt_from_db_time(row["expires_at"]),
        pardoned_at=opt_from_db_time(row["pardoned_at"]),
    )


class StrikeRepository:
    """Giving, summing and pardoning strikes."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def give(
        self,
        member_id: int,
        rule_id: str,
        points: int,
        *,
        expires_at: datetime | None,
        case_id: int | None = None,
        at: datetime | None = None,
        tx: Tx | None = None,
    ) -> StrikeRow:
        """Give ``points`` to a member for ``rule_id``, from ``at`` (default now) until
        ``expires_at`` (None: until pardoned)."""
        created = self._db.clock() if at is None else at
        async with self._db.using(tx) as t:
            row = await t.fetchrow(
                f"INSERT INTO strikes (member_id, case_id, rule_id, points, created_at,"  # noqa: S608
                f" expires_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
                (
                    member_id,
                    case_id,
                    rule_id,
                    points,
                    to_db_time(created),
                    None if expires_at is None else to_db_time(expires_at),
                ),
            )
        return _row(row)

    async def live_points(self, member_id: int, now: datetime, *, tx: Tx | None = None) -> int:
        """The sum of the member's points that count at ``now`` (not expired, not pardoned)."""
        async with self._db.using(tx, write=False) as t:
            row = await t.fetchone(
                f"SELECT coalesce(sum(points), 0) AS total FROM strikes"  # noqa: S608
                f" WHERE member_id = :member AND {_LIVE}",
                {"member": member_id, "now": to_db_time(now)},
            )
        return 0 if row is None else int(row["total"])

    async def live(self, member_id: int, now: datetime, *, tx: Tx | None = None) -> list[StrikeRow]:
        """The member's strikes that count at ``now``, oldest first."""
        async with self._db.using(tx, write=False) as t:
            rows = await t.fetchall(
                f"{_SELECT} WHERE member_id = :member AND {_LIVE} ORDER BY created_at, id",
                {"member": member_id, "now": to_db_time(now)},
            )
        return [_row(r) for r in rows]

    async def of_member(self, member_id: int, *, tx: Tx | None = None) -> list[StrikeRow]:
        """Every strike the member ever got (expired and pardoned included), oldest first."""
        async with self._db.using(tx, write=False) as t:
            rows = await t.fetchall(
                f"{_SELECT} WHERE member_id = ? ORDER BY created_at, id", (member_id,)
            )
        return [_row(r) for r in rows]

    async def pardon_case(self, case_id: int, *, tx: Tx | None = None) -> int:
        """Pardon every strike of a case; return how many were newly pardoned."""
        async with self._db.using(tx) as t:
            return await t.execute(
                "UPDATE strikes SET pardoned = 1, pardoned_at = ?"
                " WHERE case_id = ? AND pardoned = 0",
                (to_db_time(self._db.clock()), case_id),
            )

    async def pardon(self, strike_id: int, *, tx: Tx | None = None) -> bool:
        """Pardon one strike; False if it does not exist or was pardoned already."""
        async with self._db.using(tx) as t:
            changed = await t.execute(
                "UPDATE strikes SET pardoned = 1, pardoned_at = ? WHERE id = ? AND pardoned = 0",
                (to_db_time(self._db.clock()), strike_id),
            )
        return changed == 1
