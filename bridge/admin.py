"""The admin's commands beside `modbridge run`: backup and restore (erase: bridge.erase)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bridge.config import load_settings
from bridge.service import database_path
from storage import backup

log = logging.getLogger(__name__)


def backup_command(config: Path, out: Path, stdout: TextIO) -> int:
    """`modbridge backup --config PATH OUT`: a consistent, owner-only copy of the database
    (and the state beside it), safe while the service runs."""
    database = database_path(load_settings(config), config)
    written = backup.backup(database, out)
    version = backup.check(out)
    print(f"backed up {database} (schema version {version}) to {out}", file=stdout)
    for extra in written[1:]:
        print(f"  with {extra}", file=stdout)
    return 0


def restore_command(config: Path, source: Path, stdout: TextIO) -> int:
    """`modbridge restore --config PATH BACKUP`: put a backup in place of the database, with
    the service stopped (refused while it runs); the replaced files are kept aside."""
    database = database_path(load_settings(config), config)
    aside = backup.restore(source, database, datetime.now(UTC))
    print(f"restored {source} to {database}", file=stdout)
    for path in aside:
        print(f"  the replaced {path.name.split('.before-restore-')[0]} is kept as {path}",
              file=stdout)  # fmt: skip
    return 0
