"""Moderators' commands as moderators use them: the shared modlog, temporary bans, optional
reasons, corrections, listings and the status, answered with readable names."""

from __future__ import annotations

from datetime import timedelta

from bridge.planner import Community
from domain.model import Account, Ban, NotifyModerators, Platform, Unban
from tests.component.harness import ModBot

KIP_DC = Account(platform=Platform.DISCORD, id="111111111111111111")


def modlog(bot: ModBot, platform: Platform) -> list[str]:
    executor = bot.matrix if platform is Platform.MATRIX else bot.discord
    return [a.text for a, _ in executor.done if isinstance(a, NotifyModerators) and a.modlog]


async def test_a_ban_from_matrix_reaches_the_modlog_on_both_platforms(bot: ModBot) -> None:
    await bot.repos.identity.link(Account(platform=Platform.MATRIX, id="@kip:hs"), KIP_DC)
    answer = await bot.typed("!ban @kip:hs 7d spam links --purge 24h")
    assert answer.startswith(
        "Case #1: @kip:hs banned for 7d (until 2026-12-01 12:00 UTC), their messages of the "
        "last 1d removed:"
    )
    await bot.drain()
    expected = (
        "[modlog] Case #1 · ban 7d, purge 1d · @kip:hs · Discord: g1, g2; Matrix: !a:hs, !b:hs"
        " · by @mod:hs · spam links"
    )
    assert modlog(bot, Platform.DISCORD) == [expected]
    assert modlog(bot, Platform.MATRIX) == [expected]
    bans = [a for a, _ in bot.discord.done if isinstance(a, Ban)]
    assert {(b.until is not None, b.purge) for b in bans} == {(True, timedelta(hours=24))}


async def test_a_temporary_ban_is_lifted_on_time_everywhere_and_logged(bot: ModBot) -> None:
    await bot.repos.identity.link(Account(platform=Platform.MATRIX, id="@kip:hs"), KIP_DC)
    await bot.typed("!ban @kip:hs 2d12h")
    await bot.drain()
    bot.clock.advance(days=2, hours=11)
    assert await bot.scheduler.fire_due() == 0
    bot.clock.advance(hours=2)
    assert await bot.scheduler.fire_due() == 1
    await bot.drain()
    unbanned = sorted(s for a, s in bot.matrix.done + bot.discord.done if isinstance(a, Unban))
    assert unbanned == ["!a:hs", "!b:hs", "g1", "g2"]
    lines = modlog(bot, Platform.DISCORD)
    assert lines[0].endswith("· by @mod:hs · no reason given")
    assert lines[1] == (
        "[modlog] Case #1 · unban · @kip:hs · Discord: g1, g2; Matrix: !a:hs, !b:hs"
        " · by the timer · the ban ran its time"
    )


async def test_reasons_are_optional(bot: ModBot) -> None:
    for typed in ("!warn @kip:hs", "!mute @kip:hs 10m", "!kick @kip:hs", "!remove @kip:hs"):
        answer = await bot.typed(typed, mid=f"${typed}")
        assert "(no reason given)" in answer.splitlines()[0], answer
    case = await bot.typed("!case 3", mid="$c")
    assert "reason: no reason given" in case


async def test_reason_and_duration_correct_a_case(bot: ModBot) -> None:
    await bot.typed("!mute @kip:hs 1h", mid="$m")
    await bot.drain()
    assert await bot.typed("!reason 1 insulted Ann twice", mid="$r") == (
        "Case #1: reason now 'insulted Ann twice'."
    )
    answer = await bot.typed("!duration 1 1h30m", mid="$d")
    assert answer == "Case #1: the mute now ends 2026-11-24 13:30:00 UTC (90m from its start)."
    await bot.drain()
    case = await bot.typed("!case 1", mid="$c")
    assert "reason: insulted Ann twice" in case
    assert "reason changed from: no reason given" in case
    bot.clock.advance(minutes=61)
    assert await bot.scheduler.fire_due() == 0  # the hour is no longer the end
    bot.clock.advance(minutes=30)
    assert await bot.scheduler.fire_due() == 1
    await bot.drain()
    lines = modlog(bot, Platform.MATRIX)
    assert lines[1].endswith("· by @mod:hs · reason now: insulted Ann twice")
    assert lines[2].endswith("· by @mod:hs · duration changed to 90m")
    assert lines[3].startswith("[modlog] Case #1 · unmute · @kip:hs")


async def test_cases_lists_open_cases_and_reports_newest_first(bot: ModBot) -> None:
    for n in range(12):
        await bot.typed(f"!warn @m{n}:hs", mid=f"$w{n}")
    await bot.typed("!close 5 noaction", mid="$close")
    first = (await bot.typed("!cases", mid="$l1")).splitlines()
    assert first[0] == "Open cases and recent reports, newest first (page 1):"
    assert first[1].startswith("  #12 ")
    assert "@m11:hs: no reason given" in first[1]
    assert not any(line.startswith("  #5 ") for line in first)
    assert first[-1] == "  more: cases 2"
    second = (await bot.typed("!cases 2", mid="$l2")).splitlines()
    assert [line.split()[0] for line in second[1:]] == ["#1"]


