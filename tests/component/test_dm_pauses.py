"""Pausing DMs on Discord is an action like the others: a moderator's command opens a case
with an audit record and outbox rows, the executor carries it out, and the scheduler's
timers renew it past Discord's 24 hours, also across a restart, until a resume ends it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from domain.model import (
    Account,
    Author,
    CommandName,
    ModCommand,
    NotifyModerators,
    PauseDms,
    Platform,
    ResumeDms,
)
from storage.db import Database, load_migrations
from storage.kv import KeyValueRepository
from tests.component.harness import ModBot
from tests.fakes import Clock

DISCORD_MOD = Author(account=Account(platform=Platform.DISCORD, id="555"), is_moderator=True)


async def started(path: Path, clock: Clock | None = None) -> tuple[ModBot, asyncio.Task[None]]:
    if clock is None:
        bot = await ModBot.open(path)
    else:  # the same clock over the same database: a restart
        bot = ModBot(await Database.open(path, clock=clock), clock)
    return bot, asyncio.create_task(bot.worker.run())


async def stopped(bot: ModBot, worker: asyncio.Task[None]) -> None:
    bot.worker.stop()
    await worker
    await bot.db.close()


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[ModBot]:
    bot, worker = await started(tmp_path / "modbridge.db")
    yield bot
    await stopped(bot, worker)


def pauses(bot: ModBot) -> list[tuple[str, PauseDms | ResumeDms]]:
    return [
        (space, action)
        for action, space in bot.discord.done
        if isinstance(action, PauseDms | ResumeDms)
    ]


async def test_a_pause_leaves_a_case_an_audit_record_and_outbox_rows(bot: ModBot) -> None:
    answer = await bot.typed("!dms pause 12h raid from a botnet")

    assert answer.startswith("Case #1: DMs between members are paused until 2026-11-25 00:00 UTC:")
    assert "  done: pause DMs in g1 (Discord)" in answer
    assert "  done: pause DMs in g2 (Discord)" in answer
    assert answer.endswith("Matrix has no equivalent: only Discord servers are paused.")
    case = await bot.repos.cases.get(1)
    assert case is not None
    assert (case.origin, case.reason) == ("matrix:@mod:hs", "raid from a botnet")
    rows = await bot.repos.outbox.of_case(1)
    assert {(r.kind.value, r.space_id) for r in rows if r.platform is Platform.DISCORD} >= {
        ("pause-dms", "g1"),
        ("pause-dms", "g2"),
    }
    audit = [e for e in await bot.repos.audit.recent() if e.event == "case_opened"]
    assert [(e.actor, e.details["case"]) for e in audit] == [("matrix:@mod:hs", 1)]
    ends = {space: action.until for space, action in pauses(bot) if isinstance(action, PauseDms)}
    assert ends == {
        "g1": bot.clock() + timedelta(hours=12),
        "g2": bot.clock() + timedelta(hours=12),
    }
    await bot.drain()
    modlog = [a.text for a, _ in bot.matrix.done if isinstance(a, NotifyModerators) and a.modlog]
    assert modlog == [
        "[modlog] Case #1 · DMs paused 12h · @mod:hs · Discord: g1, g2 · by @mod:hs"
        " · raid from a botnet"
    ]
    # A pause within Discord's 24 hours needs no renewal.
    bot.clock.advance(hours=13)
    assert await bot.scheduler.fire_due() == 0


async def test_a_long_pause_is_renewed_by_timers_across_a_restart_until_a_resume(
    tmp_path: Path,
) -> None:
    path = tmp_path / "modbridge.db"
    bot, worker = await started(path)
    clock = bot.clock
    command = ModCommand(name=CommandName.DMS, duration=timedelta(hours=48), space_id="g1")
    answer = await bot.moderation.on_mod_command(command, moderator=DISCORD_MOD, origin="i:1")
    assert "paused until 2026-11-26 12:00 UTC (renewed past Discord's 24-hour limit)" in answer
    assert [space for space, _ in pauses(bot)] == ["g1"]  # the guild it was given in, only
    await stopped(bot, worker)

    clock.advance(hours=12)
    bot, worker = await started(path, clock)  # modbridge restarted meanwhile
    try:
        assert await bot.scheduler.fire_due() == 1
        await bot.drain()
        (renewed,) = [a for _, a in pauses(bot) if isinstance(a, PauseDms)]
        assert renewed.until == clock() + timedelta(hours=36)  # the end the moderator asked
        rows = await bot.repos.outbox.of_case(1)
        assert sum(1 for r in rows if r.kind.value == "pause-dms") == 2  # the case's record

        clock.advance(hours=12)
        assert await bot.scheduler.fire_due() == 1  # and again, 12 hours on
        await bot.drain()
        answer = await bot.moderation.on_mod_command(
            ModCommand(name=CommandName.DMS, resume=True, space_id="g1"),
            moderator=DISCORD_MOD, origin="i:2",
        )  # fmt: skip
        assert answer.startswith("Case #2: DMs between members are back on:")
        assert isinstance(pauses(bot)[-1][1], ResumeDms)
        clock.advance(hours=12)
        assert await bot.scheduler.fire_due() == 0  # the resume ended the renewals
    finally:
        await stopped(bot, worker)


async def test_a_newer_shorter_pause_ends_the_older_ones_renewals(bot: ModBot) -> None:
    await bot.typed("!dms pause 7d", mid="$1")
    await bot.typed("!dms pause 2h", mid="$2")
    bot.clock.advance(hours=12)
    assert await bot.scheduler.fire_due() == 0  # the 7-day pause is not applied again


async def test_a_refused_pause_says_why_and_is_not_renewed(bot: ModBot) -> None:
    bot.discord.permanent = "pause DMs in guild 1: the bot needs the Manage Server permission"
    answer = await bot.typed("!dms pause 48h")
    assert answer.startswith("Case #1: DMs between members could not be paused:")
    assert "Manage Server" in answer
    await bot.drain()
    told = [a.text for a, _ in bot.matrix.done if isinstance(a, NotifyModerators)]
    assert any(t.startswith("Case #1: could not pause DMs in g") for t in told), told
    bot.clock.advance(hours=12)
    assert await bot.scheduler.fire_due() == 0


async def test_bad_dm_pause_commands_are_answered_and_do_nothing(bot: ModBot) -> None:
    assert "Usage: !dms pause <duration>" in await bot.typed("!dms pause")
    assert "at most 28d" in await bot.typed("!dms pause 30d")
    elsewhere = ModCommand(name=CommandName.DMS, duration=timedelta(hours=1), space_id="g9")
    answer = await bot.moderation.on_mod_command(elsewhere, moderator=DISCORD_MOD, origin="i:3")
    assert answer == "This server is not one modbridge protects: nothing was paused."
    assert pauses(bot) == []
    assert await bot.repos.cases.get(1) is None


async def test_a_pause_kept_by_an_older_version_is_renewed_by_a_timer_after_the_upgrade(
    tmp_path: Path,
) -> None:
    """Before DM pauses were cases, the Discord connection kept a long pause on from the
    key-value store; after the upgrade a timer applies it again until its end."""
    path = tmp_path / "modbridge.db"
    older = await Database.open(path, migrations=load_migrations()[:6])
    wanted = datetime.now(UTC) + timedelta(hours=30)
    await KeyValueRepository(older).set("discord:dms-paused-until:g2", wanted.isoformat())
    await older.close()

    clock = Clock()
    clock.now = datetime.now(UTC)
    bot, worker = await started(path, clock)
    clock.advance(seconds=5)  # the migration's own clock read "now" a moment after ours
    try:
        assert await bot.scheduler.fire_due() == 1
        await bot.drain()
        assert [(space, a) for space, a in pauses(bot)] == [
            ("g2", PauseDms(space_id="g2", until=wanted, reason="a DM pause set before an upgrade"))
        ]
        assert await KeyValueRepository(bot.db).get("discord:dms-paused-until:g2") is None
        clock.advance(hours=12)
        assert await bot.scheduler.fire_due() == 1  # 30 hours reach past one application
    finally:
        await stopped(bot, worker)
