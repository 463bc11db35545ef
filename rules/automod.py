"""What Discord's native AutoMod may mirror of the policy: a conduct decision, pure.

AutoMod blocks a message before anyone sees it, so only enforced rules that delete may be
mirrored, and only where AutoMod's matching cannot block more than our engine would: keyword
rules, and contact-detail rules that also cover members' own contacts (AutoMod cannot tell
a member's own number from someone else's). The rule's exemptions go along (Discord ids only:
Matrix rooms and power levels do not apply there).
"""

from __future__ import annotations

from collections.abc import Sequence

from domain.actions import ActionKind
from domain.automod import AutomodSpec
from domain.model import Mode
from rules.policy import KeywordsRule, PiiRule, Policy

# Rust-regex patterns for Discord AutoMod (a first line of defence; our engine sees more).
KENYAN_PHONE = r"(\+?254|0)[\s.-]?[17]\d{2}[\s.-]?\d{3}[\s.-]?\d{3}"
EMAIL = r"[\w.+-]+@[\w-]+\.[\w.-]+"


def automod_specs(policy: Policy, moderator_roles: Sequence[int] = ()) -> list[AutomodSpec]:
    """The rules Discord's own AutoMod can enforce before anyone sees a message, with the
    rule's exemptions (and the moderator roles, when the rule exempts moderators)."""
    specs = []
    for rule in policy.rules:
        if not isinstance(rule, KeywordsRule | PiiRule) or rule.mode is not Mode.ENFORCE:
            continue
        if not any(action.kind is ActionKind.DELETE for action in rule.actions):
            continue  # blocking is deleting before anyone sees it: only for rules that delete
        if isinstance(rule, PiiRule) and rule.own_contacts != "include":
            continue  # AutoMod cannot tell a member's own number from someone else's
        roles = [int(r) for r in rule.exempt_roles if r.isdigit()]
        if rule.exempt_moderators:
            roles.extend(moderator_roles)
        keywords, regexes, allow = _matching(rule)
        if not keywords and not regexes:
            continue  # everything the rule matches is left to the engine
        specs.append(
            AutomodSpec(
                name=rule.id, keywords=keywords, regexes=regexes, exempt_roles=tuple(roles),
                exempt_channels=tuple(int(c) for c in rule.exempt_channels if c.isdigit()),
                allow=allow,
            )
        )  # fmt: skip
    return specs


def _matching(
    rule: KeywordsRule | PiiRule,
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The rule's keywords, regexes and allow list as AutoMod reads them."""
    if isinstance(rule, KeywordsRule):
        return tuple(rule.words), (), ()
    # AutoMod's allow list cannot follow a number's spaces and dashes: with numbers allowed,
    # phones are left to the engine (which reads them as E.164).
    numbers_allowed = any(entry.startswith("+") for entry in rule.allow)
    # Nor can it tell a role's address at an organisation ("info@...") from a person's at a
    # free mail provider: with role addresses allowed, e-mail is left to the engine too.
    emails = rule.emails and rule.role_addresses == "count"
    regexes = ([KENYAN_PHONE] if rule.phones and not numbers_allowed else []) + (
        [EMAIL] if emails else []
    )
    allow = [f"*{entry}" if entry.startswith("@") else entry for entry in rule.allow
             if not entry.startswith("+")]  # fmt: skip
    return (), tuple(regexes), tuple(allow)
