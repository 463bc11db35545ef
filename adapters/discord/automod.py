"""Mirroring modbridge's keyword and contact-detail rules into Discord's native AutoMod.

Native AutoMod blocks a message before anyone sees it, which modbridge's own pipeline (it
reads the message after it was posted) cannot do. :func:`rules.automod.automod_specs` decides
what may be mirrored, as :class:`domain.automod.AutomodSpec` values; :func:`plan` fits them
into Discord's limits and :class:`AutomodMirror` creates, updates or deletes the guild's
rules so that they match, by name: the rules modbridge owns are the ones the bot created
whose name starts with :data:`PREFIX`, so a restart updates them instead of adding copies,
and moderators' own rules are left alone.

Discord's limits (keyword rules): at most 6 per guild -- the moderators' own keyword rules
count too --, 1,000 keywords of up to 60 characters and 10 regexes of up to 260 characters
(Rust regex syntax) per rule, 100 allow-list entries, 20 exempt roles and 50 exempt channels.
What does not fit is skipped; the sync goes on past a rule Discord refuses, and returns what
could not be mirrored so the connection tells the moderators in their channel.

The policy's exemptions go along: the rule's exempt roles and channels, and the moderator
roles when the rule exempts moderators, so AutoMod never blocks whom our engine would let speak.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import discord

from domain.automod import AutomodSpec

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
class PlannedRule:
    """One native AutoMod rule as it should exist in every guild."""

    name: str
    keywords: tuple[str, ...]
    regexes: tuple[str, ...]
    exempt_roles: tuple[int, ...] = ()
    exempt_channels: tuple[int, ...] = ()
    policy_id: str = ""  # the policy rule it mirrors (the name may be cut or numbered)
    allow: tuple[str, ...] = ()
    #: What Discord's limits left out of the policy rule, for the moderators.
    notes: tuple[str, ...] = ()


def plan(specs: Sequence[AutomodSpec], *, max_rules: int = MAX_RULES) -> list[PlannedRule]:
    """Fit the specs into Discord's limits: split long keyword lists, skip what cannot fit.

    Pure. A spec with more than 1,000 keywords becomes several rules ("name (2)", ...); its
    regexes go 10 per rule into those; regexes beyond them and rules beyond ``max_rules`` are
    skipped. What was left out is logged and kept in the rule's ``notes`` for the moderators
    (counts only, never the patterns, which may be sensitive).
    """
    planned: list[PlannedRule] = []
    for spec in specs:
        keywords = [k for k in dict.fromkeys(spec.keywords) if 0 < len(k) <= MAX_KEYWORD_LENGTH]
        regexes = [r for r in dict.fromkeys(spec.regexes) if 0 < len(r) <= MAX_REGEX_LENGTH]
        chunks = max(1, -(-len(keywords) // MAX_KEYWORDS))
        fitting = regexes[: chunks * MAX_REGEXES]
        roles = tuple(dict.fromkeys(spec.exempt_roles))
        channels = tuple(dict.fromkeys(spec.exempt_channels))
        allow = tuple(a for a in dict.fromkeys(spec.allow) if 0 < len(a) <= MAX_KEYWORD_LENGTH)
        notes = _notes(spec, keywords, regexes, fitting, allow)
        for note in notes:
            log.warning("%s", note)
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
                    exempt_roles=roles[:MAX_EXEMPT_ROLES],
                    exempt_channels=channels[:MAX_EXEMPT_CHANNELS],
                    notes=() if index else notes,
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


def _notes(
    spec: AutomodSpec,
    keywords: list[str],
    regexes: list[str],
    fitting: list[str],
    allow: tuple[str, ...],
) -> tuple[str, ...]:
    """What of ``spec`` Discord's limits leave out, in words for the moderators."""
    notes = []
    too_long = len(set(spec.keywords)) - len(keywords) + len(set(spec.regexes)) - len(regexes)
    if too_long:
        notes.append(
            f"automod {spec.name}: {too_long} entries too long for Discord "
            f"({MAX_KEYWORD_LENGTH} characters a keyword, {MAX_REGEX_LENGTH} a regex), skipped"
        )
    if len(regexes) > len(fitting):
        notes.append(
            f"automod {spec.name}: {len(regexes) - len(fitting)} regexes beyond Discord's "
            f"{MAX_REGEXES} per rule, skipped"
        )
    if len(set(spec.exempt_roles)) > MAX_EXEMPT_ROLES or (
        len(set(spec.exempt_channels)) > MAX_EXEMPT_CHANNELS
    ):
        notes.append(
            f"automod {spec.name}: Discord allows {MAX_EXEMPT_ROLES} exempt roles and "
            f"{MAX_EXEMPT_CHANNELS} exempt channels; the rest are not exempt from the native "
            "rule (modbridge's own engine still exempts them)"
        )
    if len(allow) > MAX_ALLOW:
        notes.append(
            f"automod {spec.name}: {len(allow) - MAX_ALLOW} allowed entries beyond Discord's "
            f"{MAX_ALLOW}, not mirrored"
        )
    return tuple(notes)


