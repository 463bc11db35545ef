"""The one SQLite connection, shared by the process's tasks one transaction at a time, with
group commit: transactions that queue for the connection share one COMMIT, one fsync.

Every commit costs an fsync (``synchronous=FULL``, storage.db), and on a loaded machine an
fsync can take tens of milliseconds. During a raid the cases, the worker's claims and its
"done" marks queue for the one connection, and one fsync each made the queue grow. So a
transaction that ends while others wait for the connection leaves the SQLite transaction
open: the next ones run in it, each in a savepoint of its own (a failing one rolls back its
own writes only), and a single COMMIT makes them all durable together. Nobody is told a
transaction is done before that COMMIT has returned: each caller still waits for its own
durable commit, and a failed COMMIT fails every transaction of the group.
"""

from __future__ import annotations

import asyncio
import copy
import sqlite3
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager, suppress
from typing import Any

import aiosqlite

from domain.storage_ports import StorageError

# Positional (?) or named (:name) parameters.
Params = Sequence[Any] | Mapping[str, Any]


class Transaction:
    """The handle repositories use to run SQL inside one open transaction."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self.closed = False  # set when the transaction ends; a kept handle must not write on

    def _live(self) -> aiosqlite.Connection:
        if self.closed:
            raise StorageError("this transaction has ended")
        return self._conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return the number of rows it changed."""
        cursor = await self._live().execute(sql, params)
        try:
            return cursor.rowcount
        finally:
            await cursor.close()

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        """Run one statement for each parameter row."""
        cursor = await self._live().executemany(sql, rows)
        await cursor.close()

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        """Run a query (or an ``INSERT ... RETURNING``) and return its first row."""
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchrow(self, sql: str, params: Params = ()) -> sqlite3.Row:
        """Like `fetchone`, for statements that always yield a row (``INSERT ... RETURNING``,
        an aggregate); raises StorageError if none came back."""
        row = await self.fetchone(sql, params)
        if row is None:
            raise StorageError(f"expected a row from: {sql}")
        return row

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """Run a query (or a statement with ``RETURNING``) and return every row."""
        return list(await self._live().execute_fetchall(sql, params))


class CommitGroup:
    """The transactions run since the last COMMIT, waiting for the next one together."""

    def __init__(self) -> None:
        self._done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # A failure nobody waits for any more (every member failed or was cancelled) must not
        # be reported by asyncio as "never retrieved".
        self._done.add_done_callback(_retrieve)
        self.members = 0  # transactions run in it so far (the first one has no savepoint)
        self.kept = 0  # of them, those that did not fail
        self.flusher: asyncio.Task[None] | None = None  # commits it if its last member cannot

    def committed(self) -> None:
        """The COMMIT returned: every member's writes are durable."""
        if not self._done.done():
            self._done.set_result(None)

    def failed(self, error: BaseException) -> None:
        """The group's transaction is gone (its COMMIT failed, or a member's error ended it):
        no member's writes are kept."""
        if not self._done.done():
            self._done.set_exception(error)

    async def durable(self) -> None:
        """Wait until the group is committed; raise (a copy of) its failure if it failed.

        A caller cancelled while it waits leaves the commit to run: cancelling a wait must not
        cancel other callers' commit."""
        try:
            await asyncio.shield(self._done)
        except Exception as exc:
            # Each member raises its own exception object: one object raised in several tasks
            # would collect all their tracebacks.
            raise copy.copy(exc) from exc

    def flush_later(self, flush: Callable[[CommitGroup], Coroutine[Any, Any, None]]) -> None:
        """Make sure somebody commits the group: ``flush`` queues for the connection behind
        the transactions waiting now, and commits the group if it is still open by then."""
        if self.flusher is None:
            self.flusher = asyncio.create_task(flush(self), name="group-commit")


def _retrieve(done: asyncio.Future[None]) -> None:
    if not done.cancelled():
        done.exception()


async def uncancelled(step: Awaitable[None]) -> None:
    """Run ``step`` (a COMMIT or ROLLBACK) to its end even if the caller is cancelled meanwhile:
    a statement already handed to SQLite's thread runs anyway, and giving up on its outcome
    would tell the group's members the wrong one. The cancellation is raised afterwards."""
    task = asyncio.ensure_future(step)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        raise


