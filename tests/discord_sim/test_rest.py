"""REST behaviour: Discord's limits, error shapes, rate limits and injected failures."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import discord
import pytest

from devtools.discord_simulator import DiscordSimulator
from tests.discord_sim.conftest import SimBot, World


def general(client: SimBot, world: World) -> discord.TextChannel:
    channel = client.get_channel(world.general.id)
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_a_2001_character_message_is_refused_and_2000_accepted(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    channel = general(client, world)

    with pytest.raises(discord.HTTPException) as refused:
        await channel.send("x" * 2001)
    assert refused.value.status == 400
    assert refused.value.code == 50035
    assert "content" in refused.value.text

    sent = await channel.send("x" * 2000)
    assert len(sent.content) == 2000
    assert [len(m.content) for m in sim.messages_in(world.general)] == [2000]


async def test_the_bots_message_is_echoed_as_message_create(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    sent = await general(client, world).send("Please keep it civil.")

    (echo,) = await client.expect("message")
    assert echo.id == sent.id
    assert echo.author.id == world.bot.id


async def test_a_forced_429_is_waited_out_and_retried(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    sim.fail_next("POST", "/channels/{channel_id}/messages", times=2, retry_after=0.1)

    started = time.monotonic()
    sent = await general(client, world).send("eventually")
    elapsed = time.monotonic() - started

    assert sent.content == "eventually"
    attempts = sim.requests.find("POST", f"/channels/{world.general.id}/messages")
    assert [r.status for r in attempts] == [429, 429, 200]
    assert elapsed >= 0.2
    assert [m.content for m in sim.messages_in(world.general)] == ["eventually"]


async def test_a_500_is_retried_by_discord_py(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    sim.fail_next("GET", "/guilds/{guild_id}/members/{user_id}", status=500)

    guild = client.get_guild(world.guild.id)
    assert guild is not None
    member = await guild.fetch_member(world.alice.id)

    assert member.id == world.alice.id
    attempts = sim.requests.find("GET", "/guilds/{guild_id}/members/{user_id}")
    assert [r.status for r in attempts] == [500, 200]


async def test_answers_carry_json_content_type_and_rate_limit_headers(
    sim: DiscordSimulator, world: World
) -> None:
    headers = {"Authorization": f"Bot {world.bot.token}"}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{sim.api_url}/users/@me", headers=headers) as answer:
            assert answer.status == 200
            assert answer.headers["Content-Type"] == "application/json"
            for name in ("Limit", "Remaining", "Reset", "Reset-After", "Bucket"):
                assert f"X-RateLimit-{name}" in answer.headers
        async with session.get(f"{sim.api_url}/users/@me") as answer:
            assert answer.status == 401
            assert await answer.json() == {"message": "401: Unauthorized", "code": 0}
        async with session.get(f"{sim.api_url}/gateway/bot", headers=headers) as answer:
            assert (await answer.json())["url"] == sim.gateway_url


async def test_an_interaction_cannot_be_answered_twice(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    world.guild.commands[world.bot.application_id or 0] = [
        {"id": "1", "name": "ping", "type": 1, "options": [], "guild_id": str(world.guild.id)}
    ]
    handle = sim.invoke_slash_command(world.bot, world.alice, world.general, "ping")
    url = f"{sim.api_url}/interactions/{handle.id}/{handle.token}/callback"
    body = {"type": 4, "data": {"content": "pong"}}
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json=body) as first:
            assert first.status == 204
        async with session.post(url, json=body) as second:
            assert second.status == 400
            assert (await second.json())["code"] == 40060
        async with session.post(url.replace(handle.token, "forged"), json=body) as forged:
            assert forged.status == 404
    assert (await handle.response())["data"]["content"] == "pong"


async def test_waiting_for_a_request_that_comes_later(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    posted = sim.post_message(world.alice, world.general, "delete me")
    (message,) = await client.expect("message")
    path = f"/channels/{world.general.id}/messages/{posted.id}"

    waiting = asyncio.create_task(sim.wait_for_request("DELETE", path))
    await asyncio.sleep(0)  # the waiter is parked before the request exists
    assert not waiting.done()
    await message.delete()

    request = await waiting
    assert request.status == 204
