"""The gateway events Discord sends after a change, shared by the REST routes and scripting.

discord.py does not update its cache from REST answers, only from these events, so each
change to the world is followed by the event Discord would send for it.
"""

from __future__ import annotations

from .entities import Ban, Channel, Guild, Member, Message, User
from .gateway import Gateway
from .payloads import (
    ban_payload,
    channel_payload,
    member_event_payload,
    message_payload,
    user_payload,
)
from .state import World


def message_created(world: World, gateway: Gateway, message: Message) -> None:
    """MESSAGE_CREATE to the bots of the guild, or to the bot in a DM."""
    _send_message_event(world, gateway, "MESSAGE_CREATE", message)


def message_updated(world: World, gateway: Gateway, message: Message) -> None:
    """MESSAGE_UPDATE with the whole message, as Discord sends it today."""
    _send_message_event(world, gateway, "MESSAGE_UPDATE", message)


def message_deleted(world: World, gateway: Gateway, message: Message) -> None:
    """MESSAGE_DELETE: only ids, the content is gone."""
    data = {"id": str(message.id), "channel_id": str(message.channel_id)}
    if message.guild_id is not None:
        data["guild_id"] = str(message.guild_id)
    channel = world.channels[message.channel_id]
    gateway.dispatch(
        "MESSAGE_DELETE",
        data,
        guild_id=message.guild_id,
        user_ids=channel.recipients,
        channel=channel,
    )


def channel_updated(world: World, gateway: Gateway, channel: Channel) -> None:
    """CHANNEL_UPDATE, after its permission overwrites changed."""
    gateway.dispatch("CHANNEL_UPDATE", channel_payload(world, channel), guild_id=channel.guild_id)


def member_added(world: World, gateway: Gateway, guild: Guild, member: Member) -> None:
    """GUILD_MEMBER_ADD; a bot that was added also gets the guild's GUILD_CREATE."""
    gateway.dispatch("GUILD_MEMBER_ADD", member_event_payload(world, member), guild_id=guild.id)
    user = world.users[member.user_id]
    if user.bot:
        gateway.guild_joined(user, guild)


def member_updated(world: World, gateway: Gateway, member: Member) -> None:
    """GUILD_MEMBER_UPDATE after a timeout, a role change or a nickname change."""
    data = member_event_payload(world, member)
    gateway.dispatch("GUILD_MEMBER_UPDATE", data, guild_id=member.guild_id)


def member_removed(world: World, gateway: Gateway, guild: Guild, user: User) -> None:
    """GUILD_MEMBER_REMOVE after a leave, a kick or a ban (sent to the bots still there)."""
    data = {"guild_id": str(guild.id), "user": user_payload(user)}
    gateway.dispatch("GUILD_MEMBER_REMOVE", data, guild_id=guild.id)


def ban_added(world: World, gateway: Gateway, guild: Guild, ban: Ban) -> None:
    """GUILD_BAN_ADD."""
    data = {"guild_id": str(guild.id), "user": ban_payload(world, ban)["user"]}
    gateway.dispatch("GUILD_BAN_ADD", data, guild_id=guild.id)


def ban_removed(world: World, gateway: Gateway, guild: Guild, user: User) -> None:
    """GUILD_BAN_REMOVE."""
    data = {"guild_id": str(guild.id), "user": user_payload(user)}
    gateway.dispatch("GUILD_BAN_REMOVE", data, guild_id=guild.id)


def _send_message_event(world: World, gateway: Gateway, event: str, message: Message) -> None:
    # Discord sends a channel's message events only to bots that can view the channel.
    channel = world.channels[message.channel_id]
    gateway.dispatch(
        event,
        message_payload(world, message),
        guild_id=message.guild_id,
        user_ids=channel.recipients,
        channel=channel,
    )
