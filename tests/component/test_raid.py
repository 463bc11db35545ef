"""Under a raid: the worker removes content first, and keeps sanctions in order."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bridge.worker import ActionWorker
from domain.actions import ActionKind
from domain.model import (
    Account,
    Action,
    Author,
    Ban,
    Channel,
    DeleteMessage,
    Message,
    Mute,
    NotifyModerators,
    Platform,
    Space,
    Tell,
    Unban,
    Unmute,
    Warn,
)
from domain.ports import TransientError
from storage.outbox import ActionRow, NewAction
from tests.component.harness import ModBot
from tests.fakes import Clock, eventually
from tests.gated_commits import open_gated, queue_behind


@dataclass
class SlowTalker:
    """A platform on which warnings and notices take as long as the test says (until
    ``talk`` is set), and everything else is quick."""

    platform: Platform = Platform.MATRIX
    talk: asyncio.Event = field(default_factory=asyncio.Event)
    done: list[tuple[Action, str]] = field(default_factory=list)
    fail_first: type | None = None  # the first action of this type fails (a 502)

    async def execute(self, action: Action, space: Space, *, key: str = "") -> str:
        if isinstance(action, Warn | Tell | NotifyModerators):
            await self.talk.wait()
        if self.fail_first is not None and isinstance(action, self.fail_first):
            self.fail_first = None
            raise TransientError("502 from the homeserver")
        self.done.append((action, space.id))
        return "done"


def raider(n: int) -> Account:
    return Account(platform=Platform.MATRIX, id=f"@raider{n}:hs")


async def test_a_deletion_does_not_wait_behind_twenty_warnings_and_their_notices(
    bot: ModBot,
) -> None:
    """Twenty raiders' warnings and forty notices are queued first, and the homeserver is
    slow to take them: the deletion queued after them is carried out meanwhile."""
    homeserver = SlowTalker()
    bot.worker._executors = {Platform.MATRIX: homeserver}
    for n in range(20):
        await bot.writer.enqueue_actions(
            None,
            [Warn(target=raider(n), reason="insults"), NotifyModerators(text=f"case {n}")],
            member_id=None,
            origin=f"raid:{n}",
        )
        await bot.writer.enqueue_actions(
            None, [NotifyModerators(text=f"more {n}")], member_id=None, origin=f"more:{n}"
        )
    delete = DeleteMessage(platform=Platform.MATRIX, channel_id="!a:hs", message_id="$spam")
    await bot.writer.enqueue_actions(None, [delete], member_id=None, origin="msg:$spam")
    try:
        await eventually(lambda: (delete, "!a:hs") in homeserver.done)
        assert not any(isinstance(a, Warn | NotifyModerators) for a, _ in homeserver.done)
    finally:
        homeserver.talk.set()  # the warnings and notices still arrive, all of them
    await eventually(lambda: len(homeserver.done) == 61)


async def test_a_mute_and_its_unmute_keep_their_order_when_the_mute_must_be_retried(
    bot: ModBot,
) -> None:
    """The mute in one room fails once (and waits for its retry); the unmute queued after
    it, and a ban and unban of the same member, still land in the order they were queued
    in each room, and a deletion is not held up by any of it."""
    homeserver = SlowTalker(fail_first=Mute)
    homeserver.talk.set()
    bot.worker._executors = {Platform.MATRIX: homeserver}
    kip = Account(platform=Platform.MATRIX, id="@kip:hs")
    member_id = await bot.members.member_of(kip)
    mute = Mute(target=kip, until=bot.clock() + bot.engine.policy.escalation.decay, reason="raid")
    sanctions: list[Action] = [mute, Unmute(target=kip), Ban(target=kip, reason="raid")]
    for n, action in enumerate(sanctions):
        await bot.writer.enqueue_actions(None, [action], member_id=member_id, origin=f"s{n}")
    spam = DeleteMessage(platform=Platform.MATRIX, channel_id="!b:hs", message_id="$spam")
    await bot.writer.enqueue_actions(None, [spam], member_id=None, origin="msg:$spam")
    await bot.writer.enqueue_actions(None, [Unban(target=kip)], member_id=member_id, origin="s3")
    await eventually(lambda: (spam, "!b:hs") in homeserver.done)
    held = [a for a, room in homeserver.done if room == "!a:hs" and not isinstance(a, Mute)]
    assert held == []  # everything on Kip in !a:hs waits for the mute there
    bot.clock.advance(seconds=5)  # the mute's retry is due
    bot.worker.wake()
    await eventually(lambda: len(homeserver.done) == 9)
    for room in ("!a:hs", "!b:hs"):
        order = [type(a).__name__ for a, space in homeserver.done if space == room]
        assert [k for k in order if k != "DeleteMessage"] == ["Mute", "Unmute", "Ban", "Unban"]


async def test_replays_are_recognised_from_memory_and_old_ones_from_the_database(
    tmp_path: Path,
) -> None:
    """Judging a clean message asks the database nothing (raids are fast); a replay is still
    recognised after a restart, also of a message older than what is kept in memory."""
    first = await ModBot.open(tmp_path / "db.sqlite")
    await first.say("idiot", mid="$old")
    sent_at = first.clock()
    await first.drain()
    await first.db.close()
    second = await ModBot.open(tmp_path / "db.sqlite")
    second.clock.advance(days=3)  # the restart's catch-up hands over a message of 3 days ago
    old = Message(
        id="$old",
        author=Author(account=Account(platform=Platform.MATRIX, id="@ann:hs")),
        channel=Channel(platform=Platform.MATRIX, id="!a:hs", space_id="!a:hs"),
        text="idiot",
        ts=sent_at,
    )
    try:
        assert await second.judge.on_message(old) is None  # not judged again
        await second.say("idiot", mid="$new")
        await second.drain()
        assert [type(a).__name__ for a, _ in second.matrix.done].count("DeleteMessage") == 1
    finally:
        await second.db.close()


async def test_a_deletion_starts_as_its_case_commits_not_after_the_workers_next_claim(
    bot: ModBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's claims are stuck (each is a commit, and the disk is slow): the insult is
    deleted all the same, once; its warning and notice follow when the claims come through."""
    claims_through = asyncio.Event()
    claim = bot.repos.outbox.claim

    async def slow_claim(**kwargs: Any) -> list[ActionRow]:
        await claims_through.wait()
        return await claim(**kwargs)

    monkeypatch.setattr(bot.repos.outbox, "claim", slow_claim)
    bot.worker.wake()  # the worker's next look waits in a claim
    try:
        await bot.say("you idiot", mid="$insult")
        await eventually(lambda: ("DeleteMessage", "!a:hs") in bot.matrix.kinds())
        assert [kind for kind, _ in bot.matrix.kinds()] == ["DeleteMessage"]
    finally:
        claims_through.set()
    await eventually(lambda: ("Warn", "") in bot.matrix.kinds())
    await bot.drain()
    assert [kind for kind, _ in bot.matrix.kinds()].count("DeleteMessage") == 1
    rows = await bot.repos.outbox.of_case(1)
    assert {row.kind.value: row.state.value for row in rows}["delete"] == "done"


