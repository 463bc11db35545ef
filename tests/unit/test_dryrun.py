"""The simulated twin of an executor: what a dry run records, and what it still says."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bridge.config import parse_settings
from bridge.dryrun import DryRunReplier, SimulatedExecutor, with_notice
from bridge.service import Service
from domain.cases import NewCase, OriginKind
from domain.model import (
    Account,
    Action,
    Ban,
    Channel,
    DeleteMessage,
    Mute,
    NotifyModerators,
    Platform,
    Space,
    SpaceKind,
    Tell,
    Warn,
)

MEMBER = Account(platform=Platform.DISCORD, id="42")
GUILD = Space(platform=Platform.DISCORD, id="g1", kind=SpaceKind.GUILD)


class Recorder:
    platform = Platform.DISCORD

    def __init__(self) -> None:
        self.done: list[Action] = []
        self.said: list[str] = []

    async def execute(self, action: Action, space: Space, *, key: str = "") -> str:
        self.done.append(action)
        return "really done"

    async def reply(self, channel: Channel, text: str) -> None:
        self.said.append(text)


@pytest.mark.parametrize(
    ("action", "result"),
    [
        (Ban(target=MEMBER, reason="spam"), "(dry run) would ban discord:42 in g1"),
        (
            Mute(target=MEMBER, until=datetime(2026, 12, 1, 13, 0, tzinfo=UTC), reason="x"),
            "(dry run) would mute discord:42 until 2026-12-01T13:00+00:00 in g1",
        ),
        (Warn(target=MEMBER, reason="x"), "(dry run) would warn discord:42 in g1"),
        (
            DeleteMessage(platform=Platform.DISCORD, channel_id="c1", message_id="m1"),
            "(dry run) would delete message m1 in c1 in g1",
        ),
    ],
)
async def test_acts_are_recorded_not_done(action: Action, result: str) -> None:
    real = Recorder()
    twin = SimulatedExecutor(real)
    assert await twin.execute(action, GUILD) == result
    assert real.done == []
    assert twin.would == [(action, GUILD)]


async def test_words_to_the_staff_go_out_marked() -> None:
    real = Recorder()
    twin = SimulatedExecutor(real)
    await twin.execute(NotifyModerators(text="Case #1: spam"), GUILD)
    await twin.execute(Tell(target=MEMBER, text="Your report was closed"), GUILD)
    assert real.done == [
        NotifyModerators(text="(dry run) Case #1: spam"),
        Tell(target=MEMBER, text="(dry run) Your report was closed"),
    ]
    replier = DryRunReplier(real)
    await replier.reply(Channel(platform=Platform.DISCORD, id="dm"), "Linked: a and b")
    assert real.said == ["(dry run) Linked: a and b"]


def test_every_case_of_a_rule_is_shown_to_the_moderators() -> None:
    case = NewCase(subject=MEMBER, origin_kind=OriginKind.RULE, origin="flood",
                   reason="flood: Disrupting events")  # fmt: skip
    actions = with_notice(case, [Ban(target=MEMBER, reason="flood")])
    assert actions[-1] == NotifyModerators(
        text="discord:42: flood: Disrupting events. Would: ban discord:42"
    )
    noticed = [NotifyModerators(text="already told")]
    assert with_notice(case, noticed) == noticed
    by_hand = NewCase(subject=MEMBER, origin_kind=OriginKind.MODERATOR, origin="m", reason="r")
    assert with_notice(by_hand, [Ban(target=MEMBER, reason="r")]) == [
        Ban(target=MEMBER, reason="r")
    ]


def test_dry_run_from_the_file_or_the_command_line(tmp_path: Path) -> None:
    toml = "[matrix]\nhomeserver = 'http://hs'\nuser_id = '@bot:hs'\nmod_room = '!m:hs'\n"
    path = tmp_path / "c.toml"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MODBRIDGE_MATRIX__PASSWORD", "pw")
        live = parse_settings(toml)
        from_file = parse_settings(toml + "[service]\ndry_run = true\n")
    assert not Service(live, path).dry_run
    assert Service(live, path, dry_run=True).dry_run
    assert Service(from_file, path).dry_run
