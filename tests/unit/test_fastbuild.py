"""domain.fastbuild: the values it writes are the constructor's; it refuses what it can't build."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from domain.fastbuild import slot_writer
from domain.model import RuleHit, Verdict
from rules import engine


def test_the_clean_verdict_is_written_and_equals_the_constructed_one() -> None:
    assert engine.clean_verdict is not engine._verdict  # the shortcut is in use
    written = engine.clean_verdict("m1", "discord:ann")
    built = Verdict(message_id="m1", member="discord:ann")
    assert type(written) is Verdict
    assert written == built
    assert hash(written) == hash(built)
    assert repr(written) == repr(built)
    assert dataclasses.asdict(written) == dataclasses.asdict(built)
    with pytest.raises(dataclasses.FrozenInstanceError):
        written.member = "matrix:@x:hs"  # type: ignore[misc]


def test_every_field_can_be_given() -> None:
    names = tuple(f.name for f in dataclasses.fields(RuleHit))
    write = slot_writer(RuleHit, names)
    assert write is not None
    values = {name: f"v-{name}" for name in names}
    assert write(*values.values()) == RuleHit(**values)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class _Plain:
    a: str
    b: int = 1


@dataclass(frozen=True, slots=True)
class _Checked:
    a: str

    def __post_init__(self) -> None:
        if not self.a:
            raise ValueError("empty")


@dataclass(frozen=True)
class _NoSlots:
    a: str


@dataclass(frozen=True, slots=True)
class _Factory:
    a: str
    b: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Derived:
    a: str
    b: int = field(init=False, default=0)


def test_a_plain_frozen_dataclass_is_written() -> None:
    write = slot_writer(_Plain, ("a",))
    assert write is not None
    assert write("x") == _Plain("x")
    assert type(write("x")) is _Plain


@pytest.mark.parametrize(
    ("cls", "given"),
    [
        (_Checked, ("a",)),  # __post_init__ would be skipped
        (_NoSlots, ("a",)),  # no slots to write
        (_Factory, ("a",)),  # a fresh list per value: no one default to share
        (_Derived, ("a",)),  # a field __init__ does not take
        (_Plain, ("b",)),  # not the class's first fields
        (_Plain, ("a", "c")),  # no such field
        (str, ()),  # not a dataclass
    ],
)
def test_what_the_shortcut_would_build_wrong_is_refused(cls: type, given: tuple[str, ...]) -> None:
    assert slot_writer(cls, given) is None
