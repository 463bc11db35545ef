"""Which AutoMod regexes Discord accepts: the syntax of Rust's ``regex`` crate.

Discord's auto-moderation docs: "Only Rust flavored regex is currently supported". The crate
refuses what needs backtracking -- look-around, backreferences, atomic groups, conditionals
-- and escapes it does not know, some of which RE2 (the engine modbridge's own rules use)
accepts: ``\\Q...\\E`` quoting and ``\\C`` (any byte). :func:`rust_regex_error` finds those
with a scan of the pattern; what the scan lets through is then compiled (the simulator runs
accepted patterns with RE2, whose syntax is the crate's for everything used in practice).
"""

from __future__ import annotations

from typing import Final

#: Letters the crate knows after a backslash (``\\p{..}``/``\\x..``/``\\u..`` take more).
_LETTER_ESCAPES: Final = frozenset("aftnrvABzbBdDsSwWpPxuU")
#: What may follow ``(?``: flags, a non-capturing group, a named group.
_GROUP_FLAGS: Final = frozenset("imsuxR-")


def rust_regex_error(pattern: str) -> str | None:
    """Why the Rust regex crate refuses ``pattern`` (its own wording), or None if it parses."""
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            error = _escape_error(pattern, index + 1)
            if error is not None:
                return error
            index += 2
            continue
        if char == "(" and pattern.startswith("(?", index) and not _in_class(pattern, index):
            error = _group_error(pattern[index + 2 :])
            if error is not None:
                return error
        index += 1
    return None


def _escape_error(pattern: str, at: int) -> str | None:
    if at >= len(pattern):
        return "incomplete escape sequence, reached end of pattern prematurely"
    char = pattern[at]
    if char.isdigit():
        return "backreferences are not supported"
    if char == "k":
        return "backreferences are not supported"
    if char.isascii() and char.isalpha() and char not in _LETTER_ESCAPES:
        return "unrecognized escape sequence"
    return None


def _group_error(rest: str) -> str | None:
    if rest.startswith(("=", "!", "<=", "<!")):
        return "look-around, including look-ahead and look-behind, is not supported"
    if rest.startswith(("P<", "<")):
        return None  # a named group
    if rest.startswith(">"):
        return "atomic groups are not supported"
    flags = ""
    for char in rest:
        if char in ":)":
            return None if char == ":" or flags else "empty flag group"
        if char not in _GROUP_FLAGS:
            return "unrecognized flag"
        flags += char
    return "expected flag but got end of regex"


def _in_class(pattern: str, index: int) -> bool:
    """Whether ``index`` is inside a ``[...]`` class (where ``(`` is a literal)."""
    depth = 0
    position = 0
    while position < index:
        char = pattern[position]
        if char == "\\":
            position += 2
            continue
        if char == "[":
            depth += 1
            # "[]" and "[^]" start a class whose first member is "]".
            if pattern.startswith("]", position + 1) or pattern.startswith("^]", position + 1):
                position += 2 if pattern[position + 1] == "]" else 3
                continue
        elif char == "]" and depth:
            depth -= 1
        position += 1
    return depth > 0
