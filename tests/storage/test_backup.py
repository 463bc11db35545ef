"""Backups as an admin takes them: `modbridge backup` while the database is being written,
`modbridge restore` with the service stopped, and the automatic backup before a migration."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import sqlite3
import sys
from pathlib import Path

import pytest

from domain.cases import NewCase, OriginKind
from domain.model import Account, Platform
from storage.backup import companions
from storage.db import Database, Migration, MigrationError, load_migrations
from storage.repositories import Repositories
from tests.fakes import Clock

ROOT = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "etc" / "config.toml"
    config.parent.mkdir()
    # [storage] path is read relative to the configuration file.
    config.write_text('[storage]\npath = "../state/modbridge.db"\n')
    (tmp_path / "state").mkdir()
    return config


async def _cli(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli.main", *args, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode()


def _case(n: int) -> NewCase:
    return NewCase(
        subject=Account(platform=Platform.DISCORD, id=str(1000 + n % 7)),
        origin_kind=OriginKind.RULE, origin="insults", reason=f"insults: case {n}",
        evidence="you idiot", dedupe_key=f"msg:discord:{n}",
    )  # fmt: skip


def _read(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def test_a_backup_taken_while_cases_are_written_holds_every_committed_case(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path)
    db = await Database.open(tmp_path / "state" / "modbridge.db")
    repos = Repositories.over(db)
    committed: list[int] = []
    stop = asyncio.Event()
    enough = asyncio.Event()

    async def write() -> None:
        n = 0
        while not stop.is_set():
            row, _ = await repos.cases.open(_case(n))
            committed.append(row.id)
            if len(committed) >= 50:
                enough.set()
            n += 1
            await asyncio.sleep(0)

    writer = asyncio.create_task(write())
    try:
        await enough.wait()
        backups = []
        for index in range(2):
            before = list(committed)
            out = tmp_path / "backups" / f"b{index}.db"
            status, said = await _cli("backup", "--config", str(config), str(out))
            assert status == 0, said
            assert f"to {out}" in said
            backups.append((out, before))
        stop.set()
        await writer
    finally:
        stop.set()
        await db.close()
    assert len(committed) > len(backups[0][1])  # the writes went on during the backups
    for out, before in backups:
        assert _read(out, "PRAGMA integrity_check") == [("ok",)]
        ids = {r[0] for r in _read(out, "SELECT id FROM cases")}
        assert set(before) <= ids
        assert out.stat().st_mode & 0o777 == 0o600
        assert not out.with_name(f"{out.name}-wal").exists()  # one self-contained file


async def test_the_crypto_store_beside_the_database_is_backed_up_owner_only(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path)
    state = tmp_path / "state"
    db = await Database.open(state / "modbridge.db")
    await db.close()
    store = state / "modbridge.db.crypto"
    store.mkdir()
    keys = sqlite3.connect(store / "bot_DEVICE.db")
    keys.execute("CREATE TABLE olm (key TEXT)")
    keys.execute("INSERT INTO olm VALUES ('k1')")
    keys.commit()
    keys.close()
    (store / "notes.json").write_text("{}")
    assert companions(state / "modbridge.db") == [store]

    out = tmp_path / "b.db"
    status, said = await _cli("backup", "--config", str(config), str(out))
    assert status == 0, said
    copied = tmp_path / "b.db.crypto"
    assert f"with {copied}" in said
    assert copied.stat().st_mode & 0o777 == 0o700
    assert _read(copied / "bot_DEVICE.db", "SELECT key FROM olm") == [("k1",)]
    assert (copied / "notes.json").stat().st_mode & 0o777 == 0o600


async def test_restore_is_refused_while_the_service_runs_and_puts_the_backup_in_place(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path)
    database = tmp_path / "state" / "modbridge.db"
    db = await Database.open(database)
    repos = Repositories.over(db)
    await repos.cases.open(_case(1))
    await db.close()
    out = tmp_path / "b.db"
    assert (await _cli("backup", "--config", str(config), str(out)))[0] == 0
    db = await Database.open(database)
    await Repositories.over(db).cases.open(_case(2))  # after the backup: gone once restored
    await db.close()

    with Path(f"{database}.lock").open("a") as lock:  # noqa: ASYNC230 - the service's lock
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        status, said = await _cli("restore", "--config", str(config), str(out))
        fcntl.flock(lock, fcntl.LOCK_UN)
    assert status == 2
    assert "modbridge is running on" in said
    assert "stop it first" in said
    assert len(_read(database, "SELECT id FROM cases")) == 2

    status, said = await _cli("restore", "--config", str(config), str(out))
    assert status == 0, said
    assert f"restored {out} to {database}" in said
    assert [r[0] for r in _read(database, "SELECT dedupe_key FROM cases")] == ["msg:discord:1"]
    assert database.stat().st_mode & 0o777 == 0o600
    kept = [
        p
        for p in database.parent.glob("modbridge.db.before-restore-*")
        if not p.name.endswith(("-wal", "-shm"))
    ]  # its -wal went with it
    assert len(kept) == 1
    assert len(_read(kept[0], "SELECT id FROM cases")) == 2
    db = await Database.open(database)  # the service starts on the restored database
    await db.close()

    status, said = await _cli("restore", "--config", str(config), str(tmp_path / "nothing.db"))
    assert status == 2
    assert "not a modbridge database" in said


async def test_a_migration_is_preceded_by_a_backup_and_a_failed_one_changes_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = tmp_path / "modbridge.db"
    clock = Clock()
    shipped = load_migrations()
    db = await Database.open(database, clock=clock)
    await Repositories.over(db).cases.open(_case(1))
    await db.close()
    later = [
        *shipped,
        Migration(len(shipped) + 1, "add_column", "ALTER TABLE cases ADD COLUMN note TEXT;\n"),
        Migration(len(shipped) + 2, "broken", "INSERT INTO nowhere VALUES (1);\n"),
    ]
    caplog.set_level(logging.INFO, logger="storage.db")
    with pytest.raises(MigrationError, match=f"migration {len(shipped) + 2}"):
        await Database.open(database, clock=clock, migrations=later)
    (saved,) = database.parent.glob("modbridge.db.pre-migration-*")
    assert f"database backed up to {saved} before migrating it" in caplog.text
    assert saved.stat().st_mode & 0o777 == 0o600
    # Neither migration is applied: the first one's column is rolled back with the second.
    columns = [r[1] for r in _read(database, "PRAGMA table_info(cases)")]
    assert "note" not in columns
    versions = _read(database, "SELECT max(version) FROM schema_migrations")
    assert versions == [(len(shipped),)]
    assert _read(saved, "SELECT dedupe_key FROM cases") == [("msg:discord:1",)]


async def test_a_backup_refuses_to_overwrite_and_needs_a_database(tmp_path: Path) -> None:
    config = _config(tmp_path)
    status, said = await _cli("backup", "--config", str(config), str(tmp_path / "b.db"))
    assert status == 2
    assert "there is no database at" in said
    db = await Database.open(tmp_path / "state" / "modbridge.db")
    await db.close()
    (tmp_path / "b.db").write_text("precious")
    status, said = await _cli("backup", "--config", str(config), str(tmp_path / "b.db"))
    assert status == 2
    assert "exists already" in said
    assert (tmp_path / "b.db").read_text() == "precious"
    (tmp_path / "backups").mkdir()
    status, said = await _cli("backup", "--config", str(config), str(tmp_path / "backups"))
    assert status == 0, said
    (made,) = (tmp_path / "backups").glob("modbridge-*.db")
    assert f"to {made}" in said
