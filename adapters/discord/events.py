"""Event routing: discord.py events from the protected guilds -> the core's handlers.

The client subclass only forwards; :class:`Router` decides what the core hears: messages and
edits in protected guilds (never the bot's own, never system messages), DMs to the bot,
joins, leaves, bans and unbans, and native AutoMod blocks. A handler that fails is logged by
exception type and ids only -- never the message text -- and the client carries on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime
from typing import Any, Final

import discord

from adapters.discord import translate
from adapters.discord.automod import AutomodMirror
from adapters.discord.backfill import Backfill
from domain.model import Channel, Platform
from domain.ports import Inbound, NotRecorded

log = logging.getLogger(__name__)

# Backoff while the core cannot record events (its disk is full), in seconds.
RETRY_FIRST = 0.5
RETRY_CAP = 30.0


def intents() -> discord.Intents:
    """The gateway intents modbridge needs (:mod:`adapters.discord.connection` says why each)."""
    return discord.Intents(
        guilds=True,
        members=True,
        guild_messages=True,
        dm_messages=True,
        message_content=True,
        moderation=True,
        auto_moderation_execution=True,
    )


class ModClient(discord.Client):
    """discord.py's client whose event methods hand everything to the router."""

    def __init__(self, router: Router, **options: Any) -> None:
        super().__init__(intents=intents(), **options)
        self._router = router
        # When the gateway connection was lost (None while it is up): the service's /healthz.
        self.down_since: datetime | None = None

    async def on_disconnect(self) -> None:
        """The gateway connection closed; discord.py reconnects by itself."""
        if self.down_since is None:
            self.down_since = datetime.now(UTC)

    async def on_connect(self) -> None:
        """READY after a new session."""
        self.down_since = None

    async def on_resumed(self) -> None:
        """RESUMED after a reconnect."""
        self.down_since = None

    async def on_message(self, message: discord.Message) -> None:
        """MESSAGE_CREATE."""
        await self._router.message(message)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        """MESSAGE_UPDATE, also for messages no longer in the cache."""
        await self._router.edit(payload)

    async def on_member_join(self, member: discord.Member) -> None:
        """GUILD_MEMBER_ADD."""
        await self._router.joined(member)

    async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        """GUILD_MEMBER_REMOVE, also for members not in the cache."""
        await self._router.left(payload)

    async def on_member_ban(self, guild: discord.Guild, user: discord.abc.User) -> None:
        """GUILD_BAN_ADD."""
        await self._router.banned(guild, user)

    async def on_member_unban(self, guild: discord.Guild, user: discord.User) -> None:
        """GUILD_BAN_REMOVE."""
        await self._router.unbanned(guild, user)

    async def on_automod_action(self, execution: discord.AutoModAction) -> None:
        """AUTO_MODERATION_ACTION_EXECUTION."""
        await self._router.automod(execution)

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        """Log an event method that raised, without its arguments."""
        # discord.py's default prints the traceback, whose exception text may quote a message.
        log.error(
            "error in %s (%d arguments); not logged further for privacy", event_method, len(args)
        )


