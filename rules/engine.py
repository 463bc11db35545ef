"""The conduct engine: one message in, one verdict out.

Pure and synchronous. Detectors that need no memory (keywords, regex, contact details,
solicitation) each scan the cleaned text once for all of their rules; the sliding-window
rules keep per-member state here. The caller decides who a message's author is as a member
(linked accounts share one member key) and hands in the member's live strike points (the
service reads them from storage, their one record); without them, an in-memory ledger
counts points (``modbridge rules eval``: a stream of messages with no storage behind it).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import TypeAlias

from domain.model import (
    Account,
    Action,
    Author,
    Ban,
    DeleteMessage,
    Message,
    Mode,
    Mute,
    NotifyModerators,
    Platform,
    Remove,
    RuleHit,
    Verdict,
    Warn,
)
from rules.escalation import Strike, StrikeLedger
from rules.keywords import KeywordIndex
from rules.pii import Contact, find_contacts, is_own
from rules.policy import (
    ActionSpec,
    DuplicateRule,
    FloodRule,
    KeywordsRule,
    LinksRule,
    MentionsRule,
    PiiRule,
    Policy,
    RegexRule,
    RuleConfig,
    SolicitationRule,
)
from rules.regex import RegexIndex
from rules.solicitation import find_solicitation
from rules.text import clean
from rules.windows import (
    DuplicateDetector,
    FloodDetector,
    LinksDetector,
    MentionsDetector,
    find_links,
)

_REASONS = {
    "keywords": "a listed word or phrase",
    "regex": "a pattern the admins listed",
    "pii": "contact details shared in a community space",
    "solicitation": "asking a member for private contact outside the community",
    "flood": "too many messages too fast",
    "duplicate": "the same message repeated",
    "mentions": "too many mentions",
    "links": "a link that is not allowed",
}
_ORDER = {DeleteMessage: 0, Warn: 1, Mute: 2, Remove: 3, Ban: 4, NotifyModerators: 5}

# A stateless check reads the cleaned text; a stateful one also the member and message.
_Check: TypeAlias = Callable[[str, str, Message], str | None]


def _mask(contact: str) -> str:
    """Contact details are evidence, but repeating them in full would re-share them."""
    if len(contact) <= 6:
        return "*" * len(contact)
    return contact[:4] + "*" * (len(contact) - 6) + contact[-2:]


class Engine:
    """Evaluates messages against one policy; build a new Engine when the policy changes."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.ledger = StrikeLedger(policy.escalation)
        self._keywords = KeywordIndex(
            {r.id: r.words for r in policy.rules if isinstance(r, KeywordsRule)}
        )
        self._regexes = RegexIndex(
            {r.id: r.patterns for r in policy.rules if isinstance(r, RegexRule)}
        )
        self._by_id = {rule.id: (i, rule) for i, rule in enumerate(policy.rules)}
        self._stateful: list[FloodDetector | DuplicateDetector | MentionsDetector | LinksDetector]
        self._stateful = []
        # Rules with a detector of their own; keywords and regex rules are found in the
        # per-message index results instead, so hundreds of them cost one scan each.
        self._detectors: list[tuple[int, RuleConfig, _Check]] = []
        for i, rule in enumerate(policy.rules):
            check = self._make_check(rule)
            if check is not None:
                self._detectors.append((i, rule, check))
        self._evaluated = 0
        self._exemptions = any(
            r.exempt_channels or r.exempt_roles or r.exempt_power_level is not None
            for r in policy.rules
        )

    def _make_check(self, rule: RuleConfig) -> _Check | None:
        if isinstance(rule, PiiRule):
            return lambda cleaned, _member, _msg: self._pii(rule, cleaned)
        if isinstance(rule, SolicitationRule):
            return lambda cleaned, _member, _msg: find_solicitation(cleaned)
        if isinstance(rule, FloodRule):
            flood = FloodDetector(rule)
            self._stateful.append(flood)
            return lambda _cleaned, member, msg: flood.check(member, msg.ts)
        if isinstance(rule, DuplicateRule):
            duplicate = DuplicateDetector(rule)
            self._stateful.append(duplicate)
            return lambda cleaned, member, msg: duplicate.check(member, msg.ts, cleaned)
        if isinstance(rule, MentionsRule):
            mentions = MentionsDetector(rule)
            self._stateful.append(mentions)
            return lambda _cleaned, member, msg: mentions.check(member, msg.ts, len(msg.mentions))
        if isinstance(rule, LinksRule):
            links = LinksDetector(rule)
            self._stateful.append(links)
            # The platform's links and those only written in the text ("join discord.gg/x"
            # beside a https link, which platforms do not list); the detector counts each once.
            return lambda _cleaned, member, msg: links.check(
                member, msg.ts, [*msg.links, *find_links(msg.text)]
            )
        return None  # keywords and regex: looked up in the index results

    @staticmethod
    def _pii(rule: PiiRule, cleaned: str) -> str | None:
        for contact in _contacts(
            cleaned, rule.phones, rule.emails, rule.default_region, rule.handles
        ):
            if rule.allows(contact.excerpt):
                continue
            if rule.own_contacts != "include":
                own = is_own(cleaned, contact)
                if own is (rule.own_contacts == "exclude"):
                    continue
            return _mask(contact.excerpt)
        return None

    @staticmethod
    def _exempt(rule: RuleConfig, author: Author, message: Message) -> bool:
        if author.is_bot or (rule.exempt_moderators and author.is_moderator):
            return True
        if message.channel.id in rule.exempt_channels:
            return True
        if rule.exempt_roles and not set(rule.exempt_roles).isdisjoint(author.roles):
            return True
        level = rule.exempt_power_level
        return level is not None and author.power_level is not None and author.power_level >= level

    def evaluate(
        self, message: Message, *, member: str | None = None, points: int | None = None
    ) -> Verdict:
        """Judge ``message``; ``member`` defaults to the author's account key. ``points``:
        the member's live strike points before it (None: the engine's in-memory ledger)."""
        member = member or message.author.account.key
        now = message.ts
        author = message.author
        # Most authors are ordinary members and most policies exempt by moderator status
        # only: then no rule needs its exemptions checked one by one.
        exemptions = self._exemptions or author.is_bot or author.is_moderator
        cleaned = clean(message.text)
        found: list[tuple[int, RuleConfig, str]] = []
        for results in (self._keywords.search(cleaned), self._regexes.search(cleaned)):
            for rule_id, matched in results.items():
                position, rule = self._by_id[rule_id]
                if not (exemptions and self._exempt(rule, author, message)):
                    found.append((position, rule, matched))
        for position, rule, check in self._detectors:
            if exemptions and self._exempt(rule, author, message):
                continue
            detected = check(cleaned, member, message)
            if detected is not None:
                found.append((position, rule, detected))
        if len(found) > 1:
            found.sort(key=_position)
        hits = [
            RuleHit(
                rule_id=rule.id,
                kind=rule.kind,
                clause=rule.clause,
                reason=plain_reason(rule),
                matched=matched,
                points=rule.points,
                mode=rule.mode,
            )
            for _, rule, matched in found
        ]
        self._evaluated += 1
        if self._evaluated % 10_000 == 0:
            for detector in self._stateful:
                detector.forget_idle(now)
        if not hits:
            return Verdict(message_id=message.id, member=member)
        return self._decide(message, member, now, hits, points)

    def rejudge(self, message: Message, verdict: Verdict, *, points: int) -> Verdict:
        """``verdict`` on ``message`` again for a member who had ``points`` live points before
        it (read from storage once the message turned out to earn points): the same hits,
        the ladder's step from there. Detectors are not run again."""
        return self._decide(message, verdict.member, message.ts, list(verdict.hits), points)

    def _decide(
        self, message: Message, member: str, now: datetime, hits: list[RuleHit], points: int | None
    ) -> Verdict:
        enforced = [h for h in hits if h.mode is Mode.ENFORCE]
        gained = sum(h.points for h in enforced)
        if points is None:  # no storage behind the engine: its own ledger counts
            before = self.ledger.total(member, now)
            for hit in enforced:
                if hit.points:
                    self.ledger.add(member, Strike(ts=now, points=hit.points, rule_id=hit.rule_id))
            after = self.ledger.total(member, now)
        else:
            before, after = points, points + gained
        notes: list[str] = []
        specs: list[tuple[ActionSpec, RuleHit]] = [
            (spec, hit) for hit in enforced for spec in self._rule_actions(hit)
        ]
        step = self.ledger.step_crossed(before, after)
        if step is not None and enforced:
            notes.append(f"escalation: {after} live points -> {step}")
            specs.append((step, enforced[0]))
        observed_specs = [
            (spec, hit)
            for hit in hits
            if hit.mode is Mode.OBSERVE
            for spec in self._rule_actions(hit)
        ]
        return Verdict(
            message_id=message.id,
            member=member,
            hits=tuple(hits),
            actions=self._materialise(message, now, specs, enforced),
            observed=self._materialise(message, now, observed_specs, hits),
            points_total=after,
            notes=tuple(notes),
        )

    def _rule_actions(self, hit: RuleHit) -> tuple[ActionSpec, ...]:
        return self._by_id[hit.rule_id][1].actions

    @staticmethod
    def _materialise(
        message: Message,
        now: datetime,
        specs: list[tuple[ActionSpec, RuleHit]],
        hits: list[RuleHit],
    ) -> tuple[Action, ...]:
        """Turn action specs into model actions: one of each kind, the strongest wins."""
        if not specs:
            return ()
        target = message.author.account
        by_kind: dict[str, tuple[ActionSpec, RuleHit]] = {}
        for spec, hit in specs:
            known = by_kind.get(spec.kind)
            longer = (
                known is not None
                and known[0].duration is not None
                and (spec.duration is None or spec.duration > known[0].duration)
            )
            if known is None or longer:
                by_kind[spec.kind] = (spec, hit)
        if "ban" in by_kind:  # a ban makes a kick or a mute pointless
            by_kind.pop("remove", None)
            by_kind.pop("mute", None)
        actions: list[Action] = []
        for kind, (spec, hit) in by_kind.items():
            reason = f"{hit.rule_id}: {hit.reason}"
            if kind == "delete":
                actions.append(
                    DeleteMessage(
                        platform=message.platform,
                        channel_id=message.channel.id,
                        message_id=message.id,
                        reason=reason,
                    )
                )
            elif kind == "warn":
                # The member reads this: the plain reason, not the rule's id.
                actions.append(Warn(target=target, reason=hit.reason, clause=hit.clause))
            elif (action := sanction_for(spec, target, now, reason)) is not None:
                actions.append(action)
            elif kind == "notify":
                rules = ", ".join(f"{h.rule_id} ({h.clause})" for h in hits)
                where = _place(message)
                actions.append(
                    NotifyModerators(
                        text=f"{_named(target)} in {where}, message {message.id}: {rules}"
                    )
                )
        return tuple(sorted(actions, key=lambda a: _ORDER.get(type(a), 9)))