class SharedConnection:
    """One aiosqlite connection for the whole process: an asyncio lock gives each transaction
    the connection to itself (statements of two tasks on one connection would otherwise land
    in each other's transactions), and transactions queued behind each other share a commit.
    """

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None
        # The SQLite transaction left open for the transactions queued behind the last one,
        # and how many transactions wait for the connection.
        self._group: CommitGroup | None = None
        self._queued = 0
        self.closed = False
        self.made_durable = 0  # transactions committed...
        self.commits = 0  # ... and the COMMITs that did it

    async def commit_open(self) -> None:
        """Commit the group left open, if any (before closing, or a PRAGMA); call it while
        holding the connection (`exclusive`)."""
        if self._group is not None:
            await uncancelled(self._commit(self._group))

    @asynccontextmanager
    async def exclusive(
        self, *, queue: bool = False, on_queued: Callable[[], None] | None = None
    ) -> AsyncIterator[None]:
        """Hold the connection; ``queue``: as a transaction, which the one before joins.
        ``on_queued`` is called once this has its place in the line (see `transaction`)."""
        # asyncio.Lock is not re-entrant: a task asking again for the connection it holds would
        # wait for itself forever, so say so instead.
        if self._owner is not None and self._owner is asyncio.current_task():
            raise StorageError("transaction already open in this task; pass tx= instead")
        self._queued += queue  # a transaction waiting: the one before it need not commit
        if on_queued is not None:
            # The lock is fair (first come, first served) and adds this task to its line
            # before the task first yields; the callback runs after that yield.
            asyncio.get_running_loop().call_soon(on_queued)
        try:
            await self._lock.acquire()
        finally:
            self._queued -= queue
        self._owner = asyncio.current_task()
        try:
            yield
        finally:
            self._owner = None
            self._lock.release()

    @asynccontextmanager
    async def transaction(
        self, *, write: bool = True, on_queued: Callable[[], None] | None = None
    ) -> AsyncIterator[Transaction]:
        """A transaction: see `storage.db.Database.transaction`."""
        async with self.exclusive(queue=True, on_queued=on_queued):
            if self.closed:
                raise StorageError("the database is closed")
            group = self._group
            if group is None and not write:  # a lone read: no fsync to share
                async with self._alone() as tx:
                    yield tx
                return
            if group is None:
                group = self._group = CommitGroup()
            async with self._member(group) as tx:
                yield tx
        await group.durable()

    @asynccontextmanager
    async def _alone(self) -> AsyncIterator[Transaction]:
        tx = Transaction(self._conn)
        try:
            # In the try: a BEGIN cancelled on its way still runs, and must be rolled back.
            await self._conn.execute("BEGIN DEFERRED")
            yield tx
            await self._conn.execute("COMMIT")
        except BaseException:
            await self._rollback()
            raise
        finally:
            tx.closed = True

    @asynccontextmanager
    async def _member(self, group: CommitGroup) -> AsyncIterator[Transaction]:
        """One transaction of ``group``; the first one opens the group and needs no
        savepoint (when it fails, the whole SQLite transaction holds nothing else)."""
        first = group.members == 0
        group.members += 1
        tx = Transaction(self._conn)
        try:
            # In the try: a BEGIN cancelled on its way still runs, and must be rolled back.
            await self._conn.execute("SAVEPOINT member" if not first else "BEGIN IMMEDIATE")
            yield tx
            if not first:
                await self._conn.execute("RELEASE member")
            group.kept += 1
        except BaseException as exc:
            await uncancelled(self._undo(group, first, exc))
            raise
        finally:
            tx.closed = True
            await uncancelled(self._end_turn(group))

    async def _undo(self, group: CommitGroup, first: bool, error: BaseException) -> None:
        """Undo a failed transaction's writes, and only them if the group can go on."""
        if not first and self._conn.in_transaction:
            try:
                await self._conn.execute("ROLLBACK TO member")
                await self._conn.execute("RELEASE member")
                return
            except sqlite3.Error:
                pass
        # The first transaction, or an error that ended SQLite's transaction (a full disk,
        # an I/O error): the writes of the whole group are gone, and its members are told.
        self._group = None
        await self._rollback()
        group.failed(error if isinstance(error, Exception) else StorageError("interrupted"))

    async def _end_turn(self, group: CommitGroup) -> None:
        """After each transaction of the group: commit now, unless more transactions wait
        to join; then the last of them commits, or the flusher does if it cannot."""
        if self._group is not group:
            return  # rolled back already
        if self._queued:
            group.flush_later(self._flush)
            return
        await self._commit(group)

    async def _flush(self, group: CommitGroup) -> None:
        async with self.exclusive():  # behind the transactions that were waiting
            if self._group is group:
                await uncancelled(self._commit(group))

    async def _commit(self, group: CommitGroup) -> None:
        self._group = None
        try:
            await self._conn.execute("COMMIT")
        except Exception as exc:
            await self._rollback()
            group.failed(exc)
        else:
            self.commits += 1
            self.made_durable += group.kept
            group.committed()

    async def _rollback(self) -> None:
        # A failed COMMIT (SQLITE_BUSY, disk full) can leave the transaction open, and some
        # errors end it already; either way the connection must leave here with none open.
        with suppress(sqlite3.OperationalError):
            await self._conn.execute("ROLLBACK")

    async def read_now(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        """One read statement outside any explicit transaction (see `Database.read_now`).
        While a commit group is open the statement runs in it (it may read the group's
        writes), and returns once they are durable."""
        async with self.exclusive(queue=True):
            if self.closed:
                raise StorageError("the database is closed")
            group = self._group
            try:
                rows = list(await self._conn.execute_fetchall(sql, params))
            finally:
                if group is not None:
                    await uncancelled(self._end_turn(group))
        if group is not None:
            await group.durable()
        return rows[0] if rows else None
