"""Which Matrix rooms the bot watches, and what it knows about each: pure state, no I/O.

The connection feeds this book with what it learns (resolved aliases, space hierarchies,
accepted direct invitations, state events from sync) and asks it how to treat a room's
events. Keeping it free of I/O lets the routing rules be read, and reasoned about, in one place.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from adapters.matrix.powers import RoomPowers, room_powers, user_level
from adapters.matrix.translate import RoomContext

# Author.power_level is an int; a v12 creator's unlimited power becomes the largest level
# Matrix allows (canonical JSON integers stop at 2**53 - 1), so it still outranks everyone.
CREATOR_LEVEL = 2**53 - 1

SPACE_CHILD_EVENT = "m.space.child"


class RoomKind(StrEnum):
    """How the bot treats the events of a room."""

    PROTECTED = "protected"  # a community room: messages are judged
    MOD = "mod"  # the moderators' room: only commands, never judged
    DIRECT = "direct"  # a direct room with the bot: commands and member reports
    OTHER = "other"  # anything else the bot happens to be in: ignored


def is_alias(ref: str) -> bool:
    """Whether a configured room reference is an alias (``#x:hs``) rather than an id."""
    return ref.startswith("#")


def is_command(text: str, prefix: str = "!") -> bool:
    """Whether a message's text is a moderator command: it starts with the prefix (``!``,
    or e.g. ``!mb`` in rooms shared with other bots: then ``!mbx`` is not ours)."""
    body = text.lstrip()
    if not body.startswith(prefix):
        return False
    after = body[len(prefix) : len(prefix) + 1]
    return not prefix[-1:].isalnum() or after in ("", " ", "\t", "\n")


def as_level(level: float) -> int:
    """A power level as the int the model carries (a v12 creator becomes CREATOR_LEVEL)."""
    return CREATOR_LEVEL if math.isinf(level) else int(level)


def children_from_hierarchy(space_id: str, rooms: Iterable[Mapping[str, Any]]) -> list[str]:
    """The room ids below ``space_id`` in a /hierarchy answer (sub-spaces included).

    The answer lists the space itself first; every other room in it is a descendant.
    """
    found: list[str] = []
    for room in rooms:
        room_id = room.get("room_id")
        if isinstance(room_id, str) and room_id != space_id and room_id not in found:
            found.append(room_id)
    return found


@dataclass(slots=True)
class RoomState:
    """The state events of one room that decide power: its create and power levels events."""

    create_content: dict[str, Any] = field(default_factory=dict)
    create_sender: str | None = None
    power_levels: dict[str, Any] | None = None

    def observe(self, source: Mapping[str, Any]) -> None:
        """Take in one event (as the homeserver sent it) if it is one of ours."""
        if source.get("state_key") != "":
            return
        content = source.get("content")
        if not isinstance(content, dict):
            return
        if source.get("type") == "m.room.create":
            self.create_content = content
            sender = source.get("sender")
            self.create_sender = sender if isinstance(sender, str) else None
        elif source.get("type") == "m.room.power_levels":
            self.power_levels = content

    @property
    def is_space(self) -> bool:
        """Whether the room is a space (its create event says ``type: m.space``)."""
        return self.create_content.get("type") == "m.space"

    def powers(self) -> RoomPowers:
        """The room's powers, for :mod:`adapters.matrix.powers`."""
        return room_powers(
            create_content=self.create_content,
            create_sender=self.create_sender,
            power_levels=self.power_levels,
        )

    def known_powers(self) -> RoomPowers | None:
        """The room's powers once sync has delivered its create and power levels events."""
        if not self.create_content or self.power_levels is None:
            return None
        return self.powers()

    def level(self, user_id: str) -> int:
        """``user_id``'s power level here (v12 creators as CREATOR_LEVEL)."""
        return as_level(user_level(self.powers(), user_id))


class RoomBook:
    """The rooms the configuration names, what they resolved to, and how to treat each room.

    ``rooms`` and ``spaces`` hold ids or aliases as configured; aliases count once resolved.
    """

    def __init__(
        self, *, rooms: Sequence[str], spaces: Sequence[str], mod_room: str | None
    ) -> None:
        self._room_refs = tuple(rooms)
        self._space_refs = tuple(spaces)
        self._mod_ref = mod_room
        self._resolved: dict[str, str] = {
            ref: ref for ref in (*rooms, *spaces) if not is_alias(ref)
        }
        if mod_room and not is_alias(mod_room):
            self._resolved[mod_room] = mod_room
        self._children: dict[str, tuple[str, ...]] = {}  # space id -> its descendants
        self._direct: set[str] = set()
        self._states: dict[str, RoomState] = {}
        self._upgrades: dict[str, str] = {}  # an upgraded room -> its replacement

    def follow(self, old: str, new: str) -> None:
        """``old`` was upgraded to ``new``: whatever ``old`` was (a protected room, the mod
        room, a space), ``new`` is from now on; ``old`` is left behind."""
        if old != new and self.current(new) != old:  # never a loop
            self._upgrades[old] = new

    def current(self, room_id: str) -> str:
        """The room ``room_id`` has become through upgrades (itself if never upgraded)."""
        seen = {room_id}
        while room_id in self._upgrades and self._upgrades[room_id] not in seen:
            room_id = self._upgrades[room_id]
            seen.add(room_id)
        return room_id

    @property
    def upgrades(self) -> dict[str, str]:
        """Every upgrade followed so far (to be kept across restarts)."""
        return dict(self._upgrades)

    # -- what the configuration names ---------------------------------------------------------

    def unresolved(self) -> list[str]:
        """Configured aliases not resolved to a room id yet."""
        refs = (*self._room_refs, *self._space_refs, *([self._mod_ref] if self._mod_ref else []))
        return [ref for ref in dict.fromkeys(refs) if ref not in self._resolved]

    def resolve(self, alias: str, room_id: str) -> None:
        """Record what a configured alias points at."""
        self._resolved[alias] = room_id

    @property
    def mod_room_id(self) -> str | None:
        """The moderators' room id, once known."""
        room = self._resolved.get(self._mod_ref) if self._mod_ref else None
        return self.current(room) if room else None

    @property
    def space_ids(self) -> list[str]:
        """The configured spaces that have a room id."""
        return [
            self.current(self._resolved[ref]) for ref in self._space_refs if ref in self._resolved
        ]

    def configured_ids(self) -> list[str]:
        """Rooms, spaces and the mod room the configuration names (resolved ones)."""
        refs = (*self._room_refs, *self._space_refs, *([self._mod_ref] if self._mod_ref else []))
        return list(
            dict.fromkeys(
                self.current(self._resolved[ref]) for ref in refs if ref in self._resolved
            )
        )

    def set_children(self, space_id: str, children: Sequence[str]) -> tuple[list[str], list[str]]:
        """Replace what is known to be below ``space_id``.

        Returns the rooms that became protected and those that no longer are (taken out of
        the space, and not protected otherwise).
        """
        before = self.protected
        self._children[space_id] = tuple(children)
        after = self.protected
        return [r for r in children if r not in before], sorted(before - after)

    def add_direct(self, room_id: str) -> None:
        """Remember a room as a direct room with the bot."""
        self._direct.add(room_id)

    @property
    def direct_rooms(self) -> frozenset[str]:
        """The rooms accepted as direct rooms."""
        return frozenset(self._direct)

    @property
    def protected(self) -> frozenset[str]:
        """Configured rooms, spaces and every descendant of the spaces; never the mod room."""
        refs = (*self._room_refs, *self._space_refs)
        rooms = {self._resolved[ref] for ref in refs if ref in self._resolved}
        for space in self.space_ids:
            rooms.update(self._children.get(space, ()))
        rooms = {self.current(room) for room in rooms}
        # The moderators talk about offences there; what they quote must not be judged.
        rooms.discard(self.mod_room_id or "")
        return frozenset(rooms)

    def wants_invite(self, room_id: str, aliases: Iterable[str]) -> bool:
        """Whether an invitation to this room is one to accept as a configured room.

        ``aliases`` are the room's canonical and alternative aliases from the invite's state,
        so a room configured by an alias the bot could not resolve yet is recognised too.
        """
        if room_id in self.protected or room_id == self.mod_room_id:
            return True
        for alias in aliases:
            if alias in (*self._room_refs, *self._space_refs, self._mod_ref):
                self.resolve(alias, room_id)
                return True
        return False

    # -- how to treat a room --------------------------------------------------------------------

    def kind(self, room_id: str) -> RoomKind:
        """How the events of ``room_id`` are treated (the mod room wins over everything)."""
        if room_id == self.mod_room_id:
            return RoomKind.MOD
        if room_id in self.protected:
            return RoomKind.PROTECTED
        if room_id in self._direct:
            return RoomKind.DIRECT
        return RoomKind.OTHER

    def state(self, room_id: str) -> RoomState:
        """The power-deciding state of ``room_id`` (empty until sync delivers it)."""
        return self._states.setdefault(room_id, RoomState())

    def is_watched_space(self, room_id: str) -> bool:
        """Whether ``room_id`` is a configured space or a sub-space below one."""
        return room_id in self.space_ids or (
            room_id in self.protected and self.state(room_id).is_space
        )

    def context(self, room_id: str, name: str) -> RoomContext:
        """The :class:`RoomContext` translate.py needs for an event of ``room_id``."""
        space_id = next(
            (space for space in self.space_ids if room_id in self._children.get(space, ())),
            None,
        )
        return RoomContext(
            room_id=room_id,
            name=name,
            is_dm=self.kind(room_id) is RoomKind.DIRECT,
            is_space=self.state(room_id).is_space,
            space_id=space_id,
        )
