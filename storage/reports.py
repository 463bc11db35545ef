"""Who reported what: kept apart from cases, for the configured admins only."""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.model import Account, Platform
from domain.records import ReportRow as ReportRow
from domain.storage_ports import Tx
from storage.db import Database, from_db_time, to_db_time


class ReportRepository:
    """The reporter of each reported case. Never shown to moderators unless they agreed."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        case_id: int,
        reporter: Account,
        *,
        reporter_member: int | None,
        share_identity: bool = False,
        tx: Tx | None = None,
    ) -> None:
        async with self._db.using(tx) as t:
            await t.execute(
                "INSERT OR IGNORE INTO reports (case_id, reporter_platform, reporter_id,"
                " reporter_member, share_identity, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (case_id, reporter.platform.value, reporter.id, reporter_member,
                 int(share_identity), to_db_time(self._db.clock())),
            )  # fmt: skip

    async def of_case(self, case_id: int) -> ReportRow | None:
        """The report behind a case (for admins, and for telling the reporter the outcome)."""
        async with self._db.transaction(write=False) as t:
            row = await t.fetchone(
                "SELECT case_id, reporter_platform, reporter_id, share_identity, created_at"
                " FROM reports WHERE case_id = ?",
                (case_id,),
            )
        if row is None:
            return None
        return ReportRow(
            case_id=int(row["case_id"]),
            reporter=Account(platform=Platform(row["reporter_platform"]), id=row["reporter_id"]),
            share_identity=bool(row["share_identity"]),
            created_at=from_db_time(row["created_at"]),
        )

    async def count_recent(self, reporter: Account, window: timedelta) -> int:
        """Reports this account made within ``window`` (reports are rate limited)."""
        since = to_db_time(self._db.clock() - window)
        async with self._db.transaction(write=False) as t:
            row = await t.fetchrow(
                "SELECT count(*) AS n FROM reports WHERE reporter_platform = ?"
                " AND reporter_id = ? AND created_at > ?",
                (reporter.platform.value, reporter.id, since),
            )
        return int(row["n"])

    async def against_reporter(self, reporter_member: int, since: datetime) -> list[int]:
        """Cases reported by this member since ``since`` (to flag retaliation against them)."""
        async with self._db.transaction(write=False) as t:
            rows = await t.fetchall(
                "SELECT case_id FROM reports WHERE reporter_member = ? AND created_at > ?",
                (reporter_member, to_db_time(since)),
            )
        return [int(r["case_id"]) for r in rows]
