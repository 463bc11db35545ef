"""The conduct engine: one message in, one verdict out.

Pure and synchronous. Detectors that need no memory (keywords, regex, contact details,
solicitation) each scan the cleaned text once for all of their rules; the sliding-window
rules keep per-member state here. The caller decides who a message's author is as a member
(linked accounts share one member key) and hands in the member's live strike points (the
service reads them from storage, their one record); without them, an in-memory ledger
counts points (``modbridge rules eval``: a stream of messages with no storage behind it).
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeAlias

from domain.fastbuild import fast_constructor
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
from rules.pii import Contact, find_contacts, is_own, min_phone_digits
from rules.pii_signals import ENOUGH_DIGITS, enough_digits
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
from rules.prefilter import (
    ANY_KEYWORD_SIGN,
    ANY_PII,
    KEYWORD_SIGNS,
    KEYWORD_WORD,
    LINK,
    PII,
    SOLICITATION,
    Prefilter,
    indices,
)
from rules.regex import RegexIndex
from rules.solicitation import find_solicitation
from rules.text import clean_reading
from rules.windows import (
    DuplicateDetector,
    FloodDetector,
    LinksDetector,
    MentionsDetector,
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

_Window: TypeAlias = FloodDetector | DuplicateDetector | MentionsDetector | LinksDetector
_DETECTORS = ~LINK  # the prefilter's bits that call a stateless detector


# The model values the engine makes, by constructors that take the same arguments and make
# the same values at a fifth of the cost (see domain.fastbuild): a verdict for every message.
_Verdict = fast_constructor(Verdict)
_RuleHit = fast_constructor(RuleHit)
_DeleteMessage = fast_constructor(DeleteMessage)
_Warn = fast_constructor(Warn)
_Mute = fast_constructor(Mute)
_Remove = fast_constructor(Remove)
_Ban = fast_constructor(Ban)
_NotifyModerators = fast_constructor(NotifyModerators)


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
        regions = [r.default_region for r in policy.rules if isinstance(r, PiiRule) and r.phones]
        self._prefilter = Prefilter(
            self._keywords.trigger_pattern(),
            self._regexes.patterns,
            min(map(min_phone_digits, regions), default=9),
            self._keywords.disguise_pattern(),
            self._keywords.phrase_pattern(),
        )
        self._has_keywords = any(isinstance(r, KeywordsRule) for r in policy.rules)
        self._by_id = {rule.id: (i, rule) for i, rule in enumerate(policy.rules)}
        self._pii = [(i, r) for i, r in enumerate(policy.rules) if isinstance(r, PiiRule)]
        self._solicitation = [
            (i, r) for i, r in enumerate(policy.rules) if isinstance(r, SolicitationRule)
        ]
        # Rules that keep per-member windows: every message goes through them (links
        # windows only if the message may hold a link: the last item says which).
        self._windows: list[tuple[int, RuleConfig, _Window, bool]] = []
        for i, rule in enumerate(policy.rules):
            window = self._window(rule)
            if window is not None:
                self._windows.append((i, rule, window, isinstance(rule, LinksRule)))
        self._evaluated = 0
        self._exemptions = any(
            r.exempt_channels or r.exempt_roles or r.exempt_power_level is not None
            for r in policy.rules
        )

    @staticmethod
    def _window(rule: RuleConfig) -> _Window | None:
        if isinstance(rule, FloodRule):
            return FloodDetector(rule)
        if isinstance(rule, DuplicateRule):
            return DuplicateDetector(rule)
        if isinstance(rule, MentionsRule):
            return MentionsDetector(rule)
        if isinstance(rule, LinksRule):
            return LinksDetector(rule)
        return None  # stateless kinds: gated by the prefilter in ``_stateless``

    @staticmethod
    def _judge_contacts(rule: PiiRule, cleaned: str, contacts: list[Contact]) -> str | None:
        for contact in contacts:
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

    def _stateless(
        self, cleaned: str, ascii_like: bool
    ) -> tuple[int, list[tuple[int, RuleConfig, str]]]:
        """The prefilter's signals for ``cleaned``, and the hits of the rules that read the
        text alone, each run only if the prefilter says it may find something (most chat:
        none runs). ``ascii_like``: whether ``cleaned`` reads as ASCII (``reads_as_ascii``)."""
        signals, admin = self._prefilter.scan(cleaned)
        # text in another script goes to the keyword index whatever the pass saw
        if signals & _DETECTORS or admin or (self._has_keywords and not ascii_like):
            return signals, self._detect(cleaned, signals, admin, ascii_like)
        return signals, []  # the one pass saw nothing any detector needs

    def _detect(
        self, cleaned: str, signals: int, admin: list[int], ascii_like: bool
    ) -> list[tuple[int, RuleConfig, str]]:
        """The stateless detectors the prefilter's ``signals`` and ``admin`` regexes call;
        ``ascii_like``: whether ``cleaned`` reads as ASCII (``reads_as_ascii``)."""
        found: list[tuple[int, RuleConfig, str]] = []
        by_id = self._by_id
        if self._has_keywords:
            if not ascii_like:
                results = self._keywords.search(cleaned)  # other scripts: no shortcut
            elif signals & (KEYWORD_WORD | ANY_KEYWORD_SIGN):
                results = self._keywords.search(cleaned, indices(signals, KEYWORD_SIGNS))
            else:
                results = {}
            for rule_id, matched in results.items():
                found.append((*by_id[rule_id], matched))
        if admin:
            for rule_id, matched in self._regexes.quote(cleaned, admin).items():
                found.append((*by_id[rule_id], matched))
        pii_signals = signals & ANY_PII
        if pii_signals & PII[ENOUGH_DIGITS] and not enough_digits(cleaned):
            pii_signals &= ~PII[ENOUGH_DIGITS]  # a phone number's shape, but of o, l and i
        if pii_signals and self._pii:
            read: dict[tuple[bool, bool, str, bool], list[Contact]] = {}
            signs = indices(pii_signals, PII)
            for position, rule in self._pii:
                how = (rule.phones, rule.emails, rule.default_region, rule.handles)
                contacts = read.get(how)
                if contacts is None:  # read once for all pii rules with the same settings
                    contacts = read[how] = find_contacts(
                        cleaned, phones=how[0], emails=how[1], default_region=how[2],
                        handles=how[3], signals=signs,
                    )  # fmt: skip
                detected = self._judge_contacts(rule, cleaned, contacts)
                if detected is not None:
                    found.append((position, rule, detected))
        if signals & SOLICITATION and self._solicitation:
            asked = find_solicitation(cleaned, triggered=True)
            if asked is not None:
                found.extend((position, rule, asked) for position, rule in self._solicitation)
        return found

    def evaluate(
        self, message: Message, *, member: str | None = None, points: int | None = None
    ) -> Verdict:
        """Judge ``message``; ``member`` defaults to the author's account key. ``points``:
        the member's live strike points before it (None: the engine's in-memory ledger)."""
        author = message.author
        if member is None:
            member = author.account.key
        # Most authors are ordinary members and most policies exempt by moderator status
        # only: then no rule needs its exemptions checked one by one.
        exemptions = self._exemptions or author.is_bot or author.is_moderator
        text = message.text
        cleaned, ascii_like, links_kept = clean_reading(text)
        signals, found = self._stateless(cleaned, ascii_like)
        if found and exemptions:
            found = [item for item in found if not self._exempt(item[1], author, message)]
        ts = message.ts.timestamp()
        # The links window finds nothing (and counts nothing) in a message with no link:
        # the prefilter's LINK bit is a necessary condition of one, for text free of
        # rules.text.LINK_HIDERS (``links_kept``).
        linkless = links_kept and not signals & LINK and not message.links
        for position, rule, window, reads_links in self._windows:
            if reads_links and linkless:
                continue
            # an exempt member's messages are not counted in the window either
            if exemptions and self._exempt(rule, author, message):
                continue
            detected = window.observe(member, ts, cleaned, message)
            if detected is not None:
                found.append((position, rule, detected))
        self._evaluated += 1
        if self._evaluated % 10_000 == 0:
            for _, _, window, _ in self._windows:
                window.forget_idle(ts)
        if not found:
            return _Verdict(message_id=message.id, member=member)
        if len(found) > 1:
            found.sort(key=_position)
        hits = [
            _RuleHit(
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
        return self._decide(message, member, message.ts, hits, points)

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
        return _Verdict(
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
                    _DeleteMessage(
                        platform=message.platform,
                        channel_id=message.channel.id,
                        message_id=message.id,
                        reason=reason,
                    )
                )
            elif kind == "warn":
                # The member reads this: the plain reason, not the rule's id.
                actions.append(_Warn(target=target, reason=hit.reason, clause=hit.clause))
            elif (action := sanction_for(spec, target, now, reason)) is not None:
                actions.append(action)
            elif kind == "notify":
                rules = ", ".join(f"{h.rule_id} ({h.clause})" for h in hits)
                where = _place(message)
                actions.append(
                    _NotifyModerators(
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
        return _Mute(target=target, until=now + spec.duration, reason=reason)
    if spec.kind == "remove":
        return _Remove(target=target, reason=reason)
    if spec.kind == "ban":
        until = now + spec.duration if spec.duration else None
        return _Ban(target=target, reason=reason, until=until)
    return None
