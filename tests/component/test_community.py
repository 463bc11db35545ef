"""One community across platforms: linked accounts, mute evasion, bans done by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bridge.commands import parse_command
from domain.model import (
    Account,
    Author,
    Ban,
    MembershipChange,
    MembershipEvent,
    Mute,
    Platform,
    Remove,
    Space,
    SpaceKind,
    Unmute,
)
from tests.component.harness import ModBot

MX = Account(platform=Platform.MATRIX, id="@ann:hs")
DC = Account(platform=Platform.DISCORD, id="111111111111111111")


def happened(
    account: Account,
    space_id: str,
    change: MembershipChange,
    ts: datetime,
    *,
    actor: Account | None = None,
    reason: str = "",
) -> MembershipEvent:
    """A membership change in one of the harness's spaces (g1/g2 on Discord, !a/!b on Matrix)."""
    platform = Platform.MATRIX if space_id.startswith("!") else Platform.DISCORD
    kind = SpaceKind.ROOM if platform is Platform.MATRIX else SpaceKind.GUILD
    space = Space(platform=platform, id=space_id, kind=kind)
    return MembershipEvent(
        account=account, space=space, change=change, ts=ts, actor=actor, reason=reason
    )


async def test_member_links_two_accounts_with_a_one_time_code(bot: ModBot) -> None:
    answer = await bot.dm(MX, "link")
    assert "Your link code is 123456" in answer
    linked = await bot.dm(DC, "link 123456")
    assert linked == f"Linked: {MX.key} and {DC.key} are now one member."
    history = await bot.command(f"!history {DC.id}", origin="h")
    assert MX.id in history
    assert DC.key in history
    # The code works once.
    other = Account(platform=Platform.DISCORD, id="333333333333333333")
    assert "wrong, used or expired" in await bot.dm(other, "link 123456")


async def test_codes_expire_and_cannot_be_guessed(bot: ModBot) -> None:
    await bot.dm(MX, "link")
    bot.clock.advance(minutes=11)
    assert "wrong, used or expired" in await bot.dm(DC, "link 123456")
    for _ in range(4):
        await bot.dm(DC, "link 000000")
    assert "Your link code is 654321" in await bot.dm(MX, "link")  # a fresh, valid code
    assert "Too many wrong codes" in await bot.dm(DC, "link 654321")
    assert DC.key not in await bot.command(f"!history {MX.id}", origin="h")  # not linked


async def test_code_from_the_same_account_is_refused(bot: ModBot) -> None:
    await bot.dm(MX, "link")
    assert "from your other account" in await bot.dm(MX, "link 123456")


async def test_linking_never_makes_a_moderator(bot: ModBot) -> None:
    await bot.linking.link(
        Account(platform=Platform.MATRIX, id="@mod:hs"), DC, by="test", reason="x"
    )
    # The Discord account is linked to a moderator's Matrix account, but is no moderator.
    answer = await bot.moderation.on_mod_command(
        parse_command("!ban @eve:hs x"),
        moderator=Author(account=DC),
        origin="x",
    )
    assert answer == "Only moderators can use moderation commands."


async def test_muted_member_who_links_a_new_account_is_muted_there_too(bot: ModBot) -> None:
    await bot.command("!mute @ann:hs 1h spam", origin="m1")
    await bot.dm(MX, "link")
    await bot.dm(DC, "link 123456")
    await bot.drain()
    discord_mutes = [s for a, s in bot.discord.done if isinstance(a, Mute)]
    assert sorted(discord_mutes) == ["g1", "g2"]
    # And they cannot unlink themselves to escape it.
    assert "once your mute or ban has ended" in await bot.dm(DC, "unlink")


