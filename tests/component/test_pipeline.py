"""The core with fake platforms: what a member and the moderators would see."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bridge.commands import parse_command
from bridge.compose import housekeeping
from bridge.conversation import DRAFT_PREFIX
from bridge.scheduler import Scheduler
from bridge.worker import backoff
from domain.model import (
    Account,
    Action,
    Author,
    Ban,
    Channel,
    DeleteMessage,
    Mute,
    NotifyModerators,
    Platform,
    Space,
    Unmute,
    Warn,
)
from storage.outbox import ActionState
from tests.component.harness import ModBot
from tests.fakes import eventually


async def test_insult_is_deleted_warned_and_reported_with_a_case(bot: ModBot) -> None:
    await bot.say("you idiot", mid="$e1")
    await bot.drain()
    assert bot.matrix.kinds() == [
        ("DeleteMessage", "!a:hs"),
        ("Warn", ""),
        ("NotifyModerators", "!mods:hs"),
        ("NotifyModerators", "!mods:hs"),  # the modlog line
    ]
    assert bot.discord.kinds() == [("NotifyModerators", "modchan")] * 2
    notice = bot.matrix.done[2][0]
    assert notice.text.startswith("Case #1: ")  # type: ignore[union-attr]
    modlog = bot.matrix.done[3][0]
    assert modlog.text == (  # type: ignore[union-attr]
        "[modlog] Case #1 · message deleted + warn · @ann:hs · Matrix: !a:hs · by rule insults"
        " · insults: No insults"
    )
    case = await bot.repos.cases.get(1)
    assert case is not None
    assert case.origin == "insults"
    assert case.evidence == "idiot"
    # The audit log has ids and rule names, never the message text.
    audit = await bot.repos.audit.recent()
    assert all("you idiot" not in str(entry) for entry in audit)


async def test_the_same_event_delivered_twice_acts_once(bot: ModBot) -> None:
    await bot.say("idiot", mid="$dup")
    await bot.say("idiot", mid="$dup")
    await bot.drain()
    assert [k for k, _ in bot.matrix.kinds()].count("DeleteMessage") == 1
    assert await bot.repos.strikes.live_points(1, bot.clock()) == 2


async def test_points_escalate_to_a_mute_on_every_space_then_it_ends_on_time(
    bot: ModBot,
) -> None:
    await bot.repos.identity.link(
        Account(platform=Platform.MATRIX, id="@ann:hs"),
        Account(platform=Platform.DISCORD, id="111111111111111111"),
    )
    await bot.say("idiot", mid="$1")
    await bot.say("idiot", mid="$2")
    await bot.drain()
    mutes = [(a, s) for a, s in bot.matrix.done + bot.discord.done if isinstance(a, Mute)]
    assert sorted(s for _, s in mutes) == ["!a:hs", "!b:hs", "g1", "g2"]
    assert {a.target.key for a, _ in mutes} == {"matrix:@ann:hs", "discord:111111111111111111"}
    bot.clock.advance(minutes=59)
    assert await bot.scheduler.fire_due() == 0
    bot.clock.advance(minutes=2)
    assert await bot.scheduler.fire_due() == 1
    await bot.drain()
    unmutes = [s for a, s in bot.matrix.done + bot.discord.done if isinstance(a, Unmute)]
    assert sorted(unmutes) == ["!a:hs", "!b:hs", "g1", "g2"]


async def test_timers_survive_a_restart(tmp_path: Path) -> None:
    first = await ModBot.open(tmp_path / "db.sqlite")
    await first.command("!mute @bob:hs 30m spamming", origin="c1")
    await first.drain()
    await first.db.close()
    second = await ModBot.open(tmp_path / "db.sqlite")
    second.clock.now = first.clock.now
    second.clock.advance(minutes=31)
    assert await second.scheduler.fire_due() == 1
    await second.drain()
    assert sorted(s for a, s in second.matrix.done if isinstance(a, Unmute)) == ["!a:hs", "!b:hs"]
    await second.db.close()


async def test_transient_failures_are_retried_and_nothing_is_lost(bot: ModBot) -> None:
    bot.discord.transient_failures = 2
    answer = await bot.command("!ban discord:222222222222222222 raid", origin="c2")
    assert "pending, will retry: ban in g1 (Discord)" in answer
    for _ in range(3):
        bot.clock.advance(seconds=10)
        await bot.drain()
    bans = [s for a, s in bot.discord.done if isinstance(a, Ban)]
    assert sorted(bans) == ["g1", "g2"]
    rows = await bot.repos.outbox.of_case(1)
    assert {r.state for r in rows} == {ActionState.DONE}


async def test_a_platform_failing_for_long_is_told_once_and_still_retried(bot: ModBot) -> None:
    bot.matrix.transient_failures = 10**6  # the homeserver answers 502 for days
    await bot.command("!ban @troll:hs raid", origin="c3")
    for _ in range(40):
        bot.clock.advance(minutes=10)
        await bot.drain()
    # Told once per room after ten attempts, with the reason; still pending, still tried.
    assert len(bot.failures) == 2
    assert all(f.startswith("still failing after 10 attempts") for f in bot.failures)
    told = [a.text for a, s in bot.discord.done if isinstance(a, NotifyModerators)]
    assert [t for t in told if "still failing" in t] == [
        f"Case #1: could not ban matrix:@troll:hs in {room}: still failing after 10 attempts,"
        " retrying: server error 502"
        for room in ("!a:hs", "!b:hs")
    ]
    rows = [
        r
        for r in await bot.repos.outbox.of_case(1)
        if r.platform.value == "matrix" and r.kind == "ban"
    ]
    assert {r.state for r in rows} == {ActionState.PENDING}
    assert {r.attempts for r in rows} == {41}
    bot.matrix.transient_failures = 0  # back
    bot.clock.advance(minutes=10)
    await bot.drain()
    assert sorted(s for a, s in bot.matrix.done if isinstance(a, Ban)) == ["!a:hs", "!b:hs"]


def test_backoff_stays_finite_after_any_number_of_attempts() -> None:
    assert backoff(0, None) == 1.0
    assert backoff(10_000, None) == 300.0
    assert backoff(3, 12.5) == 12.5


async def test_permanent_failure_is_reported_to_moderators(bot: ModBot) -> None:
    bot.matrix.permanent = "the bot's power level (50) is below the ban level (100)"
    answer = await bot.command("!ban @eve:hs harassment", origin="c3")
    assert "FAILED: ban in !a:hs (Matrix): the bot's power level (50)" in answer
    await bot.drain()
    # The moderators read it in their rooms (Matrix's refuses everything here: Discord's).
    told = [a.text for a, s in bot.discord.done if isinstance(a, NotifyModerators)]
    assert (
        "Case #1: could not ban matrix:@eve:hs in !a:hs: the bot's power level (50) is below "
        "the ban level (100)"
    ) in told


async def test_moderator_command_answer_says_what_happened_where(bot: ModBot) -> None:
    answer = await bot.command("!mute @bob:hs 2h flooding the channel", origin="c4")
    assert answer.startswith("Case #1: @bob:hs muted for ")
    assert "done: mute in !a:hs (Matrix)" in answer
    assert "done: mute in !b:hs (Matrix)" in answer
    again = await bot.command("!mute @bob:hs 2h flooding the channel", origin="c4")
    assert again.startswith("Case #1:")  # the same command delivered twice: one case
    assert len([a for a, _ in bot.matrix.done if isinstance(a, Mute)]) == 2


async def test_non_moderator_is_refused(bot: ModBot) -> None:
    member = Author(account=Account(platform=Platform.MATRIX, id="@ann:hs"))
    answer = await bot.moderation.on_mod_command(
        parse_command("!ban @bob:hs x"), moderator=member, origin="c5"
    )
    assert answer == "Only moderators can use moderation commands."
    await bot.drain()
    assert bot.matrix.done == []


async def test_case_history_note_and_pardon(bot: ModBot) -> None:
    await bot.say("idiot", mid="$1")
    await bot.say("idiot", mid="$2")
    await bot.drain()
    history = await bot.command("!history @ann:hs", origin="h1")
    assert "live points: 4" in history
    assert "#1" in history
    assert "#2" in history
    assert "added" in await bot.command("!note 1 talked to them", origin="n1")
    case = await bot.command("!case 1", origin="k1")
    assert "Case #1 (open): @ann:hs" in case
    assert "note by @mod:hs: talked to them" in case
    assert "done: delete in !a:hs (Matrix)" in case
    assert "done: warn in a direct message (Matrix)" in case
    pardon = await bot.command("!pardon 2", origin="p1")
    assert "1 strike(s) removed" in pardon
    assert "live points: 2" in await bot.command("!history @ann:hs", origin="h2")
    assert await bot.command("!case 99", origin="k2") == "There is no case #99."


async def test_warning_reaches_the_member_once(bot: ModBot) -> None:
    await bot.repos.identity.link(
        Account(platform=Platform.MATRIX, id="@ann:hs"),
        Account(platform=Platform.DISCORD, id="111111111111111111"),
    )
    await bot.command("!warn @ann:hs please keep it civil", origin="w1")
    warns = [a for a, _ in bot.matrix.done + bot.discord.done if isinstance(a, Warn)]
    assert len(warns) == 1


async def test_a_slow_space_does_not_hold_up_the_rest(bot: ModBot) -> None:
    """The running worker (started by the fixture) claims new actions while others run."""
    gate = bot.matrix.held_spaces["!b:hs"] = asyncio.Event()
    command = asyncio.create_task(bot.command("!ban @troll:hs raid", origin="slow"))
    # Wait until the ban in !a:hs is done; the one in !b:hs is still running.
    await eventually(lambda: any(isinstance(a, Ban) for a, _ in bot.matrix.done))
    await bot.say("idiot", author="@ann:hs", mid="$fast")
    await eventually(lambda: any(isinstance(a, DeleteMessage) for a, _ in bot.matrix.done))
    # The redaction was carried out while the slow ban was still running.
    assert [s for a, s in bot.matrix.done if isinstance(a, Ban)] == ["!a:hs"]
    gate.set()
    assert "done: ban in !b:hs (Matrix)" in await command


async def test_a_longer_mute_is_not_ended_by_the_shorter_ones_timer(bot: ModBot) -> None:
    await bot.command("!mute @bob:hs 1h spam", origin="short")
    await bot.command("!mute @bob:hs 7d raid", origin="long")
    bot.clock.advance(hours=2)
    await bot.scheduler.fire_due()
    await bot.drain()
    assert not [a for a, _ in bot.matrix.done if isinstance(a, Unmute)]  # still muted
    bot.clock.advance(days=7)
    await bot.scheduler.fire_due()
    await bot.drain()
    assert sorted(s for a, s in bot.matrix.done if isinstance(a, Unmute)) == ["!a:hs", "!b:hs"]


async def test_a_lifted_mute_is_not_renewed_or_lifted_again(bot: ModBot) -> None:
    await bot.command("!mute discord:222222222222222222 60d raid", origin="m")
    await bot.command("!unmute discord:222222222222222222", origin="u")
    bot.clock.advance(days=26, minutes=1)
    await bot.scheduler.fire_due()  # the Discord renewal: nothing to renew
    bot.clock.advance(days=35)
    await bot.scheduler.fire_due()  # the end of the mute: already lifted
    await bot.drain()
    assert len([a for a, _ in bot.discord.done if isinstance(a, Mute)]) == 2  # g1, g2 once
    assert len([a for a, _ in bot.discord.done if isinstance(a, Unmute)]) == 2  # the !unmute


async def test_points_from_a_message_discord_blocked_climb_the_ladder(bot: ModBot) -> None:
    await bot.say("idiot", mid="$1")  # 2 points
    await bot.core.on_automod_hit(
        rule_name="insults",
        author=Account(platform=Platform.MATRIX, id="@ann:hs"),
        channel=Channel(platform=Platform.MATRIX, id="!a:hs", space_id="!a:hs"),
        matched="idiot",
    )  # 4 points: the ladder's mute
    await bot.drain()
    assert sorted(s for a, s in bot.matrix.done if isinstance(a, Mute)) == ["!a:hs", "!b:hs"]
    # The member's warning for the blocked message reads like any other, without rule ids.
    warned = [a.reason for a, _ in bot.matrix.done if isinstance(a, Warn)]
    assert warned[-1] == warned[0] == "a listed word or phrase"


async def test_a_message_discord_blocked_gets_the_rules_own_sanction(bot: ModBot) -> None:
    """Doxxing blocked by AutoMod bans everywhere, as doxxing seen by the engine does."""
    troll = Account(platform=Platform.DISCORD, id="444444444444444444")
    await bot.core.on_automod_hit(
        rule_name="doxxing",
        author=troll,
        channel=Channel(platform=Platform.DISCORD, id="c1", space_id="g1"),
        matched="0712 345 678",
    )
    await bot.drain()
    assert sorted(s for a, s in bot.discord.done if isinstance(a, Ban)) == ["g1", "g2"]


async def test_a_message_replayed_after_a_restart_is_not_judged_again(tmp_path: Path) -> None:
    first = await ModBot.open(tmp_path / "db.sqlite")
    await first.say("idiot", mid="$replayed")
    await first.drain()
    await first.db.close()
    second = await ModBot.open(tmp_path / "db.sqlite")
    await second.say("idiot", mid="$replayed")  # the homeserver hands the batch over again
    await second.drain()
    assert second.matrix.done == []
    history = await second.command("!history @ann:hs", origin="h")
    assert "live points: 2" in history
    await second.db.close()


async def test_strike_points_are_counted_from_storage_at_each_judgement(tmp_path: Path) -> None:
    """Storage keeps the only record of strike points: points written by another road (here
    a second process on the same database) count at the very next judgement, so the member
    is muted once, when 4 points are reached, and not again at 6."""
    first = await ModBot.open(tmp_path / "db.sqlite")
    second = await ModBot.open(tmp_path / "db.sqlite")
    try:
        await first.say("you idiot", mid="$1")  # 2 points
        await second.say("you idiot", mid="$2")  # 4 points: muted
        await first.say("you idiot", mid="$3")  # 6 points: no step of the ladder crossed
        # Each bot's deletions were handed to its own worker as their cases committed.
        await first.worker.run_once()
        await second.worker.run_once()
        await first.drain()
        await second.drain()
        muted = [
            case.id
            for case in await first.repos.cases.of_member(
                await first.members.member_of(Account(platform=Platform.MATRIX, id="@ann:hs"))
            )
            if any(isinstance(r.action, Mute) for r in await first.repos.outbox.of_case(case.id))
        ]
        assert muted == [2]  # the case of the message that reached 4 points
        assert "live points: 6" in await first.command("!history @ann:hs", origin="h")
    finally:
        await first.db.close()
        await second.db.close()


async def test_a_clean_message_costs_no_database_round_trip(tmp_path: Path) -> None:
    """Judging is the hot path: with strike points in storage only, a clean message must
    still not wait for the database (only a message that earns points reads them, inside
    the transaction that records its case). No worker runs here: it would count too."""
    bot = await ModBot.open(tmp_path / "db.sqlite")
    try:
        await counted_judging(bot)
    finally:
        await bot.db.close()


async def counted_judging(bot: ModBot) -> None:
    await bot.say("hello", mid="$first")  # the member's account is created, replays loaded
    trips: list[str] = []
    transaction, read_now = bot.db.transaction, bot.db.read_now

    def counted_transaction(*args: Any, **kwargs: Any) -> Any:
        trips.append("transaction")
        return transaction(*args, **kwargs)

    async def counted_read(*args: Any, **kwargs: Any) -> Any:
        trips.append("read")
        return await read_now(*args, **kwargs)

    bot.db.transaction = counted_transaction  # type: ignore[method-assign]
    bot.db.read_now = counted_read  # type: ignore[method-assign]
    for n in range(20):
        await bot.say(f"hello again {n}", mid=f"$clean{n}")
    assert trips == []
    await bot.say("you idiot", mid="$insult")
    assert trips == ["transaction"]  # the case, its actions and its points, read and written


async def test_a_rule_in_observe_mode_records_and_does_nothing(tmp_path: Path) -> None:
    """Admins try a new rule in observe mode: hits are recorded, nobody is acted on."""
    bot = await ModBot.open(
        tmp_path / "db.sqlite",
        policy='[[rules]]\nid = "insults"\nkind = "keywords"\nmode = "observe"\n'
        'points = 2\nactions = ["delete", "warn"]\nwords = ["idiot"]\n',
    )
    try:
        await bot.say("you idiot", mid="$observed")
        await bot.drain()
        assert bot.matrix.done == []
        assert await bot.repos.cases.get(1) is None
        (entry,) = [e for e in await bot.repos.audit.recent() if e.event == "observed"]
        assert entry.details == {"message_id": "$observed", "rules": ["insults"]}
    finally:
        await bot.db.close()


async def test_a_message_whose_judging_failed_is_judged_when_delivered_again(
    tmp_path: Path,
) -> None:
    """A storage error while recording the verdict: the platform delivers it again (the
    sync token was not saved either) and it must not pass for a replay."""
    bot = await ModBot.open(tmp_path / "db.sqlite")
    real = bot.repos.outbox.enqueue
    failures = [sqlite3.OperationalError("database or disk is full")]

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return await real(*args, **kwargs)

    bot.repos.outbox.enqueue = flaky  # type: ignore[method-assign]
    try:
        with pytest.raises(sqlite3.OperationalError):
            await bot.say("you idiot", author="@ann:hs", mid="$again")
        await bot.say("you idiot", author="@ann:hs", mid="$again")  # delivered again
        await bot.drain()
        assert ("DeleteMessage", "!a:hs") in bot.matrix.kinds()
        case = await bot.repos.cases.get(1)
        assert case is not None
        assert "live points: 2" in await bot.command("!history @ann:hs", origin="h")
    finally:
        await bot.db.close()


async def test_a_timer_that_fails_to_fire_is_tried_again_not_lost(bot: ModBot) -> None:
    await bot.command("!mute @bob:hs 30m spamming", origin="m")
    await bot.drain()
    real = bot.writer.enqueue_actions
    failures = [sqlite3.OperationalError("disk I/O error")]

    async def flaky(*args: Any, **kwargs: Any) -> int:
        if failures:
            raise failures.pop()
        return await real(*args, **kwargs)

    bot.writer.enqueue_actions = flaky  # type: ignore[method-assign]
    bot.clock.advance(minutes=31)
    assert await bot.scheduler.fire_due() == 0  # failed: postponed a minute
    assert await bot.scheduler.fire_due() == 0  # not due yet
    bot.clock.advance(minutes=1)
    assert await bot.scheduler.fire_due() == 1
    await bot.drain()
    assert sorted(s for a, s in bot.matrix.done if isinstance(a, Unmute)) == ["!a:hs", "!b:hs"]


async def test_timers_wait_until_every_platform_is_up(bot: ModBot) -> None:
    """Fired before a platform knows its spaces, an unmute would reach no room at all."""
    await bot.command("!mute @bob:hs 30m spamming", origin="m")
    await bot.drain()
    bot.clock.advance(minutes=31)
    up = asyncio.Event()
    timers = asyncio.create_task(bot.scheduler.run(ready=up.wait()))
    await asyncio.sleep(0.1)
    assert not [a for a, _ in bot.matrix.done if isinstance(a, Unmute)]
    up.set()
    await eventually(lambda: any(isinstance(a, Unmute) for a, _ in bot.matrix.done))
    bot.scheduler.stop()
    await timers


async def test_actions_waiting_past_their_lease_are_not_carried_out_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight notices queue behind one hung homeserver (each attempt times out after a
    minute): the ones still waiting when their 5-minute lease runs out are handed out by
    the outbox again, and must not run a second time."""
    monkeypatch.setattr("bridge.worker.ACTION_TIMEOUT", 0.1)  # stands for the real 60 s
    bot = await ModBot.open(tmp_path / "db.sqlite")

    class HungThenBack:
        def __init__(self) -> None:
            self.hangs = 6
            self.delivered: list[str] = []

        async def execute(self, action: Action, space: Space, *, key: str = "") -> str:
            if self.hangs > 0:
                self.hangs -= 1
                bot.clock.advance(seconds=60)  # what each timed-out attempt costs
                await asyncio.sleep(1)
            assert isinstance(action, NotifyModerators)
            self.delivered.append(action.text)
            return "sent"

    homeserver = HungThenBack()
    bot.worker._executors = {Platform.MATRIX: homeserver}
    for n in range(8):
        await bot.writer.enqueue_actions(
            None, [NotifyModerators(text=f"notice {n}")], member_id=None, origin=f"n{n}"
        )
    worker = asyncio.create_task(bot.worker.run())

    async def time_passes() -> None:  # retries become due as the (fake) minutes go by
        while True:
            await asyncio.sleep(0.05)
            bot.clock.advance(seconds=10)
            bot.worker.wake()

    clock = asyncio.create_task(time_passes())
    try:
        await eventually(lambda: len(set(homeserver.delivered)) == 8, within=20)
        await asyncio.sleep(0.3)
    finally:
        clock.cancel()
        bot.worker.stop()
        await worker
        await bot.db.close()
    assert sorted(homeserver.delivered) == [f"notice {n}" for n in range(8)]


