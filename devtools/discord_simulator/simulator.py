"""The scripting API of the Discord simulator: build a world, act as its people, inspect it.

A test or the demo makes the world (guilds, roles, channels, members, bots), starts the server,
points discord.py at :attr:`DiscordSimulator.api_url` and :attr:`DiscordSimulator.gateway_url`,
then plays the humans: they post messages, join and leave, run slash commands and context
menus, submit modals (app_commands.py). What the bot did is read back from the world and from
:attr:`DiscordSimulator.requests`.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from . import automod, events, permissions
from .app import build_app
from .app_commands import MembersUsingApps
from .automod import MessageBlocked
from .automod_limits import hand_made_rule
from .entities import (
    DM_CHANNEL,
    PRIVILEGED_INTENTS,
    Ban,
    Channel,
    Guild,
    Member,
    Message,
    Overwrite,
    Role,
    SimulatorError,
    User,
)
from .gateway import Gateway
from .interactions import (
    InteractionRegistry,
)
from .payloads import channel_payload, role_payload
from .permissions import MEMBER_OVERWRITE, ROLE_OVERWRITE
from .ratelimits import RateLimits
from .recorder import Fault, Faults, RecordedRequest, RequestLog
from .state import World


class DiscordSimulator(MembersUsingApps):
    """A simulated Discord (REST API v10 and gateway) that the unmodified discord.py talks to."""

    def __init__(self, *, clock: Callable[[], float] | None = None) -> None:
        """``clock`` (monotonic seconds) drives interaction deadlines, token expiry and rate
        limits; a test passes its own to jump 15 minutes ahead (also ``world.clock = ...``)."""
        self.world = World()
        if clock is not None:
            self.world.clock = clock
        self.gateway = Gateway(self.world)
        self.requests = RequestLog()
        self.faults = Faults()
        self.interactions = InteractionRegistry(self.world)
        #: Per-route buckets and the global limit; ``rate_limits.set(...)`` narrows a route.
        self.rate_limits = RateLimits(lambda: self.world.clock())
        #: ``http://host:port``, then what discord.py's ``Route.BASE`` and ``DEFAULT_GATEWAY``
        #: must be set to; empty until :meth:`start`.
        self.url = ""
        self.api_url = ""
        self.gateway_url = ""
        self._runner: web.AppRunner | None = None

    # -- server -----------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port`` (port 0: a free one) and fill in the URLs."""
        app = build_app(
            self.world,
            self.gateway,
            self.interactions,
            self.requests,
            self.faults,
            self.rate_limits,
        )
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((host, port))
        await web.SockSite(self._runner, sock).start()
        port = sock.getsockname()[1]
        self.url = f"http://{host}:{port}"
        self.api_url = f"{self.url}/api/v10"
        self.gateway_url = f"ws://{host}:{port}/gateway"
        self.gateway.url = self.gateway_url

    async def close(self) -> None:
        """Stop listening and close the gateway sockets."""
        if self._runner is not None:
            self.gateway.close_all()
            await self._runner.cleanup()
            self._runner = None

    # -- building the world -----------------------------------------------------------------

    def create_user(self, username: str, *, dms_open: bool = True) -> User:
        """A scripted human; ``dms_open=False`` refuses DMs from bots (403 50007)."""
        return self.world.create_user(username, dms_open=dms_open)

    def create_bot(
        self,
        username: str,
        *,
        token: str | None = None,
        privileged_intents: int = PRIVILEGED_INTENTS,
    ) -> User:
        """A bot account; log discord.py in with ``bot.token``.

        ``privileged_intents`` are the ones switched on for its application in the developer
        portal (all by default); asking for another one at IDENTIFY gets close code 4014.
        """
        return self.world.create_bot(username, token=token, privileged_intents=privileged_intents)

    def create_guild(self, name: str, *, owner: User) -> Guild:
        """A guild with its @everyone role, owned by (and containing) ``owner``."""
        return self.world.create_guild(name, owner=owner)

    def create_role(
        self, guild: Guild, name: str, *, permissions: int = 0, position: int | None = None
    ) -> Role:
        """A role (above all others unless ``position`` is given); see :mod:`.permissions`."""
        role = self.world.create_role(guild, name, permissions=permissions, position=position)
        # GUILD_ROLE_CREATE keeps a connected client's cache in step.
        data = {"guild_id": str(guild.id), "role": role_payload(role)}
        self.gateway.dispatch("GUILD_ROLE_CREATE", data, guild_id=guild.id)
        return role

    def create_text_channel(self, guild: Guild, name: str) -> Channel:
        """A text channel; connected bots get CHANNEL_CREATE."""
        channel = self.world.create_text_channel(guild, name)
        data = channel_payload(self.world, channel)
        self.gateway.dispatch("CHANNEL_CREATE", data, guild_id=guild.id)
        return channel

    def set_overwrite(
        self, channel: Channel, target: Role | User, *, allow: int = 0, deny: int = 0
    ) -> None:
        """Set the channel's permission overwrite for a role or a member (CHANNEL_UPDATE);
        ``allow=deny=0`` removes it."""
        kind = ROLE_OVERWRITE if isinstance(target, Role) else MEMBER_OVERWRITE
        if allow or deny:
            channel.overwrites[target.id] = Overwrite(target.id, kind, allow, deny)
        else:
            channel.overwrites.pop(target.id, None)
        events.channel_updated(self.world, self.gateway, channel)

    def add_member(self, guild: Guild, user: User, roles: list[Role] | None = None) -> Member:
        """``user`` joins ``guild`` (GUILD_MEMBER_ADD; a bot also gets GUILD_CREATE)."""
        member = self.world.add_member(guild, user, roles)
        events.member_added(self.world, self.gateway, guild, member)
        return member

    def remove_member(self, guild: Guild, user: User) -> None:
        """``user`` leaves ``guild`` (GUILD_MEMBER_REMOVE)."""
        if guild.members.pop(user.id, None) is None:
            raise SimulatorError(f"{user.username} is not a member of {guild.name}")
        events.member_removed(self.world, self.gateway, guild, user)

    def set_roles(self, guild: Guild, user: User, roles: list[Role]) -> Member:
        """A moderator changes the member's roles by hand (GUILD_MEMBER_UPDATE)."""
        member = self._member(guild, user)
        member.roles = [role.id for role in roles]
        events.member_updated(self.world, self.gateway, member)
        return member

    def ban(self, guild: Guild, user: User, reason: str | None = None) -> None:
        """A moderator bans ``user`` by hand in Discord's app (GUILD_BAN_ADD)."""
        guild.bans[user.id] = Ban(user_id=user.id, reason=reason)
        if guild.members.pop(user.id, None) is not None:
            events.member_removed(self.world, self.gateway, guild, user)
        events.ban_added(self.world, self.gateway, guild, guild.bans[user.id])

    def set_dms_open(self, user: User, dms_open: bool) -> None:
        """The user changes their privacy setting for DMs from server members."""
        user.dms_open = dms_open

    def add_automod_rule(
        self,
        guild: Guild,
        name: str,
        *,
        creator: User,
        keywords: list[str] | None = None,
        trigger_type: int = automod.KEYWORD,
    ) -> dict[str, Any]:
        """A moderator makes an AutoMod rule by hand (Discord's limits apply, as in the app)."""
        rule = hand_made_rule(self.world, guild, name, creator, keywords or [], trigger_type)
        guild.automod_rules[int(rule["id"])] = rule
        self.gateway.dispatch("AUTO_MODERATION_RULE_CREATE", rule, guild_id=guild.id)
        return rule

    def open_dm(self, user: User, other: User) -> Channel:
        """The DM channel between two users (a human and a bot, or two humans)."""
        return self.world.dm_channel(user, other)

    # -- acting as the humans ---------------------------------------------------------------

    def post_message(self, author: User, channel: Channel, content: str) -> Message:
        """``author`` posts ``content``: stored, checked by AutoMod, MESSAGE_CREATE to bots.

        Raises :class:`SimulatorError` where Discord's client would not let the user post
        (not a member, timed out, not in the DM, no View Channel or Send Messages there) and
        :class:`MessageBlocked` when an AutoMod rule blocks the message.
        """
        if channel.type == DM_CHANNEL:
            if author.id not in channel.recipients:
                raise SimulatorError(f"{author.username} is not in this DM")
            dm = self.world.store_message(author, channel, content)
            events.message_created(self.world, self.gateway, dm)
            return dm
        guild = self.world.guilds[channel.guild_id or 0]
        member = self._member(guild, author)
        if member.is_timed_out():
            raise SimulatorError(f"{author.username} is timed out in {guild.name}")
        can = self.world.channel_permissions(channel, author.id)
        if not permissions.has(can, permissions.VIEW_CHANNEL | permissions.SEND_MESSAGES):
            raise SimulatorError(f"{author.username} may not post in #{channel.name}")
        matches = automod.find_matches(guild, member, channel.id, content)
        blocked = any(m.blocks for m in matches)
        message = None if blocked else self.world.store_message(author, channel, content)
        for match in matches:
            for action in match.rule.get("actions", []):
                self.emit_automod_execution(
                    guild, match, action, author, channel, content, message=message
                )
        if message is None:
            raise MessageBlocked(matches)
        events.message_created(self.world, self.gateway, message)
        return message

    def edit_message(self, message: Message, content: str) -> Message:
        """The author edits their message (MESSAGE_UPDATE)."""
        if message.deleted:
            raise SimulatorError("the message was deleted")
        message.content = content
        message.edited_timestamp = datetime.now(UTC)
        events.message_updated(self.world, self.gateway, message)
        return message

    def delete_message(self, message: Message) -> None:
        """The author deletes their message (MESSAGE_DELETE)."""
        message.deleted = True
        events.message_deleted(self.world, self.gateway, message)

    def emit_automod_execution(
        self,
        guild: Guild,
        match: automod.Match,
        action: dict[str, Any],
        user: User,
        channel: Channel | None,
        content: str,
        *,
        message: Message | None = None,
    ) -> None:
        """Send AUTO_MODERATION_ACTION_EXECUTION, as Discord does for each action it takes."""
        where = None if channel is None else channel.id
        data = automod.execution_payload(
            match, action, guild_id=guild.id, user_id=user.id, channel_id=where,
            content=content, message_id=None if message is None else message.id,
        )  # fmt: skip
        self.gateway.dispatch("AUTO_MODERATION_ACTION_EXECUTION", data, guild_id=guild.id)

    # -- inspecting -------------------------------------------------------------------------

    def member(self, guild: Guild, user: User) -> Member | None:
        """The membership of ``user`` in ``guild``, or None (left, kicked, banned)."""
        return guild.members.get(user.id)

    def is_timed_out(self, guild: Guild, user: User) -> bool:
        """Whether ``user`` is a member of ``guild`` under a timeout now."""
        member = guild.members.get(user.id)
        return member is not None and member.is_timed_out()

    def is_banned(self, guild: Guild, user: User) -> bool:
        """Whether ``user`` is banned from ``guild``."""
        return user.id in guild.bans

    def message_exists(self, message: Message | int) -> bool:
        """Whether the message is still there (not deleted by anyone)."""
        message_id = message if isinstance(message, int) else message.id
        stored = self.world.messages.get(message_id)
        return stored is not None and not stored.deleted

    def messages_in(self, channel: Channel) -> list[Message]:
        """The channel's existing messages, oldest first."""
        return self.world.channel_messages(channel.id)

    # -- faults and waiting -----------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        path: str,
        *,
        times: int = 1,
        status: int = 429,
        retry_after: float = 0.05,
    ) -> None:
        """Answer the next ``times`` requests of ``method`` on ``path`` with ``status``.

        ``path`` is concrete (``/channels/1/messages``) or a template
        (``/channels/{channel_id}/messages``). A 429 carries ``retry_after`` in its body and
        Retry-After header; discord.py sleeps that long and retries.
        """
        self.faults.add(
            Fault(
                method=method.upper(),
                path=path,
                status=status,
                remaining=times,
                retry_after=retry_after,
            )
        )

    async def wait_for_request(
        self,
        method: str | None = None,
        path: str | None = None,
        *,
        predicate: Callable[[RecordedRequest], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> RecordedRequest:
        """The first answered request matching, waiting for it if it has not come yet."""
        return await self.requests.wait_for(method, path, predicate=predicate, timeout=timeout)

    def request_reconnect(self, bot: User) -> None:
        """Send op 7 RECONNECT to the bot; it should RESUME and miss nothing."""
        self.gateway.request_reconnect(bot)

    def gateway_down(self) -> None:
        """A gateway outage for every bot: sockets closed (4000, resumable), new ones
        refused with 503 until :meth:`gateway_up`."""
        self.gateway.go_down()

    def gateway_up(self) -> None:
        """End :meth:`gateway_down`; the bots reconnect (and RESUME) on their own."""
        self.gateway.come_back()

    def drop_connections(self, bot: User) -> None:
        """Cut the bot's gateway sockets (close code 4000); it should RESUME."""
        self.gateway.drop_connections(bot)

    def _member(self, guild: Guild, user: User) -> Member:
        member = guild.members.get(user.id)
        if member is None:
            raise SimulatorError(f"{user.username} is not a member of {guild.name}")
        return member


@asynccontextmanager
async def run_simulator(
    host: str = "127.0.0.1", port: int = 0, *, clock: Callable[[], float] | None = None
) -> AsyncIterator[DiscordSimulator]:
    """A started :class:`DiscordSimulator` (port 0: a free one), closed on exit."""
    simulator = DiscordSimulator(clock=clock)
    await simulator.start(host, port)
    try:
        yield simulator
    finally:
        await simulator.close()
