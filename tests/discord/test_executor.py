"""The executor over the wire: what members and moderators see after each action."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import discord
import pytest

from adapters.discord.connection import DiscordConnection
from adapters.discord.executor import DiscordExecutor
from devtools.discord_simulator import DiscordSimulator, permissions
from devtools.discord_simulator.entities import User
from domain.model import (
    Account,
    Ban,
    DeleteMessage,
    Mute,
    NotifyModerators,
    Platform,
    Remove,
    Space,
    SpaceKind,
    Unban,
    Unmute,
    Warn,
)
from domain.ports import PermanentError, TransientError
from tests.discord_sim.conftest import World
from tests.fakes import RecordingCore


def guild_space(world: World) -> Space:
    return Space(platform=Platform.DISCORD, id=str(world.guild.id), kind=SpaceKind.GUILD)


def no_space() -> Space:
    return Space(platform=Platform.DISCORD, id="", kind=SpaceKind.GUILD)


def target(user: User) -> Account:
    return Account(platform=Platform.DISCORD, id=str(user.id))


@pytest.fixture
def executor(connection: DiscordConnection) -> DiscordExecutor:
    return connection.executor()


async def test_delete_removes_the_message_and_a_second_delete_is_done_too(
    sim: DiscordSimulator, world: World, executor: DiscordExecutor, recorder: RecordingCore
) -> None:
    posted = sim.post_message(world.alice, world.general, "buy followers")
    action = DeleteMessage(
        platform=Platform.DISCORD,
        channel_id=str(world.general.id),
        message_id=str(posted.id),
        reason="spam (case 3)",
    )

    done = await executor.execute(action, guild_space(world))

    assert not sim.message_exists(posted)
    assert done.startswith("deleted message")
    request = await sim.wait_for_request("DELETE", "/channels/{channel_id}/messages/{message_id}")
    assert request.audit_reason == "spam (case 3)"
    again = await executor.execute(action, guild_space(world))
    assert "already gone" in again


async def test_warn_sends_a_dm_quoting_the_clause(
    sim: DiscordSimulator, world: World, executor: DiscordExecutor
) -> None:
    action = Warn(
        target=target(world.alice),
        reason="insults",
        clause="2.1 Be kind.\nNo insults, no slurs.",
    )

    await executor.execute(action, no_space())

    (dm,) = sim.messages_in(sim.open_dm(world.alice, world.bot))
    assert dm.content == (
        "A warning from the moderators: insults\n\n> 2.1 Be kind.\n> No insults, no slurs."
    )


async def test_warn_to_closed_dms_is_permanent(
    sim: DiscordSimulator, world: World, executor: DiscordExecutor
) -> None:
    with pytest.raises(PermanentError, match="the member's DMs are closed"):
        await executor.execute(Warn(target=target(world.bob), reason="spam"), no_space())


async def test_mute_times_the_member_out_and_the_cache_follows(
    sim: DiscordSimulator,
    world: World,
    connection: DiscordConnection,
    executor: DiscordExecutor,
) -> None:
    until = datetime.now(UTC) + timedelta(minutes=10)

    done = await executor.execute(
        Mute(target=target(world.alice), until=until, reason="flooding"), guild_space(world)
    )

    assert sim.is_timed_out(world.guild, world.alice)
    member = sim.member(world.guild, world.alice)
    assert member is not None
    assert member.communication_disabled_until == until
    assert until.isoformat() in done
    guild = connection.client.get_guild(world.guild.id)
    assert guild is not None

    cached = guild.get_member(world.alice.id)
    if cached is None or not cached.is_timed_out():
        # The GUILD_MEMBER_UPDATE that follows the REST call updates discord.py's cache.
        await connection.client.wait_for(
            "member_update", check=lambda _, after: after.id == world.alice.id, timeout=3
        )
    cached = guild.get_member(world.alice.id)
    assert cached is not None
    assert cached.is_timed_out()


async def test_a_60_day_mute_is_27_days_at_discord_and_the_result_says_so(
    sim: DiscordSimulator, world: World, executor: DiscordExecutor
) -> None:
    now = datetime.now(UTC)
    until = now + timedelta(days=60)

    done = await executor.execute(
        Mute(target=target(world.alice), until=until, reason="harassment"), guild_space(world)
    )

    member = sim.member(world.guild, world.alice)
    assert member is not None
    assert member.communication_disabled_until is not None
    applied = member.communication_disabled_until
    assert timedelta(days=27) <= applied - now < timedelta(days=27, seconds=5)
    assert applied.isoformat() in done
    assert f"runs until {until.isoformat()}" in done


async def test_unmute_lifts_the_timeout(
    sim: DiscordSimulator, world: World, executor: DiscordExecutor
) -> None:
    until = datetime.now(UTC) + timedelta(hours=1)
    await executor.execute(
        Mute(target=target(world.alice), until=until, reason="x"), guild_space(world)
    )

    await executor.execute(Unmute(target=target(world.alice), reason="appeal"), guild_space(world))

    assert not sim.is_timed_out(world.guild, world.alice)


async def test_remove_kicks(sim: DiscordSimulator, world: World, executor: DiscordExecutor) -> None:
    await executor.execute(Remove(target=target(world.alice), reason="raid"), guild_space(world))

    assert sim.member(world.guild, world.alice) is None


async def test_ban_keeps_the_messages_and_unban_lifts_it(
    sim: DiscordSimulator, world: World, executor: DiscordExecutor
) -> None:
    evidence = sim.post_message(world.alice, world.general, "threat")

    await executor.execute(Ban(target=target(world.alice), reason="threats"), guild_space(world))

    assert sim.is_banned(world.guild, world.alice)
    assert sim.message_exists(evidence)
    request = await sim.wait_for_request("PUT", "/guilds/{guild_id}/bans/{user_id}")
    assert request.query.get("delete_message_seconds") == "0"
    assert request.audit_reason == "threats"

    await executor.execute(Unban(target=target(world.alice)), guild_space(world))

    assert not sim.is_banned(world.guild, world.alice)


async def test_notify_posts_in_the_moderators_channel(
    sim: DiscordSimulator, world: World, executor: DiscordExecutor
) -> None:
    channel = Space(platform=Platform.DISCORD, id=str(world.general.id), kind=SpaceKind.GUILD)

    await executor.execute(NotifyModerators(text=f"case 4: <@{world.alice.id}>"), channel)

    (posted,) = sim.messages_in(world.general)
    assert posted.content == f"case 4: <@{world.alice.id}>"
    request = await sim.wait_for_request("POST", "/channels/{channel_id}/messages")
    assert request.json["allowed_mentions"]["parse"] == []


async def test_without_moderate_members_a_mute_is_permanent_and_says_why(
    sim: DiscordSimulator, world: World, executor: DiscordExecutor
) -> None:
    world.bot_role.permissions &= ~permissions.MODERATE_MEMBERS
    until = datetime.now(UTC) + timedelta(minutes=10)

    with pytest.raises(PermanentError, match="Moderate Members"):
        await executor.execute(
            Mute(target=target(world.alice), until=until, reason="x"), guild_space(world)
        )
    assert not sim.is_timed_out(world.guild, world.alice)


async def test_a_member_above_the_bot_is_permanent_and_says_why(
    sim: DiscordSimulator, world: World, executor: DiscordExecutor
) -> None:
    with pytest.raises(PermanentError, match="highest role"):
        await executor.execute(Remove(target=target(world.senior), reason="x"), guild_space(world))
    with pytest.raises(PermanentError, match="owner"):
        await executor.execute(Ban(target=target(world.owner), reason="x"), guild_space(world))
    assert sim.member(world.guild, world.senior) is not None


async def test_someone_not_in_the_guild_is_nothing_to_do_there(
    sim: DiscordSimulator, world: World, executor: DiscordExecutor
) -> None:
    """A member of a community in only some of its guilds: mute, unmute, remove and unban
    elsewhere are no failures (Discord answers 404 Unknown Member / Unknown Ban)."""
    stranger = target(sim.create_user("stranger"))
    space = guild_space(world)
    later = datetime.now(UTC) + timedelta(hours=1)
    assert "timed out if they join" in await executor.execute(
        Mute(target=stranger, until=later, reason="x"), space
    )
    assert "already" in await executor.execute(Unmute(target=stranger, reason="x"), space)
    assert "already out" in await executor.execute(Remove(target=stranger, reason="x"), space)
    assert "already not banned" in await executor.execute(Unban(target=stranger, reason="x"), space)


async def test_a_short_429_is_waited_out(
    sim: DiscordSimulator, world: World, executor: DiscordExecutor
) -> None:
    sim.fail_next("PUT", "/guilds/{guild_id}/bans/{user_id}", status=429, retry_after=0.1)

    await executor.execute(Ban(target=target(world.alice), reason="x"), guild_space(world))

    assert sim.is_banned(world.guild, world.alice)
    statuses = [r.status for r in sim.requests.find("PUT", "/guilds/{guild_id}/bans/{user_id}")]
    assert statuses == [429, 204]


async def test_a_long_429_comes_back_at_once_as_transient(
    sim: DiscordSimulator, world: World, executor: DiscordExecutor
) -> None:
    sim.fail_next("PUT", "/guilds/{guild_id}/bans/{user_id}", status=429, retry_after=600)
    started = time.monotonic()

    with pytest.raises(TransientError) as raised:
        await executor.execute(Ban(target=target(world.alice), reason="x"), guild_space(world))

    assert time.monotonic() - started < 2
    assert raised.value.retry_after == pytest.approx(600)
    assert not sim.is_banned(world.guild, world.alice)


async def test_a_server_error_is_transient(
    sim: DiscordSimulator, world: World, executor: DiscordExecutor
) -> None:
    sim.fail_next("DELETE", "/guilds/{guild_id}/members/{user_id}", status=503)

    with pytest.raises(TransientError, match="503"):
        await executor.execute(Remove(target=target(world.alice), reason="x"), guild_space(world))


async def test_a_persistent_500_is_transient_within_the_deadline(
    sim: DiscordSimulator, world: World, connection: DiscordConnection
) -> None:
    # discord.py retries a 500 with sleeps of 1, 3, 5... s; the deadline bounds the action.
    executor = DiscordExecutor(connection.client, deadline=1.5)
    sim.fail_next("DELETE", "/guilds/{guild_id}/members/{user_id}", status=500, times=100)
    started = time.monotonic()

    with pytest.raises(TransientError, match="no answer"):
        await executor.execute(Remove(target=target(world.alice), reason="x"), guild_space(world))

    assert time.monotonic() - started < 3
    assert sim.member(world.guild, world.alice) is not None


async def test_discord_unreachable_is_transient(
    sim: DiscordSimulator, world: World, executor: DiscordExecutor
) -> None:
    await sim.close()

    with pytest.raises(TransientError, match="unreachable"):
        await executor.execute(Remove(target=target(world.alice), reason="x"), guild_space(world))


async def test_an_executor_needs_a_client_that_gives_up_on_long_429s() -> None:
    with pytest.raises(ValueError, match="max_ratelimit_timeout"):
        DiscordExecutor(discord.Client(intents=discord.Intents.none()))
