"""A database whose COMMITs a test holds back or makes fail, as a slow or broken disk would:
real SQLite underneath, the COMMIT statement gated (everything else passes through)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import aiosqlite

from storage.db import Database


class GatedCommits:
    """An aiosqlite connection whose COMMIT waits for ``gate`` and fails while ``fail`` is
    set, as a COMMIT whose fsync is slow or hits a broken disk would."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail = False
        self.commits_asked = 0
        self.asked = asyncio.Event()  # a COMMIT waits at the gate

    async def execute(self, sql: str, params: Any = ()) -> aiosqlite.Cursor:
        if sql == "COMMIT":
            self.commits_asked += 1
            self.asked.set()
            await self.gate.wait()
            if self.fail:
                raise sqlite3.OperationalError("disk I/O error")
        return await self._conn.execute(sql, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


async def open_gated(path: Path, clock: Callable[[], datetime]) -> tuple[Database, GatedCommits]:
    """A migrated database at ``path`` over a connection with gated COMMITs."""
    await (await Database.open(path, clock=clock)).close()
    conn = await aiosqlite.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    fake = GatedCommits(conn)
    return Database(cast(aiosqlite.Connection, fake), path, clock), fake


async def queue_behind(db: Database, n: int, holder: asyncio.Task[Any]) -> None:
    """Wait until ``n`` transactions wait for the connection that ``holder`` has."""
    for _ in range(10_000):  # a bound, not a timing: the others only have to reach the lock
        if db._shared._queued == n:
            break
        await asyncio.sleep(0.001)
    assert db._shared._queued == n
    assert not holder.done()
