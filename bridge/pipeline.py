"""The one pipeline: event -> rules -> verdict -> plan -> outbox (with the case, in one
transaction) -> worker. Moderator commands and timers enter it through `enqueue_case`, so
every action on a member takes the same road and leaves the same record.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bridge.digest import NoticeDigest
from bridge.modlog import ModLog
from bridge.planner import Community, PlannedAction, plan
from bridge.sanctions import record_sanctions, schedule_timers
from domain.actions import ActionKind, action_target
from domain.cases import CaseRow, NewCase, OriginKind
from domain.model import (
    Account,
    Action,
    Ban,
    Channel,
    MembershipChange,
    MembershipEvent,
    Message,
    Mute,
    NotifyModerators,
    Platform,
    Tell,
    Verdict,
    Warn,
)
from rules.engine import Engine, plain_reason, sanction_for
from rules.escalation import Strike
from storage.db import Database, Transaction
from storage.links import SanctionRow
from storage.outbox import URGENCY, ActionRow, NewAction, Urgency
from storage.repositories import Repositories
from storage.timers import TimerRow

log = logging.getLogger(__name__)

RECENT_MESSAGES = 10_000  # message keys remembered to drop replays within one run
# Cases opened this long back are known in memory: a replay of a message younger than that
# (a reconnect, a restart's catch-up) is recognised without asking the database, so judging
# a clean message during a raid never waits for another's commit.
JUDGED_MEMORY = timedelta(days=2)
JUDGED_MAX = 200_000  # case keys kept at most (then only younger messages skip the database)
# What the pipeline hands to the worker itself as its case commits: removals of content,
# which no other action has to precede (storage.outbox, Urgency.REMOVAL).
HANDED_OVER = frozenset(kind for kind, urgency in URGENCY.items() if urgency is Urgency.REMOVAL)


@dataclass(frozen=True, slots=True, kw_only=True)
class Opened:
    """A case and how many actions were newly enqueued for it."""

    case: CaseRow
    enqueued: int


def _message_key(message: Message) -> str:
    """What makes a message event unique: Discord edits keep the message's id."""
    key = f"msg:{message.platform.value}:{message.id}"
    if message.edit_of is not None:
        key += f":edit:{message.ts.isoformat()}"
    return key


def _message_space(message: Message) -> str | None:
    """Where a message is deleted: its Discord guild, or its Matrix room."""
    if message.platform is Platform.MATRIX:
        return message.channel.id
    return message.channel.space_id


class _Turn:
    """A member's turn at being judged: held from the start, ended (`end`) once their case has
    its place in the database's line, or when judging is over, whichever comes first."""

    def __init__(self, lock: asyncio.Lock) -> None:
        self._lock = lock
        self._held = False

    async def __aenter__(self) -> _Turn:
        await self._lock.acquire()
        self._held = True
        return self

    async def __aexit__(self, *_: object) -> None:
        self.end()

    @property
    def held(self) -> bool:
        return self._held

    def end(self) -> None:
        if self._held:
            self._held = False
            self._lock.release()