class Router:
    """Turns discord.py events from protected guilds into calls on the core's handlers."""

    def __init__(
        self,
        *,
        handlers: Inbound,
        guilds: Collection[int],
        moderator_roles: Collection[int],
        clock: Callable[[], datetime],
    ) -> None:
        self.handlers = handlers
        self.guilds = guilds
        self.moderator_roles = moderator_roles
        self.clock = clock
        self.client: discord.Client | None = None
        self.automod_mirror: AutomodMirror | None = None
        self.backfill: Backfill | None = None

    def _is_me(self, user_id: int) -> bool:
        me = self.client.user if self.client is not None else None
        return me is not None and me.id == user_id

    async def message(self, message: discord.Message) -> None:
        """A new message: to on_message (protected guild) or on_direct_message (DM)."""
        if self._is_me(message.author.id) or message.type not in _MEMBER_MESSAGE_TYPES:
            return
        ids = _ids(message.guild.id if message.guild else None, message.channel.id, message.id)
        if message.guild is None:
            if isinstance(message.channel, discord.DMChannel) and not message.author.bot:
                dm = translate.message(message, moderator_roles=self.moderator_roles)
                # A DM channel's id points at the member (maybe a reporter): the message id only.
                private = f"a direct message, message {message.id}"
                await self._guard(
                    "on_direct_message", private, lambda: self.handlers.on_direct_message(dm)
                )
            return
        if message.guild.id not in self.guilds:
            return
        translated = translate.message(message, moderator_roles=self.moderator_roles)
        if self.backfill is None:
            await self._guard("on_message", ids, lambda: self.handlers.on_message(translated))
            return
        # Not counted as handed on (the catch-up marker) before the core has recorded it.
        with self.backfill.handling(message.id):
            await self._guard("on_message", ids, lambda: self.handlers.on_message(translated))

    async def edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        """An edit whose text changed: to on_message with ``edit_of``."""
        message = payload.message
        if payload.guild_id not in self.guilds or self._is_me(message.author.id):
            return
        if message.type not in _MEMBER_MESSAGE_TYPES:
            return
        before = payload.cached_message
        # Discord also sends MESSAGE_UPDATE when it unfurls a link or a pin changes: the text
        # is what a rule judges, so only a changed text is an edit.
        if (before is not None and before.content == message.content) or message.edited_at is None:
            return
        translated = translate.message(message, moderator_roles=self.moderator_roles, edit=True)
        ids = _ids(payload.guild_id, payload.channel_id, payload.message_id)
        await self._guard("on_message", ids, lambda: self.handlers.on_message(translated))

    async def joined(self, member: discord.Member) -> None:
        """A join: to on_membership."""
        if member.guild.id in self.guilds and not self._is_me(member.id):
            event = translate.joined(member)
            await self._guard(
                "on_membership", _ids(member.guild.id), lambda: self.handlers.on_membership(event)
            )

    async def left(self, payload: discord.RawMemberRemoveEvent) -> None:
        """A leave (or a kick, which Discord does not tell apart): to on_membership."""
        if payload.guild_id in self.guilds and not self._is_me(payload.user.id):
            guild = discord.Object(payload.guild_id)
            event = translate.left(payload.user, guild, now=self.clock())
            await self._guard(
                "on_membership", _ids(payload.guild_id), lambda: self.handlers.on_membership(event)
            )

    async def banned(self, guild: discord.Guild, user: discord.abc.User) -> None:
        """A ban, by anyone: to on_membership."""
        if guild.id in self.guilds:
            event = translate.banned(guild, user, now=self.clock())
            await self._guard(
                "on_membership", _ids(guild.id), lambda: self.handlers.on_membership(event)
            )

    async def unbanned(self, guild: discord.Guild, user: discord.abc.User) -> None:
        """An unban, by anyone: to on_membership."""
        if guild.id in self.guilds:
            event = translate.unbanned(guild, user, now=self.clock())
            await self._guard(
                "on_membership", _ids(guild.id), lambda: self.handlers.on_membership(event)
            )

    async def automod(self, execution: discord.AutoModAction) -> None:
        """A message native AutoMod blocked: to on_automod_hit with the rule's name."""
        # One execution comes per action of the rule; the block is the one that matters.
        if execution.guild_id not in self.guilds:
            return
        if execution.action.type is not discord.AutoModRuleActionType.block_message:
            return
        guild = self.client.get_guild(execution.guild_id) if self.client is not None else None
        # Only our mirrored rules count as hits (moderators' own rules are theirs to watch),
        # under the policy's rule id, not the native rule's name.
        if self.automod_mirror is None:
            return
        name = await self.automod_mirror.policy_rule(guild, execution.rule_id)
        if name is None:
            return
        channel_id = execution.channel_id
        where = Channel(
            platform=Platform.DISCORD,
            id="" if channel_id is None else str(channel_id),
            space_id=str(execution.guild_id),
        )
        await self._guard(
            "on_automod_hit",
            _ids(execution.guild_id, channel_id),
            lambda: self.handlers.on_automod_hit(
                rule_name=name,
                author=translate.account_of_id(execution.user_id),
                channel=where,
                matched=execution.matched_content or execution.matched_keyword or "",
            ),
        )

    async def _guard(self, name: str, ids: str, call: Callable[[], Awaitable[None]]) -> None:
        """Await a handler; its failure is logged by type and ids, and the client lives on.

        NotRecorded (the core's disk is full) is retried with backoff until the core records
        the event: the gateway has delivered it and will not again. Each event runs in a task
        of its own (discord.py's dispatch), so the wait holds up only this event.
        """
        delay = RETRY_FIRST
        while True:
            try:
                await call()
            except NotRecorded as exc:
                if self.client is not None and self.client.is_closed():
                    # Shutting down: the catch-up marker stays before it, a restart reads it.
                    log.warning("%s not recorded before shutdown (%s)", name, ids)
                    return
                log.warning("%s not recorded, retrying in %.1fs: %s (%s)", name, delay, exc, ids)
                await asyncio.sleep(delay)
                delay = min(RETRY_CAP, delay * 2)
                continue
            except Exception as exc:
                log.error("%s failed: %s (%s)", name, type(exc).__name__, ids)
            return


# Joins, boosts, pins and the like are system messages nobody wrote.
_MEMBER_MESSAGE_TYPES: Final = frozenset({discord.MessageType.default, discord.MessageType.reply})


def _ids(guild_id: int | None, channel_id: int | None = None, message_id: int | None = None) -> str:
    return f"guild {guild_id}, channel {channel_id}, message {message_id}"
