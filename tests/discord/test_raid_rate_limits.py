"""A raid against Discord's rate limits: discord.py's own queueing, RateLimited for a long
wait, the executor's per-action deadline, and the global limit."""

from __future__ import annotations

import asyncio

import pytest

from adapters.discord.connection import DiscordConnection
from adapters.discord.executor import DiscordExecutor
from devtools.discord_simulator import DiscordSimulator, Limit, Message, User
from domain.model import (
    Account,
    Ban,
    DeleteMessage,
    Platform,
    Remove,
    Space,
    SpaceKind,
)
from domain.ports import TransientError
from tests.discord_sim.conftest import World

DELETE = "/channels/{channel_id}/messages/{message_id}"


def raid(sim: DiscordSimulator, world: World, count: int) -> list[Message]:
    raiders = [sim.create_user(f"raider{n}") for n in range(count)]
    for raider in raiders:
        sim.add_member(world.guild, raider)
    return [sim.post_message(r, world.general, "join my server") for r in raiders]


def deletion(message: Message) -> DeleteMessage:
    return DeleteMessage(
        platform=Platform.DISCORD,
        channel_id=str(message.channel_id),
        message_id=str(message.id),
        reason="raid",
    )


def space(world: World) -> Space:
    return Space(platform=Platform.DISCORD, id=str(world.guild.id), kind=SpaceKind.GUILD)


async def test_a_burst_of_deletes_is_queued_by_discord_py_within_the_bucket(
    sim: DiscordSimulator, world: World, connection: DiscordConnection
) -> None:
    sim.rate_limits.set("DELETE", DELETE, 5, 0.3)
    messages = raid(sim, world, 20)
    executor = connection.executor()

    done = await asyncio.gather(*(executor.execute(deletion(m), space(world)) for m in messages))

    assert all(text.startswith("deleted message") for text in done)
    assert [m for m in messages if sim.message_exists(m)] == []
    assert [r.status for r in sim.requests.find("DELETE", DELETE)] == [204] * 20


async def test_a_bucket_resetting_later_than_discord_py_waits_is_transient_at_once(
    sim: DiscordSimulator, world: World, connection: DiscordConnection
) -> None:
    sim.rate_limits.set("DELETE", "/guilds/{guild_id}/members/{user_id}", 1, 600.0)
    executor = connection.executor()
    first, second = (account(u) for u in raid_users(sim, world))

    await executor.execute(Remove(target=first, reason="raid"), space(world))
    with pytest.raises(TransientError) as limited:
        await executor.execute(Remove(target=second, reason="raid"), space(world))

    assert limited.value.retry_after == pytest.approx(600, abs=5)  # discord.py's RateLimited
    kicks = sim.requests.find("DELETE", "/guilds/{guild_id}/members/{user_id}")
    assert [r.status for r in kicks] == [204, 429]  # no 600 s sleep inside the action
    assert sim.member(world.guild, raid_users_of(sim, second)) is not None


async def test_a_wait_longer_than_the_actions_deadline_is_transient_and_the_retry_is_harmless(
    sim: DiscordSimulator, world: World, connection: DiscordConnection
) -> None:
    # discord.py sleeps until the bucket resets inside the request that emptied it, after
    # Discord carried it out: the deadline ends the action as transient although the ban
    # landed, and the worker's retry must find it done rather than ban twice.
    sim.rate_limits.set("PUT", "/guilds/{guild_id}/bans/{user_id}", 1, 20.0)
    executor = DiscordExecutor(connection.client, deadline=1.0)
    first, _ = raid_users(sim, world)
    ban = Ban(target=account(first), reason="raid")

    with pytest.raises(TransientError, match="no answer from Discord within"):
        await executor.execute(ban, space(world))
    assert sim.is_banned(world.guild, first)

    assert "already banned" in await executor.execute(ban, space(world))
    assert len(sim.requests.find("PUT", "/guilds/{guild_id}/bans/{user_id}")) == 1


async def test_the_global_limit_is_waited_out_and_every_delete_lands(
    sim: DiscordSimulator, world: World, connection: DiscordConnection
) -> None:
    sim.rate_limits.global_limit = Limit(4, 0.3)
    messages = raid(sim, world, 10)
    executor = connection.executor()

    await asyncio.gather(*(executor.execute(deletion(m), space(world)) for m in messages))

    assert [m for m in messages if sim.message_exists(m)] == []
    statuses = [r.status for r in sim.requests.find("DELETE", DELETE)]
    assert 429 in statuses  # discord.py met the global limit and waited it out
    assert statuses.count(204) == 10


def raid_users(sim: DiscordSimulator, world: World) -> list[User]:
    users = [sim.create_user(f"raider-{n}") for n in range(2)]
    for user in users:
        sim.add_member(world.guild, user)
    return users


def raid_users_of(sim: DiscordSimulator, target: Account) -> User:
    return sim.world.users[int(target.id)]


def account(user: User) -> Account:
    return Account(platform=Platform.DISCORD, id=str(user.id))
