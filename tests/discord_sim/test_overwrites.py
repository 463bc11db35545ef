"""Channel permission overwrites, computed as Discord's Permissions documentation says
(issue 17, item 7)."""

from __future__ import annotations

import discord
import pytest

from devtools.discord_simulator import DiscordSimulator, SimulatorError, permissions
from devtools.discord_simulator.permissions import apply_overwrites
from tests.discord_sim.conftest import SimBot, World

SEND = permissions.SEND_MESSAGES
VIEW = permissions.VIEW_CHANNEL
BASE = permissions.DEFAULT_EVERYONE


@pytest.mark.parametrize(
    ("everyone", "roles", "member", "has_send"),
    [
        (None, [], None, True),
        ((0, SEND), [], None, False),  # @everyone denied
        ((0, SEND), [(SEND, 0)], None, True),  # a role allows over @everyone's deny
        (None, [(0, SEND), (SEND, 0)], None, True),  # role allows win over role denies
        ((0, SEND), [(SEND, 0)], (0, SEND), False),  # the member's own overwrite is last
        (None, [(0, SEND)], (SEND, 0), True),
    ],
)
def test_overwrites_apply_in_discords_order(
    everyone: tuple[int, int] | None,
    roles: list[tuple[int, int]],
    member: tuple[int, int] | None,
    has_send: bool,
) -> None:
    granted = apply_overwrites(BASE, everyone=everyone, roles=roles, member=member)
    assert bool(granted & SEND) is has_send


def test_no_view_channel_means_no_permission_and_administrators_bypass() -> None:
    assert apply_overwrites(BASE, everyone=(0, VIEW), roles=[], member=None) == 0
    admin = BASE | permissions.ADMINISTRATOR
    assert apply_overwrites(admin, everyone=(0, VIEW | SEND), roles=[], member=None) == (
        permissions.ALL
    )


async def test_a_delete_in_a_channel_denying_the_bot_is_refused_50013(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    rules = sim.create_text_channel(world.guild, "rules")
    posted = sim.post_message(world.alice, rules, "spam")
    sim.set_overwrite(rules, world.bot_role, deny=permissions.MANAGE_MESSAGES)
    await client.expect("guild_channel_update")
    channel = client.get_channel(rules.id)
    assert isinstance(channel, discord.TextChannel)
    me = channel.guild.me
    assert not channel.permissions_for(me).manage_messages  # the cache agrees

    with pytest.raises(discord.Forbidden) as refused:
        await channel.get_partial_message(posted.id).delete()

    assert refused.value.code == 50013
    assert sim.message_exists(posted)


async def test_a_channel_hidden_from_the_bot_sends_it_nothing(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    hidden = sim.create_text_channel(world.guild, "staff")
    sim.set_overwrite(hidden, world.bot_role, deny=permissions.VIEW_CHANNEL)
    sim.post_message(world.alice, hidden, "not for the bot")
    sim.post_message(world.alice, world.general, "for everyone")

    (seen,) = await client.expect("message")
    assert seen.content == "for everyone"
    assert [m.content for (m,) in client.events("message")] == ["for everyone"]
    with pytest.raises(discord.Forbidden) as refused:
        await client.http.get_channel(hidden.id)
    assert refused.value.code == 50001


def test_a_member_denied_send_messages_cannot_post_there(
    sim: DiscordSimulator, world: World
) -> None:
    announcements = sim.create_text_channel(world.guild, "announcements")
    sim.set_overwrite(announcements, world.guild.roles[world.guild.id], deny=SEND)

    with pytest.raises(SimulatorError, match="may not post"):
        sim.post_message(world.alice, announcements, "hello")
    sim.post_message(world.owner, announcements, "rules updated")  # the owner bypasses
