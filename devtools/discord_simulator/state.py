"""The simulated Discord world: every user, guild, channel and message (entities.py), with
lookups and the rules about them (permissions, role hierarchy); it does no I/O.
The REST routes and the scripting API change it and then ask the gateway to tell bots.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime

from . import permissions as perms
from .entities import (
    DISCORD_EPOCH_MS,
    DM_CHANNEL,
    EPHEMERAL,
    JSON,
    PRIVILEGED_INTENTS,
    TEXT_CHANNEL,
    Channel,
    Guild,
    Member,
    Message,
    Overwrite,
    Role,
    SimulatorError,
    User,
)


class World:
    """Every object of the simulated Discord, with lookups and permission rules."""

    def __init__(self) -> None:
        #: Seconds, monotonic: what interaction deadlines and rate limits count with. A test
        #: replaces it to jump ahead (15 minutes of interaction token) without waiting.
        self.clock: Callable[[], float] = time.monotonic
        #: New DM channels a bot may open per window (count, seconds) before Discord answers
        #: 40003. Discord documents the error, not the numbers; these are a guess at the
        #: order of magnitude, small enough that a raid's burst of warnings meets it.
        self.dm_open_limit: tuple[int, float] = (10, 10.0)
        self.dm_opens: dict[int, list[float]] = {}
        self._counter = itertools.count()
        self.users: dict[int, User] = {}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, Message] = {}
        #: Global application commands per application id.
        self.global_commands: dict[int, list[JSON]] = {}

    def new_id(self) -> int:
        """A fresh snowflake whose timestamp is now, so ``created_at`` looks right."""
        millis = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (millis << 22) | (next(self._counter) & 0x3FFFFF)

    # -- creation -------------------------------------------------------------------------

    def create_user(self, username: str, *, dms_open: bool = True) -> User:
        """Add a scripted human account."""
        user = User(id=self.new_id(), username=username, dms_open=dms_open)
        self.users[user.id] = user
        return user

    def create_bot(
        self,
        username: str,
        *,
        token: str | None = None,
        privileged_intents: int = PRIVILEGED_INTENTS,
    ) -> User:
        """Add a bot account with its token and an application of the same id."""
        user_id = self.new_id()
        token = token or f"sim.{user_id}.{secrets.token_hex(8)}"
        user = User(
            id=user_id,
            username=username,
            bot=True,
            token=token,
            application_id=user_id,
            privileged_intents=privileged_intents,
        )
        self.users[user.id] = user
        return user

    def create_guild(self, name: str, *, owner: User) -> Guild:
        """Add a guild owned by ``owner``, with its @everyone role and the owner as member."""
        guild = Guild(id=self.new_id(), name=name, owner_id=owner.id)
        guild.roles[guild.id] = Role(
            id=guild.id,
            guild_id=guild.id,
            name="@everyone",
            permissions=perms.DEFAULT_EVERYONE,
            position=0,
        )
        self.guilds[guild.id] = guild
        self.add_member(guild, owner)
        return guild

    def create_role(
        self, guild: Guild, name: str, *, permissions: int = 0, position: int | None = None
    ) -> Role:
        """Add a role; without ``position`` it goes on top of the existing ones."""
        if position is None:
            position = max(role.position for role in guild.roles.values()) + 1
        role = Role(
            id=self.new_id(),
            guild_id=guild.id,
            name=name,
            permissions=permissions,
            position=position,
        )
        guild.roles[role.id] = role
        return role

    def create_text_channel(self, guild: Guild, name: str) -> Channel:
        """Add a text channel at the end of the guild's list."""
        channel = Channel(
            id=self.new_id(),
            type=TEXT_CHANNEL,
            name=name,
            guild_id=guild.id,
            position=len(guild.channel_ids),
        )
        self.channels[channel.id] = channel
        guild.channel_ids.append(channel.id)
        return channel

    def add_member(self, guild: Guild, user: User, roles: list[Role] | None = None) -> Member:
        """Make ``user`` a member of ``guild`` (refused while the user is banned there)."""
        if user.id in guild.bans:
            raise SimulatorError(f"{user.username} is banned from {guild.name}")
        member = Member(
            guild_id=guild.id,
            user_id=user.id,
            roles=[role.id for role in roles or []],
            joined_at=datetime.now(UTC),
        )
        guild.members[user.id] = member
        return member

    def find_dm_channel(self, first: User, second: User) -> Channel | None:
        """The DM channel between two users, if it was opened before."""
        pair = tuple(sorted((first.id, second.id)))
        for channel in self.channels.values():
            if channel.type == DM_CHANNEL and tuple(sorted(channel.recipients)) == pair:
                return channel
        return None

    def dm_channel(self, first: User, second: User) -> Channel:
        """The DM channel between two users, created the first time it is asked for."""
        existing = self.find_dm_channel(first, second)
        if existing is not None:
            return existing
        channel = Channel(
            id=self.new_id(),
            type=DM_CHANNEL,
            name="",
            guild_id=None,
            recipients=(first.id, second.id),
        )
        self.channels[channel.id] = channel
        return channel

    def store_message(
        self,
        author: User,
        channel: Channel,
        content: str,
        *,
        flags: int = 0,
        interaction_id: int | None = None,
        embeds: list[JSON] | None = None,
        components: list[JSON] | None = None,
    ) -> Message:
        """Store a new message in ``channel``; no checks, the callers make them."""
        message = Message(
            id=self.new_id(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author_id=author.id,
            content=content,
            timestamp=datetime.now(UTC),
            flags=flags,
            interaction_id=interaction_id,
            embeds=embeds or [],
            components=components or [],
        )
        self.messages[message.id] = message
        channel.last_message_id = message.id
        return message

    # -- lookups ----------------------------------------------------------------------------

    def user_by_token(self, token: str) -> User | None:
        """The bot whose token this is, if any."""
        for user in self.users.values():
            if user.bot and user.token is not None and secrets.compare_digest(user.token, token):
                return user
        return None

    def bot_by_application(self, application_id: int) -> User | None:
        """The bot user of an application."""
        for user in self.users.values():
            if user.bot and user.application_id == application_id:
                return user
        return None

    def guilds_of(self, user_id: int) -> list[Guild]:
        """The guilds where ``user_id`` is a member."""
        return [guild for guild in self.guilds.values() if user_id in guild.members]

    def channel_messages(self, channel_id: int) -> list[Message]:
        """The channel's messages that still exist, oldest first; ephemeral ones are not in
        the channel's history (Discord shows them only to the user who interacted)."""
        return sorted(
            (
                m
                for m in self.messages.values()
                if m.channel_id == channel_id and not m.deleted and not m.flags & EPHEMERAL
            ),
            key=lambda m: m.id,
        )

    # -- rules ------------------------------------------------------------------------------

    def permissions_of(self, guild: Guild, user_id: int) -> int:
        """A member's guild permissions: @everyone plus their roles; owner and admins get all."""
        if user_id == guild.owner_id:
            return perms.ALL
        member = guild.members.get(user_id)
        if member is None:
            return 0
        granted = guild.roles[guild.id].permissions
        for role_id in member.roles:
            role = guild.roles.get(role_id)
            if role is not None:
                granted |= role.permissions
        return perms.ALL if granted & perms.ADMINISTRATOR else granted

    def channel_permissions(self, channel: Channel, user_id: int) -> int:
        """A member's permissions in a guild channel: guild ones, then the overwrites."""
        guild = self.guilds[channel.guild_id or 0]
        member = guild.members.get(user_id)
        if member is None:
            return 0
        everyone = channel.overwrites.get(guild.id)
        mine = channel.overwrites.get(user_id)
        return perms.apply_overwrites(
            self.permissions_of(guild, user_id),
            everyone=None if everyone is None else _pair(everyone),
            roles=[
                _pair(o)
                for role_id in member.roles
                if (o := channel.overwrites.get(role_id)) is not None and o.type == 0
            ],
            member=None if mine is None or mine.type != 1 else _pair(mine),
        )

    def top_position(self, guild: Guild, user_id: int) -> int:
        """The position of the member's highest role (0 when they only have @everyone)."""
        member = guild.members.get(user_id)
        if member is None:
            return 0
        positions = [guild.roles[r].position for r in member.roles if r in guild.roles]
        return max(positions, default=0)

    def outranks(self, guild: Guild, actor_id: int, target_id: int) -> bool:
        """Whether ``actor_id`` may act on ``target_id`` under Discord's role hierarchy."""
        if target_id == guild.owner_id:
            return False
        if actor_id == guild.owner_id:
            return True
        return self.top_position(guild, actor_id) > self.top_position(guild, target_id)


def _pair(overwrite: Overwrite) -> tuple[int, int]:
    return overwrite.allow, overwrite.deny
