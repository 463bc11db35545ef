"""Warnings under Discord's DM-opening limit, and DM pauses next to an invite pause."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.discord.connection import DiscordConnection
from devtools.discord_simulator import DiscordSimulator, permissions
from domain.model import Account, PauseDms, Platform, ResumeDms, Space, SpaceKind, Warn
from domain.ports import PermanentError, TransientError
from tests.discord_sim.conftest import World

NO_SPACE = Space(platform=Platform.DISCORD, id="", kind=SpaceKind.GUILD)


async def test_a_burst_of_warnings_is_retried_not_dropped_when_dms_open_too_fast(
    sim: DiscordSimulator, world: World, connection: DiscordConnection
) -> None:
    now = [0.0]
    sim.world.clock = lambda: now[0]
    sim.world.dm_open_limit = (2, 10.0)
    raiders = [sim.create_user(f"raider{i}") for i in range(3)]
    for raider in raiders:
        sim.add_member(world.guild, raider)
    executor = connection.executor()

    def warn(index: int) -> Warn:
        account = Account(platform=Platform.DISCORD, id=str(raiders[index].id))
        return Warn(target=account, reason="spam")

    await executor.execute(warn(0), NO_SPACE)
    await executor.execute(warn(1), NO_SPACE)
    with pytest.raises(TransientError) as slowed:
        await executor.execute(warn(2), NO_SPACE)
    assert "40003" in str(slowed.value)
    assert slowed.value.retry_after

    now[0] = 10.0  # the worker retries later
    assert "warned" in await executor.execute(warn(2), NO_SPACE)
    dm = sim.open_dm(raiders[2], world.bot)
    assert [m.content for m in sim.messages_in(dm)] == [
        "A warning from the moderators: spam",
    ]


async def test_pausing_and_resuming_dms_keeps_a_moderators_invite_pause(
    sim: DiscordSimulator, world: World, connection: DiscordConnection
) -> None:
    invites_until = (datetime.now(UTC) + timedelta(hours=6)).replace(microsecond=0)
    world.guild.incidents["invites_disabled_until"] = invites_until  # set by hand in a raid
    executor = connection.executor()
    guild = Space(platform=Platform.DISCORD, id=str(world.guild.id), kind=SpaceKind.GUILD)

    until = datetime.now(UTC) + timedelta(hours=2)
    assert "paused DMs" in await executor.execute(PauseDms(space_id=guild.id, until=until), guild)
    assert world.guild.incidents["dms_disabled_until"] is not None
    assert world.guild.incidents["invites_disabled_until"] == invites_until

    assert "back on" in await executor.execute(ResumeDms(space_id=guild.id), guild)
    assert world.guild.incidents["dms_disabled_until"] is None
    assert world.guild.incidents["invites_disabled_until"] == invites_until


async def test_a_pause_past_24_hours_is_applied_as_far_as_discord_accepts(
    sim: DiscordSimulator, world: World, connection: DiscordConnection
) -> None:
    guild = Space(platform=Platform.DISCORD, id=str(world.guild.id), kind=SpaceKind.GUILD)
    asked = datetime.now(UTC)
    wanted = asked + timedelta(hours=48)

    done = await connection.executor().execute(PauseDms(space_id=guild.id, until=wanted), guild)

    applied = world.guild.incidents["dms_disabled_until"]
    assert applied is not None
    assert timedelta(hours=23) < applied - asked <= timedelta(hours=24)
    assert f"renewed until {wanted.isoformat()}" in done  # the core's timers apply it again


async def test_without_manage_server_the_pause_is_refused_for_good_and_says_why(
    sim: DiscordSimulator, world: World, connection: DiscordConnection
) -> None:
    world.bot_role.permissions &= ~permissions.MANAGE_GUILD
    guild = Space(platform=Platform.DISCORD, id=str(world.guild.id), kind=SpaceKind.GUILD)
    until = datetime.now(UTC) + timedelta(hours=2)

    with pytest.raises(PermanentError, match="needs the Manage Server permission"):
        await connection.executor().execute(PauseDms(space_id=guild.id, until=until), guild)
    assert world.guild.incidents.get("dms_disabled_until") is None
