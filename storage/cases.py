"""Cases (numbered, shown to moderators) and their notes."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from domain.cases import CaseNote, CaseRow, CaseStatus, NewCase, OriginKind
from domain.model import Account, Platform
from domain.storage_ports import Tx
from storage.db import Database, Transaction, from_db_time, opt_from_db_time, to_db_time
from storage.identity import ensure_account

_COLUMNS = (
    "id, member_id, subject_platform, subject_platform_id, origin_kind, origin, reason,"
    " evidence, status, created_at, closed_at, closed_by, dedupe_key"
)
_SELECT = f"SELECT {_COLUMNS} FROM cases"  # noqa: S608 -- constant text


def _case(row: sqlite3.Row) -> CaseRow:
    return CaseRow(
        id=int(row["id"]),
        member_id=int(row["member_id"]),
        subject=Account(
            platform=Platform(row["subject_platform"]), id=str(row["subject_platform_id"])
        ),
        origin_kind=OriginKind(row["origin_kind"]),
        origin=str(row["origin"]),
        reason=str(row["reason"]),
        evidence=str(row["evidence"]),
        status=CaseStatus(row["status"]),
        created_at=from_db_time(row["created_at"]),
        closed_at=opt_from_db_time(row["closed_at"]),
        closed_by=row["closed_by"],
        dedupe_key=row["dedupe_key"],
    )


async def insert_case(tx: Transaction, new: NewCase, now: datetime) -> tuple[CaseRow, bool]:
    """Open ``new`` inside ``tx``; return the case and whether it was created (False when
    its dedupe key was already taken, in which case the existing case is returned)."""
    subject = await ensure_account(tx, new.subject, now)
    row = await tx.fetchone(
        "INSERT INTO cases (dedupe_key, member_id, subject_platform, subject_platform_id,"  # noqa: S608
        " origin_kind, origin, reason, evidence, status, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open', ?)"
        f" ON CONFLICT (dedupe_key) DO NOTHING RETURNING {_COLUMNS}",
        (
            new.dedupe_key,
            subject.member_id,
            new.subject.platform.value,
            new.subject.id,
            new.origin_kind.value,
            new.origin,
            new.reason,
            new.evidence,
            to_db_time(now),
        ),
    )
    if row is not None:
        return _case(row), True
    # The dedupe key was taken: that case is the answer.
    case = await tx.fetchrow(f"{_SELECT} WHERE dedupe_key = ?", (new.dedupe_key,))
    return _case(case), False


class CaseRepository:
    """Opening, reading and closing cases; notes on them."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def open(self, new: NewCase, *, tx: Tx | None = None) -> tuple[CaseRow, bool]:
        """Open a case with no actions; return it and whether it is new (see `NewCase`).

        Pass ``tx`` to enqueue its actions in the same transaction (`OutboxRepository.enqueue`,
        as `bridge.writer.CaseWriter` does).
        """
        async with self._db.using(tx) as t:
            return await insert_case(t, new, self._db.clock())

    async def get(self, case_id: int, *, tx: Tx | None = None) -> CaseRow | None:
        """The case numbered ``case_id``, or None."""
        async with self._db.using(tx, write=False) as t:
            row = await t.fetchone(f"{_SELECT} WHERE id = ?", (case_id,))
        return None if row is None else _case(row)

    async def opened_for(self, dedupe_key: str) -> bool:
        """Whether a case was already opened for this event (a replay after a restart)."""
        row = await self._db.read_now("SELECT 1 FROM cases WHERE dedupe_key = ?", (dedupe_key,))
        return row is not None

    async def dedupe_keys_since(self, since: datetime) -> set[str]:
        """The dedupe keys of every case opened since ``since`` (what a replay would repeat)."""
        async with self._db.transaction(write=False) as t:
            rows = await t.fetchall(
                "SELECT dedupe_key FROM cases WHERE created_at >= ? AND dedupe_key IS NOT NULL",
                (to_db_time(since),),
            )
        return {str(r["dedupe_key"]) for r in rows}

    async def of_member(
        self,
        member_id: int,
        *,
        status: CaseStatus | None = None,
        tx: Tx | None = None,
    ) -> list[CaseRow]:
        """The member's cases, oldest first, optionally only those with ``status``."""
        async with self._db.using(tx, write=False) as t:
            rows = await t.fetchall(
                f"{_SELECT} WHERE member_id = ? AND (? IS NULL OR status = ?) ORDER BY id",
                (member_id, _value(status), _value(status)),
            )
        return [_case(r) for r in rows]

    async def listing(
        self, *, reports_since: datetime, limit: int, offset: int = 0
    ) -> list[CaseRow]:
        """Open cases and reports opened since ``reports_since``, newest first (``!cases``)."""
        async with self._db.transaction(write=False) as t:
            rows = await t.fetchall(
                f"{_SELECT} WHERE status = 'open' OR (origin_kind = 'report' AND created_at >= ?)"
                " ORDER BY id DESC LIMIT ? OFFSET ?",
                (to_db_time(reports_since), limit, offset),
            )
        return [_case(r) for r in rows]

    async def set_reason(self, case_id: int, reason: str, *, tx: Tx | None = None) -> bool:
        """Correct a case's reason (``!reason``); False if there is no such case."""
        async with self._db.using(tx) as t:
            changed = await t.execute("UPDATE cases SET reason = ? WHERE id = ?", (reason, case_id))
        return changed == 1

    async def close(self, case_id: int, closed_by: str, *, tx: Tx | None = None) -> bool:
        """Close an open case; False if it does not exist or was already closed."""
        async with self._db.using(tx) as t:
            changed = await t.execute(
                "UPDATE cases SET status = 'closed', closed_at = ?, closed_by = ?"
                " WHERE id = ? AND status = 'open'",
                (to_db_time(self._db.clock()), closed_by, case_id),
            )
        return changed == 1

    async def add_note(
        self, case_id: int, author: str, body: str, *, tx: Tx | None = None
    ) -> CaseNote:
        """Add a note to a case (raises sqlite3.IntegrityError if the case does not exist)."""
        now = self._db.clock()
        async with self._db.using(tx) as t:
            row = await t.fetchrow(
                "INSERT INTO case_notes (case_id, author, body, created_at)"
                " VALUES (?, ?, ?, ?) RETURNING id",
                (case_id, author, body, to_db_time(now)),
            )
        return CaseNote(
            id=int(row["id"]), case_id=case_id, author=author, body=body, created_at=now
        )

    async def notes(self, case_id: int, *, tx: Tx | None = None) -> list[CaseNote]:
        """The notes of a case, oldest first."""
        async with self._db.using(tx, write=False) as t:
            rows = await t.fetchall(
                "SELECT id, case_id, author, body, created_at FROM case_notes"
                " WHERE case_id = ? ORDER BY id",
                (case_id,),
            )
        return [
            CaseNote(
                id=int(r["id"]),
                case_id=int(r["case_id"]),
                author=str(r["author"]),
                body=str(r["body"]),
                created_at=from_db_time(r["created_at"]),
            )
            for r in rows
        ]


def _value(status: CaseStatus | None) -> str | None:
    return None if status is None else status.value