async def test_a_raiders_next_violations_wait_for_no_commit_and_keep_their_order(
    tmp_path: Path,
) -> None:
    """The disk is slow: the first violation's COMMIT is held. The raider's next three are
    judged meanwhile and wait in line behind it (one at a time per member no longer means
    one commit at a time), then share one commit; nothing is deleted before its own commit,
    and the ladder still counts the points in the order the messages came."""
    clock = Clock()
    db, disk = await open_gated(tmp_path / "db.sqlite", clock)
    bot = ModBot(db, clock)
    try:
        await bot.say("hello", mid="$0")  # the raider is known, and their points loaded
        disk.gate.clear()
        disk.commits_asked = 0
        disk.asked.clear()
        first = asyncio.create_task(bot.say("you idiot", mid="$1"))
        await asyncio.wait_for(disk.asked.wait(), 10)
        rest = [asyncio.create_task(bot.say("you idiot", mid=f"${n}")) for n in (2, 3, 4)]
        await queue_behind(db, 3, first)
        # None is done, so none has handed its deletion to the worker: not before it is durable.
        assert not any(task.done() for task in (first, *rest))
        disk.gate.set()
        await asyncio.gather(first, *rest)
        assert disk.commits_asked == 2  # the first case's, then one for the other three
        await bot.drain()
        deleted = [a.message_id for a, _ in bot.matrix.done if isinstance(a, DeleteMessage)]
        assert sorted(deleted) == ["$1", "$2", "$3", "$4"]
        cases = [await bot.repos.cases.get(n) for n in (1, 2, 3, 4)]
        assert [c.dedupe_key.rsplit(":", 1)[1] for c in cases if c and c.dedupe_key] == [
            "$1", "$2", "$3", "$4",
        ]  # fmt: skip
        # 2 points each, a mute at 4: the second violation's case carries it.
        muting = [n for n in (1, 2, 3, 4) if "mute" in await kinds_of_case(bot, n)]
        assert muting[:1] == [2]
    finally:
        disk.gate.set()
        await db.close()


async def kinds_of_case(bot: ModBot, case_id: int) -> list[str]:
    return [row.kind.value for row in await bot.repos.outbox.of_case(case_id)]


async def test_deletions_handed_over_and_finished_do_not_send_the_worker_to_the_outbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every look in the outbox is a write transaction: twenty deletions handed over and
    carried out cost no claim beyond the worker's first look (before, one per action done)."""
    bot = await ModBot.open(tmp_path / "db.sqlite")  # its own worker is not running
    claims = 0
    claim = bot.repos.outbox.claim

    async def counted(**kwargs: Any) -> list[ActionRow]:
        nonlocal claims
        claims += 1
        return await claim(**kwargs)

    monkeypatch.setattr(bot.repos.outbox, "claim", counted)
    worker = ActionWorker(
        outbox=bot.repos.outbox, executors={Platform.MATRIX: bot.matrix},
        on_failure=bot.writer.tell_failure, clock=bot.clock, poll_interval=3600,
    )  # fmt: skip
    running = asyncio.create_task(worker.run())
    try:
        first_look = len(Platform)  # a claim for each platform
        await eventually(lambda: claims == first_look)
        deletions = [
            NewAction(key=f"msg:$spam{n}", platform=Platform.MATRIX, space_id="!a:hs",
                      action=DeleteMessage(platform=Platform.MATRIX, channel_id="!a:hs",
                                           message_id=f"$spam{n}"))
            for n in range(20)
        ]  # fmt: skip
        enqueued = await bot.repos.outbox.enqueue(deletions, hand_over={ActionKind.DELETE})
        worker.hand_over([e.action for e in enqueued])
        await eventually(lambda: len(bot.matrix.done) == 20)
        assert claims == first_look
    finally:
        worker.stop()
        await running
        await bot.db.close()
