"""The small persistent stores adapters ask for, backed by the SQLite key/value table.

Adapters declare what they need to remember as Protocols (a Matrix member's power level
before a mute, the bot's direct room with a member); this gives them that memory without
the adapters knowing about storage. (The Matrix sync state takes the key/value repository
as it is.)
"""

from __future__ import annotations

import json

from storage.kv import KeyValueRepository


class MatrixMemory:
    """Previous power levels (restored on unmute) and direct rooms, kept in SQLite."""

    def __init__(self, kv: KeyValueRepository) -> None:
        self._kv = kv

    async def get_previous_level(self, room_id: str, user_id: str) -> int | None:
        value = await self._kv.get(f"matrix.previous_level:{room_id}:{user_id}")
        level = json.loads(value) if value is not None else None
        return int(level) if level is not None else None

    async def set_previous_level(self, room_id: str, user_id: str, level: int | None) -> None:
        await self._kv.set(f"matrix.previous_level:{room_id}:{user_id}", json.dumps(level))

    async def forget_previous_level(self, room_id: str, user_id: str) -> None:
        await self._kv.delete(f"matrix.previous_level:{room_id}:{user_id}")

    async def get_direct_room(self, user_id: str) -> str | None:
        return await self._kv.get(f"matrix.direct_room:{user_id}")

    async def set_direct_room(self, user_id: str, room_id: str) -> None:
        await self._kv.set(f"matrix.direct_room:{user_id}", room_id)
