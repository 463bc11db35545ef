"""Durations as people write them: the one parser for the policy and both platforms' commands.

``30s``, ``10m``, ``1h``, ``7d``, ``2w`` and compounds of them (``1h30m``, ``2d12h``), in
any case (``1H``), or a number of seconds in the policy. Pure; imports nothing of ours.
"""

from __future__ import annotations

import re
from datetime import timedelta

UNIT_SECONDS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
# Longer is a typo, and dates beyond year 9999 do not exist: "mute 9999999w" must not
# pass the checks and then stop enforcement with an overflow.
MAX_DURATION = timedelta(days=3650)
_PART = re.compile(r"(\d+)\s*([wdhms])", re.IGNORECASE)
_WHOLE = re.compile(r"^\s*(?:\d+\s*[wdhms]\s*)+$", re.IGNORECASE)
EXAMPLES = "e.g. 30s, 10m, 1h30m, 2d12h, 7d or 2w"


def parse_duration(value: object) -> timedelta:
    """Read a duration (``"1h30m"``, ``"7d"``, ``"1H"``, a timedelta, or whole seconds);
    raise ValueError saying how to write one."""
    seconds: float | None = None
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and _WHOLE.match(value):
        seconds = sum(int(n) * UNIT_SECONDS[u.lower()] for n, u in _PART.findall(value))
    if seconds is not None and seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"{value!r} is too long: at most {MAX_DURATION.days}d (ten years)")
    if seconds is not None and seconds > 0:
        return timedelta(seconds=seconds)
    raise ValueError(f"{value!r} is not a duration: write a positive number and a unit, {EXAMPLES}")


def looks_like_duration(text: str) -> bool:
    """Whether ``text`` is written as a duration (``!ban kip 7d spam`` vs ``!ban kip spam``)."""
    return _WHOLE.match(text) is not None


def format_duration(value: timedelta) -> str:
    """A duration in the largest unit that says it exactly: 3600 s -> '1h', 5400 s -> '90m',
    14 days -> '14d' (moderators count bans in days)."""
    seconds = int(value.total_seconds())
    for unit in ("d", "h", "m"):
        if seconds % UNIT_SECONDS[unit] == 0:
            return f"{seconds // UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"
