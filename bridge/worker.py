"""The action worker: carries out what the outbox holds, with retries, and never loses it.

Each claimed action goes to the executor of its platform. A transient failure (rate limit,
server error, platform away) makes it due again later with exponential backoff; a
permanent one (missing permission, member above the bot) is recorded with its reason and
reported to the moderators. Actions on the same member in the same space run in order;
different spaces run concurrently.

Each platform has one lane per urgency (domain.actions.Urgency): deletions, sanctions,
warnings and notices are claimed and run with their own places in hand and their own slots,
so during a raid a backlog of warnings and notices never holds back a deletion or a mute.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta

from domain.actions import URGENCY, Urgency, action_target
from domain.model import DeleteMessage, NotifyModerators, Platform, Space, SpaceKind, Tell
from domain.ports import ActionExecutor, PermanentError, TransientError
from domain.records import ActionRow
from domain.storage_ports import OutboxQueue

log = logging.getLogger(__name__)

FailureHandler = Callable[[ActionRow, str], Awaitable[None]]
# Told of every attempt's outcome ("done", "retry", "failed"): the metrics.
OutcomeHook = Callable[[ActionRow, str], None]
_SPACE_KIND = {Platform.DISCORD: SpaceKind.GUILD, Platform.MATRIX: SpaceKind.ROOM}


ACTION_TIMEOUT = 60.0  # seconds; the outbox lease is five minutes
# Deletions are independent of each other and cheap for a platform: during a raid, when a
# loaded homeserver takes seconds for each, this many times more of them are in flight.
REMOVAL_SHARE = 4
# Transient failures are retried for as long as it takes (a platform may be down for days),
# but after this many attempts (about 20 minutes) the moderators are told, once.
STILL_FAILING_AFTER = 10


def _loggable(row: ActionRow, reason: str) -> str:
    """A private message's error names its recipient, who may be a reporter: not logged."""
    return "(reason withheld: private message)" if isinstance(row.action, Tell) else reason


Lane = tuple[Platform, Urgency]


def _group(row: ActionRow) -> tuple[str, str, str] | None:
    """Actions with the same group run in order: the same member in the same space, or the
    notices of one moderators' room. Deletions are independent of each other: None."""
    if isinstance(row.action, DeleteMessage):
        return None
    target = action_target(row.action)
    return (row.platform.value, row.space_id, target.key if target else "")


def _lane(row: ActionRow) -> Lane:
    return (row.platform, URGENCY[row.kind])


def backoff(attempts: int, retry_after: float | None, *, cap: float = 300.0) -> float:
    """Seconds to wait before the next attempt: the platform's word, or 1, 2, 4 ... cap."""
    exponential = min(cap, 2.0 ** min(attempts, 16))
    if retry_after is not None:
        return min(cap, max(retry_after, 0.05))
    return exponential


