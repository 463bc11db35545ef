"""The outbox: actions to carry out, written in the same transaction as the case they serve.

A row moves pending -> done, or pending -> failed (permanent, with the reason); a transient
failure keeps it pending with a later ``next_attempt_at``. The executor claims due rows with a
lease instead of a separate "running" state: a worker that dies mid-action leaves a row that
simply becomes due again when the lease runs out.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta

from domain.actions import URGENCY as URGENCY
from domain.actions import ActionKind, action_kind, action_target
from domain.actions import Urgency as Urgency
from domain.model import Platform
from domain.records import ActionRow as ActionRow
from domain.records import ActionState as ActionState
from domain.records import Enqueued as Enqueued
from domain.records import NewAction as NewAction
from domain.storage_ports import Tx
from storage.codec import decode_action, encode_action
from storage.db import Database, Transaction, from_db_time, opt_from_db_time, to_db_time

DEFAULT_LEASE = timedelta(minutes=5)


# The urgency of a row in SQL (spliced from the constants above, never from input).
_URGENCY_SQL = (
    "CASE kind "
    + " ".join(f"WHEN '{kind.value}' THEN {int(u)}" for kind, u in URGENCY.items())
    + f" ELSE {int(Urgency.NOTICE)} END"
)


_COLUMNS = (
    "id, idempotency_key, case_id, platform, space_id, kind, payload, state, attempts,"
    " next_attempt_at, claimed_at, last_error, result, created_at, updated_at"
)


# The f-strings here only splice in the constant column list; values always go through
# parameters.
_INSERT = (
    "INSERT INTO actions (idempotency_key, case_id, platform, space_id, target_platform_id,"  # noqa: S608
    " kind, payload, state, attempts, next_attempt_at, claimed_at, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?)"
    f" ON CONFLICT (idempotency_key) DO NOTHING RETURNING {_COLUMNS}"
)


# Due rows, numbered within their urgency (most urgent, then oldest first); each urgency
# takes up to its own number. The f-string splices in constants only.
_CLAIM = (
    "UPDATE actions SET next_attempt_at = ?, claimed_at = ?, updated_at = ?"  # noqa: S608
    " WHERE id IN (SELECT id FROM ("
    f"   SELECT a.id AS id, {_URGENCY_SQL} AS urgency, ROW_NUMBER() OVER"
    f"     (PARTITION BY {_URGENCY_SQL} ORDER BY a.next_attempt_at, a.id) AS n"
    "   FROM actions AS a WHERE a.state = 'pending'"
    "   AND a.next_attempt_at <= ? AND (? IS NULL OR a.platform = ?)"
    # Actions on one member in one space run in the order they were queued: a mute waiting
    # for a retry holds back the unmute queued after it.
    "   AND (a.target_platform_id IS NULL OR NOT EXISTS (SELECT 1 FROM actions AS b"
    "     WHERE b.state = 'pending' AND b.id < a.id AND b.platform = a.platform"
    "     AND b.space_id = a.space_id AND b.target_platform_id = a.target_platform_id))"
    " ) WHERE n <= CASE urgency "
    + " ".join(f"WHEN {int(u)} THEN ?" for u in Urgency)
    + f" ELSE 0 END ORDER BY urgency, n LIMIT ?) RETURNING {_COLUMNS}"
)


def _row(row: sqlite3.Row) -> ActionRow:
    return ActionRow(
        id=int(row["id"]),
        key=str(row["idempotency_key"]),
        case_id=row["case_id"],
        platform=Platform(row["platform"]),
        space_id=str(row["space_id"]),
        kind=ActionKind(row["kind"]),
        action=decode_action(row["kind"], row["payload"]),
        state=ActionState(row["state"]),
        attempts=int(row["attempts"]),
        next_attempt_at=from_db_time(row["next_attempt_at"]),
        claimed_at=opt_from_db_time(row["claimed_at"]),
        last_error=row["last_error"],
        result=row["result"],
        created_at=from_db_time(row["created_at"]),
        updated_at=from_db_time(row["updated_at"]),
    )


async def insert_action(
    tx: Transaction,
    item: NewAction,
    case_id: int | None,
    now: datetime,
    *,
    claimed: timedelta | None = None,
) -> Enqueued:
    """Enqueue one action inside ``tx``; an existing row with the same key is returned as is.

    ``claimed``: a new row is born claimed, with that lease, for a caller that hands it to the
    worker itself once committed (no claim, no second commit, before a deletion)."""
    target = action_target(item.action)
    if target is not None and target.platform != item.platform:
        raise ValueError(f"action on {target.key} cannot be carried out on {item.platform}")
    stamp = to_db_time(now)
    due = stamp if item.not_before is None else to_db_time(item.not_before)
    if claimed is not None and item.not_before is None:
        due = to_db_time(now + claimed)  # due again only if the worker never settles it
    else:
        claimed = None
    inserted = await tx.fetchone(
        _INSERT,
        (
            item.key,
            case_id,
            item.platform.value,
            item.space_id,
            None if target is None else target.id,
            action_kind(item.action).value,
            encode_action(item.action),
            due,
            None if claimed is None else stamp,
            stamp,
            stamp,
        ),
    )
    if inserted is not None:
        return Enqueued(action=_row(inserted), created=True)
    existing = await tx.fetchrow(
        f"SELECT {_COLUMNS} FROM actions WHERE idempotency_key = ?",  # noqa: S608
        (item.key,),
    )
    return Enqueued(action=_row(existing), created=False)


class OutboxRepository:
    """Enqueue, claim and settle the actions the executors carry out."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def enqueue(
        self,
        actions: Sequence[NewAction],
        *,
        case_id: int | None = None,
        tx: Tx | None = None,
        hand_over: Collection[ActionKind] = (),
        lease: timedelta = DEFAULT_LEASE,
    ) -> list[Enqueued]:
        """Enqueue actions (for an existing case, or none) in one transaction.

        New actions of the kinds in ``hand_over`` that are due at once are enqueued claimed
        (``claimed_at`` set, due again after ``lease``): the caller hands them to the worker
        as soon as the transaction is committed, and a process that dies first leaves them
        to `release_claims` at the next start."""
        async with self._db.using(tx) as t:
            now = self._db.clock()
            enqueued = []
            for item in actions:
                claimed = lease if action_kind(item.action) in hand_over else None
                enqueued.append(await insert_action(t, item, case_id, now, claimed=claimed))
            return enqueued

    async def claim(
        self,
        *,
        platform: Platform | None = None,
        limit: int = 10,
        lanes: Mapping[Urgency, int] | None = None,
        lease: timedelta = DEFAULT_LEASE,
        now: datetime | None = None,
        tx: Tx | None = None,
    ) -> list[ActionRow]:
        """Take due pending actions (of ``platform``, if given), the most urgent first, then
        the oldest: up to ``limit`` in all, or with ``lanes``, up to so many of each urgency
        (a backlog of warnings then never holds back a deletion).

        Claimed rows are not due again until ``lease`` has passed, so a second worker does not
        take them; settle each with `mark_done`, `mark_failed` or `retry` before then.
        """
        now = self._db.clock() if now is None else now
        per = dict.fromkeys(Urgency, limit) if lanes is None else dict(lanes)
        total = limit if lanes is None else sum(max(0, n) for n in per.values())
        if total <= 0:
            return []
        stamp = to_db_time(now)
        async with self._db.using(tx) as t:
            rows = await t.fetchall(
                _CLAIM,
                (
                    to_db_time(now + lease), stamp, stamp, stamp,
                    None if platform is None else platform.value,
                    None if platform is None else platform.value,
                    *(max(0, per.get(u, 0)) for u in Urgency),
                    total,
                ),
            )  # fmt: skip
        # RETURNING gives no order guarantee.
        return sorted((_row(r) for r in rows), key=lambda a: (URGENCY[a.kind], a.id))

    async def mark_done(self, action_id: int, result: str = "", *, tx: Tx | None = None) -> bool:
        """Record that the action was carried out; False unless it was pending."""
        return await self._settle(
            "UPDATE actions SET state = 'done', result = ?, claimed_at = NULL, updated_at = ?"
            " WHERE id = ? AND state = 'pending'",
            (result, to_db_time(self._db.clock()), action_id),
            tx,
        )

    async def mark_failed(self, action_id: int, reason: str, *, tx: Tx | None = None) -> bool:
        """Give up on the action for good (a permanent error); False unless it was pending."""
        return await self._settle(
            "UPDATE actions SET state = 'failed', last_error = ?, claimed_at = NULL,"
            " updated_at = ? WHERE id = ? AND state = 'pending'",
            (reason, to_db_time(self._db.clock()), action_id),
            tx,
        )

    async def retry(
        self, action_id: int, reason: str, at: datetime, *, tx: Tx | None = None
    ) -> bool:
        """Count a failed attempt and make the action due again at ``at``; False unless it was
        pending."""
        return await self._settle(
            "UPDATE actions SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?,"
            " claimed_at = NULL, updated_at = ? WHERE id = ? AND state = 'pending'",
            (to_db_time(at), reason, to_db_time(self._db.clock()), action_id),
            tx,
        )

    async def pending_summary(self) -> tuple[int, datetime | None]:
        """How many actions wait in the outbox, and when the oldest of them was queued."""
        async with self._db.transaction(write=False) as t:
            row = await t.fetchrow(
                "SELECT count(*) AS n, min(created_at) AS oldest FROM actions"
                " WHERE state = 'pending'"
            )
        return int(row["n"]), opt_from_db_time(row["oldest"])

    async def release_claims(self) -> int:
        """Make every claimed, unsettled action due now. Called at start-up: a claim left by
        a process that died (kill -9, power cut) would otherwise wait out its lease."""
        now = to_db_time(self._db.clock())
        async with self._db.transaction() as t:
            return await t.execute(
                "UPDATE actions SET next_attempt_at = ?, claimed_at = NULL, updated_at = ?"
                " WHERE state = 'pending' AND claimed_at IS NOT NULL",
                (now, now),
            )

    async def queued_for(
        self, kind: ActionKind, platform: Platform, space_id: str, target_id: str, since: datetime
    ) -> bool:
        """Whether modbridge itself queued such an action since ``since`` (to tell its own
        bans from bans done by hand, when the platform does not say who banned)."""
        async with self._db.transaction(write=False) as t:
            row = await t.fetchrow(
                "SELECT EXISTS (SELECT 1 FROM actions WHERE kind = ? AND platform = ?"
                " AND space_id = ? AND target_platform_id = ? AND created_at >= ?) AS found",
                (kind.value, platform.value, space_id, target_id, to_db_time(since)),
            )
        return bool(row["found"])

    async def get(self, action_id: int, *, tx: Tx | None = None) -> ActionRow | None:
        """One outbox row by id, or None."""
        async with self._db.using(tx, write=False) as t:
            row = await t.fetchone(
                f"SELECT {_COLUMNS} FROM actions WHERE id = ?",  # noqa: S608
                (action_id,),
            )
        return None if row is None else _row(row)

    async def of_case(self, case_id: int, *, tx: Tx | None = None) -> list[ActionRow]:
        """The actions of a case, in the order they were enqueued."""
        async with self._db.using(tx, write=False) as t:
            rows = await t.fetchall(
                f"SELECT {_COLUMNS} FROM actions WHERE case_id = ? ORDER BY id",  # noqa: S608
                (case_id,),
            )
        return [_row(r) for r in rows]

    async def failed(self, *, limit: int = 50, tx: Tx | None = None) -> list[ActionRow]:
        """The dead letters: actions given up on, most recent first, for the moderators."""
        async with self._db.using(tx, write=False) as t:
            rows = await t.fetchall(
                f"SELECT {_COLUMNS} FROM actions WHERE state = 'failed'"  # noqa: S608
                " ORDER BY updated_at DESC, id DESC LIMIT ?",
                (limit,),
            )
        return [_row(r) for r in rows]

    async def backlog(self) -> tuple[int, int]:
        """How many actions wait: (pending, of them already tried at least once)."""
        async with self._db.transaction(write=False) as t:
            row = await t.fetchrow(
                "SELECT count(*) AS n, coalesce(sum(attempts > 0), 0) AS tried FROM actions"
                " WHERE state = 'pending'"
            )
        return int(row["n"]), int(row["tried"])

    async def failed_since(self, since: datetime) -> int:
        """How many actions failed for good since ``since``."""
        async with self._db.transaction(write=False) as t:
            row = await t.fetchrow(
                "SELECT count(*) AS n FROM actions WHERE state = 'failed' AND updated_at >= ?",
                (to_db_time(since),),
            )
        return int(row["n"])

    async def _settle(self, sql: str, params: tuple[object, ...], tx: Tx | None) -> bool:
        async with self._db.using(tx) as t:
            return await t.execute(sql, params) == 1
