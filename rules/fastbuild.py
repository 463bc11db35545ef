"""Building the engine's clean verdict, the answer to most messages, at a third of the cost.

A frozen dataclass's ``__init__`` writes each field through ``object.__setattr__`` with its
keyword handling around it (about 1.7 us for ``Verdict``, a tenth of the time a message may
take). The clean verdict differs from message to message only in its id and member, so it is
written straight into its slots. Built from ``dataclasses.fields`` when the module loads:
should the model gain a field without a plain default, the ordinary constructor is used.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from domain.model import Verdict

_IDENTITY = ("message_id", "member")


def _slot_writer() -> Callable[[str, str], Verdict] | None:
    fields = dataclasses.fields(Verdict)
    if [f.name for f in fields[:2]] != list(_IDENTITY) or "__slots__" not in vars(Verdict):
        return None
    rest: list[tuple[Any, Any]] = []
    for field in fields[2:]:
        if field.default is dataclasses.MISSING or field.init is False:
            return None
        rest.append((vars(Verdict)[field.name].__set__, field.default))
    if hasattr(Verdict, "__post_init__"):
        return None
    write_id, write_member = (vars(Verdict)[name].__set__ for name in _IDENTITY)
    new = object.__new__

    def build(message_id: str, member: str) -> Verdict:
        verdict: Verdict = new(Verdict)
        write_id(verdict, message_id)
        write_member(verdict, member)
        for write, default in rest:
            write(verdict, default)
        return verdict

    return build


def _constructor(message_id: str, member: str) -> Verdict:
    return Verdict(message_id=message_id, member=member)


clean_verdict: Callable[[str, str], Verdict] = _slot_writer() or _constructor
