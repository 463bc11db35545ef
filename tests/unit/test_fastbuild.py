"""domain.fastbuild: the values it builds are the constructor's; it refuses what it can't build."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.fastbuild import fast_constructor
from domain.model import (
    Account,
    Ban,
    DeleteMessage,
    Mode,
    Mute,
    NotifyModerators,
    Platform,
    Remove,
    RuleHit,
    Verdict,
    Warn,
)
from rules import engine

_ANN = Account(platform=Platform.DISCORD, id="1", display_name="Ann")
_HIT = RuleHit(
    rule_id="r", kind="keywords", clause="1", reason="why", matched="x", points=2,
    mode=Mode.ENFORCE,
)  # fmt: skip
_WHEN = datetime(2026, 12, 3, tzinfo=UTC)

# What the engine builds through fast constructors, with the arguments it may give: every
# field, and the fewest it gives (the others at their defaults).
_ENGINE_VALUES: list[tuple[Callable[..., Any], type, dict[str, Any]]] = [
    (engine._Verdict, Verdict, {"message_id": "m1", "member": "discord:1"}),
    (engine._Verdict, Verdict, {
        "message_id": "m1", "member": "discord:1", "hits": (_HIT,),
        "actions": (Warn(target=_ANN, reason="r"),), "observed": (), "points_total": 3,
        "notes": ("escalation",),
    }),
    (engine._RuleHit, RuleHit, dataclasses.asdict(_HIT)),
    (engine._DeleteMessage, DeleteMessage, {
        "platform": Platform.MATRIX, "channel_id": "!r:hs", "message_id": "$e", "reason": "x",
    }),
    (engine._Warn, Warn, {"target": _ANN, "reason": "r", "clause": "2"}),
    (engine._Mute, Mute, {"target": _ANN, "until": _WHEN, "reason": "r"}),
    (engine._Remove, Remove, {"target": _ANN, "reason": "r"}),
    (engine._Ban, Ban, {"target": _ANN, "reason": "r", "until": _WHEN}),
    (engine._Ban, Ban, {"target": _ANN, "reason": "r", "purge": timedelta(hours=1)}),
    (engine._NotifyModerators, NotifyModerators, {"text": "t"}),
]  # fmt: skip


@pytest.mark.parametrize(("build", "cls", "given"), _ENGINE_VALUES)
def test_the_engine_s_values_are_built_as_the_constructor_builds_them(
    build: Callable[..., Any], cls: type, given: dict[str, Any]
) -> None:
    assert build is not cls, f"{cls.__name__} changed shape: fast_constructor refused it"
    built: Any = build(**given)
    constructed: Any = cls(**given)
    assert built == constructed
    assert hash(built) == hash(constructed)
    assert repr(built) == repr(constructed)
    assert dataclasses.asdict(built) == dataclasses.asdict(constructed)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(built, next(iter(given)), "changed")
    assert type(built) is cls


def test_a_missing_or_unknown_argument_fails_as_in_the_constructor() -> None:
    with pytest.raises(TypeError):
        engine._Warn(target=_ANN)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        engine._Warn(target=_ANN, reason="r", clasue="typo")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        engine._Warn(_ANN, "r")  # type: ignore[call-arg]  # keyword-only, as the class


@dataclass(frozen=True, slots=True, kw_only=True)
class _Plain:
    a: str
    b: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class _Checked:
    a: str

    def __post_init__(self) -> None:
        if not self.a:
            raise ValueError("empty")


@dataclass(frozen=True, kw_only=True)
class _NoSlots:
    a: str


@dataclass(frozen=True, slots=True, kw_only=True)
class _Factory:
    a: str
    b: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Derived:
    a: str
    b: int = field(init=False, default=0)


@dataclass(frozen=True, slots=True)
class _Positional:
    a: str


def test_a_plain_frozen_dataclass_is_built() -> None:
    build = fast_constructor(_Plain)
    assert build is not _Plain
    assert build(a="x") == _Plain(a="x")
    assert build(a="x", b=2) == _Plain(a="x", b=2)
    assert type(build(a="x")) is _Plain


@pytest.mark.parametrize(
    "cls",
    [
        _Checked,  # __post_init__ would be skipped
        _NoSlots,  # no slots to write
        _Factory,  # a fresh list per value: no one default to share
        _Derived,  # a field __init__ does not take
        _Positional,  # the constructor takes positional arguments
        str,  # not a dataclass
    ],
)
def test_what_the_shortcut_would_build_wrong_is_left_to_the_constructor(cls: type) -> None:
    assert fast_constructor(cls) is cls
