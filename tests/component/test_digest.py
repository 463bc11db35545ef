"""A raid does not become hundreds of notices: per member and window, one warning and one
moderators' notice sum up the hits after the first; every case is still recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from domain.model import Account, DeleteMessage, Mute, NotifyModerators, Platform, Warn
from tests.component.harness import ModBot


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[ModBot]:
    bot = await ModBot.open(tmp_path / "modbridge.db", digest=timedelta(minutes=1))
    yield bot
    await bot.db.close()


def told(bot: ModBot) -> tuple[list[str], list[str]]:
    """The warnings Kip read and the notices in the Matrix mod room, in order."""
    warnings = [a.reason for a, _ in bot.matrix.done if isinstance(a, Warn)]
    notices = [
        a.text
        for a, room in bot.matrix.done
        if isinstance(a, NotifyModerators) and room == "!mods:hs" and not a.modlog
    ]
    return warnings, notices


def modlog(bot: ModBot) -> list[str]:
    """The modlog lines in the Matrix mod room."""
    return [
        a.text
        for a, room in bot.matrix.done
        if isinstance(a, NotifyModerators) and room == "!mods:hs" and a.modlog
    ]


async def raid(bot: ModBot, first: int, count: int) -> None:
    for n in range(first, first + count):
        room = "!a:hs" if n % 3 else "!b:hs"
        await bot.say("you idiot", author="@kip:hs", room=room, mid=f"$raid{n}")
        bot.clock.advance(seconds=4)
    await bot.drain()


async def test_twelve_hits_in_a_minute_are_told_once_at_once_and_once_summed_up(
    bot: ModBot,
) -> None:
    await raid(bot, 1, 12)
    deleted = [a for a, _ in bot.matrix.done if isinstance(a, DeleteMessage)]
    assert len(deleted) == 12  # nothing held back: every message is gone at once
    assert any(isinstance(a, Mute) for a, _ in bot.matrix.done)  # and the ladder's mute
    warnings, notices = told(bot)
    assert warnings == ["a listed word or phrase"]  # the first hit, told at once
    assert len(notices) == 1
    assert notices[0].startswith("Case #1: @kip:hs in !a:hs")
    assert [line.split(" · ")[0] for line in modlog(bot)] == ["[modlog] Case #1"]  # not 12

    bot.clock.advance(seconds=15)  # the window ends a minute after the first hit
    assert await bot.scheduler.fire_due() == 1
    await bot.drain()
    warnings, notices = told(bot)
    assert warnings[1:] == [
        "11 more messages removed in 2 rooms in the last minute: a listed word or phrase"
    ]
    assert notices[1:] == [
        "Cases #2-#12: 11 more messages removed from matrix:@kip:hs in 2 rooms in the last "
        "minute, muted for 1h (insults)"
    ]
    assert [c.id for c in await bot.repos.cases.of_member(await member(bot))] == list(
        range(1, 13)
    )  # each case recorded, for !case and !history


async def test_the_raid_goes_on_one_summary_a_window_and_quiet_closes_the_window(
    bot: ModBot,
) -> None:
    await raid(bot, 1, 3)  # 0 s, 4 s, 8 s: the first told, two held
    bot.clock.advance(seconds=50)
    await bot.scheduler.fire_due()
    await raid(bot, 4, 2)  # within the next window: held
    bot.clock.advance(seconds=60)
    await bot.scheduler.fire_due()
    await bot.drain()
    warnings, notices = told(bot)
    assert len(warnings) == len(notices) == 3
    assert "Cases #2-#3: 2 more messages" in notices[1]
    assert "Cases #4-#5: 2 more messages" in notices[2]
    bot.clock.advance(seconds=61)  # a quiet window: nothing to say, and it closes
    await bot.scheduler.fire_due()
    await bot.drain()
    assert len(told(bot)[1]) == 3
    await raid(bot, 6, 1)  # the next hit is told at once again
    assert told(bot)[1][-1].startswith("Case #6: @kip:hs")


async def member(bot: ModBot) -> int:
    return await bot.members.member_of(Account(platform=Platform.MATRIX, id="@kip:hs"))