async def test_an_account_unlinked_during_a_mute_is_unmuted_on_time(bot: ModBot) -> None:
    """The separated account takes the mute along, with the timer that ends it."""
    await bot.linking.link(MX, DC, by="test", reason="same person")
    await bot.command("!mute @ann:hs 1h spam", origin="m1")
    await bot.drain()
    answer = await bot.command(f"!unlink {DC.key} wrong person", origin="u1")
    assert answer == f"Unlinked: {DC.key} is a separate member again."
    # Rejoining from the separated account does not shake the mute off either.
    await bot.core.on_membership(happened(DC, "g1", MembershipChange.JOIN, bot.clock()))
    await bot.drain()
    assert [s for a, s in bot.discord.done if isinstance(a, Mute)].count("g1") == 2
    bot.clock.advance(hours=2)
    assert await bot.scheduler.fire_due() == 2  # one timer per member now
    await bot.drain()
    unmutes = sorted(s for a, s in bot.matrix.done + bot.discord.done if isinstance(a, Unmute))
    assert unmutes == ["!a:hs", "!b:hs", "g1", "g2"]


async def test_rejoining_does_not_shake_off_a_ban(bot: ModBot) -> None:
    await bot.command("!ban @ann:hs raid", origin="b1")
    await bot.drain()
    before = len([a for a, _ in bot.matrix.done if isinstance(a, Ban)])
    bot.matrix.banned.discard((MX, "!b:hs"))  # somehow back in (a ban event the bot missed)
    await bot.core.on_membership(
        happened(MX, "!b:hs", MembershipChange.JOIN, datetime(2026, 11, 24, 13, tzinfo=UTC))
    )
    await bot.drain()
    bans = [s for a, s in bot.matrix.done if isinstance(a, Ban)]
    assert len(bans) == before + 1
    assert bans[-1] == "!b:hs"


async def test_a_second_ban_says_nothing_changed(bot: ModBot) -> None:
    """Two moderators banning at once: the second answer does not claim a second ban."""
    first = await bot.command("!ban @ann:hs raid", origin="b1")
    assert "done: ban in !a:hs (Matrix)\n" in first + "\n"
    second = await bot.command("!ban @ann:hs raid", origin="b2")
    assert "done: ban in !a:hs (Matrix) (already so: nothing changed)" in second
    assert "done: ban in !b:hs (Matrix) (already so: nothing changed)" in second


async def test_a_ban_by_hand_is_recorded_and_carried_to_every_space(bot: ModBot) -> None:
    await bot.linking.link(MX, DC, by="test", reason="same person")
    await bot.core.on_membership(
        happened(
            DC,
            "g1",
            MembershipChange.BAN,
            datetime(2026, 11, 24, 13, tzinfo=UTC),
            actor=Account(platform=Platform.DISCORD, id="555555555555555555"),
            reason="spam bot",
        )
    )
    await bot.drain()
    matrix_bans = sorted(s for a, s in bot.matrix.done if isinstance(a, Ban))
    assert matrix_bans == ["!a:hs", "!b:hs"]
    case = await bot.command("!case 1", origin="c")
    assert "by moderator discord:555555555555555555" in case
    assert "spam bot" in case


async def test_the_bots_own_bans_are_not_recorded_twice(bot: ModBot) -> None:
    await bot.core.on_membership(
        happened(
            MX,
            "!a:hs",
            MembershipChange.BAN,
            datetime(2026, 11, 24, 13, tzinfo=UTC),
            actor=Account(platform=Platform.MATRIX, id="@bot:hs"),
        )
    )
    assert await bot.command("!case 1", origin="k1") == "There is no case #1."
    # The same ban by a moderator in Element is recorded.
    await bot.core.on_membership(
        happened(
            MX,
            "!a:hs",
            MembershipChange.BAN,
            datetime(2026, 11, 24, 13, 5, tzinfo=UTC),
            actor=Account(platform=Platform.MATRIX, id="@mod:hs"),
        )
    )
    assert "by moderator @mod:hs" in await bot.command("!case 1", origin="k2")