class ActionWorker:
    """Drains the outbox into the platform executors."""

    def __init__(
        self,
        *,
        outbox: OutboxQueue,
        executors: Mapping[Platform, ActionExecutor],
        on_failure: FailureHandler,
        clock: Callable[[], datetime],
        community_name: str = "",
        batch: int = 50,
        concurrency: int = 8,
        poll_interval: float = 1.0,
        on_outcome: OutcomeHook | None = None,
    ) -> None:
        self._on_outcome = on_outcome
        self._outbox = outbox
        self._executors = executors
        self._community_name = community_name
        self._on_failure = on_failure
        self._clock = clock
        self._batch = batch
        # Per platform and urgency: a platform that hangs holds up only its own actions,
        # and slow notices hold up only notices.
        self._slots = {
            (platform, urgency): asyncio.Semaphore(
                concurrency * REMOVAL_SHARE if urgency is Urgency.REMOVAL else concurrency
            )
            for platform in Platform
            for urgency in Urgency
        }
        # Claimed by this worker and not finished: queued behind others of their member and
        # space, their lease may run out and the outbox hand them out again. Not twice here.
        self._in_flight: set[int] = set()
        self._poll = poll_interval
        self._wake = asyncio.Event()
        self._stopping = False
        # Tasks of the actions in hand, per lane, and the last one of each member and space
        # (the next one of theirs runs after it); None while `run` is not running.
        self._running: dict[Lane, set[asyncio.Task[None]]] | None = None
        self._tails: dict[tuple[str, str, str], asyncio.Task[None]] = {}
        self._handed: list[ActionRow] = []  # handed over while `run` is not running

    def wake(self) -> None:
        """New actions were enqueued: look now rather than at the next poll."""
        self._wake.set()

    def hand_over(self, rows: Sequence[ActionRow]) -> None:
        """Actions enqueued already claimed (storage.outbox ``hand_over``), their transaction
        committed: start them now, without a claim and its commit in between (a deletion
        during a raid). Unless they are settled, their lease makes them due again."""
        if self._running is None:
            self._handed += rows  # for `run` or `run_once`, when they start
        else:
            self._start(rows, self._running)  # now, even while the loop waits in a claim

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Work until stop(); actions in flight finish, the rest stay in the outbox.

        New actions are claimed while others are still running (a slow ban across fifty
        rooms does not hold up a redaction), up to ``batch`` in flight per platform and
        urgency; actions on the same member in the same space still run in the order they
        were queued.
        """
        # A hung platform, or a slow kind of action, fills only its own lane.
        running: dict[Lane, set[asyncio.Task[None]]] = {lane: set() for lane in self._slots}
        self._running = running
        self._start(self._handed, running)
        self._handed = []
        loop = asyncio.get_running_loop()
        claimed_at = -self._poll  # when the outbox was last looked at
        look = True  # new actions were enqueued, or the last look may have left some behind
        while not self._stopping:
            # Every claim is a write transaction: look when told of new actions, when the
            # last look filled a lane (and a slot has freed since), and once a poll for what
            # came due with time (retries); not each time an action finishes. A platform that
            # is not connected yet is looked at only once a poll (its actions are retried,
            # and counted, as "not connected").
            polled = loop.time() - claimed_at >= self._poll
            rows: list[ActionRow] = []
            if look or polled:
                claimed_at = loop.time()
                rows, look = await self._claim(running, polled=polled)
            self._start(rows, running)
            for key in [k for k, t in self._tails.items() if t.done()]:
                del self._tails[key]
            in_hand = set().union(*running.values())
            if not in_hand:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._poll)
            else:
                waiter = asyncio.create_task(self._wake.wait())
                await asyncio.wait(
                    [waiter, *in_hand], timeout=self._poll, return_when=asyncio.FIRST_COMPLETED
                )
                waiter.cancel()
            look = look or self._wake.is_set()
            self._wake.clear()
        self._running = None
        in_hand = set().union(*running.values())
        if in_hand:
            await asyncio.gather(*in_hand, return_exceptions=True)

    async def _claim(
        self, running: dict[Lane, set[asyncio.Task[None]]], *, polled: bool
    ) -> tuple[list[ActionRow], bool]:
        """Claim what the lanes have room for; also say whether a lane was filled (more may
        be due, to claim as soon as a slot frees)."""
        rows: list[ActionRow] = []
        full = False
        try:
            for platform in Platform:
                if platform not in self._executors and not polled:
                    continue
                free = {u: self._batch - len(running[(platform, u)]) for u in Urgency}
                if any(n > 0 for n in free.values()):
                    got = await self._outbox.claim(platform=platform, lanes=free)
                    taken = Counter(URGENCY[row.kind] for row in got)
                    full = full or any(taken[u] >= n > 0 for u, n in free.items())
                    rows += got
        except Exception as exc:  # the database is locked or failing: try again soon
            log.error("claiming actions failed: %s; retrying", type(exc).__name__)
            await asyncio.sleep(self._poll)
            full = True
        return rows, full

    def _start(
        self, rows: Sequence[ActionRow], running: dict[Lane, set[asyncio.Task[None]]]
    ) -> None:
        """A task for each row, after the one before it of the same member and space."""
        tails = self._tails
        for row in rows:
            if row.id in self._in_flight:
                continue
            self._in_flight.add(row.id)
            key = _group(row)
            task = asyncio.create_task(self._after(tails.get(key) if key else None, row))
            if key is not None:
                tails[key] = task
            running[_lane(row)].add(task)
            task.add_done_callback(running[_lane(row)].discard)

    async def _after(self, previous: asyncio.Task[None] | None, row: ActionRow) -> None:
        try:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            async with self._slots[_lane(row)]:
                await self._attempt(row)
        finally:
            self._in_flight.discard(row.id)

    async def run_once(self) -> int:
        """Carry out every action that is due now, and those handed over; return how many
        were attempted."""
        handed, self._handed = self._handed, []
        rows = [*handed, *await self._outbox.claim(limit=self._batch)]
        if not rows:
            return 0
        groups: dict[object, list[ActionRow]] = defaultdict(list)
        for row in rows:
            groups[_group(row) or row.id].append(row)
        await asyncio.gather(*(self._run_group(group) for group in groups.values()))
        return len(rows)

    async def _run_group(self, rows: list[ActionRow]) -> None:
        async with self._slots[_lane(rows[0])]:
            for row in rows:
                await self._attempt(row)

    async def _attempt(self, row: ActionRow) -> None:
        executor = self._executors.get(row.platform)
        if executor is None:
            await self._retry(row, f"{row.platform.value} is not connected", None)
            return
        # Warnings and private words are tied to no space: they come from the community.
        name = "" if row.space_id else self._community_name
        space = Space(
            platform=row.platform, id=row.space_id, kind=_SPACE_KIND[row.platform], name=name
        )
        try:
            # Well inside the claim's lease, so a hung platform cannot make it run twice.
            result = await asyncio.wait_for(
                executor.execute(row.action, space, key=row.key), ACTION_TIMEOUT
            )
        except TimeoutError:
            await self._retry(row, f"no answer from {row.platform.value} in time", None)
        except TransientError as exc:
            await self._retry(row, str(exc), exc.retry_after)
        except PermanentError as exc:
            await self._fail(row, str(exc))
        except Exception as exc:  # a bug or an unmapped library error: keep the action
            log.exception("action %s (%s) raised %s", row.id, row.kind, type(exc).__name__)
            await self._retry(row, f"unexpected {type(exc).__name__}", None)
        else:
            await self._outbox.mark_done(row.id, result)
            self._tell_outcome(row, "done")
            log.info("action %s done: %s %s in %s", row.id, row.kind, row.platform, row.space_id)

    def _tell_outcome(self, row: ActionRow, outcome: str) -> None:
        if self._on_outcome is not None:
            self._on_outcome(row, outcome)

    async def _retry(self, row: ActionRow, reason: str, retry_after: float | None) -> None:
        delay = backoff(row.attempts, retry_after)
        log.warning(
            "action %s (%s in %s) will be retried in %.1fs: %s",
            row.id, row.kind, row.space_id, delay, _loggable(row, reason),
        )  # fmt: skip
        await self._outbox.retry(row.id, reason, self._clock() + timedelta(seconds=delay))
        self._tell_outcome(row, "retry")
        if row.attempts + 1 == STILL_FAILING_AFTER and not isinstance(row.action, NotifyModerators):
            await self._on_failure(
                row, f"still failing after {STILL_FAILING_AFTER} attempts, retrying: {reason}"
            )

    async def _fail(self, row: ActionRow, reason: str) -> None:
        log.warning(
            "action %s (%s in %s) failed: %s",
            row.id,
            row.kind,
            row.space_id,
            _loggable(row, reason),
        )
        await self._outbox.mark_failed(row.id, reason)
        self._tell_outcome(row, "failed")
        if not isinstance(row.action, NotifyModerators):
            await self._on_failure(row, reason)
