"""A refusal caused by a channel's permission overwrites is explained in words."""

from __future__ import annotations

import pytest

from adapters.discord.connection import DiscordConnection
from devtools.discord_simulator import DiscordSimulator, permissions
from domain.model import (
    Account,
    Ban,
    DeleteMessage,
    NotifyModerators,
    Platform,
    Space,
    SpaceKind,
)
from domain.ports import PermanentError
from tests.discord_sim.conftest import World


async def test_a_delete_refused_by_the_channels_overwrites_says_so(
    sim: DiscordSimulator, world: World, connection: DiscordConnection
) -> None:
    announcements = sim.create_text_channel(world.guild, "announcements")
    posted = sim.post_message(world.alice, announcements, "buy cheap coins")
    sim.set_overwrite(announcements, world.bot_role, deny=permissions.MANAGE_MESSAGES)
    action = DeleteMessage(
        platform=Platform.DISCORD,
        channel_id=str(announcements.id),
        message_id=str(posted.id),
        reason="spam",
    )
    space = Space(platform=Platform.DISCORD, id=str(world.guild.id), kind=SpaceKind.GUILD)

    with pytest.raises(PermanentError) as refused:
        await connection.executor().execute(action, space)

    assert str(refused.value).endswith(
        "the permission overwrites of #announcements deny the bot Manage Messages "
        "(set for role modbot); allow it there in the channel's settings"
    )
    assert sim.message_exists(posted)


async def test_a_notice_refused_by_an_everyone_overwrite_says_so(
    sim: DiscordSimulator, world: World, connection: DiscordConnection
) -> None:
    mods = sim.create_text_channel(world.guild, "mods")
    everyone = world.guild.roles[world.guild.id]
    sim.set_overwrite(mods, everyone, deny=permissions.SEND_MESSAGES)
    space = Space(platform=Platform.DISCORD, id=str(mods.id), kind=SpaceKind.GUILD)

    with pytest.raises(
        PermanentError, match=r"#mods deny the bot Send Messages \(set for @everyone\)"
    ):
        await connection.executor().execute(NotifyModerators(text="case #3 opened"), space)

    # A role overwrite for the bot's role lets it post again.
    sim.set_overwrite(mods, world.bot_role, allow=permissions.SEND_MESSAGES)
    await connection.executor().execute(NotifyModerators(text="case #3 opened"), space)
    assert [m.content for m in sim.messages_in(mods)] == ["case #3 opened"]


async def test_a_long_reason_is_cut_to_512_characters_before_encoding(
    sim: DiscordSimulator, world: World, connection: DiscordConnection
) -> None:
    # 600 "é": 3,600 characters once percent-encoded; Discord counts the decoded 512.
    space = Space(platform=Platform.DISCORD, id=str(world.guild.id), kind=SpaceKind.GUILD)
    target = Account(platform=Platform.DISCORD, id=str(world.alice.id))

    await connection.executor().execute(Ban(target=target, reason="é" * 600), space)

    assert sim.is_banned(world.guild, world.alice)
    (ban,) = sim.requests.find("PUT", "/guilds/{guild_id}/bans/{user_id}")
    assert ban.audit_reason == "é" * 512