class AutomodMirror:
    """Keeps each guild's native AutoMod rules equal to the plan, and names rules by id."""

    def __init__(self, client: discord.Client, specs: Sequence[AutomodSpec]) -> None:
        self._client = client
        # Planned without the cap: how many rules fit depends on each guild's own rules.
        self._planned = plan(specs, max_rules=len(specs) * (MAX_RULES + 1))
        #: Rule id -> name, for AUTO_MODERATION_ACTION_EXECUTION (which carries only the id).
        self.rule_names: dict[int, str] = {}
        self._policy_ids = {rule.name: rule.policy_id for rule in self._planned}

    def replan(self, specs: Sequence[AutomodSpec]) -> None:
        """Take a new policy's rules (the next sync makes the guilds match them)."""
        self._planned = plan(specs, max_rules=len(specs) * (MAX_RULES + 1))
        self._policy_ids.update({rule.name: rule.policy_id for rule in self._planned})

    async def sync(self, guild: discord.Guild) -> list[str]:
        """Create, update and delete the guild's modbridge rules so they match the plan.

        Returns what could not be mirrored, in words for the moderators (rule names and
        counts, never the patterns). A rule Discord refuses does not stop the others: the
        sync goes on and says so. Only reading the guild's rules can fail the whole sync.
        """
        me = self._client.user
        existing = await guild.fetch_automod_rules()
        mine = {
            rule.name: rule
            for rule in existing
            if rule.name.startswith(PREFIX) and me is not None and rule.creator_id == me.id
        }
        for rule in existing:
            self.rule_names[rule.id] = rule.name
        # The moderators' own keyword rules count against Discord's 6 per guild.
        theirs = sum(
            1
            for rule in existing
            if rule.name not in mine and rule.trigger.type is discord.AutoModRuleTriggerType.keyword
        )
        room = max(0, MAX_RULES - theirs)
        fitting, left_out = self._planned[:room], self._planned[room:]
        problems = [note for rule in fitting for note in rule.notes]
        if left_out:
            problems.append(
                f"{len(left_out)} rule(s) not mirrored into AutoMod ("
                + ", ".join(rule.policy_id for rule in left_out)
                + f"): Discord allows {MAX_RULES} keyword rules per server and "
                f"{theirs} are the moderators' own; modbridge still enforces them after posting"
            )
        wanted = {rule.name for rule in fitting}
        for name, stale in mine.items():
            if name not in wanted:
                try:
                    await stale.delete(reason="modbridge: rule no longer in the policy")
                except discord.HTTPException as exc:
                    problems.append(f"could not delete the old rule {name}: {_said(exc)}")
                    continue
                self.rule_names.pop(stale.id, None)
        for planned in fitting:
            problem = await self._put(guild, planned, mine.get(planned.name))
            if problem:
                problems.append(problem)
        log.info(
            "automod rules in guild %s: %d in step, %d problem(s)",
            guild.id,
            len(fitting),
            len(problems),
        )
        return problems

    async def _put(
        self, guild: discord.Guild, planned: PlannedRule, current: discord.AutoModRule | None
    ) -> str:
        """Create or update one rule; an empty string when done, else what went wrong.

        A rule refused for its regexes (Discord takes Rust regex syntax only, which is
        narrower than RE2's) is made again with its keywords alone.
        """
        try:
            await self._write(guild, planned, current)
        except discord.HTTPException as exc:
            if not planned.regexes or "regex" not in (exc.text or ""):
                return f"rule {planned.policy_id} not mirrored into AutoMod: {_said(exc)}"
            without = dataclasses.replace(planned, regexes=())
            if not without.keywords:
                return (
                    f"rule {planned.policy_id} not mirrored into AutoMod: Discord refused its "
                    "regexes (Rust regex syntax: no look-around, no backreferences)"
                )
            try:
                await self._write(guild, without, current)
            except discord.HTTPException as again:
                return f"rule {planned.policy_id} not mirrored into AutoMod: {_said(again)}"
            return (
                f"rule {planned.policy_id} mirrored without its regexes: Discord refused them "
                "(Rust regex syntax: no look-around, no backreferences)"
            )
        return ""

    async def _write(
        self, guild: discord.Guild, planned: PlannedRule, current: discord.AutoModRule | None
    ) -> None:
        trigger = discord.AutoModTrigger(
            type=discord.AutoModRuleTriggerType.keyword,
            keyword_filter=list(planned.keywords),
            regex_patterns=list(planned.regexes),
            allow_list=list(planned.allow),
        )
        options: dict[str, Any] = {
            "trigger": trigger,
            "actions": [
                discord.AutoModRuleAction(type=discord.AutoModRuleActionType.block_message)
            ],
            "enabled": True,
            "exempt_roles": [discord.Object(id=r) for r in planned.exempt_roles],
            "exempt_channels": [discord.Object(id=c) for c in planned.exempt_channels],
        }
        if current is None:
            created = await guild.create_automod_rule(
                name=planned.name,
                event_type=discord.AutoModRuleEventType.message_send,
                reason="modbridge: mirror of the conduct policy",
                **options,
            )
            self.rule_names[created.id] = created.name
        elif not _same(current, planned):
            await current.edit(reason="modbridge: the conduct policy changed", **options)

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


def _said(exc: discord.HTTPException) -> str:
    """Discord's refusal in a few words: status, code and the fields it named."""
    return f"Discord answered {exc.status} (code {exc.code}) {exc.text or ''}".strip()[:300]


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
