"""Where each synced Matrix event goes: which handler of the core, if any, and as what.

The rules, in one place: protected rooms' messages are judged (``on_message``) and their
membership changes recorded (``on_membership``); the mod room is never judged, only its ``!``
commands go on; in a direct room a moderator's ``!`` text is a command and everything else a
direct message (member reports). The bot's own messages go nowhere.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any

from nio import BadEvent, MatrixRoom, RoomMemberEvent, RoomMessage

from adapters.matrix.rooms import SPACE_CHILD_EVENT, RoomBook, RoomKind, is_command
from adapters.matrix.translate import is_message, membership_from_event, message_from_event
from domain.ports import Inbound, NotRecorded

logger = logging.getLogger(__name__)


def own_join_index(events: Sequence[Any], user_id: str) -> int:
    """Where ``user_id`` joined in ``events`` (-1: not there).

    What a timeline holds before the bot's own join is history from before it was there, which
    is not judged.
    """
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if (
            isinstance(event, RoomMemberEvent)
            and event.state_key == user_id
            and event.membership == "join"
            and event.prev_membership != "join"
        ):
            return index
    return -1


class EventRouter:
    """Translates synced events with translate.py and hands each to the right handler.

    ``rooms`` is the syncing nio client's room map (room and display names only: power comes
    from the book, which understands room version 12). ``on_space_change`` is called when a
    watched space's children change.
    """

    def __init__(
        self,
        *,
        user_id: str,
        book: RoomBook,
        rooms: Mapping[str, MatrixRoom],
        handlers: Inbound,
        moderators: Collection[str],
        moderator_power_level: int | None,
        on_space_change: Callable[[], None],
        command_prefix: str = "!",
    ) -> None:
        self._prefix = command_prefix
        self._me = user_id
        self._book = book
        self._rooms = rooms
        self._handlers = handlers
        self._moderators = frozenset(moderators)
        self._moderator_level = moderator_power_level
        self._on_space_change = on_space_change

    def observe(self, room_id: str, source: Mapping[str, Any]) -> None:
        """Take in a state event without handing it on (sync's state section, old history)."""
        self._book.state(room_id).observe(source)
        if source.get("type") == SPACE_CHILD_EVENT and self._book.is_watched_space(room_id):
            self._on_space_change()

    async def dispatch(self, room_id: str, event: Any) -> None:
        """Hand one timeline event on; a handler's exception is logged, never raised, except
        NotRecorded: the core could not record it, and the caller must hand it on again."""
        source: Mapping[str, Any] = getattr(event, "source", None) or {}
        # Power levels change as the timeline goes: judge each event by the state before it.
        self.observe(room_id, source)
        kind = self._book.kind(room_id)
        if kind is RoomKind.OTHER:
            return
        try:
            if is_message(event):
                await self._message(room_id, kind, event)
            elif isinstance(event, RoomMemberEvent) and kind is RoomKind.PROTECTED:
                await self._membership(room_id, event)
        except NotRecorded:
            raise
        except Exception as exc:
            # Never the text (privacy) and never the traceback (its last line may carry it).
            # A direct room's id points at the member in it (maybe a reporter).
            where = "a direct room" if kind is RoomKind.DIRECT else room_id
            logger.error(
                "handler failed on event %s in %s: %s",
                source.get("event_id"),
                where,
                type(exc).__name__,
            )

    def is_moderator(self, user_id: str) -> bool:
        """A configured moderator, or at the configured power level in the mod room."""
        if user_id in self._moderators:
            return True
        mod_room = self._book.mod_room_id
        if self._moderator_level is None or mod_room is None:
            return False
        return self._book.state(mod_room).level(user_id) >= self._moderator_level

    async def _message(self, room_id: str, kind: RoomKind, event: RoomMessage | BadEvent) -> None:
        if event.sender == self._me:
            return
        room = self._rooms.get(room_id)
        user = room.users.get(event.sender) if room else None
        context = self._book.context(room_id, room.display_name if room else "")
        if kind is RoomKind.DIRECT and room is not None and room.member_count > 2:
            # Marked direct (Element does so for a "chat" with several people), yet others
            # read along: not a private conversation with the bot.
            context = replace(context, is_dm=False)
        message = message_from_event(
            event,
            context,
            display_name=(user.display_name or "") if user else "",
            power_level=self._book.state(room_id).level(event.sender),
            is_moderator=self.is_moderator(event.sender),
            is_bot=event.sender == self._me,
            # Commands and reports name members by pills or m.mentions: their names help
            # read "!ban Kip" (judging a protected room's message does not need them).
            names=self._names(event.source) if kind is not RoomKind.PROTECTED else None,
        )
        if message is None:
            return
        # Editing a command must not run it a second time.
        command = is_command(message.text, self._prefix) and message.edit_of is None
        if kind is RoomKind.PROTECTED:
            await self._handlers.on_message(message)
        elif kind is RoomKind.MOD:
            if command:
                await self._handlers.on_command(message)
        elif command and message.author.is_moderator:
            await self._handlers.on_command(message)
        else:
            await self._handlers.on_direct_message(message)

    def _names(self, source: Mapping[str, Any]) -> dict[str, str]:
        """Display names of the users a message's ``m.mentions`` names, from any room the
        bot shares with them."""
        content = source.get("content") or {}
        mentions = content.get("m.mentions") if isinstance(content, Mapping) else None
        user_ids = mentions.get("user_ids") if isinstance(mentions, Mapping) else None
        names: dict[str, str] = {}
        for user_id in user_ids if isinstance(user_ids, list) else []:
            if not isinstance(user_id, str):
                continue
            for room in self._rooms.values():
                user = room.users.get(user_id)
                if user is not None and user.display_name:
                    names[user_id] = user.display_name
                    break
        return names

    def display_name(self, user_id: str) -> str:
        """A user's display name in any room the bot shares with them, or ""."""
        for room in self._rooms.values():
            user = room.users.get(user_id)
            if user is not None and user.display_name:
                return str(user.display_name)
        return ""

    async def _membership(self, room_id: str, event: RoomMemberEvent) -> None:
        if event.sender == self._me == event.state_key:
            return  # the bot's own joins and leaves are its own doing
        room = self._rooms.get(room_id)
        change = membership_from_event(
            event, self._book.context(room_id, room.display_name if room else "")
        )
        if change is not None:
            await self._handlers.on_membership(change)
