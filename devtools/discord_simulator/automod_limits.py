"""Discord's limits on AutoMod rules, checked on create and edit as Discord checks them.

From the Auto Moderation resource of Discord's API documentation:

* rules per guild by trigger type: KEYWORD 6, SPAM 1, KEYWORD_PRESET 1, MENTION_SPAM 1,
  MEMBER_PROFILE 1;
* trigger metadata: ``keyword_filter`` up to 1,000 entries of up to 60 characters;
  ``regex_patterns`` up to 10 of up to 260 characters, Rust regex syntax; ``allow_list`` up to
  100 entries of up to 60 characters (1,000 for KEYWORD_PRESET); ``mention_total_limit`` up
  to 50;
* ``exempt_roles`` up to 20, ``exempt_channels`` up to 50.

Not stated there and chosen here from what Discord's client enforces: a name of 1 to 100
characters and 1 to 5 actions (one of each action type). Refusals are 400 50035 Invalid Form
Body naming the field, as for every other body Discord validates.
"""

from __future__ import annotations

from typing import Any, Final

from .entities import JSON, Guild, SimulatorError, User
from .responses import ApiError, invalid_form
from .rust_regex import rust_regex_error
from .state import World

KEYWORD: Final = 1
SPAM: Final = 3
KEYWORD_PRESET: Final = 4
MENTION_SPAM: Final = 5
MEMBER_PROFILE: Final = 6
RULES_PER_GUILD: Final = {
    KEYWORD: 6,
    SPAM: 1,
    KEYWORD_PRESET: 1,
    MENTION_SPAM: 1,
    MEMBER_PROFILE: 1,
}

MAX_KEYWORDS: Final = 1000
MAX_KEYWORD_LENGTH: Final = 60
MAX_REGEXES: Final = 10
MAX_REGEX_LENGTH: Final = 260
MAX_ALLOW: Final = 100
MAX_PRESET_ALLOW: Final = 1000
MAX_MENTIONS: Final = 50
MAX_EXEMPT_ROLES: Final = 20
MAX_EXEMPT_CHANNELS: Final = 50
MAX_NAME_LENGTH: Final = 100
MAX_ACTIONS: Final = 5


def check_rule(guild: Guild, rule: JSON, *, replacing: int | None = None) -> None:
    """Raise Discord's 400 unless ``rule`` (a stored rule's shape) fits the limits.

    ``replacing`` is the id of the rule being edited: it does not count against the cap.
    """
    trigger_type = rule["trigger_type"]
    if trigger_type not in RULES_PER_GUILD:
        raise invalid_form(
            "trigger_type", "BASE_TYPE_CHOICES", "Value must be one of (1, 3, 4, 5, 6)."
        )
    others = [
        r
        for rule_id, r in guild.automod_rules.items()
        if rule_id != replacing and r.get("trigger_type") == trigger_type
    ]
    cap = RULES_PER_GUILD[trigger_type]
    if len(others) >= cap:
        raise invalid_form(
            "trigger_type",
            "AUTO_MODERATION_MAX_RULES_OF_TYPE_EXCEEDED",
            f"Maximum number of rules of this type reached ({cap}).",
        )
    name = str(rule.get("name") or "")
    _count("name", name, MAX_NAME_LENGTH, minimum=1)
    _count("actions", rule.get("actions") or [], MAX_ACTIONS, minimum=1)
    _count("exempt_roles", rule["exempt_roles"], MAX_EXEMPT_ROLES)
    _count("exempt_channels", rule["exempt_channels"], MAX_EXEMPT_CHANNELS)
    check_trigger(rule["trigger_metadata"], trigger_type)


def hand_made_rule(
    world: World, guild: Guild, name: str, creator: User, keywords: list[str], trigger_type: int
) -> JSON:
    """A rule as a moderator makes it in Discord's app: blocks, enabled, checked."""
    rule: JSON = {
        "id": str(world.new_id()),
        "guild_id": str(guild.id),
        "creator_id": str(creator.id),
        "name": name,
        "event_type": 1,
        "trigger_type": trigger_type,
        "trigger_metadata": {"keyword_filter": keywords},
        "actions": [{"type": 1, "metadata": {}}],
        "enabled": True,
        "exempt_roles": [],
        "exempt_channels": [],
    }
    try:
        check_rule(guild, rule)
    except ApiError as error:
        raise SimulatorError(str(error)) from None
    return rule


def check_trigger(metadata: JSON, trigger_type: int) -> None:
    """The trigger metadata's limits, regexes included."""
    where = "trigger_metadata."
    keywords = _strings(metadata, "keyword_filter")
    _count(where + "keyword_filter", keywords, MAX_KEYWORDS)
    for index, keyword in enumerate(keywords):
        _count(f"{where}keyword_filter.{index}", keyword, MAX_KEYWORD_LENGTH, minimum=1)
    regexes = _strings(metadata, "regex_patterns")
    _count(where + "regex_patterns", regexes, MAX_REGEXES)
    for index, pattern in enumerate(regexes):
        field = f"{where}regex_patterns.{index}"
        _count(field, pattern, MAX_REGEX_LENGTH, minimum=1)
        error = rust_regex_error(pattern)
        if error is not None:
            raise invalid_form(
                field, "AUTO_MODERATION_INVALID_REGEX", f"Invalid regex pattern: {error}"
            )
    allow = _strings(metadata, "allow_list")
    _count(where + "allow_list", allow, MAX_PRESET_ALLOW if trigger_type == 4 else MAX_ALLOW)
    for index, entry in enumerate(allow):
        _count(f"{where}allow_list.{index}", entry, MAX_KEYWORD_LENGTH, minimum=1)
    mentions = metadata.get("mention_total_limit")
    if mentions is not None and not 0 <= int(mentions) <= MAX_MENTIONS:
        raise invalid_form(
            where + "mention_total_limit", "NUMBER_TYPE_MAX", f"Must be at most {MAX_MENTIONS}."
        )


def _strings(metadata: JSON, key: str) -> list[str]:
    return [str(value) for value in metadata.get(key) or []]


def _count(field: str, values: list[Any] | str, maximum: int, *, minimum: int = 0) -> None:
    """A list's entries or a string's characters, as Discord counts both: ``len``."""
    if not minimum <= len(values) <= maximum:
        raise invalid_form(
            field, "BASE_TYPE_BAD_LENGTH", f"Must be between {minimum} and {maximum} in length."
        )