async def test_an_unknown_command_answers_the_closest_one(bot: ModBot) -> None:
    answer = await bot.typed("!histroy @kip:hs")
    assert answer == "Unknown command !histroy; did you mean !history? !help lists them all."


async def test_a_room_can_keep_no_modlog(bot: ModBot) -> None:
    bot.community = Community(
        spaces=bot.community.spaces,
        mod_rooms=bot.community.mod_rooms,
        modlog_rooms={Platform.MATRIX: ["!mods:hs"], Platform.DISCORD: []},
    )
    await bot.typed("!kick @kip:hs raid")
    await bot.drain()
    assert len(modlog(bot, Platform.MATRIX)) == 1
    assert modlog(bot, Platform.DISCORD) == []


async def test_a_report_case_in_the_modlog_never_names_the_reporter(bot: ModBot) -> None:
    reporter = Account(platform=Platform.MATRIX, id="@wanjiku:hs", display_name="Wanjiku")
    await bot.dm(reporter, "report @creep:hs keeps sending me threats, I am @wanjiku:hs")
    await bot.drain()
    (line,) = modlog(bot, Platform.MATRIX)
    assert line == ("[modlog] Case #1 · report · @creep:hs · by a member's report · see the case")
    assert "wanjiku" not in line.lower()


class Directory:
    """What a platform knows of names (the real ones read discord.py's and nio's caches)."""

    def __init__(self, members: dict[str, str], spaces: dict[str, str]) -> None:
        self.members = members
        self.spaces = spaces

    def account_name(self, account_id: str) -> str:
        return self.members.get(account_id, "")

    def space_name(self, space_id: str) -> str:
        return self.spaces.get(space_id, "")

    def accounts_named(self, name: str) -> list[str]:
        return [i for i, n in self.members.items() if n.casefold() == name.casefold()]


async def test_a_display_name_alone_is_taken_when_exactly_one_member_has_it(bot: ModBot) -> None:
    bot.directories[Platform.MATRIX] = Directory(
        {"@kip:hs": "Kip Kamau", "@ann:hs": "Ann", "@ann2:hs": "Ann"},
        {"!a:hs": "General", "!b:hs": "Random"},
    )
    bot.directories[Platform.DISCORD] = Directory({}, {"g1": "OpenInfra KE", "g2": "Nairobi"})
    answer = await bot.typed("!ban Kip Kamau 1d spam", mid="$1")
    assert answer.splitlines()[:2] == [
        "(Taking 'Kip Kamau' to be Kip Kamau (@kip:hs).)",
        "Case #1: Kip Kamau (@kip:hs) banned for 1d (until 2026-11-25 12:00 UTC):",
    ]
    assert answer.splitlines()[2:] == [
        "  done: ban in General (Matrix)",
        "  done: ban in Random (Matrix)",
    ]
    await bot.drain()
    assert modlog(bot, Platform.DISCORD) == [
        "[modlog] Case #1 · ban 1d · Kip Kamau (@kip:hs) · Matrix: General, Random"
        " · by @mod:hs · spam"
    ]
    # Two members called Ann: nobody is taken; the moderator is asked for the id.
    assert "'Ann' is not a user" in await bot.typed("!ban Ann spam", mid="$2")


async def test_status_says_what_a_moderator_checks_first(bot: ModBot) -> None:
    from datetime import UTC, datetime

    from bridge.status import PolicyState, ServiceStatus

    status = ServiceStatus(
        configured=lambda: {Platform.MATRIX: True, Platform.DISCORD: False},
        community=lambda: bot.community,
        outbox=bot.repos.outbox,
        policy=lambda: PolicyState(
            rules=2, source="/etc/modbridge.toml", loaded_at=datetime(2026, 11, 24, 9, tzinfo=UTC)
        ),
        clock=bot.clock,
    )
    bot.moderation._status = status  # the service wires its own the same way
    bot.discord.transient_failures = 1000  # Discord keeps failing: its bans wait, retried
    await bot.typed("!ban discord:222222222222222222", mid="$b")
    answer = await bot.typed("!status", mid="$s")
    assert answer.splitlines() == [
        "modbridge status:",
        "  Matrix: connected, 2 protected rooms",
        "  Discord: NOT connected, 2 protected guilds",
        "  outbox: 3 action(s) waiting (3 being retried)",  # 2 bans, the modlog line
        "  failures in the last hour: 0",
        "  policy: 2 rules from /etc/modbridge.toml, loaded 2026-11-24 09:00 UTC",
    ]
