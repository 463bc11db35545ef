"""Power levels in a Matrix room: who may do what, and mutes as read-modify-writes.

Permissions are checked up front with :mod:`adapters.matrix.powers`, because nio does not
understand room version 12 creators: from the power levels the sync already knows when there
are any (no round trip on the hot path), and read afresh only when they are unknown, when they
say no (they may be a moment stale), or when the bot is about to rewrite them (mute, unmute).
Mute on Matrix is a power level below ``events_default``; the level from before is remembered
so that unmute restores it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from nio import AsyncClient

from adapters.matrix.powers import (
    POWER_LEVELS_EVENT,
    PowerAction,
    RoomPowers,
    default_level,
    denial,
    has_creator_power,
    is_muted,
    mute_content,
    room_powers,
    unmute_content,
    user_level,
)
from adapters.matrix.responses import call
from adapters.matrix.stores import PreviousLevelStore
from domain.ports import PermanentError


class RoomLevels:
    """Reads and checks a room's powers for the bot, and mutes and unmutes members."""

    def __init__(
        self,
        client: AsyncClient,
        *,
        levels: PreviousLevelStore,
        known_powers: Callable[[str], RoomPowers | None] | None = None,
    ) -> None:
        self._client = client
        self._levels = levels
        self._known = known_powers
        # The create event never changes: fetch it once per room.
        self._creates: dict[str, tuple[dict[str, Any], str | None]] = {}
        # Mutes rewrite the whole power levels event: two at once in one room (a raid)
        # would each write back the other's target unmuted.
        self._writing: dict[str, asyncio.Lock] = {}

    @property
    def _me(self) -> str:
        user_id: str = self._client.user_id
        return user_id

    async def read(self, room: str) -> RoomPowers:
        """Read the room's create event (cached) and current power levels."""
        if room not in self._creates:
            create = await call(
                f"read the create event of {room}",
                self._client.room_get_state_event(room, "m.room.create"),
            )
            content: dict[str, Any] = create.content
            sender: str | None = None
            version = str(content.get("room_version", "1"))
            if has_creator_power(version):
                # Since v12 the room id is the create event's id with another sigil, and the
                # creator is only known as that event's sender.
                event = await call(
                    f"read the create event of {room}",
                    self._client.room_get_event(room, "$" + room.removeprefix("!")),
                )
                sender = event.event.sender
            self._creates[room] = (content, sender)
        content, sender = self._creates[room]
        levels = await call(
            f"read the power levels of {room}",
            self._client.room_get_state_event(room, POWER_LEVELS_EVENT),
        )
        return room_powers(
            create_content=content, create_sender=sender, power_levels=levels.content
        )

    async def check(self, room: str, action: PowerAction, target: str | None) -> RoomPowers:
        """The room's powers if the bot may do ``action`` (to ``target``); PermanentError if not."""
        known = self._known(room) if self._known is not None else None
        if known is not None and denial(known, action, self._me, target) is None:
            return known
        # Unknown, or a refusal that may be a moment stale (the bot was just promoted).
        powers = await self.read(room)
        reason = denial(powers, action, self._me, target)
        if reason:
            raise PermanentError(f"cannot {action.value} in {room}: {reason}")
        return powers

    def _write_lock(self, room: str) -> asyncio.Lock:
        return self._writing.setdefault(room, asyncio.Lock())

    async def mute(self, room: str, target: str) -> str:
        """Lower ``target`` below the send level, remembering their level from before."""
        async with self._write_lock(room):
            return await self._mute_now(room, target)

    async def unmute(self, room: str, target: str) -> str:
        """Give ``target`` back the level remembered from before their mute."""
        async with self._write_lock(room):
            return await self._unmute_now(room, target)

    async def _mute_now(self, room: str, target: str) -> str:
        powers = await self.read(room)
        if is_muted(powers, target):
            # Already muted (a retry, or by hand): keep the remembered level as it is.
            return f"{target} was already muted in {room}"
        try:
            content, previous = mute_content(powers, self._me, target)
        except ValueError as exc:
            raise PermanentError(f"cannot mute {target} in {room}: {exc}") from exc
        # Remember first: if the write below succeeds and we crash, unmute still knows.
        await self._levels.set_previous_level(room, target, previous)
        await self._put_power_levels(room, content, f"mute {target}")
        return f"muted {target} in {room} (level {previous} -> {content['users'][target]})"

    async def _unmute_now(self, room: str, target: str) -> str:
        powers = await self.read(room)
        if not is_muted(powers, target):
            # Never lower or reset a member who is not muted (it could demote a moderator).
            await self._levels.forget_previous_level(room, target)
            return f"{target} was not muted in {room}"
        previous = await self._levels.get_previous_level(room, target)
        if previous is None and user_level(powers, target) > default_level(powers):
            # Nothing remembered, and falling back to users_default would lower them: a room
            # where only some members may write (announcements), not a mute of ours.
            return (
                f"{target} is below the send level of {room} by the room's own rules, not by "
                "a mute: already as it should be"
            )
        try:
            content = unmute_content(powers, self._me, target, previous)
        except ValueError as exc:
            raise PermanentError(f"cannot unmute {target} in {room}: {exc}") from exc
        await self._put_power_levels(room, content, f"unmute {target}")
        await self._levels.forget_previous_level(room, target)
        restored = "users_default" if previous is None else str(previous)
        before = user_level(powers, target)
        return f"unmuted {target} in {room} (level {int(before)} -> {restored})"

    async def _put_power_levels(self, room: str, content: dict[str, Any], doing: str) -> None:
        await call(
            f"{doing}: write the power levels of {room}",
            self._client.room_put_state(room, POWER_LEVELS_EVENT, content),
        )
