"""Group commit: transactions queued behind one share its COMMIT, and nobody is told a
transaction is done before that COMMIT has returned.

Real SQLite; where a COMMIT must be held back or fail, the connection is wrapped in a fake
that gates or fails the COMMIT statement (tests.gated_commits)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.db import Database
from tests.fakes import Clock
from tests.gated_commits import GatedCommits, open_gated, queue_behind


def insert(key: str) -> tuple[str, tuple[str]]:
    return "INSERT INTO kv (key, value, updated_at) VALUES (?, 'v', 't')", (key,)


async def keys(db: Database) -> list[str]:
    async with db.transaction(write=False) as tx:
        return sorted(str(r["key"]) for r in await tx.fetchall("SELECT key FROM kv"))


async def write(db: Database, key: str, *, fail: bool = False) -> str:
    async with db.transaction() as tx:
        await tx.execute(*insert(key))
        if fail:
            raise RuntimeError(f"{key} fails")
    return key


async def hold_open(db: Database, key: str, release: asyncio.Event) -> str:
    async with db.transaction() as tx:
        await tx.execute(*insert(key))
        await release.wait()  # others queue for the connection meanwhile
    return key


async def test_transactions_queued_behind_one_share_its_commit(db: Database) -> None:
    before = db.commit_counts()
    release = asyncio.Event()
    holder = asyncio.create_task(hold_open(db, "a", release))
    await asyncio.sleep(0)
    queued = [asyncio.create_task(write(db, f"b{i}")) for i in range(5)]
    await queue_behind(db, 5, holder)
    release.set()
    assert await asyncio.gather(holder, *queued) == ["a", "b0", "b1", "b2", "b3", "b4"]
    transactions, commits = db.commit_counts()
    assert (transactions - before[0], commits - before[1]) == (6, 1)
    assert await keys(db) == ["a", "b0", "b1", "b2", "b3", "b4"]


async def test_a_failing_transaction_in_a_group_undoes_only_its_own_writes(db: Database) -> None:
    release = asyncio.Event()
    holder = asyncio.create_task(hold_open(db, "a", release))
    await asyncio.sleep(0)
    queued = [
        asyncio.create_task(write(db, "b1")),
        asyncio.create_task(write(db, "b2", fail=True)),
        asyncio.create_task(write(db, "b3")),
    ]
    await queue_behind(db, 3, holder)
    release.set()
    results = await asyncio.gather(holder, *queued, return_exceptions=True)
    assert results[:2] == ["a", "b1"]
    assert isinstance(results[2], RuntimeError)
    assert results[3] == "b3"
    assert await keys(db) == ["a", "b1", "b3"]


async def test_the_first_transaction_of_a_group_failing_spares_those_behind_it(
    db: Database,
) -> None:
    release = asyncio.Event()

    async def fail_after_others_queued() -> None:
        async with db.transaction() as tx:
            await tx.execute(*insert("a"))
            await release.wait()
            raise RuntimeError("a fails")

    holder = asyncio.create_task(fail_after_others_queued())
    await asyncio.sleep(0)
    queued = [asyncio.create_task(write(db, f"b{i}")) for i in range(2)]
    await queue_behind(db, 2, holder)
    release.set()
    results = await asyncio.gather(holder, *queued, return_exceptions=True)
    assert isinstance(results[0], RuntimeError)
    assert results[1:] == ["b0", "b1"]
    assert await keys(db) == ["b0", "b1"]


@pytest.fixture
async def gated(db_path: Path, clock: Clock) -> AsyncIterator[tuple[Database, GatedCommits]]:
    database, fake = await open_gated(db_path, clock)
    try:
        yield database, fake
    finally:
        fake.gate.set()
        fake.fail = False
        await database.close()


async def test_no_transaction_returns_before_its_commit_has(
    gated: tuple[Database, GatedCommits],
) -> None:
    db, fake = gated
    fake.gate.clear()  # the fsync takes its time
    first = asyncio.create_task(write(db, "a"))
    await asyncio.wait_for(fake.asked.wait(), 10)
    behind = [asyncio.create_task(write(db, f"b{i}")) for i in range(3)]
    await queue_behind(db, 3, first)
    assert fake.commits_asked == 1
    assert not first.done()  # its COMMIT has not returned: it must not say it is done
    fake.gate.set()
    assert await first == "a"
    # The three waited behind a's commit and share the next one.
    assert await asyncio.gather(*behind) == ["b0", "b1", "b2"]
    assert fake.commits_asked == 2
    assert await keys(db) == ["a", "b0", "b1", "b2"]


async def test_a_failed_commit_fails_every_transaction_of_its_group_and_keeps_none(
    gated: tuple[Database, GatedCommits],
) -> None:
    db, fake = gated
    release = asyncio.Event()
    holder = asyncio.create_task(hold_open(db, "a", release))
    await asyncio.sleep(0)
    queued = [asyncio.create_task(write(db, f"b{i}")) for i in range(3)]
    await queue_behind(db, 3, holder)
    fake.fail = True  # the disk breaks under the group's COMMIT
    release.set()
    results = await asyncio.gather(holder, *queued, return_exceptions=True)
    assert all(isinstance(r, sqlite3.OperationalError) for r in results), results
    assert len({id(r) for r in results}) == 4  # each caller raises its own exception
    fake.fail = False
    assert await keys(db) == []  # none of them was told "done", none of them is there
    assert await write(db, "c") == "c"  # and the database goes on
    assert await keys(db) == ["c"]


async def test_a_cancelled_caller_does_not_cancel_the_commit_of_others(
    gated: tuple[Database, GatedCommits],
) -> None:
    db, fake = gated
    fake.gate.clear()
    first = asyncio.create_task(write(db, "a"))
    await asyncio.wait_for(fake.asked.wait(), 10)
    first.cancel()
    await asyncio.sleep(0)
    fake.gate.set()
    with pytest.raises(asyncio.CancelledError):
        await first
    # The COMMIT had been handed to SQLite: it ran, and the connection is usable.
    assert await write(db, "b") == "b"
    assert await keys(db) == ["a", "b"]


async def test_a_transaction_cancelled_as_it_begins_leaves_none_open(db: Database) -> None:
    first = asyncio.create_task(write(db, "a"))
    await asyncio.sleep(0)  # its BEGIN is on its way to SQLite's thread
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await write(db, "b") == "b"
    assert await keys(db) == ["b"]


async def test_a_read_in_an_open_group_returns_once_the_group_is_durable(
    gated: tuple[Database, GatedCommits],
) -> None:
    db, fake = gated
    release = asyncio.Event()
    holder = asyncio.create_task(hold_open(db, "a", release))
    await asyncio.sleep(0)
    reader = asyncio.create_task(db.read_now("SELECT key FROM kv WHERE key = 'a'"))
    await queue_behind(db, 1, holder)
    fake.fail = True
    release.set()
    results = await asyncio.gather(holder, reader, return_exceptions=True)
    # The read saw a's row, which never became durable: it must not be believed.
    assert all(isinstance(r, sqlite3.OperationalError) for r in results), results


async def test_once_a_transaction_has_its_place_in_line_the_next_one_asked_for_runs_after_it(
    db: Database,
) -> None:
    """What `on_queued` promises: a transaction asked for after the callback runs after the
    one that called it, and sees its writes, even though both wait for the connection."""
    release = asyncio.Event()
    holder = asyncio.create_task(hold_open(db, "a", release))
    await asyncio.sleep(0)
    in_line = asyncio.Event()
    order: list[str] = []

    async def first() -> None:
        async with db.transaction(on_queued=in_line.set) as tx:
            order.append("first")
            await tx.execute(*insert("b"))

    async def second() -> bool:
        await in_line.wait()
        async with db.transaction() as tx:
            order.append("second")
            return await tx.fetchone("SELECT 1 FROM kv WHERE key = 'b'") is not None

    tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
    await queue_behind(db, 2, holder)
    release.set()
    results = await asyncio.gather(holder, *tasks)
    assert order == ["first", "second"]
    assert results[2] is True
