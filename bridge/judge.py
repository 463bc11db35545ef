"""Judging: a message from a protected space in, a verdict out, and the verdict's case handed
to the case writer (`bridge.writer`).

A message delivered twice (a reconnect, a restart's catch-up) is judged once. The engine
is pure: it finds the hits, and for a message that earns strike points the verdict is
decided again from the member's live points, which the writer reads from storage in the
case's own transaction. A clean message costs no database round trip.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta

from bridge.members import Members
from bridge.writer import CaseWriter, Opened
from domain.cases import NewCase, OriginKind
from domain.model import Account, Action, Channel, Message, Verdict
from domain.storage_ports import CaseFile
from rules.engine import Engine
from rules.penalties import blocked_hit_actions

log = logging.getLogger(__name__)

RECENT_MESSAGES = 10_000  # message keys remembered to drop replays within one run
# Cases opened this long back are known in memory: a replay of a message younger than that
# (a reconnect, a restart's catch-up) is recognised without asking the database, so judging
# a clean message during a raid never waits for another's commit.
JUDGED_MEMORY = timedelta(days=2)
JUDGED_MAX = 200_000  # case keys kept at most (then only younger messages skip the database)


def message_key(message: Message) -> str:
    """What makes a message event unique: Discord edits keep the message's id."""
    key = f"msg:{message.platform.value}:{message.id}"
    if message.edit_of is not None:
        key += f":edit:{message.ts.isoformat()}"
    return key


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


class Judge:
    """Judges messages, and hits a platform blocked by itself, into cases."""

    def __init__(
        self,
        *,
        members: Members,
        writer: CaseWriter,
        cases: CaseFile,
        engine: Callable[[], Engine],
        clock: Callable[[], datetime],
        on_judged: Callable[[Message, Verdict], None] | None = None,
    ) -> None:
        self._members = members
        self._writer = writer
        self._cases = cases
        self._engine = engine
        self._clock = clock
        self._on_judged = on_judged  # the metrics: counts only, never the text
        # One message of a member at a time: judge and record without interleaving.
        self._member_locks: weakref.WeakValueDictionary[int, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._recent: OrderedDict[str, None] = OrderedDict()  # message keys already judged
        self._judged: set[str] = set()  # dedupe keys of the cases opened since _judged_since
        self._judged_since: datetime | None = None

    async def on_message(self, message: Message) -> Verdict | None:
        """Judge one message from a protected space and queue what the verdict says."""
        if message.author.is_bot:
            return None
        key = message_key(message)
        member_id = await self._members.member_of(message.author.account)
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
                self._recent.pop(key, None)  # nothing was recorded: a redelivery is judged
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
            loaded = await self._cases.dedupe_keys_since(since)
            # Keys added while loading stay: their cases are committed too.
            self._judged = loaded | self._judged if self._judged_since is None else loaded
            self._judged_since = since
            if key in self._judged:
                return True
        if message.ts >= self._judged_since:
            return False  # every case about so recent a message is in memory
        return await self._cases.opened_for(key)

    async def _judge(self, message: Message, member_id: int, queued: Callable[[], None]) -> Verdict:
        engine = self._engine()
        # Points before this message are read only if it earns some (see `decide`).
        verdict = engine.evaluate(message, member=f"member:{member_id}", points=0)
        if verdict.clean:
            return verdict
        rules = [h.rule_id for h in verdict.hits]
        log.info(
            "message %s in %s by %s hit %s", message.id, message.channel.id,
            message.author.account.key, ",".join(rules),
        )  # fmt: skip
        enforced = [h for h in verdict.hits if h.mode.value == "enforce"]
        strikes = [(h.rule_id, h.points) for h in enforced if h.points]
        if not verdict.actions and not strikes:
            await self._writer.audit(
                "engine", "observed", message.author.account.key,
                {"message_id": message.id, "rules": rules},
            )  # fmt: skip
            return verdict

        def decide(points: int) -> tuple[Action, ...]:
            """The verdict for a member who had ``points`` live points before the message."""
            nonlocal verdict
            verdict = engine.rejudge(message, verdict, points=points)
            return verdict.actions

        opened = await self._writer.open_case(
            NewCase(
                subject=message.author.account,
                origin_kind=OriginKind.RULE,
                origin=",".join(h.rule_id for h in enforced),
                reason="; ".join(f"{h.rule_id}: {h.clause}" for h in enforced),
                evidence="; ".join(h.matched for h in enforced)[:500],
                dedupe_key=message_key(message),
            ),
            decide if strikes else verdict.actions,
            member_id=member_id,
            message=message,
            strikes=strikes,
            queued=queued,
        )
        if opened.created:
            self._judged.add(message_key(message))  # committed: a replay of it is known now
        log.info("case %s opened for message %s", opened.case.id, message.id)
        return verdict

    async def blocked(
        self, *, rule_id: str, author: Account, channel: Channel, matched: str
    ) -> Opened | None:
        """A message a platform blocked by itself (Discord AutoMod) for one of our rules:
        the hit counts like any other (see `rules.penalties.blocked_hit_actions`)."""
        policy = self._engine().policy
        rule = next((r for r in policy.rules if r.id == rule_id), None)
        if rule is None:
            log.info("AutoMod hit for %s: not one of our rules", rule_id)
            return None
        now = self._clock()

        def decide(points: int) -> tuple[Action, ...]:
            return (
                blocked_hit_actions(
                    policy, rule_id, author=author, channel_id=channel.id, before=points, now=now
                )
                or ()
            )

        return await self._writer.open_case(
            NewCase(
                subject=author,
                origin_kind=OriginKind.RULE,
                origin=rule.id,
                reason=f"{rule.id}: {rule.clause}",
                evidence=matched[:200],
                dedupe_key=f"automod:{author.key}:{channel.id}:{now.isoformat()}",
            ),
            decide,
            member_id=await self._members.member_of(author),
            strikes=[(rule.id, rule.points)] if rule.points else [],
        )
