"""Penalties decided outside a judged message, and the engine judging with points handed in:
the rules decide from the live points storage keeps, and keep none of their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bridge.config import parse_settings
from domain.model import (
    Account,
    Action,
    Author,
    Ban,
    Channel,
    Message,
    Mute,
    NotifyModerators,
    Platform,
    Remove,
    Warn,
)
from rules.engine import Engine
from rules.penalties import blocked_hit_actions, escalation_actions, unsolicited_dm_actions
from rules.policy import ActionSpec, Policy

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
KIP = Account(platform=Platform.DISCORD, id="1001")
POLICY = """
[[rules]]
id = "insults"
kind = "keywords"
clause = "2.1 No insults"
points = 2
actions = ["delete", "warn", "notify"]
words = ["idiot"]

[[rules]]
id = "slurs"
kind = "keywords"
clause = "2.2 No slurs"
actions = ["delete", "mute 10m", "notify"]
words = ["slur"]

[escalation]
decay = "1d"
ladder = [
  { points = 4, action = "mute 1h" },
  { points = 6, action = "remove" },
  { points = 8, action = "ban" },
]
"""


def policy() -> Policy:
    return parse_settings(POLICY).policy


def kinds(actions: tuple[Action, ...] | list[Action]) -> list[str]:
    return [type(a).__name__ for a in actions]


@pytest.mark.parametrize(
    ("before", "points", "expected"),
    [
        (0, 2, []),  # below the first step
        (2, 2, [Mute]),  # 4 reached
        (3, 3, [Remove]),  # 4 and 6 crossed at once: the stronger step
        (4, 2, [Remove]),
        (6, 5, [Ban]),
        (9, 2, []),  # past the top of the ladder: nothing more to cross
    ],
)
def test_points_earned_elsewhere_climb_the_ladder_from_the_live_points(
    before: int, points: int, expected: list[type]
) -> None:
    actions = escalation_actions(
        policy().escalation, before=before, points=points, target=KIP, rule_id="r", now=T0
    )
    assert [type(a) for a in actions] == expected
    assert all(getattr(a, "target", KIP) == KIP for a in actions)


def test_a_blocked_message_gets_the_ladder_step_the_warning_and_the_notice() -> None:
    actions = blocked_hit_actions(
        policy(), "insults", author=KIP, channel_id="c1", before=2, now=T0
    )
    assert actions is not None
    assert kinds(actions) == ["Mute", "Warn", "NotifyModerators"]  # no message to delete
    warn = actions[1]
    assert isinstance(warn, Warn)
    assert warn.clause == "2.1 No insults"
    assert "insults" not in warn.reason  # the member reads a plain reason, not a rule id
    notice = actions[2]
    assert isinstance(notice, NotifyModerators)
    assert "blocked by Discord AutoMod" in notice.text


def test_a_blocked_message_gets_the_rules_own_sanction_and_no_warning_it_lacks() -> None:
    actions = blocked_hit_actions(policy(), "slurs", author=KIP, channel_id="c1", before=0, now=T0)
    assert actions is not None
    mute = actions[0]
    assert isinstance(mute, Mute)
    assert mute.until == T0 + timedelta(minutes=10)
    assert kinds(actions) == ["Mute", "NotifyModerators"]


def test_a_block_for_a_rule_we_do_not_have_decides_nothing() -> None:
    assert (
        blocked_hit_actions(policy(), "theirs", author=KIP, channel_id="c", before=0, now=T0)
        is None
    )


def test_the_unsolicited_dm_rule_warns_with_its_clause_and_mutes() -> None:
    specs = (ActionSpec(kind="warn"), ActionSpec(kind="mute", duration=timedelta(hours=1)))
    actions = unsolicited_dm_actions(specs, clause="4.1 Ask first", target=KIP, now=T0)
    assert kinds(actions) == ["Warn", "Mute"]
    assert isinstance(actions[0], Warn)
    assert actions[0].clause == "4.1 Ask first"
    assert isinstance(actions[1], Mute)
    assert actions[1].until == T0 + timedelta(hours=1)


def insult(at: float) -> Message:
    return Message(
        id=f"m{at}",
        author=Author(account=KIP),
        channel=Channel(platform=Platform.DISCORD, id="c1", space_id="g1"),
        text="you idiot",
        ts=T0 + timedelta(seconds=at),
    )


def test_the_engine_judges_from_the_points_it_is_handed_and_keeps_none() -> None:
    engine = Engine(policy())
    # Handed 2 live points: this insult reaches 4, the mute.
    verdict = engine.evaluate(insult(0), member="member:1", points=2)
    assert verdict.points_total == 4
    assert any(isinstance(a, Mute) for a in verdict.actions)
    # Handed 0 again (a pardon in storage): nothing is remembered from the last verdict.
    again = engine.evaluate(insult(1), member="member:1", points=0)
    assert again.points_total == 2
    assert not any(isinstance(a, Mute | Remove | Ban) for a in again.actions)


def test_rejudging_with_the_live_points_keeps_the_hits_and_moves_the_step() -> None:
    engine = Engine(policy())
    first = engine.evaluate(insult(0), member="member:1", points=0)
    assert not any(isinstance(a, Mute) for a in first.actions)
    rejudged = engine.rejudge(insult(0), first, points=5)
    assert rejudged.hits == first.hits
    assert rejudged.points_total == 7
    assert any(isinstance(a, Remove) for a in rejudged.actions)  # 6 crossed
