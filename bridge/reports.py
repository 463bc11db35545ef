"""Member reports: a case for the moderators, the reporter kept apart and never named.

The code of conduct promises that reports are handled confidentially and that the
reporter's identity is not disclosed without permission: the case moderators read names
the reported member and the evidence, never the reporter (unless they agreed); who reported
is stored in a separate table. Reports about a moderator go to the configured admins only.
A report of an unsolicited direct message is checked against the DM consent registry:
without consent the policy's DM rule acts at once.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from bridge.config import ReportsConfig
from bridge.members import Members
from bridge.texts import Texts
from bridge.writer import CaseWriter, Opened
from domain.cases import CaseRow, NewCase, OriginKind, Reporter
from domain.model import Account, Action, Message, NotifyModerators, Platform, Tell
from domain.records import DmPolicy
from domain.storage_ports import Records
from rules.engine import Engine
from rules.penalties import escalation_actions, unsolicited_dm_actions

log = logging.getLogger(__name__)

ADMIN_ONLY = "report about a moderator"  # the origin of cases only admins may read
REPORTER = "[the reporter]"  # what stands where a report named its own reporter
_HOUR = timedelta(hours=1)


def reporter_names(accounts: Iterable[Account]) -> list[str]:
    """Every way a text could name the reporter: account keys and ids, Discord mentions,
    Matrix localparts, display names and their words; longest first."""
    names: set[str] = set()
    for account in accounts:
        names.update((account.key, account.id))
        if account.platform is Platform.DISCORD:
            names.update((f"<@{account.id}>", f"<@!{account.id}>"))
        else:
            names.add(account.id.removeprefix("@").split(":")[0])
        if account.display_name:
            names.add(account.display_name)
            names.update(w for w in account.display_name.split() if len(w) >= 4)
    return sorted((n for n in names if len(n) >= 3), key=len, reverse=True)


def scrub(text: str, names: list[str]) -> str:
    """``text`` with every whole-word occurrence of ``names`` replaced by :data:`REPORTER`."""
    if not names or not text:
        return text
    pattern = "|".join(rf"(?<!\w){re.escape(name)}(?!\w)" for name in names)
    return re.sub(pattern, REPORTER, text, flags=re.IGNORECASE)


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """What a member told the bot."""

    reporter: Account
    subject: Account
    what: str
    where: str = ""
    evidence: tuple[str, ...] = ()  # excerpts of resolved message links, or the links
    unsolicited_dm: bool = False
    dm_seen: bool = False  # the reported DM itself was shown (Discord's menu on the DM)
    share_identity: bool = False
    origin: str  # unique per report (a DM event id, an interaction id)


class Reports:
    """Opens report cases, tells the reporter how they end, and watches for retaliation."""

    def __init__(
        self,
        *,
        writer: CaseWriter,
        members: Members,
        repos: Records,
        engine: Callable[[], Engine],
        clock: Callable[[], datetime],
        config: ReportsConfig,
        texts: Texts,
        is_moderator: Callable[[Account], bool | Awaitable[bool]] = lambda _account: False,
        on_received: Callable[[Platform], None] | None = None,
    ) -> None:
        self._on_received = on_received  # the metrics: the reporter's platform, nothing more
        self._writer = writer
        self._members = members
        self._repos = repos
        self._engine = engine  # the escalation ladder in force
        self._clock = clock
        self._config = config
        self._texts = texts
        self._is_moderator = is_moderator

    async def too_many(self, reporter: Account) -> bool:
        recent = await self._repos.reports.count_recent(reporter, _HOUR)
        return recent >= self._config.max_per_hour

    async def report(
        self, *, reporter: Account, message: Message | None, details: str, origin: str
    ) -> str:
        """A report of one message (Discord's "Report message" menu); the answer to show."""
        if message is None:
            return self._texts.report_start
        if await self.too_many(reporter):
            return self._texts.report_too_many
        opened = await self.submit(
            Report(
                reporter=reporter,
                subject=message.author.account,
                what=details.strip() or "reported message",
                # A DM channel's id would point at the two people in it: say what it is.
                where="a direct message"
                if message.is_dm
                else f"message {message.id} in {message.channel.id}",
                evidence=(message.text[:300],),
                unsolicited_dm=message.is_dm,
                dm_seen=message.is_dm,
                origin=origin,
            )
        )
        return self._texts.report_received_anonymous.format(case=opened.case.id)

    async def submit(self, report: Report) -> Opened:
        """Open the case, tell whoever must know, keep the reporter apart."""
        if self._on_received is not None:
            self._on_received(report.reporter.platform)
        reporter_member = await self._members.member_of(report.reporter)
        subject_member = await self._members.member_of(report.subject)
        if not report.share_identity:
            # The reporter's own words and the evidence may name them: moderators read these.
            names = reporter_names(
                [report.reporter, *await self._members.accounts_of(reporter_member)]
            )
            report = replace(
                report,
                what=scrub(report.what, names),
                where=scrub(report.where, names),
                evidence=tuple(scrub(e, names) for e in report.evidence),
            )
        await self._flag_counter_report(report, reporter_member, subject_member)
        # Discord answers from a member cache that may still be filling: it may await a read.
        verdict = self._is_moderator(report.subject)
        about_moderator = await verdict if inspect.isawaitable(verdict) else verdict
        evidence = " | ".join(report.evidence)[:500]
        summary = (
            f"report about {report.subject.key}: {report.what[:300]!r}"
            + (f"; where: {report.where[:100]}" if report.where else "")
            + (f"; evidence: {evidence!r}" if evidence else "")
            + (f"; reported by {report.reporter.key}" if report.share_identity else "")
        )
        actions: list[Action] | Callable[[int], list[Action]]
        strikes: list[tuple[str, int]] = []
        if about_moderator:
            actions = self._for_admins(summary)
        else:
            actions, strikes = await self._for_moderators(
                report, summary, subject_member, reporter_member
            )
        opened = await self._writer.open_case(
            NewCase(
                subject=report.subject,
                origin_kind=OriginKind.REPORT,
                origin=ADMIN_ONLY if about_moderator else "member report",
                reason=report.what[:500],
                evidence=evidence,
                dedupe_key=f"report:{report.origin}",
            ),
            actions,
            member_id=subject_member,
            strikes=strikes,
            reporter=Reporter(
                account=report.reporter,
                member_id=reporter_member,
                share_identity=report.share_identity,
            ),
        )
        log.info("report opened case %s", opened.case.id)
        return opened

    def _for_admins(self, summary: str) -> list[Action]:
        """A report about a moderator: for the admins' eyes only."""
        if not self._admins():
            # Nobody may read it: say so to the moderators without any content.
            log.error("a report about a moderator arrived but [reports] admins is empty")
            return [
                NotifyModerators(
                    text="A report about a moderator arrived, but no admins are configured "
                    "([reports] admins) to receive it."
                )
            ]
        return [self._tell_admin(admin, summary) for admin in self._admins()]

    async def _for_moderators(
        self, report: Report, summary: str, subject_member: int, reporter_member: int
    ) -> tuple[list[Action] | Callable[[int], list[Action]], list[tuple[str, int]]]:
        """The moderators told, and for a proven unsolicited DM without consent, the DM
        rule's penalty with its strike points."""
        unwanted = report.unsolicited_dm and not await self._consented(
            subject_member, reporter_member
        )
        if unwanted and await self._proven(report):
            points = self._config.unsolicited_dm_points
            strikes = [("unsolicited-dm", points)] if points else []
            return self._dm_penalty(report.subject, summary, points), strikes
        if unwanted:
            summary += (
                "; an unsolicited DM without consent is claimed but not proven (no DM shown, "
                "no invite on record): the DM rule waits for a moderator"
            )
        return [NotifyModerators(text=summary)], []

    async def _proven(self, report: Report) -> bool:
        """Whether the DM is more than one member's word against another's: the message was
        reported from the DM itself, or the homeserver recorded the subject's DM invite to the
        reporter. (A member's word alone would let anyone collect strikes against anyone.)"""
        if report.dm_seen or not self._config.unsolicited_dm_requires_proof:
            return True
        entries = await self._repos.audit.recent(subject=report.reporter.key, limit=200)
        return any(
            e.event in ("dm_invite_allowed", "dm_invite_refused") and e.actor == report.subject.key
            for e in entries
        )

    def _admins(self) -> list[Account]:
        admins = []
        for key in self._config.admins:
            platform, _, account_id = key.partition(":")
            admins.append(Account(platform=_platform(platform), id=account_id))
        return admins

    @staticmethod
    def _tell_admin(admin: Account, summary: str) -> Tell:
        return Tell(target=admin, text=f"For the admins only: {summary}")

    async def _consented(self, sender: int, recipient: int) -> bool:
        fallback = DmPolicy(self._config.dm_default)
        return await self._repos.consent.may_dm(sender, recipient, fallback=fallback)

    def _dm_penalty(
        self, target: Account, summary: str, points: int
    ) -> Callable[[int], list[Action]]:
        """The penalty of a proven unsolicited DM (the rules decide it: `rules.penalties`),
        for a subject who had so many live points before it: the ladder's step for its
        ``points``, the DM rule's actions, and the moderators told."""
        now = self._clock()
        escalation = self._engine().policy.escalation
        own = unsolicited_dm_actions(
            self._config.unsolicited_dm_actions, clause=self._config.unsolicited_dm_clause,
            target=target, now=now,
        )  # fmt: skip
        notice = NotifyModerators(
            text=summary + "; no consent to direct messages: the DM rule was applied"
        )

        def decide(before: int) -> list[Action]:
            step = escalation_actions(
                escalation, before=before, points=points, target=target,
                rule_id="unsolicited-dm", now=now,
            )  # fmt: skip
            return [*step, *own, notice]

        return decide

    async def close(self, case: CaseRow, *, action_taken: bool) -> list[Action]:
        """The private word to the reporter when their report's case is closed."""
        row = await self._repos.reports.of_case(case.id)
        if row is None:
            return []
        outcome = self._texts.outcome_action if action_taken else self._texts.outcome_no_action
        return [
            Tell(
                target=row.reporter,
                text=self._texts.report_closed.format(case=case.id, outcome=outcome),
            )
        ]

    async def reporter_visible(self, case: CaseRow, reader: Account) -> bool:
        """Whether ``reader`` may see this case at all (admin-only reports)."""
        return case.origin != ADMIN_ONLY or reader.key in self._config.admins

    async def watch(self, message: Message) -> None:
        """Retaliation: the reported member aims something at their reporter. The moderators
        are told on the case that it needs a look; nobody is told why."""
        targets = {m.key for m in message.mentions}
        if not targets:
            return
        author_member = await self._members.member_of(message.author.account)
        since = self._clock() - self._config.retaliation_window
        for case in await self._repos.cases.of_member(author_member):
            if case.origin_kind is not OriginKind.REPORT or case.created_at < since:
                continue
            row = await self._repos.reports.of_case(case.id)
            if row is None:
                continue
            reporter_keys = {
                a.key for a in await self._members.accounts_of(
                    await self._members.member_of(row.reporter)
                )
            }  # fmt: skip
            if reporter_keys & targets:
                await self._flag(case, f"message {message.id} in {message.channel.id}")

    async def _flag_counter_report(
        self, report: Report, reporter_member: int, subject_member: int
    ) -> None:
        """A report against someone who reported the reporter: flag the earlier case."""
        since = self._clock() - self._config.retaliation_window
        for case_id in await self._repos.reports.against_reporter(subject_member, since):
            case = await self._repos.cases.get(case_id)
            if case is not None and case.member_id == reporter_member:
                await self._flag(case, "a report filed by the reported member")

    async def flag_invite(self, inviter: Account, invitee: Account) -> None:
        """A DM invite from a reported member to their reporter (from the homeserver)."""
        inviter_member = await self._members.member_of(inviter)
        invitee_member = await self._members.member_of(invitee)
        since = self._clock() - self._config.retaliation_window
        for case_id in await self._repos.reports.against_reporter(invitee_member, since):
            case = await self._repos.cases.get(case_id)
            if case is not None and case.member_id == inviter_member:
                await self._flag(case, "a direct-message invite")

    async def _flag(self, case: CaseRow, what: str) -> None:
        """Tell the moderators the case needs a look, without saying why: the details (which
        would point at the reporter) go to the audit log, which only admins read."""
        text = f"Case #{case.id} needs a look: new activity by the reported member."
        # No case note: moderators reading the case right after the reported member's
        # message would see it at once, and the delay below would be for nothing.
        await self._writer.audit(
            "modbridge", "case_flagged", case.subject.key, {"case": case.id, "what": what}
        )
        # A case about a moderator is for the admins only, and so are its flags.
        flags: list[Action] = (
            [self._tell_admin(admin, text) for admin in self._admins()]
            if case.origin == ADMIN_ONLY
            else [NotifyModerators(text=text)]
        )
        # Sent at the end of the current flag window, one notice per case and window: sent at
        # once, it would follow the reported member's message to the reporter in the channel.
        step = self._config.flag_delay.total_seconds()
        window = int(self._clock().timestamp() // step)
        await self._writer.enqueue_actions(
            case.id, flags, member_id=None, origin=f"flag:{case.id}:{window}",
            not_before=datetime.fromtimestamp((window + 1) * step, tz=UTC),
        )  # fmt: skip


def _platform(name: str) -> Platform:
    return Platform(name)
