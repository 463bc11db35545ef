"""What the Matrix executor must remember across restarts, as Protocols the service backs.

The service keeps these in SQLite; :class:`MemoryMatrixStore` is the in-memory twin for tests
and dry runs.
"""

from __future__ import annotations

from typing import Protocol


class PreviousLevelStore(Protocol):
    """Remembers a member's power level entry from before a mute, so unmute restores it."""

    async def get_previous_level(self, room_id: str, user_id: str) -> int | None:
        """The remembered entry; None when there was no explicit entry or nothing is known."""
        ...

    async def set_previous_level(self, room_id: str, user_id: str, level: int | None) -> None:
        """Remember the entry (None: the member had no explicit entry, only users_default)."""
        ...

    async def forget_previous_level(self, room_id: str, user_id: str) -> None:
        """Drop what was remembered, after an unmute."""
        ...


class DirectRoomStore(Protocol):
    """Remembers the direct room between the bot and each member, to reuse it for warnings."""

    async def get_direct_room(self, user_id: str) -> str | None:
        """The room id of the bot's direct room with ``user_id``, if one was made."""
        ...

    async def set_direct_room(self, user_id: str, room_id: str) -> None:
        """Remember the direct room with ``user_id``."""
        ...


class MemoryMatrixStore:
    """Both stores in memory: for tests and dry runs (the service backs them with SQLite)."""

    def __init__(self) -> None:
        self.previous_levels: dict[tuple[str, str], int | None] = {}
        self.direct_rooms: dict[str, str] = {}

    async def get_previous_level(self, room_id: str, user_id: str) -> int | None:
        """See :class:`PreviousLevelStore`."""
        return self.previous_levels.get((room_id, user_id))

    async def set_previous_level(self, room_id: str, user_id: str, level: int | None) -> None:
        """See :class:`PreviousLevelStore`."""
        self.previous_levels[(room_id, user_id)] = level

    async def forget_previous_level(self, room_id: str, user_id: str) -> None:
        """See :class:`PreviousLevelStore`."""
        self.previous_levels.pop((room_id, user_id), None)

    async def get_direct_room(self, user_id: str) -> str | None:
        """See :class:`DirectRoomStore`."""
        return self.direct_rooms.get(user_id)

    async def set_direct_room(self, user_id: str, room_id: str) -> None:
        """See :class:`DirectRoomStore`."""
        self.direct_rooms[user_id] = room_id


class MatrixStateStore(Protocol):
    """Small key/values the Matrix connection keeps across restarts (device id, sync token).

    The service backs it with SQLite; :class:`MemoryStateStore` is the in-memory twin.
    """

    async def get(self, key: str) -> str | None:
        """The stored value, or None when nothing was stored under ``key``."""
        ...

    async def set(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``, replacing what was there."""
        ...


class MemoryStateStore:
    """A :class:`MatrixStateStore` in a dict: for tests and dry runs."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def get(self, key: str) -> str | None:
        """See :class:`MatrixStateStore`."""
        return self.values.get(key)

    async def set(self, key: str, value: str) -> None:
        """See :class:`MatrixStateStore`."""
        self.values[key] = value
