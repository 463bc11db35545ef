"""The one service on a database: where the database is, and the lock that keeps a second
service off it. Light on imports: the admin commands (backup, restore, erase) use it too."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from bridge.config import ConfigError, Settings


def database_path(settings: Settings, config_path: Path) -> Path:
    """``[storage] path``, read relative to the configuration file (like ``words_file``)."""
    return (config_path.parent / settings.storage.path).resolve()


@contextlib.contextmanager
def only_instance(database: Path) -> Iterator[None]:
    """Hold ``<database>.lock`` while running: a second service on the same database would
    take the first one's actions in hand again (it believes them left by a crash)."""
    try:
        lock = open(f"{database}.lock", "a")  # noqa: SIM115 -- closed below, after the run
    except OSError as exc:
        raise ConfigError(f"cannot write next to the database {database}: {exc.strerror}") from None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(
                f"another modbridge is already running on {database}; stop it first"
            ) from None
        try:
            yield
        finally:
            # Removed before unlocking: a service starting meanwhile locks a new file.
            with contextlib.suppress(OSError):
                os.unlink(f"{database}.lock")
            fcntl.flock(lock, fcntl.LOCK_UN)