class Pipeline:
    """Judges messages and turns verdicts and commands into cases and queued actions."""

    def __init__(
        self,
        *,
        db: Database,
        repos: Repositories,
        engine: Callable[[], Engine],
        community: Callable[[], Community],
        wake_worker: Callable[[], None],
        clock: Callable[[], datetime],
        modlog: ModLog | None = None,
        on_judged: Callable[[Message, Verdict], None] | None = None,
        amend: Callable[[NewCase, Sequence[Action]], Sequence[Action]] | None = None,
        digest: NoticeDigest | None = None,
        hand_over: Callable[[Sequence[ActionRow]], None] | None = None,
    ) -> None:
        self._modlog = modlog
        # Deletions are enqueued claimed and handed to the worker once committed: the worker
        # then need not claim them (another commit) before removing the content.
        self._hand_over = hand_over
        self._amend = amend  # a dry run adds a notice to every case: bridge.dryrun
        self._db = db
        self._on_judged = on_judged  # the metrics: counts only, never the text
        # Per member and window, one warning and one notice for a rule's hits (None: each).
        self._digest = digest
        self._repos = repos
        self._engine = engine
        self._community = community
        self._wake = wake_worker
        self._clock = clock
        # Members whose strikes the engine in force has loaded from storage.
        self._loaded: tuple[Engine | None, set[int]] = (None, set())
        # One message of a member at a time: load, judge and record without interleaving.
        self._member_locks: weakref.WeakValueDictionary[int, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._recent: OrderedDict[str, None] = OrderedDict()  # message keys already judged
        self._judged: set[str] = set()  # dedupe keys of the cases opened since _judged_since
        self._judged_since: datetime | None = None
        # Whether a sanction in force reaches an account when re-applied (a rejoin, a new
        # link); policy-list bans kept to Matrix say no for Discord accounts.
        self.reaches: Callable[[SanctionRow, Account], Awaitable[bool]] | None = None

    async def queued_by_us(self, event: MembershipEvent) -> bool:
        """Whether a ban or kick seen on a platform is one modbridge queued itself."""
        kind = {
            MembershipChange.BAN: ActionKind.BAN,
            MembershipChange.UNBAN: ActionKind.UNBAN,
        }.get(event.change, ActionKind.REMOVE)
        since = event.ts - timedelta(hours=1)
        return await self._repos.outbox.queued_for(
            kind, event.space.platform, event.space.id, event.account.id, since
        )

    async def lift_by_hand(self, account: Account, kind: str) -> bool:
        """A moderator lifted a mute or ban outside modbridge: stop treating it as in force."""
        return await self._repos.sanctions.lift(await self.member_of(account), kind)

    async def sanctions_unlifted(self, member_id: int) -> list[SanctionRow]:
        """The member's mutes and bans nobody lifted (a timer's own is among them until it
        fires)."""
        return await self._repos.sanctions.unlifted(member_id)

    def decay(self) -> timedelta:
        """How long strike points count under the policy in force."""
        return self._engine().policy.escalation.decay

    async def member_of(self, account: Account) -> int:
        """The member id an account belongs to (created on first sight)."""
        return (await self._repos.identity.ensure(account)).member_id

    async def accounts_of(self, member_id: int, *, tx: Transaction | None = None) -> list[Account]:
        rows = await self._repos.identity.accounts_of_member(member_id, tx=tx)
        return [row.account for row in rows]

    async def reload_strikes(self, member_id: int) -> None:
        """Give the engine the member's live strike points from storage (start-up, pardon)."""
        engine = self._engine()
        rows = await self._repos.strikes.live(member_id, self._clock())
        engine.ledger.load(
            f"member:{member_id}",
            [Strike(ts=r.created_at, points=r.points, rule_id=r.rule_id) for r in rows],
        )
        if self._loaded[0] is not engine:
            self._loaded = (engine, set())
        self._loaded[1].add(member_id)

    async def on_message(self, message: Message) -> Verdict | None:
        """Judge one message from a protected space and queue what the verdict says."""
        if message.author.is_bot:
            return None
        key = _message_key(message)
        member_id = await self.member_of(message.author.account)
        lock = self._member_locks.setdefault(member_id, asyncio.Lock())
        # One member's messages one at a time (a replay waits its turn), until the case has
        # its place in the database's line: what the member's next message records comes
        # after it, so it may be judged while this one is written and committed, and a
        # raider's cases share commits instead of waiting for one transaction each.
        async with _Turn(lock) as turn:
            if await self._judged_before(key, message):
                return None  # delivered twice (a replay after a reconnect or a restart)

            def queued() -> None:
                if turn.held:  # not if judging failed (or ended) before this came
                    self._recent[key] = None  # a replay arriving now is not judged again
                    turn.end()

            try:
                verdict = await self._judge(message, member_id, queued)
            except Exception:
                # Nothing was recorded: the redelivery must be judged, and points the engine
                # counted in memory are read again from storage.
                self._recent.pop(key, None)
                self._loaded[1].discard(member_id)
                raise
            self._recent[key] = None
            if self._on_judged is not None:
                self._on_judged(message, verdict)
            if len(self._recent) > RECENT_MESSAGES:
                self._recent.popitem(last=False)
            return verdict

    async def _judged_before(self, key: str, message: Message) -> bool:
        """Whether the message was judged already (a replay after a reconnect or restart)."""
        if key in self._recent or key in self._judged:
            return True
        if self._judged_since is None or len(self._judged) > JUDGED_MAX:
            since = self._clock() - JUDGED_MEMORY
            loaded = await self._repos.cases.dedupe_keys_since(since)
            # Keys added while loading stay: their cases are committed too.
            self._judged = loaded | self._judged if self._judged_since is None else loaded
            self._judged_since = since
            if key in self._judged:
                return True
        if message.ts >= self._judged_since:
            return False  # every case about so recent a message is in memory
        return await self._repos.cases.opened_for(key)

    async def _judge(self, message: Message, member_id: int, queued: Callable[[], None]) -> Verdict:
        engine = self._engine()
        if self._loaded[0] is not engine or member_id not in self._loaded[1]:
            await self.reload_strikes(member_id)
        verdict = engine.evaluate(message, member=f"member:{member_id}")
        if verdict.clean:
            return verdict
        rules = [h.rule_id for h in verdict.hits]
        log.info(
            "message %s in %s by %s hit %s", message.id, message.channel.id,
            message.author.account.key, ",".join(rules),
        )  # fmt: skip
        enforced = [h for h in verdict.hits if h.mode.value == "enforce"]
        if not verdict.actions and not any(h.points for h in enforced):
            await self._repos.audit.append(
                "engine", "observed", message.author.account.key,
                {"message_id": message.id, "rules": rules},
            )  # fmt: skip
            return verdict
        decay = engine.policy.escalation.decay
        opened = await self.enqueue_case(
            NewCase(
                subject=message.author.account,
                origin_kind=OriginKind.RULE,
                origin=",".join(h.rule_id for h in enforced),
                reason="; ".join(f"{h.rule_id}: {h.clause}" for h in enforced),
                evidence="; ".join(h.matched for h in enforced)[:500],
                dedupe_key=_message_key(message),
            ),
            verdict.actions,
            member_id=member_id,
            message=message,
            strikes=[(h.rule_id, h.points, decay) for h in enforced if h.points],
            queued=queued,
        )
        log.info("case %s opened for message %s", opened.case.id, message.id)
        return verdict

    async def record_blocked_hit(
        self, *, rule_id: str, author: Account, channel: Channel, matched: str
    ) -> Opened | None:
        """A message a platform blocked by itself (Discord AutoMod) for one of our rules:
        the hit counts like any other (a case, the strike points, a warning if the rule
        warns, the moderators told); there is no message left to delete."""
        engine = self._engine()
        rule = next((r for r in engine.policy.rules if r.id == rule_id), None)
        if rule is None:
            log.info("AutoMod hit for %s: not one of our rules", rule_id)
            return None
        member_id = await self.member_of(author)
        actions: list[Action] = []
        if any(spec.kind == "warn" for spec in rule.actions):
            # The member reads this: the rule's plain reason, as for any hit, not its id.
            actions.append(Warn(target=author, reason=plain_reason(rule), clause=rule.clause))
        for spec in rule.actions:  # the rule's own mute, removal or ban, as for any hit
            action = sanction_for(spec, author, self._clock(), f"{rule.id}: blocked")
            if action is not None:
                actions.append(action)
        actions.append(
            NotifyModerators(
                text=f"{author.key} in {channel.id}: {rule.id} ({rule.clause}), "
                "blocked by Discord AutoMod"
            )
        )
        decay = engine.policy.escalation.decay
        if rule.points:
            actions = [*await self.escalate(member_id, author, rule.id, rule.points), *actions]
        opened = await self.enqueue_case(
            NewCase(
                subject=author,
                origin_kind=OriginKind.RULE,
                origin=rule.id,
                reason=f"{rule.id}: {rule.clause}",
                evidence=matched[:200],
                dedupe_key=f"automod:{author.key}:{channel.id}:{self._clock().isoformat()}",
            ),
            actions,
            member_id=member_id,
            strikes=[(rule.id, rule.points, decay)] if rule.points else [],
        )
        return opened

    async def escalate(
        self, member_id: int, account: Account, rule_id: str, points: int
    ) -> tuple[Action, ...]:
        """Count points earned outside a judged message in the engine, and return the
        ladder's step they reach (the caller queues it with the points)."""
        engine = self._engine()
        if self._loaded[0] is not engine or member_id not in self._loaded[1]:
            await self.reload_strikes(member_id)
        return engine.add_points(
            f"member:{member_id}", target=account, rule_id=rule_id, points=points,
            now=self._clock(),
        )  # fmt: skip

    async def enqueue_case(
        self,
        case: NewCase,
        actions: Sequence[Action],
        *,
        member_id: int,
        message: Message | None = None,
        strikes: Sequence[tuple[str, int, timedelta]] = (),
        origin: str | None = None,
        on_open: Callable[[CaseRow, Transaction], Awaitable[None]] | None = None,
        platforms: Collection[Platform] | None = None,
        publish: bool = True,
        queued: Callable[[], None] | None = None,
    ) -> Opened:
        """Open ``case`` and queue ``actions`` on every linked account, in one transaction,
        with the strikes, the timers that end timed actions, and the audit record.

        ``platforms`` limits the accounts acted on (a policy list's ban kept to Matrix);
        ``publish`` False keeps a ban out of the published policy list (``!ban --local``).
        ``queued`` is called once the transaction has its place in the database's line
        (`Database.transaction`); this returns, and the actions start, once it is durable."""
        now = self._clock()
        if self._amend is not None:
            actions = self._amend(case, actions)
        community = self._community()
        async with self._db.transaction(on_queued=queued) as tx:
            # Read in the transaction: one trip to the database, after the member's last case.
            accounts = await self.accounts_of(member_id, tx=tx) or [case.subject]
            if platforms is not None:
                accounts = [a for a in accounts if a.platform in platforms] or [case.subject]
            row, created = await self._repos.cases.open(case, tx=tx)
            key = origin or case.dedupe_key or f"case:{row.id}"
            told = actions
            if created and self._digest is not None:
                told = await self._digest.admit(member_id, row, actions, tx=tx)
            numbered = [
                replace(a, text=f"Case #{row.id}: {a.text}")
                if isinstance(a, NotifyModerators) and not a.modlog else a
                for a in told
            ]  # fmt: skip
            space = _message_space(message) if message else None
            planned = plan(key, numbered, community=community, accounts=accounts,
                           message_space=space, publish=publish)  # fmt: skip
            # A case whose notice the digest held back is summed up in the digest's notice,
            # not in a modlog line of its own: a raid must not become hundreds of lines.
            if created and self._modlog is not None and len(told) == len(actions):
                planned += self._modlog.planned(key, row, actions, planned, community)
            enqueued = await self._repos.outbox.enqueue(
                [
                    NewAction(key=p.key, platform=p.platform, space_id=p.space_id, action=p.action)
                    for p in planned
                ],
                case_id=row.id,
                tx=tx,
                hand_over=HANDED_OVER if self._hand_over is not None else (),
            )
            if created:
                if on_open is not None:
                    await on_open(row, tx)
                await record_sanctions(self._repos, member_id, row.id, actions, tx=tx)
                for rule_id, points, decay in strikes:
                    await self._repos.strikes.give(
                        member_id, rule_id, points, expires_at=now + decay, case_id=row.id, tx=tx
                    )
                await schedule_timers(self._repos, row, actions, member_id, now, tx=tx)
                await self._repos.audit.append(
                    case.origin if case.origin_kind is OriginKind.MODERATOR else "engine",
                    "case_opened",
                    case.subject.key,
                    {"case": row.id, "origin": case.origin, "actions": len(planned)},
                    tx=tx,
                )
        if created and case.dedupe_key is not None:
            self._judged.add(case.dedupe_key)  # committed: a replay of it is known now
        handed = [e.action for e in enqueued if e.created and e.action.claimed_at is not None]
        if handed and self._hand_over is not None:
            self._hand_over(handed)
        if len(handed) < sum(e.created for e in enqueued) or on_open is not None:
            self._wake()  # the worker claims the rest (a claim is a commit: not for nothing)
        return Opened(case=row, enqueued=sum(1 for e in enqueued if e.created))

    async def log_case(
        self, case_id: int, actions: Sequence[Action], *, origin: str, by: str, reason: str
    ) -> None:
        """A modlog line for something done later in a case (a timer ended it, a moderator
        changed it): ``actions`` say what, ``by`` who, ``reason`` why."""
        case = await self._repos.cases.get(case_id)
        if case is None or self._modlog is None:
            return
        community = self._community()
        accounts = await self.accounts_of(case.member_id) or [case.subject]
        planned = plan(origin, actions, community=community, accounts=accounts)
        lines = self._modlog.planned(origin, case, actions, planned, community, by=by,
                                     reason=reason)  # fmt: skip
        await self._enqueue_planned(
            lines, case_id=case_id, member_id=None, actions=[], record=False
        )

    async def enqueue_actions(
        self,
        case_id: int | None,
        actions: Sequence[Action],
        *,
        member_id: int | None,
        origin: str,
        tx: Transaction | None = None,
        not_before: datetime | None = None,
    ) -> int:
        """Queue more actions on an existing case (a timer's unmute) or on none (a notice);
        idempotent by origin. With ``tx``, in the caller's transaction; with ``not_before``,
        carried out no earlier than that."""
        accounts = await self.accounts_of(member_id) if member_id is not None else []
        return await self._enqueue_planned(
            plan(origin, actions, community=self._community(), accounts=accounts),
            case_id=case_id,
            member_id=member_id,
            actions=actions,
            tx=tx,
            not_before=not_before,
        )

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
            text = f"{case}could not {row.kind}{who} in {row.space_id}: {reason}"
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

    def community(self) -> Community:
        """Where modbridge acts now: the protected spaces and the moderators' rooms."""
        return self._community()

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """A write transaction, for a caller that records several things at once."""
        return self._db.transaction()

    async def _enqueue_planned(
        self,
        planned: Sequence[PlannedAction],
        *,
        case_id: int | None,
        member_id: int | None,
        actions: Sequence[Action],
        record: bool = True,
        tx: Transaction | None = None,
        not_before: datetime | None = None,
    ) -> int:
        async with self._db.using(tx) as tx:
            enqueued = await self._repos.outbox.enqueue(
                [
                    NewAction(
                        key=p.key,
                        platform=p.platform,
                        space_id=p.space_id,
                        action=p.action,
                        not_before=not_before,
                    )
                    for p in planned
                ],
                case_id=case_id,
                tx=tx,
            )
            if record and member_id is not None and any(e.created for e in enqueued):
                await record_sanctions(self._repos, member_id, case_id, actions, tx=tx)
        self._wake()
        return sum(1 for e in enqueued if e.created)

    async def reapply(self, account: Account, *, space_id: str | None, occasion: str) -> int:
        """Apply the member's mutes and bans in force to ``account`` (in one space, or all).

        Mute evasion: a member who leaves and rejoins, or links a new account, is muted or
        banned again. ``occasion`` (a join event, a link) makes the keys unique to it.
        """
        member_id = await self.member_of(account)
        actions: list[Action] = []
        for sanction in await self._repos.sanctions.in_force(member_id, self._clock()):
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
        return await self._enqueue_planned(
            planned, case_id=None, member_id=member_id, actions=actions, record=False
        )
