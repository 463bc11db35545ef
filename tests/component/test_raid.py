"""Under a raid: the worker removes content first, and keeps sanctions in order."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

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
from tests.component.harness import ModBot
from tests.fakes import eventually


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
