"""The admin's commands beside `modbridge run`: backup, restore, and erasure requests."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bridge.config import ConfigError, load_settings
from bridge.instance import database_path
from domain.model import Account, Platform
from storage import backup
from storage.db import Database
from storage.privacy import Erasure, PrivacyRepository

log = logging.getLogger(__name__)


def _refusal(error: backup.BackupError) -> ConfigError:
    """A refused backup or restore, said as the CLI says configuration problems (exit 2)."""
    return ConfigError(str(error))


def backup_command(config: Path, out: Path, stdout: TextIO) -> int:
    """`modbridge backup --config PATH OUT`: a consistent, owner-only copy of the database
    (and the state beside it), safe while the service runs."""
    database = database_path(load_settings(config), config)
    if out.is_dir():  # a backup directory: a new file in it, named by the time
        out = out / f"{database.stem}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.db"
    try:
        written = backup.backup(database, out)
        version = backup.check(out)
    except backup.BackupError as exc:
        raise _refusal(exc) from None
    print(f"backed up {database} (schema version {version}) to {out}", file=stdout)
    for extra in written[1:]:
        print(f"  with {extra}", file=stdout)
    return 0


def restore_command(config: Path, source: Path, stdout: TextIO) -> int:
    """`modbridge restore --config PATH BACKUP`: put a backup in place of the database, with
    the service stopped (refused while it runs); the replaced files are kept aside."""
    database = database_path(load_settings(config), config)
    try:
        aside = backup.restore(source, database, datetime.now(UTC))
    except backup.BackupError as exc:
        raise _refusal(exc) from None
    print(f"restored {source} to {database}", file=stdout)
    for path in aside:
        print(f"  the replaced {path.name.split('.before-restore-')[0]} is kept as {path}",
              file=stdout)  # fmt: skip
    return 0


def parse_account(key: str) -> Account:
    """An account key as moderators write it: ``matrix:@ann:example.org``, ``discord:1234``
    (or a bare ``@ann:example.org`` or Discord user id)."""
    if key.startswith("@"):  # a Matrix user id as Element shows it
        key = f"matrix:{key}"
    elif key.isdigit():  # a Discord user id as "Copy User ID" gives it
        key = f"discord:{key}"
    platform, _, account_id = key.partition(":")
    if platform not in (Platform.MATRIX.value, Platform.DISCORD.value) or not account_id:
        raise ConfigError(
            f"{key!r} is not an account: write matrix:@user:server or discord:<user id>"
        )
    return Account(platform=Platform(platform), id=account_id)


async def _erase(database: Path, account: Account) -> Erasure:
    db = await Database.open(database)
    try:
        return await PrivacyRepository(db).erase(account)
    finally:
        await db.close()


def erase_command(config: Path, key: str, stdout: TextIO) -> int:
    """`modbridge erase --config PATH <account>`: an erasure request. Removes what may be
    removed, keeps what moderation must keep, and says what was kept and why."""
    account = parse_account(key)
    database = database_path(load_settings(config), config)
    if not database.exists():
        raise ConfigError(f"there is no database at {database}")
    erasure = asyncio.run(_erase(database, account))
    print(f"erasure for {account.key} (and the accounts linked to it):", file=stdout)
    for line in erasure.removed:
        print(f"  removed: {line}", file=stdout)
    for line in erasure.kept:
        print(f"  kept: {line}", file=stdout)
    log.info("erasure done for %s", account.key)
    return 0
