"""Native AutoMod as the simulator applies it to scripted members' messages.

Only keyword rules (trigger type 1) are evaluated, with Discord's wildcard semantics: ``cat``
matches the word, ``cat*`` a word prefix, ``*cat`` a suffix, ``*cat*`` anywhere. Their regex
patterns run too: the REST routes accept only what Rust's regex crate parses
(:mod:`.rust_regex`), and RE2 runs it (same syntax and semantics for that subset; a pattern
RE2 cannot compile is stored but never matches). Regexes match as written: case matters
unless the pattern says ``(?i)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import re2

from .entities import JSON, Guild, Member, SimulatorError

KEYWORD: Final = 1
BLOCK_MESSAGE: Final = 1
SEND_ALERT_MESSAGE: Final = 2
TIMEOUT: Final = 3


@dataclass(frozen=True, slots=True)
class Match:
    """A rule that a message triggered, and the keyword and text that triggered it."""

    rule: JSON
    keyword: str
    matched: str

    @property
    def blocks(self) -> bool:
        """Whether the rule's actions stop the message from being posted."""
        return any(a.get("type") == BLOCK_MESSAGE for a in self.rule.get("actions", []))


class MessageBlocked(SimulatorError):
    """AutoMod blocked a scripted member's message; it was never posted."""

    def __init__(self, matches: list[Match]) -> None:
        super().__init__(f"blocked by AutoMod rule(s) {[m.rule['name'] for m in matches]}")
        self.matches = matches


def _pattern(keyword: str) -> re.Pattern[str]:
    core = re.escape(keyword.strip("*"))
    prefix = "" if keyword.startswith("*") else r"\b"
    suffix = "" if keyword.endswith("*") else r"\b"
    return re.compile(prefix + core + suffix, re.IGNORECASE)


def find_matches(guild: Guild, member: Member, channel_id: int, content: str) -> list[Match]:
    """The enabled keyword rules of ``guild`` that this message triggers."""
    found: list[Match] = []
    for rule in guild.automod_rules.values():
        if not rule.get("enabled") or rule.get("trigger_type") != KEYWORD:
            continue
        if str(channel_id) in rule.get("exempt_channels", []):
            continue
        if any(str(r) in rule.get("exempt_roles", []) for r in member.roles):
            continue
        metadata = rule.get("trigger_metadata") or {}
        # An allow-listed word covers the keyword hits inside it ("*cat*" allowing
        # "concatenate"): Discord's "substrings which should not trigger the rule".
        allowed = [
            m.span()
            for k in metadata.get("allow_list") or []
            for m in _pattern(str(k)).finditer(content)
        ]
        triggers: list[tuple[str, re.Pattern[str] | None]]
        triggers = [(str(k), _pattern(str(k))) for k in metadata.get("keyword_filter") or []]
        triggers += [(str(r), _regex(str(r))) for r in metadata.get("regex_patterns") or []]
        for trigger, pattern in triggers:
            if pattern is None:
                continue
            hit = next(
                (
                    h
                    for h in pattern.finditer(content)
                    if not any(a <= h.start() and h.end() <= b for a, b in allowed)
                ),
                None,
            )
            if hit:
                found.append(Match(rule=rule, keyword=trigger, matched=hit.group(0)))
                break
    return found


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str] | None:
    # re2's compiled patterns answer finditer/start/end/group as re's do.
    try:
        compiled: re.Pattern[str] = re2.compile(pattern)
    except re2.error:
        return None
    return compiled


def execution_payload(
    match: Match,
    action: JSON,
    *,
    guild_id: int,
    user_id: int,
    channel_id: int | None,
    content: str,
    message_id: int | None = None,
) -> JSON:
    """AUTO_MODERATION_ACTION_EXECUTION data for one action of a triggered rule."""
    return {
        "guild_id": str(guild_id),
        "action": action,
        "rule_id": match.rule["id"],
        "rule_trigger_type": match.rule.get("trigger_type", KEYWORD),
        "user_id": str(user_id),
        "channel_id": None if channel_id is None else str(channel_id),
        "message_id": None if message_id is None else str(message_id),
        "alert_system_message_id": None,
        "content": content,
        "matched_keyword": match.keyword,
        "matched_content": match.matched,
    }
