"""Timers: things that must happen later ("unmute member X at T") and survive restarts."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from domain.records import NewTimer as NewTimer
from domain.records import TimerRow as TimerRow
from domain.storage_ports import Tx
from storage.db import Database, from_db_time, opt_from_db_time, to_db_time

_COLUMNS = "id, key, kind, due_at, member_id, case_id, payload, created_at, fired_at, cancelled_at"


def _row(row: sqlite3.Row) -> TimerRow:
    return TimerRow(
        id=int(row["id"]),
        key=str(row["key"]),
        kind=str(row["kind"]),
        due_at=from_db_time(row["due_at"]),
        member_id=row["member_id"],
        case_id=row["case_id"],
        payload=json.loads(row["payload"]),
        created_at=from_db_time(row["created_at"]),
        fired_at=opt_from_db_time(row["fired_at"]),
        cancelled_at=opt_from_db_time(row["cancelled_at"]),
    )


class TimerRepository:
    """Scheduling, finding due, firing and cancelling timers."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def schedule(self, new: NewTimer, *, tx: Tx | None = None) -> tuple[TimerRow, bool]:
        """Store a timer; return it and whether it is new (False: ``key`` existed already,
        and the existing timer is returned unchanged)."""
        async with self._db.using(tx) as t:
            row = await t.fetchone(
                f"INSERT INTO timers (key, kind, due_at, member_id, case_id, payload, created_at)"  # noqa: S608
                f" VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING RETURNING {_COLUMNS}",
                (
                    new.key,
                    new.kind,
                    to_db_time(new.due_at),
                    new.member_id,
                    new.case_id,
                    json.dumps(dict(new.payload), sort_keys=True),
                    to_db_time(self._db.clock()),
                ),
            )
            if row is not None:
                return _row(row), True
            existing = await t.fetchrow(
                f"SELECT {_COLUMNS} FROM timers WHERE key = ?",  # noqa: S608
                (new.key,),
            )
        return _row(existing), False

    async def due(self, now: datetime, *, limit: int = 100, tx: Tx | None = None) -> list[TimerRow]:
        """Timers due at ``now`` that have neither fired nor been cancelled, earliest first."""
        async with self._db.using(tx, write=False) as t:
            rows = await t.fetchall(
                f"SELECT {_COLUMNS} FROM timers"  # noqa: S608
                f" WHERE fired_at IS NULL AND cancelled_at IS NULL AND due_at <= ?"
                f" ORDER BY due_at, id LIMIT ?",
                (to_db_time(now), limit),
            )
        return [_row(r) for r in rows]

    async def pending_for(
        self, kind: str, member_id: int, *, tx: Tx | None = None
    ) -> TimerRow | None:
        """The member's latest timer of ``kind`` that has neither fired nor been cancelled."""
        async with self._db.using(tx, write=False) as t:
            row = await t.fetchone(
                f"SELECT {_COLUMNS} FROM timers WHERE kind = ? AND member_id = ?"  # noqa: S608
                " AND fired_at IS NULL AND cancelled_at IS NULL ORDER BY id DESC LIMIT 1",
                (kind, member_id),
            )
        return None if row is None else _row(row)

    async def mark_fired(self, timer_id: int, *, tx: Tx | None = None) -> bool:
        """Record that a timer fired; False if it had fired or been cancelled already.

        Call it in the transaction that enqueues what the timer does, so a crash between the
        two neither loses nor repeats it.
        """
        async with self._db.using(tx) as t:
            changed = await t.execute(
                "UPDATE timers SET fired_at = ?"
                " WHERE id = ? AND fired_at IS NULL AND cancelled_at IS NULL",
                (to_db_time(self._db.clock()), timer_id),
            )
        return changed == 1

    async def delete_done(self, before: datetime) -> int:
        """Remove timers that fired or were cancelled before ``before`` (they did their job)."""
        stamp = to_db_time(before)
        async with self._db.transaction() as t:
            return await t.execute(
                "DELETE FROM timers WHERE fired_at < ? OR cancelled_at < ?", (stamp, stamp)
            )

    async def postpone(self, timer_id: int, due_at: datetime) -> None:
        """Make a timer due again at ``due_at`` (firing it failed; it must not be lost)."""
        async with self._db.transaction() as t:
            await t.execute(
                "UPDATE timers SET due_at = ? WHERE id = ? AND fired_at IS NULL",
                (to_db_time(due_at), timer_id),
            )

    async def reschedule(self, key: str, due_at: datetime, *, tx: Tx | None = None) -> bool:
        """Move a pending timer to ``due_at`` (``!duration``); False if none was pending."""
        async with self._db.using(tx) as t:
            changed = await t.execute(
                "UPDATE timers SET due_at = ?"
                " WHERE key = ? AND fired_at IS NULL AND cancelled_at IS NULL",
                (to_db_time(due_at), key),
            )
        return changed == 1

    async def cancel_kind(self, kind: str, key_prefix: str, *, tx: Tx | None = None) -> int:
        """Cancel every pending timer of ``kind`` whose key starts with ``key_prefix``;
        return how many (a DM pause's renewals, ended by a newer pause or a resume)."""
        async with self._db.using(tx) as t:
            return await t.execute(
                "UPDATE timers SET cancelled_at = ? WHERE kind = ? AND substr(key, 1, ?) = ?"
                " AND fired_at IS NULL AND cancelled_at IS NULL",
                (to_db_time(self._db.clock()), kind, len(key_prefix), key_prefix),
            )

    async def cancel(self, key: str, *, tx: Tx | None = None) -> bool:
        """Cancel a pending timer by key; False if none was pending."""
        async with self._db.using(tx) as t:
            changed = await t.execute(
                "UPDATE timers SET cancelled_at = ?"
                " WHERE key = ? AND fired_at IS NULL AND cancelled_at IS NULL",
                (to_db_time(self._db.clock()), key),
            )
        return changed == 1
