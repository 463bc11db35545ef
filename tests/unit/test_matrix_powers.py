"""Power levels of Matrix rooms, v11 and v12 creators, and the mute/unmute contents."""

from __future__ import annotations

import math
from typing import Any

import pytest

from adapters.matrix.powers import (
    CREATOR_POWER,
    PowerAction,
    RoomPowers,
    denial,
    has_creator_power,
    is_muted,
    mute_content,
    room_powers,
    send_level,
    unmute_content,
    user_level,
)

BOT, MOD, ANN, CREATOR, CO = "@bot:x", "@mod:x", "@ann:x", "@creator:x", "@co:x"

# What Synapse writes for a private room, plus a bot at 100 and a moderator at 50.
LEVELS: dict[str, Any] = {
    "users": {BOT: 100, MOD: 50},
    "users_default": 0,
    "events": {"m.room.power_levels": 100, "m.room.name": 50},
    "events_default": 0,
    "state_default": 50,
    "ban": 50,
    "kick": 50,
    "redact": 50,
    "invite": 0,
}


def v11(levels: dict[str, Any] | None = None) -> RoomPowers:
    return room_powers(
        create_content={"room_version": "11"},
        create_sender=CREATOR,
        power_levels=LEVELS if levels is None else levels,
    )


def v12(levels: dict[str, Any] | None = None, *, co: bool = True) -> RoomPowers:
    content: dict[str, Any] = {"room_version": "12"}
    if co:
        content["additional_creators"] = [CO]
    return room_powers(
        create_content=content,
        create_sender=CREATOR,
        power_levels=LEVELS if levels is None else levels,
    )


@pytest.mark.parametrize(
    ("version", "special"),
    [("1", False), ("10", False), ("11", False), ("12", True), ("13", True),
     ("org.matrix.hydra.11", True), ("org.example.custom", False)],
)  # fmt: skip
def test_which_versions_give_creators_unlimited_power(version: str, special: bool) -> None:
    assert has_creator_power(version) is special


@pytest.mark.parametrize(
    ("powers", "user", "level"),
    [
        (v11(), BOT, 100),
        (v11(), MOD, 50),
        (v11(), ANN, 0),
        (v11(), CREATOR, 0),  # v11: the creator is whatever power_levels says
        (v11({**LEVELS, "users_default": 10}), ANN, 10),
        (v11({}), CREATOR, 100),  # no power levels event at all
        (v11({}), ANN, 0),
        (v11({"users": {ANN: "25"}}), ANN, 25),  # old rooms hold strings
        (v12(), CREATOR, CREATOR_POWER),
        (v12(), CO, CREATOR_POWER),
        (v12(co=False), CO, 0),
        (v12(), BOT, 100),
        (v12(), ANN, 0),
    ],
)
def test_user_level(powers: RoomPowers, user: str, level: float) -> None:
    assert user_level(powers, user) == level


