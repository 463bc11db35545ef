"""Fan-out: one action on a member becomes one entry per linked account and space."""

from __future__ import annotations

from datetime import UTC, datetime

from bridge.planner import Community, plan
from domain.model import Account, Ban, DeleteMessage, NotifyModerators, Platform, Warn

COMMUNITY = Community(
    spaces={Platform.MATRIX: ["!a", "!b"], Platform.DISCORD: ["g1"]},
    mod_rooms={Platform.MATRIX: ["!mods"], Platform.DISCORD: ["c9"]},
)
MX = Account(platform=Platform.MATRIX, id="@x:hs")
DC = Account(platform=Platform.DISCORD, id="42")


def test_ban_reaches_every_space_of_every_linked_account() -> None:
    planned = plan("cmd:1", [Ban(target=MX, reason="r")], community=COMMUNITY, accounts=[MX, DC])
    assert [(p.platform.value, p.space_id, p.action.target.key) for p in planned] == [  # type: ignore[union-attr]
        ("matrix", "!a", "matrix:@x:hs"),
        ("matrix", "!b", "matrix:@x:hs"),
        ("discord", "g1", "discord:42"),
    ]
    assert len({p.key for p in planned}) == 3


def test_keys_are_stable_so_replanning_is_idempotent() -> None:
    actions = [Ban(target=MX, reason="r", until=datetime(2027, 1, 1, tzinfo=UTC))]
    first = plan("msg:matrix:$e", actions, community=COMMUNITY, accounts=[MX])
    again = plan("msg:matrix:$e", actions, community=COMMUNITY, accounts=[MX])
    assert [p.key for p in first] == [p.key for p in again]


def test_warning_once_delete_in_place_notify_every_mod_room() -> None:
    planned = plan(
        "msg:matrix:$e",
        [
            DeleteMessage(platform=Platform.MATRIX, channel_id="!a", message_id="$e"),
            Warn(target=MX, reason="r"),
            NotifyModerators(text="t"),
        ],
        community=COMMUNITY,
        accounts=[MX, DC],
        message_space="!a",
    )
    assert [(type(p.action).__name__, p.platform.value, p.space_id) for p in planned] == [
        ("DeleteMessage", "matrix", "!a"),
        ("Warn", "matrix", ""),
        ("NotifyModerators", "matrix", "!mods"),
        ("NotifyModerators", "discord", "c9"),
    ]
