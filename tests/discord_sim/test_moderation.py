"""Moderation actions by the real discord.py client, and Discord's refusals of them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import discord
import pytest

from devtools.discord_simulator import DiscordSimulator, MessageBlocked, permissions
from tests.discord_sim.conftest import SimBot, World


def cached_member(client: SimBot, world: World, user_id: int) -> discord.Member:
    guild = client.get_guild(world.guild.id)
    assert guild is not None
    member = guild.get_member(user_id)
    assert member is not None
    return member


async def test_timeout_is_applied_audited_and_echoed_to_the_cache(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    alice = cached_member(client, world, world.alice.id)
    assert not alice.is_timed_out()

    await alice.timeout(timedelta(minutes=10), reason="insults (case 12)")

    assert sim.is_timed_out(world.guild, world.alice)
    request = await sim.wait_for_request("PATCH", "/guilds/{guild_id}/members/{user_id}")
    assert request.audit_reason == "insults (case 12)"
    assert request.json["communication_disabled_until"] is not None
    await client.expect("member_update", lambda before, after: after.id == world.alice.id)
    assert cached_member(client, world, world.alice.id).is_timed_out()


async def test_timeout_of_exactly_28_days_is_refused_and_27_accepted(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    alice = cached_member(client, world, world.alice.id)

    with pytest.raises(discord.HTTPException) as refused:
        await alice.timeout(timedelta(days=28))
    assert refused.value.status == 400
    assert refused.value.code == 50035
    assert not sim.is_timed_out(world.guild, world.alice)

    await alice.timeout(timedelta(days=27))
    assert sim.is_timed_out(world.guild, world.alice)


async def test_removing_a_timeout(sim: DiscordSimulator, world: World, client: SimBot) -> None:
    alice = cached_member(client, world, world.alice.id)
    await alice.timeout(timedelta(minutes=5))

    await alice.timeout(None, reason="appeal accepted")

    assert not sim.is_timed_out(world.guild, world.alice)


async def test_a_bot_without_moderate_members_is_forbidden(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    world.bot_role.permissions = permissions.DEFAULT_EVERYONE | permissions.KICK_MEMBERS
    alice = cached_member(client, world, world.alice.id)

    with pytest.raises(discord.Forbidden) as refused:
        await alice.timeout(timedelta(minutes=10))

    assert refused.value.code == 50013
    assert not sim.is_timed_out(world.guild, world.alice)


@pytest.mark.parametrize("target", ["senior", "admin", "owner"])
async def test_members_above_the_bot_admins_and_the_owner_cannot_be_timed_out(
    sim: DiscordSimulator, world: World, client: SimBot, target: str
) -> None:
    user = getattr(world, target)
    member = cached_member(client, world, user.id)

    with pytest.raises(discord.Forbidden):
        await member.timeout(timedelta(minutes=10))

    assert not sim.is_timed_out(world.guild, user)


async def test_kick_removes_the_member_and_tells_the_client(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    await cached_member(client, world, world.alice.id).kick(reason="raid")

    assert sim.member(world.guild, world.alice) is None
    request = await sim.wait_for_request("DELETE", "/guilds/{guild_id}/members/{user_id}")
    assert request.audit_reason == "raid"
    (removed,) = await client.expect("member_remove")
    assert removed.id == world.alice.id


async def test_kicking_a_senior_member_is_forbidden(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    with pytest.raises(discord.Forbidden):
        await cached_member(client, world, world.senior.id).kick()
    assert sim.member(world.guild, world.senior) is not None


async def test_ban_then_unban(sim: DiscordSimulator, world: World, client: SimBot) -> None:
    spam = sim.post_message(world.alice, world.general, "buy followers")
    await client.expect("message")
    guild = client.get_guild(world.guild.id)
    assert guild is not None

    await guild.ban(discord.Object(world.alice.id), reason="spam", delete_message_seconds=3600)

    assert sim.is_banned(world.guild, world.alice)
    assert sim.member(world.guild, world.alice) is None
    assert not sim.message_exists(spam)
    request = await sim.wait_for_request("PUT", "/guilds/{guild_id}/bans/{user_id}")
    assert request.query["delete_message_seconds"] == "3600"
    assert request.audit_reason == "spam"
    _, banned = await client.expect("member_ban")
    assert banned.id == world.alice.id
    await client.expect("member_remove")
    bans = [entry async for entry in guild.bans()]
    assert [(b.user.id, b.reason) for b in bans] == [(world.alice.id, "spam")]

    await guild.unban(discord.Object(world.alice.id), reason="appeal")

    assert not sim.is_banned(world.guild, world.alice)
    await client.expect("member_unban")


async def test_roles_are_added_and_removed_below_the_bot_only(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    muted = sim.create_role(world.guild, "muted", position=1)
    world.bot_role.position = 4  # above senior (3) and the new role
    alice = cached_member(client, world, world.alice.id)
    guild = client.get_guild(world.guild.id)
    assert guild is not None
    await client.expect("guild_role_create")

    await alice.add_roles(discord.Object(muted.id), reason="muted")
    assert muted.id in world.guild.members[world.alice.id].roles
    await client.expect(
        "member_update", lambda _, after: [r.name for r in after.roles[1:]] == ["muted"]
    )

    await alice.remove_roles(discord.Object(muted.id))
    assert muted.id not in world.guild.members[world.alice.id].roles

    with pytest.raises(discord.Forbidden):
        await alice.add_roles(discord.Object(world.bot_role.id))


async def test_a_dm_reaches_a_member_whose_dms_are_open(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    alice = cached_member(client, world, world.alice.id)

    sent = await alice.send("You were warned for insults.")

    dm = sim.open_dm(world.alice, world.bot)
    assert [m.content for m in sim.messages_in(dm)] == ["You were warned for insults."]
    assert sent.channel.id == dm.id


async def test_a_dm_to_a_member_with_closed_dms_is_forbidden(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    bob = cached_member(client, world, world.bob.id)

    with pytest.raises(discord.Forbidden) as refused:
        await bob.send("You were warned.")

    assert refused.value.code == 50007
    assert refused.value.text == "Cannot send messages to this user"


async def test_a_members_dm_to_the_bot_arrives(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    dm = sim.open_dm(world.alice, world.bot)

    sim.post_message(world.alice, dm, "I want to report someone")

    (message,) = await client.expect("message")
    assert message.guild is None
    assert message.content == "I want to report someone"


async def test_deleting_another_users_message_needs_manage_messages(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    world.bot_role.permissions &= ~permissions.MANAGE_MESSAGES
    posted = sim.post_message(world.alice, world.general, "hi")
    (message,) = await client.expect("message")

    with pytest.raises(discord.Forbidden):
        await message.delete()

    assert sim.message_exists(posted)


async def test_pause_dms_incident_action(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    guild = client.get_guild(world.guild.id)
    assert guild is not None
    until = datetime.now(UTC) + timedelta(hours=12)

    await guild.edit(dms_disabled_until=until)

    assert world.guild.incidents["dms_disabled_until"] == until
    await client.expect("guild_update")
    assert guild.dms_paused_until == until
    assert guild.dms_paused()

    with pytest.raises(discord.HTTPException) as refused:
        await guild.edit(dms_disabled_until=datetime.now(UTC) + timedelta(hours=25))
    assert refused.value.status == 400


async def test_incident_actions_need_manage_guild(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    world.bot_role.permissions &= ~permissions.MANAGE_GUILD
    guild = client.get_guild(world.guild.id)
    assert guild is not None

    with pytest.raises(discord.Forbidden):
        await guild.edit(dms_disabled_until=datetime.now(UTC) + timedelta(hours=1))


async def test_automod_rule_blocks_a_message_and_the_client_hears_of_it(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    guild = client.get_guild(world.guild.id)
    assert guild is not None
    rule = await guild.create_automod_rule(
        name="slurs",
        event_type=discord.AutoModRuleEventType.message_send,
        trigger=discord.AutoModTrigger(keyword_filter=["badword"], allow_list=["badwordy"]),
        actions=[discord.AutoModRuleAction(custom_message="Not here.")],
        enabled=True,
        reason="conduct policy",
    )
    assert [r.name for r in await guild.fetch_automod_rules()] == ["slurs"]
    await client.expect("automod_rule_create")

    with pytest.raises(MessageBlocked):
        sim.post_message(world.alice, world.general, "you BADWORD")
    sim.post_message(world.alice, world.general, "badwordy is fine")

    (execution,) = await client.expect("automod_action")
    assert execution.rule_id == rule.id
    assert execution.user_id == world.alice.id
    assert execution.matched_keyword == "badword"
    (message,) = await client.expect("message")
    assert message.content == "badwordy is fine"

    await rule.delete()
    assert world.guild.automod_rules == {}
