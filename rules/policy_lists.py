"""Matrix policy lists: which rules are in force, and whom they ban. Pure and synchronous.

A policy list is a room whose ``m.policy.rule.user|server|room`` state events (older lists:
``org.matrix.mjolnir.rule.*``) each name an entity by a glob (``*`` any run of characters,
``?`` one character) and a recommendation. Only ``m.ban`` is acted on. A later event with
the same state key replaces a rule; one with empty content removes it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from datetime import datetime

from domain.model import ListRule

BAN_RECOMMENDATIONS = frozenset({"m.ban", "org.matrix.mjolnir.ban"})


@functools.lru_cache(maxsize=4096)
def _glob(pattern: str, fold: bool) -> re.Pattern[str]:
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if fold else 0))


def glob_matches(pattern: str, value: str, *, fold: bool = False) -> bool:
    """Whether ``value`` matches the Matrix glob ``pattern`` as a whole (``fold``: ignoring
    case, as server names are compared)."""
    if is_literal(pattern):
        return pattern.lower() == value.lower() if fold else pattern == value
    return _glob(pattern, fold).fullmatch(value) is not None


def is_literal(pattern: str) -> bool:
    """Whether a rule names exactly one entity (no ``*`` or ``?``)."""
    return "*" not in pattern and "?" not in pattern


def server_of(user_id: str) -> str:
    """The server part of a Matrix user id (``@ann:example.org:8448`` -> ``example.org:8448``)."""
    return user_id.partition(":")[2]


def is_ban(rule: ListRule) -> bool:
    """Whether the rule is in force and recommends a ban."""
    return not rule.removed and rule.recommendation in BAN_RECOMMENDATIONS


def _servers(user_id: str) -> tuple[str, ...]:
    """The names a server rule may give the user's server: with and without its port."""
    server = server_of(user_id)
    host, _, port = server.rpartition(":")
    return (server, host) if host and port.isdigit() else (server,)


def bans_user(rule: ListRule, user_id: str) -> bool:
    """Whether ``rule`` bans ``user_id``: a user rule matching the id, or a server rule
    matching its server (without or with the port)."""
    if not is_ban(rule):
        return False
    if rule.kind == "user":
        return glob_matches(rule.entity, user_id)
    if rule.kind == "server":
        return any(glob_matches(rule.entity, name, fold=True) for name in _servers(user_id))
    return False


class ListBook:
    """Every rule of every subscribed list, as the lists' state says now.

    Ban rules naming one user or one server (most of a real list) are indexed, so checking
    a member against thousands of rules costs a few lookups plus the glob rules.
    """

    def __init__(self) -> None:
        self._rules: dict[str, ListRule] = {}
        self._updated: dict[str, datetime] = {}
        self._users: dict[str, set[str]] = {}  # a literal user id -> rule keys
        self._servers: dict[str, set[str]] = {}  # a literal server name (lower) -> rule keys
        self._globs: dict[str, ListRule] = {}  # the other ban rules, by key

    def update(self, rule: ListRule) -> ListRule | None:
        """Take in a rule event; return the rule it replaced (or removed), if any."""
        previous = self._rules.pop(rule.key, None)
        if previous is not None:
            self._unindex(previous)
        if not rule.removed:
            self._rules[rule.key] = rule
            self._index(rule)
        last = self._updated.get(rule.list_room)
        if last is None or rule.ts > last:
            self._updated[rule.list_room] = rule.ts
        return previous

    def _slot(self, rule: ListRule) -> set[str] | None:
        """The literal index a ban rule belongs in (None: a glob, or not a ban)."""
        if not is_ban(rule) or not is_literal(rule.entity):
            return None
        if rule.kind == "user":
            return self._users.setdefault(rule.entity, set())
        if rule.kind == "server":
            return self._servers.setdefault(rule.entity.lower(), set())
        return None

    def _index(self, rule: ListRule) -> None:
        slot = self._slot(rule)
        if slot is not None:
            slot.add(rule.key)
        elif is_ban(rule) and rule.kind in ("user", "server"):
            self._globs[rule.key] = rule

    def _unindex(self, rule: ListRule) -> None:
        slot = self._slot(rule)
        if slot is not None:
            slot.discard(rule.key)
        self._globs.pop(rule.key, None)

    def get(self, key: str) -> ListRule | None:
        """The rule in force under ``key``."""
        return self._rules.get(key)

    def bans_for(self, user_id: str) -> list[ListRule]:
        """The rules in force that ban ``user_id``, in a stable order."""
        keys = set(self._users.get(user_id, ()))
        for name in _servers(user_id):
            keys.update(self._servers.get(name.lower(), ()))
        keys.update(k for k, r in self._globs.items() if bans_user(r, user_id))
        return [self._rules[k] for k in sorted(keys)]

    def rules_of(self, list_room: str) -> list[ListRule]:
        """The rules in force in one list."""
        return [r for r in self._rules.values() if r.list_room == list_room]

    def last_update(self, list_room: str) -> datetime | None:
        """When the list's newest rule event was written (None: nothing read yet)."""
        return self._updated.get(list_room)


def count_by_kind(rules: Iterable[ListRule]) -> dict[str, int]:
    """How many rules of each kind (``user``, ``server``, ``room``)."""
    counts: dict[str, int] = {}
    for rule in rules:
        counts[rule.kind] = counts.get(rule.kind, 0) + 1
    return counts
