"""The real discord.py client connects to the simulator, receives events, and resumes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import aiohttp
import discord
import pytest

from devtools.discord_simulator import DiscordSimulator, SimulatorError, run_simulator
from tests.discord_sim.conftest import INTENTS, SimBot, World, start_client


async def test_ready_shows_the_guild_its_channels_and_members(world: World, client: SimBot) -> None:
    guild = client.get_guild(world.guild.id)
    assert guild is not None
    assert guild.name == "Community"
    assert guild.owner_id == world.owner.id
    assert [c.name for c in guild.text_channels] == ["general"]
    assert {m.name for m in guild.members} == {"owner", "modbot", "alice", "bob", "senior", "admin"}
    assert guild.chunked
    me = guild.me
    assert me.top_role.name == "modbot"
    assert me.guild_permissions.moderate_members
    assert not me.guild_permissions.administrator


async def test_a_members_message_reaches_on_message_with_its_content(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    sim.post_message(world.alice, world.general, "hello there")

    (message,) = await client.expect("message")
    assert message.content == "hello there"
    assert message.author.id == world.alice.id
    assert isinstance(message.author, discord.Member)
    assert message.channel.id == world.general.id


async def test_the_bot_deletes_a_message_and_the_deletion_comes_back(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    posted = sim.post_message(world.alice, world.general, "spam spam spam")
    (message,) = await client.expect("message")

    await message.delete()

    assert not sim.message_exists(posted)
    request = await sim.wait_for_request(
        "DELETE", f"/channels/{world.general.id}/messages/{posted.id}"
    )
    assert request.status == 204
    (payload,) = await client.expect("raw_message_delete")
    assert payload.message_id == posted.id
    (deleted,) = await client.expect("message_delete")
    assert deleted.content == "spam spam spam"


async def test_an_edit_by_the_author_arrives_as_message_edit(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    posted = sim.post_message(world.alice, world.general, "nice")
    await client.expect("message")

    sim.edit_message(posted, "n1ce idiot")

    before, after = await client.expect("message_edit")
    assert (before.content, after.content) == ("nice", "n1ce idiot")


async def test_join_and_leave_reach_the_client(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    carol = sim.create_user("carol")
    sim.add_member(world.guild, carol)
    (joined,) = await client.expect("member_join")
    assert joined.id == carol.id

    sim.remove_member(world.guild, carol)
    (left,) = await client.expect("raw_member_remove")
    assert left.user.id == carol.id
    guild = client.get_guild(world.guild.id)
    assert guild is not None
    assert guild.get_member(carol.id) is None


async def test_a_timed_out_member_cannot_post(sim: DiscordSimulator, world: World) -> None:
    member = sim.member(world.guild, world.alice)
    assert member is not None
    member.communication_disabled_until = datetime.now(UTC) + timedelta(minutes=5)

    with pytest.raises(SimulatorError, match="timed out"):
        sim.post_message(world.alice, world.general, "let me talk")


async def test_reconnect_mid_stream_resumes_without_losing_a_message(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    for number in range(60):
        sim.post_message(world.alice, world.general, f"message {number}")
        if number == 20:
            sim.request_reconnect(world.bot)
        if number % 10 == 0:
            await asyncio.sleep(0.005)  # let the client read some of them before the next burst

    await client.expect("resumed")
    await client.expect("message", lambda m: m.content == "message 59")
    contents = [m.content for (m,) in client.events("message")]
    assert contents == [f"message {n}" for n in range(60)]
    # The reconnect really happened in the middle: messages arrived on both sockets.
    order = [name for name, _ in client.seen if name in ("message", "resumed")]
    assert 0 < order.index("resumed") < len(order) - 1
    assert sim.gateway.is_connected(world.bot)


async def test_a_dropped_socket_resumes_and_replays_what_was_missed(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    sim.drop_connections(world.bot)
    sim.post_message(world.alice, world.general, "while you were away")

    await client.expect("resumed")
    (message,) = await client.expect("message")
    assert message.content == "while you were away"
    assert len(client.events("ready")) == 1  # resumed, not identified again


async def test_a_gateway_outage_refuses_sockets_until_it_ends(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    sim.gateway_down()
    assert not sim.gateway.is_connected(world.bot)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(sim.gateway_url)
    assert refused.value.status == 503
    sim.post_message(world.alice, world.general, "during the outage")
    await asyncio.sleep(0.3)  # discord.py tries again meanwhile, and is refused
    assert not sim.gateway.is_connected(world.bot)
    assert not client.events("message")

    sim.gateway_up()
    # discord.py waits a random 0 to 2**n seconds after its n-th refused attempt
    # (discord.backoff.ExponentialBackoff): after two refusals in the outage the next
    # try may be almost 4 s away, after three almost 8 s. Wait out a few doublings.
    (message,) = await client.expect("message", timeout=30.0)
    assert message.content == "during the outage"
    assert sim.gateway.is_connected(world.bot)


async def test_a_bad_token_is_a_login_failure(sim: DiscordSimulator, world: World) -> None:
    client = SimBot()
    with pytest.raises(discord.LoginFailure):
        await client.start("not-a-token")
    await client.close()
    request = await sim.wait_for_request("GET", "/users/@me")
    assert request.status == 401


async def test_member_chunk_is_answered_when_asked(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    guild = client.get_guild(world.guild.id)
    assert guild is not None

    members = await guild.query_members(user_ids=[world.alice.id, world.bob.id])

    assert {m.id for m in members} == {world.alice.id, world.bob.id}


async def test_without_the_message_content_intent_content_is_empty(
    sim: DiscordSimulator, world: World
) -> None:
    intents = discord.Intents(INTENTS.value)
    intents.message_content = False
    client = SimBot(intents)
    task = await start_client(client, world.bot.token or "")
    try:
        sim.post_message(world.alice, world.general, "secret words")
        sim.post_message(world.alice, world.general, f"<@{world.bot.id}> help me")
        await client.expect("message", lambda m: "help" in m.content)
        first, second = [m for (m,) in client.events("message")]
        assert first.content == ""
        assert second.content == f"<@{world.bot.id}> help me"  # mentions stay readable
        assert second.mentions[0].id == world.bot.id
    finally:
        await client.close()
        await asyncio.wait_for(task, timeout=5)


async def test_a_bot_added_later_gets_the_guild(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    other = sim.create_guild("Second", owner=world.alice)
    sim.add_member(other, world.bot)

    (guild,) = await client.expect("guild_join")
    assert guild.id == other.id


async def test_history_pages_back_from_the_newest(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    for number in range(5):
        sim.post_message(world.alice, world.general, f"old {number}")
    channel = client.get_channel(world.general.id)
    assert isinstance(channel, discord.TextChannel)

    history = [m.content async for m in channel.history(limit=3)]

    assert history == ["old 4", "old 3", "old 2"]


async def test_an_auto_sharded_client_finds_the_gateway_through_rest(
    sim: DiscordSimulator, world: World
) -> None:
    client = discord.AutoShardedClient(intents=INTENTS, guild_ready_timeout=0.05)
    task = await start_client(client, world.bot.token or "")
    try:
        assert [g.id for g in client.guilds] == [world.guild.id]
        request = await sim.wait_for_request("GET", "/gateway/bot")
        assert request.status == 200
    finally:
        await client.close()
        await asyncio.wait_for(task, timeout=5)


async def test_closing_the_simulator_with_a_client_still_connected_is_quick(
    point_discord_at: Callable[[DiscordSimulator], None],
) -> None:
    async with run_simulator() as sim:
        point_discord_at(sim)
        owner = sim.create_user("owner")
        guild = sim.create_guild("g", owner=owner)
        bot = sim.create_bot("bot")
        sim.add_member(guild, bot)
        client = SimBot()
        task = await start_client(client, bot.token or "")
        started = time.monotonic()
    assert time.monotonic() - started < 0.9  # not the runner's whole 1 s shutdown timeout
    await client.close()
    await asyncio.wait_for(task, timeout=5)
