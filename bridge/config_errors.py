"""The configuration mistakes pydantic alone words badly, each turned into one line that
names the key (or the environment variable) and says what to write instead."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

ENV_PREFIX = "MODBRIDGE_"

# What a value that does not match a key's pattern should look like.
PATTERN_HINTS = {
    "default_region": 'must be a two-letter country code, upper case, e.g. "KE"',
    "user_id": 'must be a full Matrix user id, e.g. "@modbridge:example.org"',
    "listen": 'must be an address and a port, e.g. "127.0.0.1:9187"',
}

# Strict types: a quoted "6" or "yes" is a mistake to point out, not to guess at.
TYPE_HINTS = {
    "bool_type": "must be true or false (without quotes)",
    "bool_parsing": "must be true or false (without quotes)",
    "int_type": "must be a whole number (without quotes)",
    "int_parsing": "must be a whole number (without quotes)",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number (without quotes)",
    "float_parsing": "must be a number (without quotes)",
    "string_type": "must be text in quotes",
}


def pattern_hint(loc: Sequence[int | str]) -> str | None:
    """The hint for a pattern mismatch at ``loc``, if the key has one."""
    last = next((part for part in reversed(loc) if isinstance(part, str)), "")
    if last == "listen" and loc[0] != "http":
        return None  # [antispam] listen words its own refusal
    return PATTERN_HINTS.get(last)


def env_variable(loc: Sequence[int | str], data: Mapping[str, Any]) -> str | None:
    """The ``MODBRIDGE_`` variable an unknown key at ``loc`` came from, when it is not in the
    file but such a variable is set (a typo in the environment, not in the file)."""
    node: Any = data
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
    else:
        return None  # the key is in the file
    wanted = ENV_PREFIX + "__".join(str(p) for p in loc).upper()
    return next((name for name in os.environ if name.upper() == wanted), None)


def strict_errors(model: type[BaseModel], data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Type errors in the file's own values that lax validation coerced silently ("6" for a
    number, "yes" for true/false): each section validated again strictly, as JSON (so that
    arrays still make tuples). Settings' own validation ignores ``strict``: hence per field."""
    found: list[dict[str, Any]] = []
    for name, field in model.model_fields.items():
        if name not in data or field.annotation is None:
            continue
        try:
            TypeAdapter(field.annotation).validate_json(
                json.dumps(data[name], default=str), strict=True
            )
        except ValidationError as exc:
            found.extend(
                {**e, "loc": (name, *e["loc"])} for e in exc.errors() if e["type"] in TYPE_HINTS
            )
    return found


def duplicate_rule_ids(ids: Sequence[str]) -> str | None:
    """One line about the first rule id used twice, or None."""
    first: dict[str, int] = {}
    for index, rule_id in enumerate(ids):
        if rule_id in first:
            return (
                f"rules[{index}] (id {rule_id!r}): two rules have the id {rule_id!r} "
                f"(rules[{first[rule_id]}] and rules[{index}]); ids must be unique"
            )
        first[rule_id] = index
    return None


def regex_syntax(pattern: str) -> str | None:
    """Why ``pattern`` is not a regular expression at all (before any talk of linear time)."""
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"pattern {pattern!r} is not a valid regular expression: {exc}"
    return None


def discord_problems(guilds: Sequence[int], mod_channels: Mapping[str, int]) -> list[str]:
    """[discord] that names no server, or a moderators' channel for a server it does not."""
    problems = []
    if not guilds:
        problems.append(
            "discord.guilds: list the ids of the Discord servers to moderate, "
            "e.g. guilds = [123456789012345678]"
        )
    known = {str(g) for g in guilds}
    problems.extend(
        f"discord.mod_channels: guild {guild} is not in discord.guilds "
        "(a typo in its id, or add it to guilds)"
        for guild in mod_channels
        if guild not in known
    )
    return problems


def missing_secrets(
    *, matrix: bool, matrix_secret: bool, discord: bool, discord_secret: bool, antispam: bool,
    antispam_secret: bool,
) -> list[str]:  # fmt: skip
    """What `modbridge run` will refuse for lack of a secret in the environment."""
    out = []
    if matrix and not matrix_secret:
        out.append(
            "[matrix] needs MODBRIDGE_MATRIX__PASSWORD or MODBRIDGE_MATRIX__ACCESS_TOKEN in the "
            "environment"
        )
    if discord and not discord_secret:
        out.append("[discord] needs MODBRIDGE_DISCORD__TOKEN in the environment")
    if antispam and not antispam_secret:
        out.append("[antispam] needs MODBRIDGE_ANTISPAM__SECRET in the environment")
    return out
