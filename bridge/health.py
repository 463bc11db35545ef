"""When the database cannot be written: events are held, and the moderators are told in words.

A full disk (or a read-only or failing one) makes every write fail: a case cannot be opened,
and neither can the outbox row of the notice that would say so. So the event that failed is
not dropped: the core raises :class:`~domain.ports.NotRecorded`, and the adapter hands it in
again later without acknowledging it to the platform. The moderators are told once per
outage, directly through the platforms' repliers (the one message that does not go through
the outbox, because the outbox is what cannot be written), and once more when writes work
again.
"""

from __future__ import annotations

import errno
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from bridge.planner import Community
from domain.model import Channel, Platform
from domain.ports import NotRecorded, PlatformError, Replier
from domain.storage_ports import StorageError

log = logging.getLogger(__name__)

T = TypeVar("T")

# What a failing disk or database looks like from here: SQLite's "database or disk is full",
# "attempt to write a readonly database", "disk I/O error", "unable to open database file"
# (also when no file descriptor is left), the OS's own errors, and a closed database.
STORAGE_ERRORS = (sqlite3.OperationalError, OSError, StorageError)

DISK_FULL = (
    "modbridge cannot write to its database: the disk is full. Messages are held, not "
    "dropped, and will be judged as soon as there is space again; free some space on the "
    "database's disk."
)
CANNOT_WRITE = (
    "modbridge cannot write to its database ({why}). Messages are held, not dropped, and "
    "will be judged as soon as it can write again."
)
RECOVERED = (
    "modbridge can write to its database again: the messages held meanwhile are being judged now."
)


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error`` says the disk (or SQLite's page limit) is full."""
    if isinstance(error, sqlite3.Error):
        return getattr(error, "sqlite_errorname", "") == "SQLITE_FULL" or "is full" in str(error)
    return isinstance(error, OSError) and error.errno == errno.ENOSPC


def describe(error: BaseException) -> str:
    """A short reason for the moderators and the log (SQLite's messages carry no data)."""
    if isinstance(error, sqlite3.Error | StorageError):
        return str(error)
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return type(error).__name__


class StorageHealth:
    """Turns storage failures of event handling into NotRecorded, and tells the moderators."""

    def __init__(
        self,
        *,
        community: Callable[[], Community],
        repliers: Mapping[Platform, Replier],
    ) -> None:
        self._community = community
        self._repliers = repliers
        self._down: str | None = None  # why writes fail, while they do
        # The events that failed: only one of them succeeding says writes work again (an
        # event that writes nothing, a clean message, succeeds on a full disk too).
        self._held: set[str] = set()

    @property
    def down(self) -> bool:
        """Whether the last attempt to record an event failed on storage."""
        return self._down is not None

    async def recording(self, doing: str, handle: Awaitable[T]) -> T:
        """Await ``handle`` (the core recording the event ``doing`` names uniquely); a storage
        failure becomes NotRecorded, so that the adapter hands the event in again."""
        try:
            result = await handle
        except STORAGE_ERRORS as exc:
            self._held.add(doing)
            await self._failed(doing, exc)
            raise NotRecorded(f"{doing}: {describe(exc)}") from exc
        if doing not in self._held:
            return result
        self._held.discard(doing)
        if self._down is not None:
            self._down = None
            log.warning("storage works again; held events are being handled")
            await self._tell(RECOVERED)
        return result

    async def _failed(self, doing: str, error: BaseException) -> None:
        why = describe(error)
        if self._down is not None:
            log.debug("%s: storage still failing: %s", doing, why)
            return
        self._down = why
        log.error("%s: storage failed (%s); the event is held and will be retried", doing, why)
        await self._tell(DISK_FULL if is_disk_full(error) else CANNOT_WRITE.format(why=why))

    async def _tell(self, text: str) -> None:
        for platform, rooms in self._community().mod_rooms.items():
            replier = self._repliers.get(platform)
            if replier is None:
                continue
            for room in rooms:
                try:
                    await replier.reply(Channel(platform=platform, id=room), text)
                except PlatformError as exc:
                    log.warning("could not tell the moderators in %s: %s", room, exc)