async def test_a_hung_platform_holds_up_only_its_own_actions(bot: ModBot) -> None:
    """Sixty raid bans stuck on Discord (more than the worker holds at once) take every
    Discord slot and place in hand, none of Matrix's."""
    gate = asyncio.Event()
    bot.discord.held_spaces.update({"g1": gate, "g2": gate})
    bot.moderation._answer_wait = 0
    for n in range(30):
        await bot.command(f"!ban discord:2222222222222222{n:02d} raid", origin=f"raid{n}")
    await bot.say("call her on 0712 345 678", author="@doxer:hs", mid="$dox")
    await eventually(lambda: any(isinstance(a, DeleteMessage) for a, _ in bot.matrix.done))
    assert not [a for a, _ in bot.discord.done if isinstance(a, Ban)]  # still stuck
    gate.set()


async def test_housekeeping_deletes_fired_timers_and_abandoned_report_drafts(
    bot: ModBot,
) -> None:
    member = Account(platform=Platform.MATRIX, id="@ann:hs")
    assert "What happened?" in await bot.dm(member, "report")  # and never comes back
    await bot.command("!mute @bob:hs 30m spamming", origin="m")
    bot.clock.advance(minutes=61)
    assert await bot.scheduler.fire_due() == 1
    scheduler = Scheduler(
        timers=bot.repos.timers, writer=bot.writer, members=bot.members, clock=bot.clock,
        chores=housekeeping(bot.repos),  # the service's own
    )  # fmt: skip
    await scheduler.tidy()
    assert await bot.repos.kv.get(f"{DRAFT_PREFIX}{member.key}") is None  # over an hour old
    async with bot.db.transaction(write=False) as t:
        assert (await t.fetchrow("SELECT count(*) AS n FROM timers"))["n"] == 1  # fired today
    bot.clock.advance(days=29)
    await scheduler.tidy()
    async with bot.db.transaction(write=False) as t:
        assert (await t.fetchrow("SELECT count(*) AS n FROM timers"))["n"] == 1  # kept 30 days
    bot.clock.advance(days=2)
    await scheduler.tidy()
    async with bot.db.transaction(write=False) as t:
        assert (await t.fetchrow("SELECT count(*) AS n FROM timers"))["n"] == 0
