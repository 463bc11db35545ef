"""Small named state: the Matrix sync token, the device id..."""

from __future__ import annotations

from datetime import datetime

from storage.db import Database, Transaction, to_db_time


class KeyValueRepository:
    """Text values by key."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, key: str, *, tx: Transaction | None = None) -> str | None:
        """The value stored under ``key``, or None."""
        async with self._db.using(tx, write=False) as t:
            row = await t.fetchone("SELECT value FROM kv WHERE key = ?", (key,))
        return None if row is None else str(row["value"])

    async def set(self, key: str, value: str, *, tx: Transaction | None = None) -> None:
        """Store ``value`` under ``key``, replacing any previous value."""
        async with self._db.using(tx) as t:
            await t.execute(
                "INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
                " updated_at = excluded.updated_at",
                (key, value, to_db_time(self._db.clock())),
            )

    async def delete(self, key: str, *, tx: Transaction | None = None) -> bool:
        """Remove ``key``; False if it was not there."""
        async with self._db.using(tx) as t:
            return await t.execute("DELETE FROM kv WHERE key = ?", (key,)) == 1

    async def delete_stale(self, prefix: str, older_than: datetime) -> int:
        """Remove the keys starting with ``prefix`` not written since ``older_than``."""
        async with self._db.transaction() as t:
            return await t.execute(
                "DELETE FROM kv WHERE key >= ? AND key < ? AND updated_at < ?",
                (prefix, prefix + "\uffff", to_db_time(older_than)),
            )
