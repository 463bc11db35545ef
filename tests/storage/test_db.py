"""Opening the database: pragmas, migrations, transactions, times."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from storage.db import (
    Database,
    Migration,
    MigrationError,
    StorageError,
    from_db_time,
    load_migrations,
    split_statements,
    to_db_time,
)
from tests.fakes import Clock

LATEST = len(load_migrations())


async def test_fresh_database_is_migrated_to_the_latest_version(db: Database) -> None:
    assert LATEST >= 1
    assert await db.schema_version() == LATEST
    async with db.transaction(write=False) as tx:
        tables = {r["name"] for r in await tx.fetchall("SELECT name FROM sqlite_master")}
    assert {"members", "accounts", "cases", "actions", "strikes", "audit_log"} <= tables


async def test_pragmas_wal_foreign_keys_busy_timeout(db: Database) -> None:
    assert await db.pragma("journal_mode") == "wal"
    assert await db.pragma("foreign_keys") == 1
    assert await db.pragma("busy_timeout") == 5000
    assert await db.pragma("synchronous") == 2  # FULL


async def test_reopening_is_a_no_op(db_path: Path, clock: Clock) -> None:
    first = await Database.open(db_path, clock=clock)
    async with first.transaction(write=False) as tx:
        before = [tuple(r) for r in await tx.fetchall("SELECT * FROM schema_migrations")]
    await first.close()

    clock.advance(timedelta(days=1))
    second = await Database.open(db_path, clock=clock)
    try:
        async with second.transaction(write=False) as tx:
            after = [tuple(r) for r in await tx.fetchall("SELECT * FROM schema_migrations")]
        assert after == before  # nothing re-applied, not even a new applied_at
        assert await second.pragma("journal_mode") == "wal"
    finally:
        await second.close()


def _write(directory: Path, files: dict[str, str]) -> list[Migration]:
    directory.mkdir(exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql, encoding="utf-8")
    return load_migrations(directory)


async def test_failing_migration_leaves_the_previous_version(tmp_path: Path) -> None:
    good = {"0001_first.sql": "CREATE TABLE one (id INTEGER PRIMARY KEY);\n"}
    migrations = _write(tmp_path / "m", good)
    db = await Database.open(tmp_path / "x.db", migrations=migrations)
    await db.close()

    # 0002 creates a table, then fails: the table must not survive.
    broken = _write(
        tmp_path / "m",
        {"0002_broken.sql": "CREATE TABLE two (id INTEGER);\nINSERT INTO nowhere VALUES (1);\n"},
    )
    with pytest.raises(MigrationError, match="migration 2"):
        await Database.open(tmp_path / "x.db", migrations=broken)

    db = await Database.open(tmp_path / "x.db", migrations=migrations)
    try:
        assert await db.schema_version() == 1
        async with db.transaction(write=False) as tx:
            names = {r["name"] for r in await tx.fetchall("SELECT name FROM sqlite_master")}
        assert "one" in names
        assert "two" not in names
    finally:
        await db.close()


async def test_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    two = _write(
        tmp_path / "m",
        {"0001_a.sql": "CREATE TABLE a (x);\n", "0002_b.sql": "CREATE TABLE b (x);\n"},
    )
    db = await Database.open(tmp_path / "x.db", migrations=two)
    await db.close()
    with pytest.raises(MigrationError, match="newer"):
        await Database.open(tmp_path / "x.db", migrations=two[:1])


async def test_edited_migration_is_refused(tmp_path: Path) -> None:
    db = await Database.open(
        tmp_path / "x.db", migrations=[Migration(1, "a", "CREATE TABLE a (x);")]
    )
    await db.close()
    with pytest.raises(MigrationError, match="changed"):
        await Database.open(
            tmp_path / "x.db", migrations=[Migration(1, "a", "CREATE TABLE a (y);")]
        )


def test_migration_versions_must_not_have_gaps(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="gaps"):
        _write(tmp_path / "m", {"0001_a.sql": "SELECT 1;\n", "0003_c.sql": "SELECT 1;\n"})


def test_split_statements_keeps_trigger_bodies_whole() -> None:
    sql = (
        "-- a comment\nCREATE TABLE t (x);\n"
        "CREATE TRIGGER t_no_delete BEFORE DELETE ON t\nBEGIN\n"
        "    SELECT RAISE(ABORT, 'no; really');\nEND;\n-- trailing comment\n"
    )
    statements = split_statements(sql)
    assert len(statements) == 2
    assert statements[1].startswith("CREATE TRIGGER")
    assert statements[1].endswith("END;")


async def test_transaction_rolls_back_when_the_block_raises(db: Database) -> None:
    async def write_then_fail() -> None:
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO kv (key, value, updated_at) VALUES ('k', 'v', 'x')")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await write_then_fail()
    async with db.transaction(write=False) as tx:
        assert await tx.fetchone("SELECT 1 FROM kv WHERE key = 'k'") is None


async def test_nested_transaction_in_one_task_is_refused_not_deadlocked(db: Database) -> None:
    async with db.transaction():
        with pytest.raises(StorageError, match="pass tx="):
            async with db.transaction():
                pass


async def test_foreign_keys_are_enforced(db: Database) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        async with db.transaction() as tx:
            await tx.execute(
                "INSERT INTO case_notes (case_id, author, body, created_at)"
                " VALUES (999, 'a', 'b', 'c')"
            )


def test_times_round_trip_as_utc_and_naive_times_are_refused() -> None:
    nairobi = timezone(timedelta(hours=3))
    local = datetime(2026, 11, 24, 15, 0, 0, 123456, tzinfo=nairobi)
    text = to_db_time(local)
    assert text == "2026-11-24T12:00:00.123456+00:00"
    assert from_db_time(text) == local
    assert from_db_time(text).utcoffset() == timedelta(0)
    with pytest.raises(ValueError, match="naive"):
        to_db_time(datetime(2026, 1, 1))  # noqa: DTZ001 -- the point of the test


async def test_concurrent_tasks_do_not_share_a_transaction(db: Database) -> None:
    """One connection, many tasks: a task that fails must not take another's writes with it."""

    async def steady(n: int) -> None:
        for i in range(n):
            async with db.transaction() as tx:
                await tx.execute(
                    "INSERT INTO kv (key, value, updated_at) VALUES (?, 'v', 't')", (f"ok{i}",)
                )
                await asyncio.sleep(0)

    async def failing() -> None:
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO kv (key, value, updated_at) VALUES ('bad', 'v', 't')")
            await asyncio.sleep(0)  # let the other task run while this transaction is open
            await asyncio.sleep(0)
            raise RuntimeError("boom")

    results = await asyncio.gather(steady(5), failing(), steady(0), return_exceptions=True)
    assert [type(r) for r in results] == [type(None), RuntimeError, type(None)]
    async with db.transaction(write=False) as tx:
        keys = sorted(r["key"] for r in await tx.fetchall("SELECT key FROM kv"))
    assert keys == ["ok0", "ok1", "ok2", "ok3", "ok4"]


async def test_a_transaction_handle_is_dead_after_its_block(db: Database) -> None:
    async with db.transaction() as tx:
        pass
    with pytest.raises(StorageError, match="ended"):
        await tx.execute("SELECT 1")


async def test_close_twice_and_no_use_after_close(db_path: Path) -> None:
    db = await Database.open(db_path)
    await db.close()
    await db.close()
    with pytest.raises(StorageError, match="closed"):
        await db.schema_version()


async def test_the_database_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """It holds reporters' identities and the Matrix login."""
    path = tmp_path / "modbridge.db"
    path.touch(mode=0o644)  # an older file, made under a lax umask
    db = await Database.open(path)
    try:
        async with db.transaction() as tx:
            await tx.execute("CREATE TABLE t (x)")
        modes = _modes(tmp_path)  # while open: the -wal and -shm files exist too
    finally:
        await db.close()
    assert len(modes) == 3, modes
    assert all(mode & 0o077 == 0 for mode in modes.values()), modes


def _modes(folder: Path) -> dict[str, int]:
    return {file.name: file.stat().st_mode for file in folder.iterdir()}
