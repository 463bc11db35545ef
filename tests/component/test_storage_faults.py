"""The core when its database cannot be written (a full disk): the event that failed is
handed back (NotRecorded) and judged once there is room again; the moderators are told once,
in words, and told again when it is over. Real SQLite, on a small tmpfs made full (SQLite's
SQLITE_FULL, "database or disk is full")."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bridge.health import DISK_FULL, RECOVERED
from bridge.texts import Texts
from domain.model import Account, Author, Channel, Message, Platform
from domain.ports import NotRecorded
from storage.db import StorageError
from tests.component.harness import ModBot
from tests.disks import SmallDisk, small_disk

MODS = ("!mods:hs", "modchan")  # the harness's moderators' rooms, Matrix then Discord


def insult(mid: str, text: str = "you idiot") -> Message:
    return Message(
        id=mid,
        author=Author(account=Account(platform=Platform.MATRIX, id="@ann:hs")),
        channel=Channel(platform=Platform.MATRIX, id="!a:hs", space_id="!a:hs"),
        text=text,
        ts=datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
    )


def told(bot: ModBot, text: str) -> list[str]:
    return [room for room, said in bot.answers if said == text]


async def test_a_violation_while_the_disk_is_full_is_judged_once_there_is_room(
    tmp_path: Path,
) -> None:
    with small_disk(tmp_path / "disk") as disk:
        bot = await ModBot.open(disk.path / "db.sqlite")
        try:
            await check_full_disk(bot, disk)
        finally:
            await bot.db.close()


async def check_full_disk(bot: ModBot, disk: SmallDisk) -> None:
    disk.fill()
    for _ in range(3):  # the platform adapter hands it in again and again
        with pytest.raises(NotRecorded):
            await bot.core.on_message(insult("$first"))
    assert sorted(told(bot, DISK_FULL)) == sorted(MODS)  # once per moderators' room
    assert bot.matrix.done == []

    disk.free()
    await bot.core.on_message(insult("$first"))
    await bot.drain()
    assert ("DeleteMessage", "!a:hs") in bot.matrix.kinds()
    assert sorted(told(bot, RECOVERED)) == sorted(MODS)
    case = await bot.repos.cases.get(1)
    assert case is not None
    assert case.subject.id == "@ann:hs"

    await bot.core.on_message(insult("$first"))  # handed in once more: judged once
    await bot.drain()
    assert bot.matrix.kinds().count(("DeleteMessage", "!a:hs")) == 1
    assert len(told(bot, DISK_FULL)) == len(MODS)


async def test_a_message_that_writes_nothing_does_not_say_the_disk_is_back(
    tmp_path: Path,
) -> None:
    """On Discord each event is retried on its own: a clean message (nothing to write) that
    goes through meanwhile must not tell the moderators that writes work again."""
    with small_disk(tmp_path / "disk") as disk:
        bot = await ModBot.open(disk.path / "db.sqlite")
        try:
            await bot.core.on_message(insult("$hello", "hello"))  # Ann is known from now on
            disk.fill()
            with pytest.raises(NotRecorded):
                await bot.core.on_message(insult("$held"))
            await bot.core.on_message(insult("$chat", "how is everyone"))
            assert told(bot, RECOVERED) == []
            disk.free()
            await bot.core.on_message(insult("$held"))
            assert sorted(told(bot, RECOVERED)) == sorted(MODS)
            assert sorted(told(bot, DISK_FULL)) == sorted(MODS)
        finally:
            await bot.db.close()


async def test_a_direct_message_held_many_times_is_answered_not_paced(tmp_path: Path) -> None:
    """A direct message written while the disk was full is handed in again and again: it
    counts once towards the pace of 20 a minute, or its writer would be told to slow down."""
    ann = Account(platform=Platform.MATRIX, id="@ann:hs")
    dm = Message(
        id="$consent",
        author=Author(account=ann),
        channel=Channel(platform=Platform.MATRIX, id="!dm-ann:hs", is_dm=True),
        text="dm open",
        ts=datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
    )
    with small_disk(tmp_path / "disk") as disk:
        bot = await ModBot.open(disk.path / "db.sqlite")
        try:
            disk.fill()
            for _ in range(25):
                with pytest.raises(NotRecorded):
                    await bot.core.on_direct_message(dm)
            disk.free()
            await bot.core.on_direct_message(dm)
            to_ann = [text for room, text in bot.answers if room == "!dm-ann:hs"]
            assert len(to_ann) == 1
            assert to_ann != [Texts().too_fast]
            member = await bot.members.member_of(ann)
            assert await bot.repos.consent.default(member) is not None  # it was carried out
        finally:
            await bot.db.close()


async def test_a_bug_is_not_a_full_disk(tmp_path: Path) -> None:
    """Only storage failures hold an event: a handler's bug must not block every event
    behind it (the adapter logs it and goes on)."""
    bot = await ModBot.open(tmp_path / "db.sqlite")

    async def broken(message: Message) -> None:
        raise ValueError("a bug")

    bot.judge.on_message = broken  # type: ignore[method-assign]
    try:
        with pytest.raises(ValueError, match="a bug"):
            await bot.core.on_message(insult("$bug"))
        assert bot.answers == []
    finally:
        await bot.db.close()


async def test_the_database_closes_on_a_full_disk(tmp_path: Path) -> None:
    """At shutdown on a full disk: closing must not fail, or the database's thread keeps
    the process from exiting."""
    with small_disk(tmp_path / "disk") as disk:
        bot = await ModBot.open(disk.path / "db.sqlite")
        await bot.core.on_message(insult("$before"))  # something to write back at close
        disk.fill()
        await bot.db.close()
        with pytest.raises(StorageError, match="closed"):
            async with bot.db.transaction():
                pass
