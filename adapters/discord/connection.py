"""The connection to Discord: a discord.py client, event routing, commands, AutoMod, DM pauses.

Gateway intents it asks for, and why:

* ``guilds`` -- guilds, channels and roles in the cache (role hierarchy, permissions);
* ``members`` (privileged) -- joins and leaves, and member roles for "is a moderator";
* ``guild_messages`` / ``dm_messages`` -- messages in guilds, and members writing to the bot;
* ``message_content`` (privileged) -- without it Discord blanks the text of every message
  that does not mention the bot, and no rule could match anything;
* ``moderation`` -- bans and unbans, also those made by hand outside modbridge;
* ``auto_moderation_execution`` -- what native AutoMod blocked.

The two privileged intents must be switched on in the developer portal (Bot > Privileged
Gateway Intents); Discord closes the gateway with 4014 otherwise, which :meth:`start` turns
into a :class:`DiscordStartupError` naming the switch.

Only the configured guilds are moderated: events from any other guild the bot is in are
dropped here, and the bot's own messages never reach the core.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Final

import aiohttp
import discord
import discord.gateway
import discord.http
import yarl

from adapters.discord import startup_check
from adapters.discord.automod import AutomodMirror
from adapters.discord.backfill import Backfill
from adapters.discord.commands import DRY_RUN, build_tree
from adapters.discord.events import ModClient, Router, intents
from adapters.discord.executor import DiscordExecutor
from adapters.discord.translate import is_moderator
from domain.automod import AutomodSpec
from domain.ports import Inbound, KeyValueStore

__all__ = [
    "AutomodSpec",
    "DiscordConnection",
    "DiscordStartupError",
    "intents",
]

log = logging.getLogger(__name__)

#: The smallest value discord.py accepts: a 429 asking for longer raises RateLimited, which
#: the executor hands to the worker instead of sleeping inside an action.
MAX_RATELIMIT_WAIT: Final = 30.0
SAVE_EVERY: Final = 5.0  # seconds between saves of the newest message id handed on


class DiscordStartupError(RuntimeError):
    """The connection could not start; the text says what to change."""


def _now() -> datetime:
    return datetime.now(UTC)


class DiscordConnection:
    """One bot's connection to Discord, moderating the configured guilds.

    ``api_base`` and ``gateway_url`` are where discord.py connects; :meth:`start` writes them
    into ``discord.http.Route.BASE`` and ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY``,
    which are process-wide class attributes: every discord.py client in the process talks to
    the same place (fine for one connection per process, and for tests against a simulator).
    """

    def __init__(
        self,
        *,
        token: str,
        api_base: str,
        gateway_url: str,
        guilds: Sequence[int],
        mod_channels: Mapping[int, int],
        moderator_roles: Sequence[int],
        handlers: Inbound,
        state: KeyValueStore,
        automod: bool = False,
        automod_rules: Sequence[AutomodSpec] = (),
        ready_timeout: float = 30.0,
        guild_ready_timeout: float = 2.0,
        action_deadline: float = 30.0,
        clock: Callable[[], datetime] = _now,
        dry_run: bool = False,
    ) -> None:
        self._token = token
        # A dry run (bridge.dryrun) pauses no DMs and marks what it tells the moderators.
        self._dry_run = dry_run
        self._api_base = api_base
        self._gateway_url = gateway_url
        self._guilds = frozenset(guilds)
        self._mod_channels = dict(mod_channels)
        self._ready_timeout = ready_timeout
        self._action_deadline = action_deadline
        self._clock = clock
        self._router = Router(
            handlers=handlers,
            guilds=self._guilds,
            moderator_roles=frozenset(moderator_roles),
            clock=clock,
        )
        self._client = ModClient(
            self._router,
            guild_ready_timeout=guild_ready_timeout,
            max_ratelimit_timeout=MAX_RATELIMIT_WAIT,
        )
        self._router.client = self._client
        # Also without mirroring, the mirror names the moderators' own rules in AutoMod hits.
        self._automod = AutomodMirror(self._client, automod_rules if automod else ())
        self._mirror_automod = automod
        self._router.automod_mirror = self._automod
        self._backfill = Backfill(state, clock)
        self._router.backfill = self._backfill
        self._saver: asyncio.Task[None] | None = None
        self._tree = build_tree(
            self._client,
            handlers=handlers,
            moderator_roles=self._router.moderator_roles,
            protected_guilds=self._guilds,
        )
        self._task: asyncio.Task[None] | None = None

    @property
    def client(self) -> discord.Client:
        """The discord.py client (for the composition root; the core needs none of it)."""
        return self._client

    @property
    def down_since(self) -> datetime | None:
        """When the gateway connection was lost (None while it is up)."""
        return self._client.down_since

    def is_moderator(self, user_id: int) -> bool:
        """Whether the user is a moderator in one of the protected guilds (from the cache)."""
        for guild in self._client.guilds:
            if guild.id not in self._guilds:
                continue
            member = guild.get_member(user_id)
            if member is not None and is_moderator(member, self._router.moderator_roles):
                return True
        return False

    async def check_moderator(self, user_id: int) -> bool:
        """Whether the user is a moderator in a protected guild, correct with a cold cache.

        Without the presence intent the member cache starts with the bot alone and fills
        by chunking; a member not cached yet is fetched over REST (and cached), so a
        moderator is never taken for a member because the cache was behind.
        """
        for guild in self._client.guilds:
            if guild.id not in self._guilds:
                continue
            member = guild.get_member(user_id)
            if member is None and not guild.chunked:
                member = await self._fetch_member(guild, user_id)
            if member is not None and is_moderator(member, self._router.moderator_roles):
                return True
        return False

    @staticmethod
    async def _fetch_member(guild: discord.Guild, user_id: int) -> discord.Member | None:
        try:
            member = await guild.fetch_member(user_id)
        except discord.NotFound:
            return None
        except (discord.HTTPException, discord.RateLimited, aiohttp.ClientError, OSError):
            log.warning("could not read member %s of guild %s", user_id, guild.id)
            return None
        guild._add_member(member)  # discord.py has no public way to cache a fetched member
        return member

    @property
    def protected_guilds(self) -> frozenset[int]:
        """The guilds this connection moderates."""
        return self._guilds

    @property
    def mod_channel_ids(self) -> dict[int, int]:
        """Guild id -> the moderators' channel id, where NotifyModerators goes."""
        return dict(self._mod_channels)

    def executor(self) -> DiscordExecutor:
        """An executor over this connection's client."""
        return DiscordExecutor(self._client, deadline=self._action_deadline, clock=self._clock)

    async def start(self) -> None:
        """Log in, connect, wait until ready; then sync commands, AutoMod and DM pauses.

        Raises DiscordStartupError for a refused token, a missing privileged intent or a
        gateway that does not become ready in time.
        """
        discord.http.Route.BASE = self._api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self._gateway_url)
        try:
            await self._client.login(self._token)
        except discord.LoginFailure as exc:
            await self._client.close()
            raise DiscordStartupError("Discord refused the bot token (401)") from exc
        except (aiohttp.ClientError, OSError) as exc:
            await self._client.close()
            raise DiscordStartupError(
                f"Discord's API at {self._api_base} is unreachable ({type(exc).__name__})"
            ) from exc
        self._task = asyncio.create_task(self._client.connect(), name="discord-gateway")
        ready = asyncio.create_task(self._client.wait_until_ready())
        done, _ = await asyncio.wait(
            {self._task, ready}, timeout=self._ready_timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
            error = self._startup_error() if self._task in done else None
            await self.close()
            raise error or DiscordStartupError(
                f"the Discord gateway was not ready within {self._ready_timeout:.0f} s"
            )
        missing = self._guilds - {guild.id for guild in self._client.guilds}
        if missing:
            log.warning("the bot is not in configured guild(s) %s", sorted(missing))
        await self._after_ready()

    def _startup_error(self) -> DiscordStartupError:
        assert self._task is not None  # noqa: S101 - only called once the task finished
        exc = self._task.exception()
        if isinstance(exc, discord.PrivilegedIntentsRequired):
            return DiscordStartupError(_intents_advice(self._client.application))
        return DiscordStartupError(f"the Discord gateway closed: {type(exc).__name__}")

    async def _after_ready(self) -> None:
        # Global: "Report message" is user-installable and used in DMs; /mod is per guild.
        # A refused sync leaves the commands as they were; moderation by rules goes on.
        try:
            await self._tree.sync()
        except discord.HTTPException as exc:
            log.error("syncing the global commands failed: %s %s", exc.status, exc.code)
        for guild_id in sorted(self._guilds):
            guild = self._client.get_guild(guild_id)
            if guild is None:
                continue
            await self._check_permissions(guild)
            try:
                await self._tree.sync(guild=guild)
            except discord.HTTPException as exc:
                log.error("syncing /mod in %s failed: %s %s", guild_id, exc.status, exc.code)
            if self._mirror_automod:
                await self._sync_automod(guild)
        try:
            await self._backfill.catch_up(self._client, self._guilds, self._router.message)
        except discord.HTTPException as exc:
            log.error("reading missed messages failed: %s %s", exc.status, exc.code)
        self._saver = asyncio.create_task(self._save_every(SAVE_EVERY), name="discord-last-seen")

    async def _save_every(self, seconds: float) -> None:
        """Keep the newest message id handed on (what a restart reads history after)."""
        while True:
            await asyncio.sleep(seconds)
            try:
                await self._backfill.save()
            except Exception as exc:  # the database is busy: next time
                log.warning("saving the last message id failed: %s", type(exc).__name__)

    async def update_automod(self, specs: Sequence[AutomodSpec]) -> None:
        """Mirror a reloaded policy into every protected guild's AutoMod (when enabled)."""
        if not self._mirror_automod:
            return
        self._automod.replan(specs)
        for guild_id in self._guilds:
            guild = self._client.get_guild(guild_id)
            if guild is not None:
                await self._sync_automod(guild)

    async def _check_permissions(self, guild: discord.Guild) -> None:
        """Tell the moderators which permissions the bot lacks and what stops working."""
        me = guild.me
        if me is None:  # a cold cache: the bot's own member is fetched, not guessed
            me = await guild.fetch_member(self._client.user.id if self._client.user else 0)
        lines = startup_check.missing(me.guild_permissions)
        channel = guild.get_channel(self._mod_channels.get(guild.id, 0))
        if isinstance(channel, discord.abc.GuildChannel):
            lines += startup_check.missing_in_channel(channel.permissions_for(me), channel.name)
        if lines:
            await self.tell_moderators(
                guild.id, f"The bot is missing permissions in {guild.name}:", lines
            )

    async def _sync_automod(self, guild: discord.Guild) -> None:
        """Mirror the policy into one guild; tell its moderators what could not be."""
        try:
            problems = await self._automod.sync(guild)
        except discord.HTTPException as exc:
            log.error("automod sync in %s failed: %s %s", guild.id, exc.status, exc.code)
            problems = [f"AutoMod rules could not be read (Discord answered {exc.status})"]
        if problems:
            await self.tell_moderators(
                guild.id, "Not everything of the conduct policy is in Discord's AutoMod:", problems
            )

    async def tell_moderators(self, guild_id: int, heading: str, lines: Sequence[str]) -> None:
        """Post a notice in the guild's moderators' channel (start-up findings, not cases).

        Best effort: the same findings are logged, and a refused post is logged too.
        """
        for line in lines:
            log.warning("guild %s: %s", guild_id, line)
        channel_id = self._mod_channels.get(guild_id)
        if channel_id is None:
            return
        if self._dry_run:
            heading = f"{DRY_RUN} {heading}"
        text = "\n".join([heading, *(f"- {line}" for line in lines)])
        if len(text) > 2000:
            text = text[:1999] + "…"
        channel = self._client.get_partial_messageable(channel_id)
        try:
            await channel.send(text, allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException as exc:
            log.error("could not post in the moderators' channel %s: %s", channel_id, exc.status)

    async def run(self) -> None:
        """Stay connected until :meth:`close` (discord.py reconnects and resumes by itself)."""
        if self._task is None:
            raise RuntimeError("start() first")
        await self._task

    async def close(self) -> None:
        """Disconnect (a DM pause stays on at Discord; the core's timers renew it)."""
        if self._saver is not None:
            self._saver.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._saver
        with contextlib.suppress(Exception):
            await self._backfill.save()
        await self._client.close()
        if self._task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self._task, timeout=5)


def _intents_advice(application: discord.AppInfo | None) -> str:
    needed: list[str] = []
    flags = application.flags if application is not None else None
    if flags is None or not (
        flags.gateway_message_content or flags.gateway_message_content_limited
    ):
        needed.append("Message Content Intent")
    if flags is None or not (flags.gateway_guild_members or flags.gateway_guild_members_limited):
        needed.append("Server Members Intent")
    which = " and ".join(needed) or "the privileged intents"
    app = f" of application {application.id}" if application is not None else ""
    return (
        f"Discord refused the gateway connection (4014, privileged intents): enable {which} "
        f"under Bot > Privileged Gateway Intents{app} in the developer portal "
        "(https://discord.com/developers/applications)"
    )