@pytest.mark.parametrize(
    ("powers", "action", "actor", "target", "allowed"),
    [
        (v11(), PowerAction.BAN, BOT, ANN, True),
        (v11(), PowerAction.BAN, BOT, MOD, True),
        (v11(), PowerAction.BAN, MOD, BOT, False),  # target above the actor
        (v11(), PowerAction.BAN, ANN, MOD, False),  # actor below the ban level
        (v11({**LEVELS, "users": {BOT: 50, MOD: 50}}), PowerAction.KICK, BOT, MOD, False),  # equal
        (v11({**LEVELS, "kick": 100}), PowerAction.KICK, MOD, ANN, False),
        (v11(), PowerAction.UNBAN, MOD, ANN, True),
        (v11({**LEVELS, "kick": 75}), PowerAction.UNBAN, MOD, ANN, False),  # unban needs kick
        (v11(), PowerAction.REDACT, MOD, None, True),
        (v11({**LEVELS, "redact": 75}), PowerAction.REDACT, MOD, None, False),
        (v11(), PowerAction.SET_LEVEL, BOT, ANN, True),
        (v11(), PowerAction.SET_LEVEL, MOD, ANN, False),  # m.room.power_levels needs 100
        (v11({**LEVELS, "events": {}}), PowerAction.SET_LEVEL, MOD, ANN, True),  # state_default
        (v12(), PowerAction.BAN, CREATOR, BOT, True),  # a creator outranks everyone
        (v12(), PowerAction.BAN, CO, ANN, True),  # an additional creator too
        (v12(), PowerAction.BAN, BOT, CREATOR, False),  # nobody outranks a creator
        (v12(), PowerAction.SET_LEVEL, BOT, CO, False),
        (v12(), PowerAction.KICK, CO, CREATOR, False),  # nor does another creator
        (v11(), PowerAction.BAN, BOT, CREATOR, True),  # in v11 the creator is a plain 0
    ],
)
def test_denial(
    powers: RoomPowers, action: PowerAction, actor: str, target: str | None, allowed: bool
) -> None:
    reason = denial(powers, action, actor, target)
    assert (reason is None) is allowed, reason


def test_denial_names_the_numbers_and_creators() -> None:
    assert denial(v11(), PowerAction.BAN, ANN, MOD) == "@ann:x has power level 0, ban needs 50"
    reason = denial(v12(), PowerAction.SET_LEVEL, BOT, CREATOR)
    assert reason is not None
    assert "creator" in reason


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        (LEVELS, 0),
        ({**LEVELS, "events_default": 10}, 10),
        ({**LEVELS, "events": {"m.room.message": -5}}, -5),  # messages open to muted levels
        ({**LEVELS, "events": {"m.reaction": 5}}, 0),
        ({}, 0),
    ],
)
def test_send_level_is_the_lowest_level_that_can_still_talk(
    levels: dict[str, Any], expected: int
) -> None:
    assert send_level(v11(levels)) == expected


@pytest.mark.parametrize(
    ("levels", "target", "previous", "muted_at"),
    [
        (LEVELS, ANN, None, -1),
        (LEVELS, MOD, 50, -1),
        ({**LEVELS, "events_default": 10, "users_default": 10}, ANN, None, 9),
        ({**LEVELS, "events": {"m.room.message": -5}}, ANN, None, -6),
    ],
)
def test_mute_then_unmute_round_trips(
    levels: dict[str, Any], target: str, previous: int | None, muted_at: int
) -> None:
    powers = v12(levels)
    content, remembered = mute_content(powers, BOT, target)

    assert remembered == previous
    assert content["users"][target] == muted_at
    muted = v12(content)
    assert is_muted(muted, target)
    assert levels.get("users", {}).get(target) == previous  # the input was not changed

    restored = unmute_content(muted, BOT, target, remembered)
    assert restored == {**levels, "users": levels.get("users", {})}
    assert not is_muted(v12(restored), target)


@pytest.mark.parametrize(
    ("powers", "actor", "target", "why"),
    [
        (v12(), BOT, CREATOR, "is a creator of this room"),  # a creator cannot be muted
        (v12(), BOT, CO, "is a creator of this room"),
        (v11(), MOD, ANN, "has power level 50, set level needs 100"),  # may not write levels
        (v11({**LEVELS, "users": {BOT: 100, MOD: 100}}), BOT, MOD, "not below"),  # an equal
    ],
)
def test_mute_refuses_what_the_server_would_refuse(
    powers: RoomPowers, actor: str, target: str, why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        mute_content(powers, actor, target)


def test_unmute_cannot_restore_a_level_above_the_actor() -> None:
    powers = v11({**LEVELS, "users": {BOT: 60, ANN: -1}, "events": {}})
    with pytest.raises(ValueError, match="above"):
        unmute_content(powers, BOT, ANN, 100)


def test_creator_power_is_infinite() -> None:
    assert math.isinf(CREATOR_POWER)
