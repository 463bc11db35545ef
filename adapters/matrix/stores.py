"""What the Matrix executor must remember across restarts, as Protocols, and
:class:`MatrixMemory`, which keeps both in any key-value store (SQLite in the service, a dict in
tests).
"""

from __future__ import annotations

import json
from typing import Protocol

from domain.ports import KeyValueStore


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


class MatrixMemory:
    """Previous power levels (restored on unmute) and direct rooms, kept in ``kv``."""

    def __init__(self, kv: KeyValueStore) -> None:
        self._kv = kv

    async def get_previous_level(self, room_id: str, user_id: str) -> int | None:
        """See :class:`PreviousLevelStore`."""
        value = await self._kv.get(f"matrix.previous_level:{room_id}:{user_id}")
        level = json.loads(value) if value is not None else None
        return int(level) if level is not None else None

    async def set_previous_level(self, room_id: str, user_id: str, level: int | None) -> None:
        """See :class:`PreviousLevelStore`."""
        await self._kv.set(f"matrix.previous_level:{room_id}:{user_id}", json.dumps(level))

    async def forget_previous_level(self, room_id: str, user_id: str) -> None:
        """See :class:`PreviousLevelStore`."""
        await self._kv.delete(f"matrix.previous_level:{room_id}:{user_id}")

    async def get_direct_room(self, user_id: str) -> str | None:
        """See :class:`DirectRoomStore`."""
        return await self._kv.get(f"matrix.direct_room:{user_id}")

    async def set_direct_room(self, user_id: str, room_id: str) -> None:
        """See :class:`DirectRoomStore`."""
        await self._kv.set(f"matrix.direct_room:{user_id}", room_id)
