"""One vocabulary: every action type of the model has one kind name, used by the outbox, the
planner's keys, `rules eval` output and the policy's action words; none can be missed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import get_args

import pytest

from bridge.evaluate import action_to_json
from bridge.planner import Community, plan
from domain.actions import ActionKind, action_kind
from domain.model import (
    Account,
    Action,
    Ban,
    DeleteMessage,
    Mute,
    NotifyModerators,
    PauseDms,
    Platform,
    Remove,
    ResumeDms,
    Tell,
    Unban,
    Unmute,
    Warn,
)
from rules.policy import POLICY_ACTIONS, ActionSpec
from storage.codec import decode_action, encode_action
from storage.db import Database
from storage.outbox import NewAction
from storage.repositories import Repositories

ANN = Account(platform=Platform.DISCORD, id="42", display_name="Ann")
WHEN = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

# One example of every action type. A new type in domain.model.Action fails
# test_every_action_type_has_an_example until it is added here, and then every test below
# checks that each place that names kinds knows it.
SAMPLES: list[Action] = [
    Warn(target=ANN, reason="spam", clause="No spam"),
    Mute(target=ANN, until=WHEN, reason="flood"),
    Unmute(target=ANN, reason="over"),
    Remove(target=ANN, reason="raid"),
    Ban(target=ANN, reason="doxxing", until=WHEN, purge=timedelta(hours=24)),
    Unban(target=ANN, reason="appeal"),
    DeleteMessage(platform=Platform.DISCORD, channel_id="7", message_id="8", reason="spam"),
    NotifyModerators(text="Case #1: spam", modlog=True),
    Tell(target=ANN, text="Your report was closed."),
    PauseDms(space_id="g1", until=WHEN, reason="raid"),
    ResumeDms(space_id="g1", reason="calm again"),
]


def test_every_action_type_has_an_example() -> None:
    assert {type(a) for a in SAMPLES} == set(get_args(Action))


def test_every_action_type_has_its_own_kind() -> None:
    kinds = [action_kind(a) for a in SAMPLES]
    assert len(set(kinds)) == len(SAMPLES)
    assert set(kinds) == set(ActionKind)


@pytest.mark.parametrize("action", SAMPLES, ids=lambda a: type(a).__name__)
def test_rules_eval_describes_every_action_by_its_kind(action: Action) -> None:
    described = action_to_json(action)
    assert described["action"] == action_kind(action).value
    if isinstance(action, Tell):
        assert "text" not in described  # a private word stays private in logs


@pytest.mark.parametrize("action", SAMPLES, ids=lambda a: type(a).__name__)
def test_the_outbox_stores_and_rebuilds_every_action(action: Action) -> None:
    assert decode_action(action_kind(action).value, encode_action(action)) == action


async def test_the_schema_accepts_every_kind(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "kinds.db")
    try:
        outbox = Repositories.over(db).outbox
        enqueued = await outbox.enqueue(
            [
                NewAction(key=f"k{n}", platform=Platform.DISCORD, space_id="1", action=action)
                for n, action in enumerate(SAMPLES)
            ]
        )
        assert all(e.created for e in enqueued)
        rows = [await outbox.get(e.action.id) for e in enqueued]
        assert [r.action for r in rows if r is not None] == SAMPLES
    finally:
        await db.close()


def test_the_planners_keys_name_the_kind() -> None:
    community = Community(spaces={Platform.DISCORD: ["g1"]}, mod_rooms={Platform.DISCORD: ["m"]})
    for action in SAMPLES:
        planned = plan("cmd:1", [action], community=community, message_space="g1")
        modlog = isinstance(action, NotifyModerators) and action.modlog
        label = "modlog" if modlog else action_kind(action).value
        assert planned, action
        assert all(p.key.startswith(f"cmd:1:{label}:") for p in planned)


def test_the_policys_action_words_are_kinds() -> None:
    assert set(POLICY_ACTIONS) <= set(ActionKind)
    assert ActionSpec.model_validate("mute 1h").kind is ActionKind.MUTE
    with pytest.raises(ValueError, match="unknown action 'tell'"):
        ActionSpec.model_validate("tell")
    with pytest.raises(ValueError, match="unknown action 'unban'"):
        ActionSpec.model_validate({"kind": "unban"})
