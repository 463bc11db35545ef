"""Start-up: what an operator reads when the bot cannot connect."""

from __future__ import annotations

import pytest

from adapters.discord.connection import DiscordConnection, DiscordStartupError, intents
from devtools.discord_simulator import DiscordSimulator
from tests.discord.conftest import Connect
from tests.discord_sim.conftest import World
from tests.fakes import RecordingCore

GUILD_MEMBERS = 1 << 1


def test_the_intents_asked_for() -> None:
    wanted = intents()
    assert wanted.guilds
    assert wanted.members
    assert wanted.guild_messages
    assert wanted.dm_messages
    assert wanted.message_content
    assert wanted.moderation
    assert wanted.auto_moderation_execution
    assert not wanted.presences  # privileged and of no use to moderation


async def test_a_missing_message_content_intent_names_the_switch(
    sim: DiscordSimulator, world: World, connect: Connect
) -> None:
    bot = sim.create_bot("nocontent", privileged_intents=GUILD_MEMBERS)
    sim.add_member(world.guild, bot)

    with pytest.raises(DiscordStartupError) as raised:
        await connect(token=bot.token)

    text = str(raised.value)
    assert "4014" in text
    assert "Message Content Intent" in text
    assert "Server Members Intent" not in text
    assert "developer portal" in text
    assert not sim.gateway.is_connected(bot)


async def test_a_refused_token_is_said_plainly(
    sim: DiscordSimulator, world: World, connect: Connect
) -> None:
    with pytest.raises(DiscordStartupError, match="refused the bot token"):
        await connect(token="not-a-token")


async def test_run_returns_after_close(
    sim: DiscordSimulator, world: World, connection: DiscordConnection, recorder: RecordingCore
) -> None:
    await connection.close()
    await connection.run()  # a clean close ends run() without an error
    assert not sim.gateway.is_connected(world.bot)
    assert connection.mod_channel_ids == {world.guild.id: world.general.id}
