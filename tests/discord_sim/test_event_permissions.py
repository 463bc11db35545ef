"""Gateway events Discord sends only to bots with the right permissions (issue 17, item 5)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import discord
import pytest

from devtools.discord_simulator import DiscordSimulator, MessageBlocked, permissions
from tests.discord_sim.conftest import INTENTS, SimBot, World, start_client


async def settle(client: SimBot) -> None:
    """Give the gateway time to deliver anything still on the way."""
    await client.expect("message", lambda m: m.content == "marker")


async def test_bans_reach_only_bots_with_ban_members_or_view_audit_log(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    world.bot_role.permissions &= ~(permissions.BAN_MEMBERS | permissions.VIEW_AUDIT_LOG)
    sim.ban(world.guild, world.alice, "by hand")
    sim.post_message(world.senior, world.general, "marker")
    await settle(client)
    assert client.events("member_ban") == []

    world.bot_role.permissions |= permissions.VIEW_AUDIT_LOG
    sim.ban(world.guild, world.senior, "by hand")
    _, user = await client.expect("member_ban")
    assert user.id == world.senior.id


def block_rule(sim: DiscordSimulator, world: World) -> None:
    sim.add_automod_rule(world.guild, "mods' words", creator=world.owner, keywords=["badword"])


async def test_automod_executions_need_manage_server(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    world.bot_role.permissions &= ~permissions.MANAGE_GUILD
    block_rule(sim, world)
    with pytest.raises(MessageBlocked):
        sim.post_message(world.alice, world.general, "a badword")
    sim.post_message(world.senior, world.general, "marker")
    await settle(client)
    assert client.events("automod_action") == []

    world.bot_role.permissions |= permissions.MANAGE_GUILD
    with pytest.raises(MessageBlocked):
        sim.post_message(world.alice, world.general, "a badword")
    (execution,) = await client.expect("automod_action")
    assert execution.content == "a badword"
    assert execution.matched_content == "badword"


@pytest.fixture
async def no_content_client(sim: DiscordSimulator, world: World) -> AsyncIterator[SimBot]:
    intents = discord.Intents(**{**dict(INTENTS), "message_content": False})
    bot = SimBot(intents)
    task = await start_client(bot, world.bot.token or "")
    yield bot
    await bot.close()
    await asyncio.wait_for(task, timeout=5)


async def test_automod_execution_content_is_blank_without_the_message_content_intent(
    sim: DiscordSimulator, world: World, no_content_client: SimBot
) -> None:
    block_rule(sim, world)
    with pytest.raises(MessageBlocked):
        sim.post_message(world.alice, world.general, "a badword")

    (execution,) = await no_content_client.expect("automod_action")
    assert execution.content == ""
    assert execution.matched_content is None
    assert execution.matched_keyword == "badword"