async def test_a_discord_ban_without_an_actor_is_told_apart_from_our_own(bot: ModBot) -> None:
    """Discord's ban event does not say who banned: modbridge's own bans are in its outbox."""
    await bot.linking.link(MX, DC, by="test", reason="same person")
    await bot.command(f"!ban {DC.key} raid", origin="ours")
    await bot.drain()
    event = happened(DC, "g1", MembershipChange.BAN, bot.clock())
    await bot.core.on_membership(event)
    assert await bot.repos.cases.get(2) is None  # our own ban: not recorded twice
    other = Account(platform=Platform.DISCORD, id="777777777777777777")
    await bot.core.on_membership(happened(other, "g2", MembershipChange.BAN, bot.clock()))
    case = await bot.repos.cases.get(2)
    assert case is not None
    assert case.origin == "someone on discord"


async def test_a_ban_lifted_by_hand_is_not_reapplied_on_rejoin(bot: ModBot) -> None:
    await bot.command("!ban @ann:hs raid", origin="b1")
    await bot.drain()
    bans = len([a for a, _ in bot.matrix.done if isinstance(a, Ban)])
    room = Space(platform=Platform.MATRIX, id="!b:hs", kind=SpaceKind.ROOM)
    await bot.core.on_membership(
        MembershipEvent(
            account=MX, space=room, change=MembershipChange.UNBAN, ts=bot.clock(),
            actor=Account(platform=Platform.MATRIX, id="@mod:hs"),
        )
    )  # fmt: skip
    await bot.core.on_membership(
        MembershipEvent(account=MX, space=room, change=MembershipChange.JOIN, ts=bot.clock())
    )
    await bot.drain()
    assert len([a for a, _ in bot.matrix.done if isinstance(a, Ban)]) == bans  # not re-banned


async def test_a_code_can_come_up_again_and_two_members_never_hold_the_same(
    bot: ModBot,
) -> None:
    """Six digits repeat: a used or expired code is gone, a live one is not handed out twice."""
    other = Account(platform=Platform.DISCORD, id="333333333333333333")
    draws = iter(["111111", "111111", "222222"])
    bot.linking._new_code = lambda: next(draws)  # the code source, scripted
    assert "111111" in await bot.dm(MX, "link")
    assert "222222" in await bot.dm(other, "link")  # 111111 is MX's: drawn again
    assert "Linked" in await bot.dm(DC, "link 111111")
    draws = iter(["111111"])
    assert "111111" in await bot.dm(other, "link")  # used up, so free again


async def test_an_account_unlinked_during_a_long_mute_stays_timed_out_on_discord(
    bot: ModBot,
) -> None:
    """A 60-day mute: Discord timeouts last 27 days and are renewed. The separated account
    takes a renewal that starts now, not 26 days after the unlink."""
    await bot.linking.link(MX, DC, by="test", reason="same person")
    await bot.command("!mute @ann:hs 60d raid", origin="long")
    await bot.drain()
    bot.clock.advance(days=20)
    await bot.command(f"!unlink {DC.key} wrong person", origin="u")
    assert await bot.scheduler.fire_due() == 1  # the separated account's renewal, at once
    await bot.drain()
    renewed = [a for a, s in bot.discord.done if isinstance(a, Mute)]
    assert len(renewed) == 4  # g1 and g2 at the mute, and again now
    assert all(a.target.id == DC.id for a in renewed[2:])


@pytest.mark.parametrize("carried", [False, True])
async def test_a_kick_by_hand_is_recorded_and_carried_only_if_the_policy_says(
    bot: ModBot, carried: bool
) -> None:
    """`[sync] mirror_manual_kicks` (off by default): a kick in Element, then every space?"""
    bot.core._mirror_kicks = carried
    await bot.core.on_membership(
        happened(
            MX,
            "!a:hs",
            MembershipChange.KICK,
            bot.clock(),
            actor=Account(platform=Platform.MATRIX, id="@mod:hs"),
            reason="off-topic flood",
        )
    )
    await bot.drain()
    assert "off-topic flood" in await bot.command("!case 1", origin="k")
    removed = sorted(s for a, s in bot.matrix.done if isinstance(a, Remove))
    assert removed == (["!a:hs", "!b:hs"] if carried else [])
