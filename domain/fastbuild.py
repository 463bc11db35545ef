"""Building frozen model values at a fraction of their constructor's cost, for hot paths.

A frozen dataclass's ``__init__`` writes each field through ``object.__setattr__`` with its
keyword handling around it: about 2 us for a ten-field ``Message``, as much as the engine
spends judging most messages. ``slot_writer`` builds a function that makes the very same
value another way: it writes the fields into an object of a twin class with the same slots
and no frozen ``__setattr__`` (plain slot stores), which then becomes an instance of the
model class by ``__class__`` assignment (Python allows it between classes of the same
layout). The result is the value the constructor builds: equal, of the same type, frozen.

The writer is generated source, as ``dataclasses`` generates ``__init__``: a loop over the
fields would cost about 0.5 us more per value. It is refused (None: use the constructor) for
any class where the shortcut would not build the constructor's value: not a dataclass with
slots, a ``__post_init__``, a field that is not an ``__init__`` parameter, or a field left
out that has no plain default.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def slot_writer(cls: type[T], given: tuple[str, ...]) -> Callable[..., T] | None:
    """A function taking the values of the fields ``given`` (positionally, in that order; the
    class's first fields) and returning the ``cls`` value with the other fields at their
    defaults; None if ``cls`` does not allow the shortcut (see the module docstring)."""
    if not dataclasses.is_dataclass(cls):
        return None
    fields = dataclasses.fields(cls)
    names = tuple(f.name for f in fields)
    rest = fields[len(given) :]
    if (
        names[: len(given)] != given
        or vars(cls).get("__slots__") != names
        or hasattr(cls, "__post_init__")
        or any(not f.init for f in fields)
        or any(f.default is dataclasses.MISSING for f in rest)
    ):
        return None
    twin = type(f"_Unfrozen{cls.__name__}", (), {"__slots__": names})
    scope: dict[str, Any] = {"new": object.__new__, "twin": twin, "cls": cls}
    lines = [f"def build({', '.join(given)}):", "    value = new(twin)"]
    lines += [f"    value.{name} = {name}" for name in given]
    for field in rest:
        scope[f"default_{field.name}"] = field.default
        lines.append(f"    value.{field.name} = default_{field.name}")
    lines += ["    value.__class__ = cls", "    return value"]
    exec("\n".join(lines), scope)  # noqa: S102 - field names of a dataclass: identifiers
    build: Callable[..., T] = scope["build"]
    return build
