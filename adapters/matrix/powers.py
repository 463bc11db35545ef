"""Power levels of a Matrix room, computed by hand: pure functions, no I/O.

matrix-nio 0.26 predates room version 12, where the room's creators (the create event's
sender and its ``additional_creators``) have unlimited power and are absent from
``m.room.power_levels``; it reports such a creator at level 0. ``AsyncClient.has_permission``
is unreliable too. So the executor asks these functions, which follow the spec's
authorisation rules, before it acts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

# Power is a float so that a v12 creator can be ``math.inf``: above everyone, equal to
# another creator (one creator can never act against another).
CREATOR_POWER = math.inf

POWER_LEVELS_EVENT = "m.room.power_levels"

# Events a muted member must not be able to send; the mute level goes below all of them.
MUTED_EVENT_TYPES = ("m.room.message", "m.room.encrypted", "m.sticker", "m.reaction")

# Room versions with MSC4289 creator power, besides the numbered ones from 12 on.
_CREATOR_POWER_VERSIONS = frozenset({"org.matrix.hydra.11"})


class PowerAction(StrEnum):
    """Things the bot does that the power levels govern."""

    KICK = "kick"
    BAN = "ban"
    UNBAN = "unban"
    REDACT = "redact"
    SET_LEVEL = "set_level"  # change another member's entry in m.room.power_levels


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomPowers:
    """What decides who may do what in one room: its version, creators and power levels.

    ``creators`` holds the create event's sender (and, from version 12, the additional
    creators); only from version 12 on does that give them unlimited power.
    """

    room_version: str
    creators: frozenset[str]
    power_levels: Mapping[str, Any]

    @property
    def creators_are_special(self) -> bool:
        """True for room versions (12+) where creators have unlimited power."""
        return has_creator_power(self.room_version)


def has_creator_power(room_version: str) -> bool:
    """Whether creators of a room of this version outrank every power level."""
    if room_version in _CREATOR_POWER_VERSIONS:
        return True
    return room_version.isdigit() and int(room_version) >= 12


def room_powers(
    *,
    create_content: Mapping[str, Any],
    create_sender: str | None,
    power_levels: Mapping[str, Any] | None,
) -> RoomPowers:
    """Build a :class:`RoomPowers` from the m.room.create event and m.room.power_levels content.

    ``create_sender`` may be None for rooms of version 11 or older, where it does not matter.
    A room without a power levels event gets the spec's defaults (an empty content).
    """
    version = str(create_content.get("room_version", "1"))
    creators: set[str] = set()
    # Versions 1-10 name the creator in the content; from 11 on only the sender says it.
    creator = create_sender or create_content.get("creator")
    if creator:
        creators.add(str(creator))
    additional = create_content.get("additional_creators", [])
    if has_creator_power(version) and isinstance(additional, list):
        creators.update(str(user) for user in additional)
    return RoomPowers(
        room_version=version, creators=frozenset(creators), power_levels=power_levels or {}
    )


def _int(value: Any, default: int) -> int:
    # Power levels arrive as JSON; old rooms may hold strings like "50".
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def user_level(powers: RoomPowers, user_id: str) -> float:
    """The effective power level of ``user_id`` (``CREATOR_POWER`` for a v12 creator)."""
    if powers.creators_are_special and user_id in powers.creators:
        return CREATOR_POWER
    content = powers.power_levels
    users = content.get("users") or {}
    if user_id in users:
        return _int(users[user_id], 0)
    if not content and user_id in powers.creators:
        # Spec auth rules: without a power levels event, the creator of a v1-v11 room has 100.
        return 100
    return _int(content.get("users_default"), 0)


def required_level(powers: RoomPowers, action: PowerAction) -> int:
    """The level an actor needs for ``action``, before comparing with the target."""
    content = powers.power_levels
    if action is PowerAction.KICK:
        return _int(content.get("kick"), 50)
    if action in (PowerAction.BAN, PowerAction.UNBAN):
        return _int(content.get("ban"), 50)
    if action is PowerAction.REDACT:
        return _int(content.get("redact"), 50)
    events = content.get("events") or {}
    # Spec: state_default is 50 when a power levels event exists, 0 when there is none.
    state_default = _int(content.get("state_default"), 50 if content else 0)
    return _int(events.get(POWER_LEVELS_EVENT), state_default)


def send_level(powers: RoomPowers) -> int:
    """The lowest level at which a member can still send any of ``MUTED_EVENT_TYPES``."""
    content = powers.power_levels
    events = content.get("events") or {}
    events_default = _int(content.get("events_default"), 0)
    explicit = [_int(events[kind], events_default) for kind in MUTED_EVENT_TYPES if kind in events]
    return min([events_default, *explicit])


def default_level(powers: RoomPowers) -> int:
    """``users_default``: the level of members without an entry of their own."""
    return _int(powers.power_levels.get("users_default"), 0)


def is_muted(powers: RoomPowers, user_id: str) -> bool:
    """Whether ``user_id`` is below the level needed to send messages."""
    return user_level(powers, user_id) < send_level(powers)


def denial(powers: RoomPowers, action: PowerAction, actor: str, target: str | None) -> str | None:
    """Why ``actor`` may not do ``action`` to ``target``, or None when the rules allow it.

    ``target`` is the member acted on (None for a redaction, where only the level counts).
    The wording ends up in moderators' dead-letter notices, so it names the numbers.
    """
    actor_level = user_level(powers, actor)
    needed = required_level(powers, action)
    label = action.value.replace("_", " ")
    if actor_level < needed:
        return f"{actor} has power level {_fmt(actor_level)}, {label} needs {needed}"
    if target is None or action is PowerAction.REDACT:
        return None
    if action is PowerAction.UNBAN:
        # Lifting a ban is a leave sent by someone else: the kick rule applies as well.
        kick = required_level(powers, PowerAction.KICK)
        if actor_level < kick:
            return f"{actor} has power level {_fmt(actor_level)}, unban also needs kick {kick}"
    if target == actor and action in (PowerAction.KICK, PowerAction.BAN, PowerAction.SET_LEVEL):
        return f"{actor} would {label} itself"
    target_level = user_level(powers, target)
    if powers.creators_are_special and target in powers.creators:
        return f"{target} is a creator of this room (version {powers.room_version}), above all"
    if target != actor and target_level >= actor_level:
        return (
            f"{target} has power level {_fmt(target_level)}, not below "
            f"{actor}'s {_fmt(actor_level)}"
        )
    return None


def _fmt(level: float) -> str:
    return "creator (unlimited)" if math.isinf(level) else str(int(level))


def mute_content(powers: RoomPowers, actor: str, target: str) -> tuple[dict[str, Any], int | None]:
    """The new m.room.power_levels content that mutes ``target``, and their previous entry.

    The previous entry is None when the target had no explicit level (they had
    ``users_default``). Raises ValueError with the reason when ``actor`` may not do it, or
    when the new level would still let the target speak.
    """
    reason = denial(powers, PowerAction.SET_LEVEL, actor, target)
    if reason:
        raise ValueError(reason)
    content = _copy(powers.power_levels)
    users: dict[str, Any] = content.setdefault("users", {})
    previous = users.get(target)
    users[target] = send_level(powers) - 1
    return content, None if previous is None else _int(previous, 0)


def unmute_content(
    powers: RoomPowers, actor: str, target: str, previous: int | None
) -> dict[str, Any]:
    """The new m.room.power_levels content that gives ``target`` their voice back.

    ``previous`` is the remembered entry from before the mute; None removes the entry, so the
    member falls back to ``users_default``. Raises ValueError when ``actor`` may not do it or
    the restored level is above the actor's own (the server would refuse it).
    """
    reason = denial(powers, PowerAction.SET_LEVEL, actor, target)
    if reason:
        raise ValueError(reason)
    if previous is not None and previous > user_level(powers, actor):
        raise ValueError(f"cannot restore {target} to {previous}, above {actor}'s own level")
    content = _copy(powers.power_levels)
    users: dict[str, Any] = content.setdefault("users", {})
    if previous is None:
        users.pop(target, None)
    else:
        users[target] = previous
    return content


def _copy(content: Mapping[str, Any]) -> dict[str, Any]:
    # One level deeper than a shallow copy: the nested dicts are the parts we change.
    copied = dict(content)
    for key in ("users", "events", "notifications"):
        if isinstance(copied.get(key), Mapping):
            copied[key] = dict(copied[key])
    return copied
