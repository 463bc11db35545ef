"""Backups of the database (and of any state stored beside it), safe while the service runs.

SQLite in WAL mode keeps committed pages in the ``-wal`` file until a checkpoint: copying the
main file is not a backup. SQLite's online backup API copies a consistent snapshot from a
connection of its own while the service goes on writing. A backup holds reporters'
identities: every file and directory it writes is readable by its owner only.

State stored beside the database -- a Matrix crypto store, say -- travels with it: every
entry of the database's directory named ``<database file name>.<anything>`` or
``<database stem>.crypto*`` / ``<database stem>-crypto*`` is copied too (SQLite files in it
with the same online backup), except the ``.lock`` file and backups themselves.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

SQLITE_HEADER = b"SQLite format 3\x00"
# SQLite's own companions of a database file: their content is in the online backup.
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
# Our own files beside the database that are not state to back up.
_NOT_STATE = (".lock", ".pre-migration-", ".before-restore-", ".backup", ".bak")


class BackupError(Exception):
    """A backup or restore cannot be done as asked; the text says why."""


def companions(database: Path) -> list[Path]:
    """State stored beside ``database`` that a backup must carry (crypto stores...)."""
    directory = database.parent
    if not directory.is_dir():
        return []
    found = []
    for entry in sorted(directory.iterdir()):
        name = entry.name
        if name == database.name or name.endswith(_SQLITE_SIDE_FILES):
            continue
        beside = name.startswith(f"{database.name}.")
        crypto = name.startswith((f"{database.stem}.crypto", f"{database.stem}-crypto"))
        suffix = name[len(database.name) :] if beside else ""
        if (beside and not suffix.startswith(_NOT_STATE)) or (crypto and not beside):
            found.append(entry)
    return found


def _renamed(companion: Path, source: Path, target: Path) -> Path:
    """Where ``companion`` of database ``source`` goes beside database ``target``."""
    name = companion.name
    if name.startswith(source.name):
        return target.parent / (target.name + name[len(source.name) :])
    return target.parent / (target.stem + name[len(source.stem) :])


def _create_private(path: Path) -> None:
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        raise BackupError(f"{path} exists already: choose a new name") from None


def _copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of the SQLite database ``source`` (which may be in use)."""
    _create_private(target)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            # A backup is one self-contained file: not in WAL mode, no -wal beside it.
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    finally:
        src.close()


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER


def _copy_entry(source: Path, target: Path) -> None:
    """Copy a file or a directory tree owner-only, SQLite files through the backup API."""
    if source.is_dir():
        target.mkdir(mode=0o700)
        for child in sorted(source.iterdir()):
            if not child.name.endswith(_SQLITE_SIDE_FILES):
                _copy_entry(child, target / child.name)
    elif _is_sqlite(source):
        _copy_sqlite(source, target)
    else:
        _create_private(target)
        shutil.copyfile(source, target)


def backup(database: Path, out: Path) -> list[Path]:
    """Write a consistent copy of ``database`` to ``out``, and its companions beside ``out``;
    return every path written. Safe while the service runs."""
    if not database.is_file():
        raise BackupError(f"there is no database at {database}")
    if not _is_sqlite(database):
        raise BackupError(f"{database} is not an SQLite database")
    out.parent.mkdir(parents=True, exist_ok=True)
    written = [out]
    _copy_sqlite(database, out)
    for companion in companions(database):
        target = _renamed(companion, database, out)
        _copy_entry(companion, target)
        written.append(target)
    return written


def check(path: Path) -> int:
    """Open the backup ``path`` read-only; return its schema version, or raise BackupError
    when it is damaged or not a modbridge database."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            status = conn.execute("PRAGMA integrity_check").fetchone()[0]
            if status != "ok":
                raise BackupError(f"{path} is damaged: {status}")
            version = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a modbridge database ({exc})") from None
    return int(version or 0)


@contextlib.contextmanager
def service_stopped(database: Path) -> Iterator[None]:
    """Hold ``<database>.lock`` (the running service's lock) while restoring; refuse when the
    service holds it."""
    lock_path = Path(f"{database}.lock")
    with lock_path.open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(
                f"modbridge is running on {database}: stop it first (systemctl stop modbridge)"
            ) from None
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                lock_path.unlink()
            fcntl.flock(lock, fcntl.LOCK_UN)


def _set_aside(path: Path, stamp: str) -> Path | None:
    if not path.exists():
        return None
    aside = path.parent / f"{path.name}.before-restore-{stamp}"
    path.rename(aside)
    return aside


def restore(source: Path, database: Path, now: datetime) -> list[Path]:
    """Replace ``database`` (and its companions) with the backup ``source``; the replaced
    files are kept as ``<name>.before-restore-<time>``. Returns what was set aside. Refuses
    while the service runs."""
    check(source)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    aside: list[Path] = []
    with service_stopped(database):
        for entry in [database, *companions(database)]:
            moved = _set_aside(entry, stamp)
            if moved is not None:
                aside.append(moved)
        for side in _SQLITE_SIDE_FILES:
            # The old database's -wal goes with it (after a crash it holds the last commits);
            # left here, it would be replayed into the restored file.
            old = Path(f"{database}{side}")
            if old.exists():
                target = Path(f"{aside[0]}{side}") if aside else None
                if target is not None:
                    old.rename(target)
                else:
                    old.unlink()
        _copy_sqlite(source, database)
        conn = sqlite3.connect(database)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
        finally:
            conn.close()
        for companion in companions(source):
            _copy_entry(companion, _renamed(companion, source, database))
    return aside


def before_migration(database: Path, version: int, now: datetime) -> Path:
    """The automatic backup written next to ``database`` before migrating from ``version``."""
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    out = database.parent / f"{database.name}.pre-migration-v{version}-{stamp}"
    _copy_sqlite(database, out)
    return out
