"""Rate limits as Discord documents them: per-route buckets by major parameter, the global
limit, the shared scope, and the headers discord.py reads (issue 17, item 4)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import discord

from devtools.discord_simulator import DiscordSimulator
from tests.discord_sim.conftest import SimBot, World


async def get(sim: DiscordSimulator, token: str, path: str) -> tuple[int, Any, Any]:
    headers = {"Authorization": f"Bot {token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{sim.api_url}{path}", headers=headers) as answer,
    ):
        return answer.status, dict(answer.headers), await answer.json()


async def test_a_bucket_runs_out_and_answers_429_until_its_reset(
    sim: DiscordSimulator, world: World
) -> None:
    now = [0.0]
    sim.world.clock = lambda: now[0]
    sim.rate_limits.set("GET", "/users/@me", 2, 10.0)
    token = world.bot.token or ""

    first = await get(sim, token, "/users/@me")
    second = await get(sim, token, "/users/@me")
    status, headers, body = await get(sim, token, "/users/@me")

    assert [first[1]["X-RateLimit-Remaining"], second[1]["X-RateLimit-Remaining"]] == ["1", "0"]
    assert first[1]["X-RateLimit-Limit"] == "2"
    assert first[1]["X-RateLimit-Bucket"] == second[1]["X-RateLimit-Bucket"]
    assert float(second[1]["X-RateLimit-Reset-After"]) == 10.0
    assert status == 429
    assert body == {"message": "You are being rate limited.", "retry_after": 10.0, "global": False}
    assert headers["X-RateLimit-Scope"] == "user"
    assert headers["Retry-After"] == "10"
    assert "X-RateLimit-Global" not in headers

    now[0] = 10.0
    assert (await get(sim, token, "/users/@me"))[0] == 200


async def test_buckets_count_each_channel_apart(sim: DiscordSimulator, world: World) -> None:
    sim.world.clock = lambda: 0.0
    sim.rate_limits.set("GET", "/channels/{channel_id}", 1, 10.0)
    other = sim.create_text_channel(world.guild, "other")
    token = world.bot.token or ""

    assert (await get(sim, token, f"/channels/{world.general.id}"))[0] == 200
    assert (await get(sim, token, f"/channels/{other.id}"))[0] == 200
    assert (await get(sim, token, f"/channels/{world.general.id}"))[0] == 429


async def test_the_global_limit_answers_429_with_global_true(
    sim: DiscordSimulator, world: World
) -> None:
    sim.world.clock = lambda: 0.0
    token = world.bot.token or ""
    for _ in range(50):  # "All bots can make up to 50 requests per second"
        assert (await get(sim, token, f"/guilds/{world.guild.id}"))[0] == 200

    status, headers, body = await get(sim, token, f"/channels/{world.general.id}")

    assert status == 429
    assert body["global"] is True
    assert headers["X-RateLimit-Global"] == "true"
    assert headers["X-RateLimit-Scope"] == "global"


async def test_a_shared_limit_counts_every_bot_and_says_shared(
    sim: DiscordSimulator, world: World
) -> None:
    sim.world.clock = lambda: 0.0
    sim.rate_limits.set("GET", "/guilds/{guild_id}", 1, 5.0, shared=True)
    other_bot = sim.create_bot("otherbot")
    sim.add_member(world.guild, other_bot)

    assert (await get(sim, world.bot.token or "", f"/guilds/{world.guild.id}"))[0] == 200
    status, headers, _ = await get(sim, other_bot.token or "", f"/guilds/{world.guild.id}")

    assert status == 429
    assert headers["X-RateLimit-Scope"] == "shared"


async def test_discord_py_queues_on_the_headers_and_never_meets_a_429(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    sim.rate_limits.set("POST", "/channels/{channel_id}/messages", 2, 0.3)
    channel = client.get_channel(world.general.id)
    assert isinstance(channel, discord.TextChannel)

    await asyncio.gather(*(channel.send(f"notice {n}") for n in range(6)))

    statuses = [r.status for r in sim.requests.find("POST", "/channels/{channel_id}/messages")]
    assert statuses == [200] * 6
    assert sorted(m.content for m in sim.messages_in(world.general)) == [
        f"notice {n}" for n in range(6)
    ]


async def test_limits_can_be_lifted_for_benchmarks(sim: DiscordSimulator, world: World) -> None:
    sim.world.clock = lambda: 0.0
    sim.rate_limits.set("GET", "/users/@me", 1, 10.0)
    sim.rate_limits.lift()
    token = world.bot.token or ""
    statuses = [(await get(sim, token, "/users/@me"))[0] for _ in range(60)]
    assert statuses == [200] * 60