def _position(item: tuple[int, RuleConfig, str]) -> int:
    return item[0]


def _named(account: Account) -> str:
    """``Kip (@kip:hs)`` as moderators read a member (the id alone when no name is known)."""
    shown = account.id if account.platform is Platform.MATRIX else account.key
    name = account.display_name.strip()
    return f"{name} ({shown})" if name and name != shown else shown


def _place(message: Message) -> str:
    """Where a message was posted, by name: ``#general`` (Discord), ``General`` (Matrix)."""
    channel = message.channel
    if not channel.name:
        return channel.id
    return f"#{channel.name}" if channel.platform is Platform.DISCORD else channel.name


def plain_reason(rule: RuleConfig) -> str:
    """Why a hit of ``rule`` is a problem, in words a member reads (no rule ids)."""
    return rule.description or _REASONS[rule.kind]


def sanction_for(spec: ActionSpec, target: Account, now: datetime, reason: str) -> Action | None:
    """The mute, removal or ban an action of a rule (or a ladder step) asks for, else None."""
    if spec.kind == "mute" and spec.duration is not None:
        return Mute(target=target, until=now + spec.duration, reason=reason)
    if spec.kind == "remove":
        return Remove(target=target, reason=reason)
    if spec.kind == "ban":
        until = now + spec.duration if spec.duration else None
        return Ban(target=target, reason=reason, until=until)
    return None


@functools.lru_cache(maxsize=4)
def _contacts(
    cleaned: str, phones: bool, emails: bool, region: str, handles: bool
) -> tuple[Contact, ...]:
    """The contacts in a message, read once for all the pii rules that judge it."""
    return tuple(
        find_contacts(cleaned, phones=phones, emails=emails, default_region=region, handles=handles)
    )
