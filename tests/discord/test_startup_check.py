"""At start-up the moderators are told which permissions the bot lacks and what stops."""

from __future__ import annotations

import pytest

from devtools.discord_simulator import DiscordSimulator, permissions
from tests.discord.conftest import Connect
from tests.discord_sim.conftest import World


def notices(sim: DiscordSimulator, world: World) -> list[str]:
    return [m.content for m in sim.messages_in(world.general) if m.author_id == world.bot.id]


async def test_missing_permissions_are_named_with_what_stops_working(
    sim: DiscordSimulator, world: World, connect: Connect
) -> None:
    world.bot_role.permissions &= ~(
        permissions.BAN_MEMBERS | permissions.VIEW_AUDIT_LOG | permissions.MANAGE_GUILD
    )

    await connect()

    (notice,) = notices(sim, world)
    assert notice.startswith("The bot is missing permissions in Community:")
    assert "- Ban Members: bans and unbans fail, and bans made by hand are not seen" in notice
    assert "- Manage Server: what Discord's AutoMod blocks is not seen" in notice
    assert "Kick Members" not in notice


async def test_a_bot_with_every_permission_it_needs_posts_nothing(
    sim: DiscordSimulator, world: World, connect: Connect
) -> None:
    await connect()
    assert notices(sim, world) == []


async def test_a_moderators_channel_the_bot_cannot_post_in_is_logged(
    sim: DiscordSimulator, world: World, connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    mods = sim.create_text_channel(world.guild, "mods")
    sim.set_overwrite(mods, world.bot_role, deny=permissions.SEND_MESSAGES)
    world.bot_role.permissions &= ~permissions.KICK_MEMBERS

    await connect(mod_channels={world.guild.id: mods.id})

    assert sim.messages_in(mods) == []  # refused; the finding went to the log
    assert "notices to the moderators fail" in caplog.text
