"""JSON shapes of Discord API v10 objects, built from the simulator's state.

Pure functions: the REST answers and the gateway events are built from the same shapes,
as on Discord, so what discord.py caches from one matches what it reads from the other.
"""

from __future__ import annotations

import re
from datetime import datetime

from .entities import DM_CHANNEL, JSON, Ban, Channel, Guild, Member, Message, Role, User
from .state import World

_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")


def iso(moment: datetime | None) -> str | None:
    """Discord's timestamp format (ISO 8601 with offset), or None."""
    return None if moment is None else moment.isoformat()


def user_payload(user: User) -> JSON:
    """A user object (``/users/@me`` adds ``verified`` and friends, see :func:`me_payload`)."""
    return {
        "id": str(user.id),
        "username": user.username,
        "discriminator": "0",
        "global_name": user.global_name,
        "avatar": None,
        "bot": user.bot,
        "system": False,
        "public_flags": 0,
    }


def me_payload(user: User) -> JSON:
    """The current user as ``GET /users/@me`` and READY give it."""
    return {
        **user_payload(user),
        "verified": True,
        "mfa_enabled": False,
        "flags": 0,
        "locale": "en-US",
        "email": None,
    }


def role_payload(role: Role) -> JSON:
    """A role object."""
    return {
        "id": str(role.id),
        "name": role.name,
        "color": role.color,
        "colors": {"primary_color": role.color, "secondary_color": None, "tertiary_color": None},
        "hoist": role.hoist,
        "icon": None,
        "unicode_emoji": None,
        "position": role.position,
        "permissions": str(role.permissions),
        "managed": role.managed,
        "mentionable": False,
        "flags": 0,
    }


def channel_payload(world: World, channel: Channel) -> JSON:
    """A guild text channel or a DM channel object."""
    if channel.type == DM_CHANNEL:
        return {
            "id": str(channel.id),
            "type": DM_CHANNEL,
            "last_message_id": _snowflake(channel.last_message_id),
            "recipients": [user_payload(world.users[uid]) for uid in channel.recipients],
        }
    return {
        "id": str(channel.id),
        "type": channel.type,
        "guild_id": str(channel.guild_id),
        "name": channel.name,
        "position": channel.position,
        "permission_overwrites": [
            {"id": str(o.id), "type": o.type, "allow": str(o.allow), "deny": str(o.deny)}
            for o in channel.overwrites.values()
        ],
        "nsfw": False,
        "topic": None,
        "parent_id": None,
        "rate_limit_per_user": 0,
        "last_message_id": _snowflake(channel.last_message_id),
        "flags": 0,
    }


def member_payload(world: World, member: Member, *, with_user: bool = True) -> JSON:
    """A guild member object; message events carry it without ``user``."""
    payload: JSON = {
        "roles": [str(role_id) for role_id in member.roles],
        "nick": member.nick,
        "avatar": None,
        "joined_at": iso(member.joined_at),
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "communication_disabled_until": iso(member.communication_disabled_until),
    }
    if with_user:
        payload["user"] = user_payload(world.users[member.user_id])
    return payload


def member_event_payload(world: World, member: Member) -> JSON:
    """GUILD_MEMBER_ADD / GUILD_MEMBER_UPDATE data: the member plus its guild id."""
    return {**member_payload(world, member), "guild_id": str(member.guild_id)}


def message_payload(world: World, message: Message) -> JSON:
    """A message object as REST answers and MESSAGE_CREATE carry it."""
    author = world.users[message.author_id]
    payload: JSON = {
        "id": str(message.id),
        "type": 0 if message.interaction_id is None else 20,
        "channel_id": str(message.channel_id),
        "author": user_payload(author),
        "content": message.content,
        "timestamp": iso(message.timestamp),
        "edited_timestamp": iso(message.edited_timestamp),
        "tts": False,
        "mention_everyone": "@everyone" in message.content,
        "mentions": [
            user_payload(world.users[int(uid)])
            for uid in dict.fromkeys(_USER_MENTION.findall(message.content))
            if int(uid) in world.users
        ],
        "mention_roles": list(dict.fromkeys(_ROLE_MENTION.findall(message.content))),
        "attachments": [],
        "embeds": message.embeds,
        "components": message.components,
        "pinned": False,
        "flags": message.flags,
    }
    if message.interaction_id is not None:
        payload["application_id"] = str(author.application_id)
        payload["webhook_id"] = str(author.application_id)
    if message.guild_id is not None:
        payload["guild_id"] = str(message.guild_id)
        member = world.guilds[message.guild_id].members.get(message.author_id)
        if member is not None:
            payload["member"] = member_payload(world, member, with_user=False)
    return payload


def incidents_payload(guild: Guild) -> JSON | None:
    """The guild's ``incidents_data`` (None when no incident action was ever taken)."""
    if not guild.incidents:
        return None
    return {
        "dms_disabled_until": iso(guild.incidents.get("dms_disabled_until")),
        "invites_disabled_until": iso(guild.incidents.get("invites_disabled_until")),
        "dm_spam_detected_at": None,
        "raid_detected_at": None,
    }


def guild_payload(world: World, guild: Guild) -> JSON:
    """The guild object of REST answers and GUILD_UPDATE (no members, no channels)."""
    return {
        "id": str(guild.id),
        "name": guild.name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(guild.owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "preferred_locale": "en-US",
        "features": [],
        "roles": [role_payload(role) for role in guild.roles.values()],
        "emojis": [],
        "stickers": [],
        "incidents_data": incidents_payload(guild),
    }


def guild_create_payload(world: World, guild: Guild, *, members: list[Member], large: bool) -> JSON:
    """GUILD_CREATE data: the guild with every channel and the ``members`` Discord sends
    this bot (see :mod:`.members`); ``member_count`` is the guild's real count."""
    return {
        **guild_payload(world, guild),
        "unavailable": False,
        "large": large,
        "joined_at": None,
        "member_count": len(guild.members),
        "members": [member_payload(world, m) for m in members],
        "channels": [channel_payload(world, world.channels[c]) for c in guild.channel_ids],
        "threads": [],
        "presences": [],
        "voice_states": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }


def ban_payload(world: World, ban: Ban) -> JSON:
    """A ban object."""
    return {"reason": ban.reason, "user": user_payload(world.users[ban.user_id])}


def application_payload(bot: User, owner: User | None) -> JSON:
    """``GET /oauth2/applications/@me``: the bot's application."""
    return {
        "id": str(bot.application_id),
        "name": bot.username,
        "icon": None,
        "description": "",
        "bot_public": True,
        "bot_require_code_grant": False,
        "owner": user_payload(owner or bot),
        "verify_key": "0" * 64,
        "flags": _application_flags(bot),
        "summary": "",
        "team": None,
    }


def _application_flags(bot: User) -> int:
    # GATEWAY_PRESENCE (1 << 12), GATEWAY_GUILD_MEMBERS (1 << 14), GATEWAY_MESSAGE_CONTENT
    # (1 << 18): the switches of the developer portal, which discord.py reads at login.
    flags = 0
    for intent, flag in ((1 << 8, 1 << 12), (1 << 1, 1 << 14), (1 << 15, 1 << 18)):
        if bot.privileged_intents & intent:
            flags |= flag
    return flags


def _snowflake(value: int | None) -> str | None:
    return None if value is None else str(value)
