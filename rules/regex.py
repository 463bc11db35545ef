"""Admin regexes, run by RE2 in time linear in the message length.

All patterns of all regex rules go into one RE2 set, so a message is scanned once whatever
the number of patterns; a pattern's own compiled form is used only to quote what matched.
Patterns RE2 cannot run in linear time (backreferences, lookaround) are refused at load.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import re2

_MAX_MEMORY = 8 << 20  # per pattern; a pattern that needs more is refused, not run slowly


class PatternError(ValueError):
    """An admin's pattern that the engine refuses to run."""


def _options() -> Any:
    options = re2.Options()
    options.case_sensitive = False  # patterns read the cleaned, case-folded text anyway
    options.log_errors = False  # errors become PatternError, not noise on stderr
    options.max_mem = _MAX_MEMORY
    return options


def compile_pattern(pattern: str) -> Any:
    """Compile one pattern with RE2 or raise PatternError saying why."""
    try:
        return re2.compile(pattern, options=_options())
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise PatternError(
            f"pattern {pattern!r} cannot run in linear time or is invalid ({detail}); RE2 "
            "does not support backreferences or lookaround: rewrite it without them"
        ) from None


class RegexIndex:
    """Every regex rule's patterns, matched in one pass."""

    def __init__(self, patterns_by_rule: Mapping[str, Sequence[str]]) -> None:
        self._owners: list[tuple[str, Any]] = []  # set index -> (rule id, compiled pattern)
        self.patterns: list[str] = []  # by set index; the engine's prefilter runs them too
        self._set: Any = None
        if not any(patterns_by_rule.values()):
            return
        pattern_set = re2.Set.SearchSet(_options())
        for rule_id, patterns in patterns_by_rule.items():
            for pattern in patterns:
                compiled = compile_pattern(pattern)
                pattern_set.Add(pattern)
                self._owners.append((rule_id, compiled))
                self.patterns.append(pattern)
        pattern_set.Compile()
        self._set = pattern_set

    def search(self, cleaned: str) -> dict[str, str]:
        """Rule id -> the first text one of its patterns matched, for every rule that hit."""
        if self._set is None:
            return {}
        return self.quote(cleaned, self._set.Match(cleaned.encode("utf-8", "surrogatepass")) or ())

    def quote(self, cleaned: str, indices: Iterable[int]) -> dict[str, str]:
        """``search`` for the patterns (by index) already known to match ``cleaned``."""
        found: dict[str, str] = {}
        for index in sorted(indices):
            rule_id, compiled = self._owners[index]
            if rule_id not in found:
                match = compiled.search(cleaned)
                found[rule_id] = match.group(0) if match else ""
        return found
