"""The database: one aiosqlite connection in WAL mode, and schema migrations. Its
transactions, and the group commit that makes them durable, are in storage.transactions.

A `Database` is opened once by the composition root and passed to every repository. There is
no module-level connection: tests open as many databases as they like, each in its own file.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import aiosqlite

from domain.storage_ports import StorageError as StorageError
from domain.storage_ports import Tx
from storage import backup

# Repositories import these from here, where the database is (explicit re-exports).
from storage.transactions import Params as Params
from storage.transactions import SharedConnection
from storage.transactions import Transaction as Transaction

Clock = Callable[[], datetime]

# FULL rather than NORMAL: in WAL mode NORMAL already survives a crash of the process, but a
# power cut or kernel panic may roll back the last commits. A committed case is something a
# moderator has been told about ("case #12 opened") and a committed outbox row is a promise to
# act, so we pay one fsync per commit. During a raid the transactions queued for the
# connection share one commit (group commit), so the fsyncs do not pile up.
SYNCHRONOUS = "FULL"
# Another process (a CLI command next to the running service) may hold the write lock for a
# moment; wait for it rather than fail at once.
BUSY_TIMEOUT_MS = 5000

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(StorageError):
    """A migration failed or the applied history does not match the migration files."""


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def to_db_time(when: datetime) -> str:
    """Encode an aware datetime as fixed-width UTC ISO 8601 text.

    Every time in the database has exactly this shape (``2026-11-24T19:22:45.000000+00:00``),
    so comparing the text in SQL compares the instants. Naive datetimes are refused: we cannot
    know which zone they meant.
    """
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"naive datetime {when!r}: storage needs timezone-aware times")
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def from_db_time(text: str) -> datetime:
    """Decode a time written by `to_db_time` (an aware datetime in UTC)."""
    return datetime.fromisoformat(text).astimezone(UTC)


def opt_from_db_time(text: str | None) -> datetime | None:
    """Like `from_db_time`, for nullable columns."""
    return None if text is None else from_db_time(text)


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered schema change, read from ``NNNN_name.sql``."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """The SHA-256 of the SQL, to notice an applied migration edited afterwards."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """Read the migration files, sorted by version, from ``directory`` or the package's own.

    Versions must be 1, 2, 3... without gaps or repeats, so that two branches adding the same
    number are caught here and not in production.
    """
    source: Traversable = (
        directory if directory is not None else resources.files("storage") / "migrations"
    )
    found: list[Migration] = []
    for entry in source.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match is None:
            continue
        found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"migration versions must be 1..n without gaps: {versions}")
    return found


def split_statements(sql: str) -> list[str]:
    """Split a migration script into single statements.

    We cannot use ``executescript``: it commits any open transaction first, which would break
    the one-transaction-per-migration guarantee. ``sqlite3.complete_statement`` knows about
    trigger bodies, so a statement ends at the first line where it is complete.
    """
    statements: list[str] = []
    buffer = ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    leftover = [ln for ln in buffer.splitlines() if ln.strip() and not ln.strip().startswith("--")]
    if leftover:
        raise MigrationError(f"incomplete statement at the end of the migration: {buffer!r}")
    return statements


class Database:
    """An open modbridge database. Create it with `Database.open`, end it with `close`.

    One connection serves the whole process, one transaction at a time
    (storage.transactions.SharedConnection).
    """

    def __init__(self, conn: aiosqlite.Connection, path: Path, clock: Clock) -> None:
        self._conn = conn
        self._shared = SharedConnection(conn)
        self.path = path
        self.clock = clock

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        clock: Clock = utc_now,
        migrations: Sequence[Migration] | None = None,
    ) -> Database:
        """Open (or create) the database at ``path``, configure it and migrate it to the latest
        schema. ``clock`` gives the timestamps repositories write; ``migrations`` replaces the
        packaged ones (tests use it)."""
        _private(Path(path))
        # isolation_level=None: the sqlite3 module must not open transactions behind our back;
        # we issue BEGIN/COMMIT ourselves.
        conn = await aiosqlite.connect(path, isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            mode = await _pragma(conn, "journal_mode=WAL")
            if str(mode).lower() != "wal":
                raise StorageError(f"could not switch {path} to WAL mode (got {mode!r})")
            await _pragma(conn, f"synchronous={SYNCHRONOUS}")
            await _pragma(conn, "foreign_keys=ON")
            await _pragma(conn, f"busy_timeout={BUSY_TIMEOUT_MS}")
            db = cls(conn, Path(path), clock)
            await db.migrate(load_migrations() if migrations is None else migrations)
        except BaseException:
            await conn.close()
            raise
        return db

    async def close(self) -> None:
        """Wait for the running transaction, then close the connection (SQLite checkpoints the
        WAL into the main file as the last connection closes). Closing twice is harmless."""
        shared = self._shared
        async with shared.exclusive():
            if shared.closed:
                return
            await shared.commit_open()  # the transactions waiting for it are done
            shared.closed = True
            log.info(
                "%d transactions made durable in %d commits", shared.made_durable, shared.commits
            )
            try:
                await _pragma(self._conn, "optimize")
            except sqlite3.Error:  # a full disk: closing matters more (its thread holds exit)
                pass
            finally:
                await self._conn.close()

    def commit_counts(self) -> tuple[int, int]:
        """(transactions made durable, COMMITs that made them so) since the database was
        opened: how much group commit saved, for the log and the benchmarks."""
        return self._shared.made_durable, self._shared.commits

    async def pragma(self, name: str) -> Any:
        """Read one PRAGMA value (``journal_mode``, ``foreign_keys``...), for checks and tests."""
        if not name.isidentifier():
            raise ValueError(f"not a pragma name: {name!r}")
        async with self._shared.exclusive():
            await self._shared.commit_open()
            return await _pragma(self._conn, name)

    def transaction(
        self, *, write: bool = True, on_queued: Callable[[], None] | None = None
    ) -> AbstractAsyncContextManager[Transaction]:
        """Run a block in one transaction: committed when the block ends, rolled back if it
        raises (cancellation included). The block's writes are durable when it returns.

        Transactions that wait for the connection while one runs share its COMMIT (group
        commit, storage.transactions): each in a savepoint, so a failing one undoes only its
        own writes, and each caller returns only once that COMMIT is done.

        Writes start with ``BEGIN IMMEDIATE`` so the write lock is taken (waiting up to the busy
        timeout) before the first read; a deferred transaction that later wants to write can
        fail with SQLITE_BUSY at once in WAL mode. Not re-entrant: pass the `Transaction` down
        instead of opening a second one in the same task.

        ``on_queued`` is called as soon as the transaction has its place in the line for the
        connection (first come, first served): any transaction or read asked for after that
        runs after this one and sees its writes. A caller can let its next step start then,
        without waiting for this one's block and commit.
        """
        return self._shared.transaction(write=write, on_queued=on_queued)

    async def read_now(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        """One read statement on its own, outside any explicit transaction: SQLite runs a
        single statement atomically, and it costs one trip to the database's thread instead
        of three (BEGIN, the statement, COMMIT). For lookups made for every message."""
        return await self._shared.read_now(sql, params)

    @asynccontextmanager
    async def using(self, tx: Tx | None, *, write: bool = True) -> AsyncIterator[Transaction]:
        """Join the caller's transaction ``tx`` when given, else run in a new one.

        Repositories call this so that a caller can put several repository calls (a case, its
        actions, the audit record) in one transaction, or make a single call on its own. The
        core holds ``tx`` as the opaque `domain.storage_ports.Tx`: it is one of ours.
        """
        if tx is not None:
            if not isinstance(tx, Transaction):
                raise TypeError(f"not a transaction of this database: {type(tx).__name__}")
            yield tx
        else:
            async with self.transaction(write=write) as own:
                yield own

    async def schema_version(self) -> int:
        """The highest migration version applied (0 for an empty database)."""
        async with self.transaction(write=False) as tx:
            row = await tx.fetchone("SELECT coalesce(max(version), 0) AS v FROM schema_migrations")
        return int(row["v"]) if row is not None else 0

    async def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check``: ``"ok"`` or a description of the damage."""
        async with self.transaction(write=False) as tx:
            rows = await tx.fetchall("PRAGMA integrity_check")
        return "\n".join(str(r[0]) for r in rows)

    async def migrate(self, migrations: Sequence[Migration]) -> int:
        """Apply the migrations not applied yet, all in one transaction; return the version.

        A database that has data is first backed up next to its file (the path is logged). A
        migration that fails rolls them all back, leaving the database as it was.
        Running it again is a no-op. A database newer than the code, or an applied migration
        whose file changed since, is refused rather than guessed at.
        """
        async with self.transaction() as tx:
            await tx.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                " checksum TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            applied = {
                int(r["version"]): str(r["checksum"])
                for r in await tx.fetchall("SELECT version, checksum FROM schema_migrations")
            }
        known = {m.version: m for m in migrations}
        if applied and max(applied) > max(known, default=0):
            raise MigrationError(f"database is at version {max(applied)}, newer than this code")
        for version, checksum in applied.items():
            if known[version].checksum != checksum:
                raise MigrationError(f"migration {version} was changed after it was applied")
        pending = [m for m in migrations if m.version not in applied]
        if pending and applied and str(self.path) != ":memory:":
            saved = await asyncio.to_thread(
                backup.before_migration, self.path, max(applied), self.clock()
            )
            log.info(
                "database backed up to %s before migrating it from version %d to %d",
                saved, max(applied), pending[-1].version,
            )  # fmt: skip
        if pending:
            await self._apply(pending)
        return await self.schema_version()

    async def _apply(self, pending: Sequence[Migration]) -> None:
        migration = pending[0]
        try:
            async with self.transaction() as tx:
                for migration in pending:
                    await self._apply_one(tx, migration)
        except sqlite3.Error as exc:
            raise MigrationError(
                f"migration {migration.version} ({migration.name}) failed: {exc}"
            ) from exc

    async def _apply_one(self, tx: Transaction, migration: Migration) -> None:
        # Another process may have applied it while we waited for the write lock.
        if await tx.fetchone(
            "SELECT 1 FROM schema_migrations WHERE version = ?", (migration.version,)
        ):
            return
        for statement in split_statements(migration.sql):
            await tx.execute(statement)
        await tx.execute(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at)"
            " VALUES (?, ?, ?, ?)",
            (
                migration.version,
                migration.name,
                migration.checksum,
                to_db_time(self.clock()),
            ),
        )


async def _pragma(conn: aiosqlite.Connection, statement: str) -> Any:
    rows = list(await conn.execute_fetchall(f"PRAGMA {statement}"))
    return rows[0][0] if rows else None


def _private(path: Path) -> None:
    """Create the database file readable by its owner only (it holds reporters' identities
    and the Matrix login); SQLite gives its -wal and -shm files the same mode."""
    if str(path) == ":memory:":
        return
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
