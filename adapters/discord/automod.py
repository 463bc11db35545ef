"""Mirroring modbridge's keyword and contact-detail rules into Discord's native AutoMod.

Native AutoMod blocks a message before anyone sees it, which modbridge's own pipeline (it
reads the message after it was posted) cannot do. The core builds :class:`AutomodSpec` values
from its policy; :func:`plan` fits them into Discord's limits and :class:`AutomodMirror`
creates, updates or deletes the guild's rules so that they match, by name: the rules
modbridge owns are the ones the bot created whose name starts with :data:`PREFIX`, so a
restart updates them instead of adding copies, and moderators' own rules are left alone.

Discord's limits (keyword rules): at most 6 per guild, 1,000 keywords of up to 60 characters
and 10 regexes of up to 260 characters per rule, 20 exempt roles and 50 exempt channels. What
does not fit is skipped and logged.

The policy's exemptions go along: the rule's exempt roles and channels, and the moderator
roles when the rule exempts moderators, so AutoMod never blocks whom our engine would let speak.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import discord

log = logging.getLogger(__name__)

PREFIX: Final = "modbridge: "
MAX_RULES: Final = 6
MAX_KEYWORDS: Final = 1000
MAX_REGEXES: Final = 10
MAX_KEYWORD_LENGTH: Final = 60
MAX_REGEX_LENGTH: Final = 260
MAX_NAME_LENGTH: Final = 100
MAX_EXEMPT_ROLES: Final = 20
MAX_EXEMPT_CHANNELS: Final = 50
MAX_ALLOW: Final = 100


@dataclass(frozen=True, slots=True)
class AutomodSpec:
    """One modbridge rule to mirror: Discord keywords (``*`` wildcards) and regexes."""

    name: str
    keywords: tuple[str, ...] = ()
    regexes: tuple[str, ...] = ()
    exempt_roles: tuple[int, ...] = ()
    exempt_channels: tuple[int, ...] = ()
    allow: tuple[str, ...] = ()  # Discord's allow_list: matches containing these pass


@dataclass(frozen=True, slots=True)
class PlannedRule:
    """One native AutoMod rule as it should exist in every guild."""

    name: str
    keywords: tuple[str, ...]
    regexes: tuple[str, ...]
    exempt_roles: tuple[int, ...] = ()
    exempt_channels: tuple[int, ...] = ()
    policy_id: str = ""  # the policy rule it mirrors (the name may be cut or numbered)
    allow: tuple[str, ...] = ()


def plan(specs: Sequence[AutomodSpec], *, max_rules: int = MAX_RULES) -> list[PlannedRule]:
    """Fit the specs into Discord's limits: split long keyword lists, skip what cannot fit.

    Pure. A spec with more than 1,000 keywords becomes several rules ("name (2)", ...); its
    regexes go 10 per rule into those; regexes beyond them and rules beyond ``max_rules`` are
    skipped (and logged with counts, never the patterns, which may be sensitive).
    """
    planned: list[PlannedRule] = []
    for spec in specs:
        keywords = [k for k in dict.fromkeys(spec.keywords) if 0 < len(k) <= MAX_KEYWORD_LENGTH]
        regexes = [r for r in dict.fromkeys(spec.regexes) if 0 < len(r) <= MAX_REGEX_LENGTH]
        too_long = len(set(spec.keywords)) - len(keywords) + len(set(spec.regexes)) - len(regexes)
        if too_long:
            log.warning("automod %s: %d entries too long for Discord, skipped", spec.name, too_long)
        chunks = max(1, -(-len(keywords) // MAX_KEYWORDS))
        fitting = regexes[: chunks * MAX_REGEXES]
        if len(regexes) > len(fitting):
            log.warning(
                "automod %s: %d regexes beyond Discord's %d per rule, skipped",
                spec.name,
                len(regexes) - len(fitting),
                MAX_REGEXES,
            )
        roles = tuple(dict.fromkeys(spec.exempt_roles))
        channels = tuple(dict.fromkeys(spec.exempt_channels))
        if len(roles) > MAX_EXEMPT_ROLES or len(channels) > MAX_EXEMPT_CHANNELS:
            log.warning(
                "automod %s: Discord allows %d exempt roles and %d exempt channels; the rest "
                "are not exempt from the native rule (our engine still exempts them)",
                spec.name, MAX_EXEMPT_ROLES, MAX_EXEMPT_CHANNELS,
            )  # fmt: skip
        exempt = {
            "exempt_roles": roles[:MAX_EXEMPT_ROLES],
            "exempt_channels": channels[:MAX_EXEMPT_CHANNELS],
        }
        allow = tuple(a for a in dict.fromkeys(spec.allow) if len(a) <= MAX_KEYWORD_LENGTH)
        if len(allow) > MAX_ALLOW:
            log.warning("automod %s: %d allowed entries beyond Discord's %d, not mirrored",
                        spec.name, len(allow) - MAX_ALLOW, MAX_ALLOW)  # fmt: skip
        for index in range(chunks):
            kw = tuple(keywords[index * MAX_KEYWORDS : (index + 1) * MAX_KEYWORDS])
            rx = tuple(fitting[index * MAX_REGEXES : (index + 1) * MAX_REGEXES])
            if not kw and not rx:
                continue
            suffix = f" ({index + 1})" if index else ""
            name = (PREFIX + spec.name)[: MAX_NAME_LENGTH - len(suffix)] + suffix
            planned.append(
                PlannedRule(
                    name=name,
                    keywords=kw,
                    regexes=rx,
                    policy_id=spec.name,
                    allow=allow[:MAX_ALLOW],
                    **exempt,
                )
            )
    if len(planned) > max_rules:
        skipped = planned[max_rules:]
        log.warning(
            "automod: Discord allows %d keyword rules per guild; %d rules skipped (%s)",
            max_rules,
            len(skipped),
            ", ".join(rule.name for rule in skipped),
        )
        planned = planned[:max_rules]
    return planned


class AutomodMirror:
    """Keeps each guild's native AutoMod rules equal to the plan, and names rules by id."""

    def __init__(self, client: discord.Client, specs: Sequence[AutomodSpec]) -> None:
        self._client = client
        self._planned = plan(specs)
        #: Rule id -> name, for AUTO_MODERATION_ACTION_EXECUTION (which carries only the id).
        self.rule_names: dict[int, str] = {}
        self._policy_ids = {rule.name: rule.policy_id for rule in self._planned}

    def replan(self, specs: Sequence[AutomodSpec]) -> None:
        """Take a new policy's rules (the next sync makes the guilds match them)."""
        self._planned = plan(specs)
        self._policy_ids.update({rule.name: rule.policy_id for rule in self._planned})

    async def sync(self, guild: discord.Guild) -> None:
        """Create, update and delete the guild's modbridge rules so they match the plan."""
        me = self._client.user
        existing = await guild.fetch_automod_rules()
        mine = {
            rule.name: rule
            for rule in existing
            if rule.name.startswith(PREFIX) and me is not None and rule.creator_id == me.id
        }
        for rule in existing:
            self.rule_names[rule.id] = rule.name
        wanted = {rule.name for rule in self._planned}
        for name, stale in mine.items():
            if name not in wanted:
                await stale.delete(reason="modbridge: rule no longer in the policy")
                self.rule_names.pop(stale.id, None)
        for planned in self._planned:
            trigger = discord.AutoModTrigger(
                type=discord.AutoModRuleTriggerType.keyword,
                keyword_filter=list(planned.keywords),
                regex_patterns=list(planned.regexes),
                allow_list=list(planned.allow),
            )
            actions = [discord.AutoModRuleAction(type=discord.AutoModRuleActionType.block_message)]
            roles = [discord.Object(id=r) for r in planned.exempt_roles]
            channels = [discord.Object(id=c) for c in planned.exempt_channels]
            current = mine.get(planned.name)
            if current is None:
                created = await guild.create_automod_rule(
                    name=planned.name,
                    event_type=discord.AutoModRuleEventType.message_send,
                    trigger=trigger,
                    actions=actions,
                    enabled=True,
                    exempt_roles=roles,
                    exempt_channels=channels,
                    reason="modbridge: mirror of the conduct policy",
                )
                self.rule_names[created.id] = created.name
            elif not _same(current, planned):
                await current.edit(
                    trigger=trigger,
                    actions=actions,
                    enabled=True,
                    exempt_roles=roles,
                    exempt_channels=channels,
                    reason="modbridge: the conduct policy changed",
                )
        log.info("automod rules in guild %s in step (%d)", guild.id, len(self._planned))

    async def rule_name(self, guild: discord.Guild | None, rule_id: int) -> str:
        """The name of a rule (ours or a moderator's), fetched once if not known yet."""
        name = self.rule_names.get(rule_id)
        if name is None and guild is not None:
            try:
                name = (await guild.fetch_automod_rule(rule_id)).name
            except discord.HTTPException:
                name = None
            if name is not None:
                self.rule_names[rule_id] = name
        return name or str(rule_id)

    async def policy_rule(self, guild: discord.Guild | None, rule_id: int) -> str | None:
        """The id of the policy rule a native rule mirrors; None for moderators' own rules."""
        name = await self.rule_name(guild, rule_id)
        if name in self._policy_ids:
            return self._policy_ids[name]
        if not name.startswith(PREFIX):
            return None
        # Made for an earlier policy, before a restart: "modbridge: insults (2)" -> "insults".
        return _NUMBERED.sub("", name.removeprefix(PREFIX))


_NUMBERED = re.compile(r" \(\d+\)$")


def _same(rule: discord.AutoModRule, planned: PlannedRule) -> bool:
    trigger = rule.trigger
    return (
        rule.enabled
        and list(trigger.keyword_filter) == list(planned.keywords)
        and list(trigger.regex_patterns) == list(planned.regexes)
        and list(trigger.allow_list) == list(planned.allow)
        and [a.type for a in rule.actions] == [discord.AutoModRuleActionType.block_message]
        and sorted(rule.exempt_role_ids) == sorted(planned.exempt_roles)
        and sorted(rule.exempt_channel_ids) == sorted(planned.exempt_channels)
    )
