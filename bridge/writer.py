"""The one writer of cases and outbox rows: every change a verdict, a command, a report or a
timer makes to what modbridge has done or will do goes through `CaseWriter`.

A case is opened with its actions (planned on every linked account), its strike points, the
mutes and bans it imposes, the timers that end them and its audit record, in one
transaction, idempotently (a case's dedupe key, an action's key): a crash leaves all of it
or none, and an event handed in twice changes nothing the second time. The member's live
strike points are read inside that transaction, so the ladder's step is decided from the one
record of them (storage), whatever road the points came by.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from bridge.digest import NoticeDigest
from bridge.members import Members
from bridge.modlog import ModLog
from bridge.planner import Community, PlannedAction, plan
from bridge.sanctions import carry_sanctions, record_sanctions, schedule_end, schedule_timers
from domain.actions import HANDED_OVER, action_target
from domain.cases import CaseRow, NewCase, OriginKind, Reporter
from domain.model import Account, Action, Ban, Message, Mute, NotifyModerators, Platform, Tell
from domain.records import ActionRow, Enqueued, NewAction, SanctionRow, TimerRow
from domain.storage_ports import Stores, Transactions, Tx
from rules.engine import Engine

log = logging.getLogger(__name__)

# What the moderators read an action failed to do, where its kind is not the verb itself.
_FAILED_TO = {
    "remove": "kick", "delete": "delete the message", "notify": "post a notice",
    "pause-dms": "pause DMs", "resume-dms": "resume DMs",
}  # fmt: skip

# A case's actions decided from the member's live strike points before it (read in the
# case's own transaction): the ladder's step depends on them.
Decide = Callable[[int], Sequence[Action]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Opened:
    """A case, whether this call opened it (False: it existed, an event handed in again),
    and how many actions were newly enqueued for it."""

    case: CaseRow
    created: bool
    enqueued: int


def message_space(message: Message) -> str | None:
    """Where a message is deleted: its Discord guild, or its Matrix room."""
    if message.platform is Platform.MATRIX:
        return message.channel.id
    return message.channel.space_id


class CaseWriter:
    """Opens and changes cases, and queues actions, each change in one transaction."""

    def __init__(
        self,
        *,
        db: Transactions,
        repos: Stores,
        members: Members,
        engine: Callable[[], Engine],
        community: Callable[[], Community],
        wake_worker: Callable[[], None],
        clock: Callable[[], datetime],
        modlog: ModLog | None = None,
        amend: Callable[[NewCase, Sequence[Action]], Sequence[Action]] | None = None,
        digest: NoticeDigest | None = None,
        hand_over: Callable[[Sequence[ActionRow]], None] | None = None,
    ) -> None:
        self._db = db
        # Deletions are enqueued claimed and handed to the worker once committed: the worker
        # then need not claim them (another commit) before removing the content.
        self._hand_over = hand_over
        self._repos = repos
        self._members = members
        self._engine = engine  # the policy in force: how long strike points count
        self._community = community
        self._wake = wake_worker
        self._clock = clock
        self._modlog = modlog
        self._amend = amend  # a dry run adds a notice to every case: bridge.dryrun
        # Per member and window, one warning and one notice for a rule's hits (None: each).
        self._digest = digest
        # Whether a sanction in force reaches an account when re-applied (a rejoin, a new
        # link); policy-list bans kept to Matrix say no for Discord accounts.
        self.reaches: Callable[[SanctionRow, Account], Awaitable[bool]] | None = None

    async def open_case(
        self,
        case: NewCase,
        actions: Sequence[Action] | Decide,
        *,
        member_id: int,
        message: Message | None = None,
        strikes: Sequence[tuple[str, int]] = (),
        reporter: Reporter | None = None,
        platforms: Collection[Platform] | None = None,
        publish: bool = True,
        queued: Callable[[], None] | None = None,
    ) -> Opened:
        """Open ``case`` and queue ``actions`` on every linked account, in one transaction,
        with the ``strikes`` (rule id, points), the sanctions, the timers that end timed
        actions, the reporter kept apart, and the audit record.

        ``actions`` may be decided from the member's live points (`Decide`); ``platforms``
        limits the accounts acted on (a policy list's ban kept to Matrix); ``publish`` False
        keeps a ban out of the published policy list (``!ban --local``). ``queued`` is called
        once the transaction has its place in the database's line; this returns, and the
        actions start, once it is durable."""
        now = self._clock()
        community = self._community()
        async with self._db.transaction(on_queued=queued) as tx:
            row, created = await self._repos.cases.open(case, tx=tx)
            accounts = await self._accounts(member_id, case.subject, platforms, tx=tx)
            if callable(actions):
                actions = actions(await self._repos.strikes.live_points(member_id, now, tx=tx))
            if self._amend is not None:
                actions = self._amend(case, actions)
            key = case.dedupe_key or f"case:{row.id}"
            told = actions
            if created and self._digest is not None:
                told = await self._digest.admit(member_id, row, actions, tx=tx)
            numbered = [
                replace(a, text=f"Case #{row.id}: {a.text}")
                if isinstance(a, NotifyModerators) and not a.modlog else a
                for a in told
            ]  # fmt: skip
            space = message_space(message) if message else None
            planned = plan(key, numbered, community=community, accounts=accounts,
                           message_space=space, publish=publish)  # fmt: skip
            # A case whose notice the digest held back is summed up in the digest's notice,
            # not in a modlog line of its own: a raid must not become hundreds of lines.
            if created and self._modlog is not None and len(told) == len(actions):
                planned += self._modlog.planned(key, row, actions, planned, community)
            rows = await self._insert_rows(planned, case_id=row.id, tx=tx, hand_over=True)
            if created:
                await self._record_case(
                    row, case, actions, member_id, strikes, reporter, len(planned), now, tx=tx
                )
        new = [e.action for e in rows if e.created]
        handed = [r for r in new if r.claimed_at is not None]
        if handed and self._hand_over is not None:
            self._hand_over(handed)
        if len(handed) < len(new):
            self._wake()  # the worker claims the rest (a claim is a commit: not for nothing)
        return Opened(case=row, created=created, enqueued=len(new))

    async def _accounts(
        self, member_id: int, subject: Account, platforms: Collection[Platform] | None, *, tx: Tx
    ) -> list[Account]:
        """The member's accounts a case acts on (its subject's when none is known)."""
        rows = await self._repos.identity.accounts_of_member(member_id, tx=tx)
        accounts = [r.account for r in rows] or [subject]
        if platforms is not None:
            accounts = [a for a in accounts if a.platform in platforms] or [subject]
        return accounts

    async def _record_case(
        self,
        row: CaseRow,
        case: NewCase,
        actions: Sequence[Action],
        member_id: int,
        strikes: Sequence[tuple[str, int]],
        reporter: Reporter | None,
        planned: int,
        now: datetime,
        *,
        tx: Tx,
    ) -> None:
        """What a new case records beside its actions."""
        if reporter is not None:
            await self._repos.reports.add(
                row.id, reporter.account, reporter_member=reporter.member_id,
                share_identity=reporter.share_identity, tx=tx,
            )  # fmt: skip
        await record_sanctions(self._repos, member_id, row.id, actions, tx=tx)
        decay = self._engine().policy.escalation.decay
        for rule_id, points in strikes:
            await self._repos.strikes.give(
                member_id, rule_id, points, expires_at=now + decay, case_id=row.id, tx=tx
            )
        await schedule_timers(self._repos, row, actions, member_id, now, tx=tx)
        await self._repos.audit.append(
            case.origin if case.origin_kind is OriginKind.MODERATOR else "engine",
            "case_opened",
            case.subject.key,
            {"case": row.id, "origin": case.origin, "actions": planned},
            tx=tx,
        )

    async def enqueue_actions(
        self,
        case_id: int | None,
        actions: Sequence[Action],
        *,
        member_id: int | None,
        origin: str,
        tx: Tx | None = None,
        not_before: datetime | None = None,
    ) -> int:
        """Queue more actions on an existing case (a timer's unmute) or on none (a notice);
        idempotent by origin. With ``tx``, in the caller's transaction (the digest's); with
        ``not_before``, carried out no earlier than that."""
        accounts = await self._members.accounts_of(member_id) if member_id is not None else []
        planned = plan(origin, actions, community=self._community(), accounts=accounts)
        async with self._db.using(tx) as t:
            enqueued = await self._insert(planned, case_id=case_id, tx=t, not_before=not_before)
            if member_id is not None and enqueued:
                await record_sanctions(self._repos, member_id, case_id, actions, tx=t)
        self._wake()
        return enqueued

    async def notify(self, text: str, *, origin: str) -> int:
        """A notice to the moderators about no case; idempotent by ``origin``."""
        return await self.enqueue_actions(
            None, [NotifyModerators(text=text)], member_id=None, origin=origin
        )

    async def log_case(
        self, case_id: int, actions: Sequence[Action], *, origin: str, by: str, reason: str
    ) -> None:
        """A modlog line for something done later in a case (a timer ended it, a moderator
        changed it): ``actions`` say what, ``by`` who, ``reason`` why."""
        case = await self._repos.cases.get(case_id)
        if case is None or self._modlog is None:
            return
        community = self._community()
        accounts = await self._members.accounts_of(case.member_id) or [case.subject]
        planned = plan(origin, actions, community=community, accounts=accounts)
        lines = self._modlog.planned(origin, case, actions, planned, community, by=by,
                                     reason=reason)  # fmt: skip
        await self._enqueue_planned(lines, case_id=case_id)

    async def tell_failure(self, row: ActionRow, reason: str) -> None:
        """Tell the moderators that an action failed for good (or keeps failing), and why."""
        if isinstance(row.action, Tell):
            # Its recipient may be a reporter, or an admin told about a hidden case: the
            # moderators learn only that something did not arrive.
            text = "A private message from modbridge could not be delivered."
        else:
            target = action_target(row.action)
            who = f" {target.key}" if target else ""
            case = f"Case #{row.case_id}: " if row.case_id else ""
            doing = _FAILED_TO.get(row.kind, row.kind)
            text = f"{case}could not {doing}{who} in {row.space_id}: {reason}"
        await self.enqueue_actions(
            None if isinstance(row.action, Tell) else row.case_id,
            [NotifyModerators(text=text)],
            member_id=None,
            origin=f"failed:{row.id}:{row.attempts}",  # "still failing", then maybe "failed"
        )

    async def fire_digest(self, timer: TimerRow) -> None:
        """A digest window ended (the scheduler's handler for its timers)."""
        if self._digest is not None:
            await self._digest.fire(timer, self.enqueue_actions)

    async def reapply(self, account: Account, *, space_id: str | None, occasion: str) -> int:
        """Apply the member's mutes and bans in force to ``account`` (in one space, or all).

        Mute evasion: a member who leaves and rejoins, or links a new account, is muted or
        banned again. ``occasion`` (a join event, a link) makes the keys unique to it.
        """
        member_id = await self._members.member_of(account)
        actions: list[Action] = []
        for sanction in await self._members.sanctions_in_force(member_id):
            if self.reaches is not None and not await self.reaches(sanction, account):
                continue
            if sanction.kind == "mute" and sanction.until is not None:
                actions.append(Mute(target=account, until=sanction.until, reason=sanction.reason))
            elif sanction.kind == "ban":
                actions.append(Ban(target=account, reason=sanction.reason, until=sanction.until))
        if not actions:
            return 0
        planned = plan(
            f"reapply:{occasion}", actions, community=self._community(), accounts=[account],
            publish=False,
        )  # fmt: skip
        if space_id is not None:
            planned = [p for p in planned if p.space_id == space_id]
        log.info("re-applying %d sanction(s) to %s", len(planned), account.key)
        return await self._enqueue_planned(planned, case_id=None)

    async def lift_by_hand(self, account: Account, kind: str) -> bool:
        """A moderator lifted a mute or ban outside modbridge: stop treating it as in force."""
        return await self._repos.sanctions.lift(await self._members.member_of(account), kind)

    def community(self) -> Community:
        """Where modbridge acts now: the protected spaces and the moderators' rooms."""
        return self._community()

    async def cancel_timers(self, kind: str, key_prefix: str) -> int:
        """Cancel the pending timers of ``kind`` whose keys start with ``key_prefix`` (the
        renewals of a DM pause Discord refused for good: they would fail the same way)."""
        return await self._repos.timers.cancel_kind(kind, key_prefix)

    async def audit(
        self, actor: str, event: str, subject: str = "", data: dict[str, object] | None = None
    ) -> None:
        """An audit record of something that changes no case (a refused command, a flag,
        a membership change seen on a platform)."""
        await self._repos.audit.append(actor, event, subject, data or {})

    # --- Changes to existing cases (moderators' corrections) -------------------------------

    async def close_case(self, case_id: int, *, by: str, note: str, told: Sequence[Action]) -> bool:
        """Close the case with a note and queue ``told`` (the reporter's word), together or
        not at all; False if it was closed already."""
        async with self._db.transaction() as tx:
            if not await self._repos.cases.close(case_id, by, tx=tx):
                return False
            await self._repos.cases.add_note(case_id, by, note, tx=tx)
            if told:
                await self.enqueue_actions(
                    case_id, told, member_id=None, origin=f"closed:{case_id}", tx=tx
                )
        return True

    async def add_note(self, case_id: int, *, by: str, text: str) -> None:
        """A moderator's note on a case."""
        await self._repos.cases.add_note(case_id, by, text)

    async def set_reason(self, case: CaseRow, *, by: str, text: str) -> None:
        """Correct the case's reason; the old one stays in a note."""
        async with self._db.transaction() as tx:
            await self._repos.cases.set_reason(case.id, text, tx=tx)
            await self._repos.cases.add_note(
                case.id, by, f"reason changed from: {case.reason}", tx=tx
            )

    async def pardon(self, case_id: int, *, by: str) -> int:
        """The case's strike points stop counting (the record stays); how many strikes."""
        async with self._db.transaction() as tx:
            removed = await self._repos.strikes.pardon_case(case_id, tx=tx)
            await self._repos.cases.add_note(case_id, by, "pardoned", tx=tx)
        return removed

    async def change_end(
        self, case: CaseRow, sanction: SanctionRow, until: datetime, *, by: str, note: str
    ) -> None:
        """The case's mute or ban now ends at ``until``: the sanction and its timer move."""
        end = "unmute" if sanction.kind == "mute" else "unban"
        async with self._db.transaction() as tx:
            await self._repos.sanctions.impose(
                case.member_id, sanction.kind, until=until, reason=sanction.reason,
                case_id=case.id, tx=tx,
            )  # fmt: skip
            if not await self._repos.timers.reschedule(f"{end}:case:{case.id}", until, tx=tx):
                await schedule_end(
                    self._repos, sanction.kind, case_id=case.id, member_id=case.member_id,
                    until=until, reason=sanction.reason, now=self._clock(), tx=tx,
                )  # fmt: skip
            await self._repos.cases.add_note(case.id, by, note, tx=tx)

    # --- Members: linking and unlinking accounts -------------------------------------------

    async def link(self, first: Account, second: Account, *, by: str, reason: str) -> int:
        """Make two accounts one member (with the audit record); the member id that remains."""
        async with self._db.transaction() as tx:
            member_id = await self._repos.identity.link(first, second, tx=tx)
            await self._repos.audit.append(
                by, "accounts_linked", first.key, {"other": second.key, "reason": reason}, tx=tx
            )
        return member_id

    async def unlink(self, account: Account, *, by: str, reason: str) -> None:
        """Give ``account`` a member of its own again; it keeps the mutes and bans in force."""
        in_force = await self._members.sanctions_in_force(await self._members.member_of(account))
        async with self._db.transaction() as tx:
            new_member = await self._repos.identity.unlink(account, tx=tx)
            await carry_sanctions(self._repos, in_force, new_member, self._clock(), tx=tx)
            await self._repos.audit.append(
                by, "account_unlinked", account.key, {"reason": reason}, tx=tx
            )

    # --- The outbox -------------------------------------------------------------------------

    async def _enqueue_planned(
        self, planned: Sequence[PlannedAction], *, case_id: int | None
    ) -> int:
        async with self._db.transaction() as tx:
            enqueued = await self._insert(planned, case_id=case_id, tx=tx)
        self._wake()
        return enqueued

    async def _insert(
        self,
        planned: Sequence[PlannedAction],
        *,
        case_id: int | None,
        tx: Tx,
        not_before: datetime | None = None,
    ) -> int:
        """Enqueue planned actions in ``tx``; how many were new (their keys make it
        idempotent)."""
        rows = await self._insert_rows(planned, case_id=case_id, tx=tx, not_before=not_before)
        return sum(1 for e in rows if e.created)

    async def _insert_rows(
        self,
        planned: Sequence[PlannedAction],
        *,
        case_id: int | None,
        tx: Tx,
        not_before: datetime | None = None,
        hand_over: bool = False,
    ) -> list[Enqueued]:
        new = [
            NewAction(key=p.key, platform=p.platform, space_id=p.space_id, action=p.action,
                      not_before=not_before)
            for p in planned
        ]  # fmt: skip
        kinds = HANDED_OVER if hand_over and self._hand_over is not None else ()
        return await self._repos.outbox.enqueue(new, case_id=case_id, tx=tx, hand_over=kinds)
