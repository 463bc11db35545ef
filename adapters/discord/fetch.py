"""Reading a message a member linked to in a report (the evidence), over Discord's REST API.

A message link is ``https://discord.com/channels/<guild>/<channel>/<message>`` (also on
``discordapp.com`` and the ``ptb.`` / ``canary.`` clients). Links into direct messages
(``/channels/@me/...``) are not read: the only DMs the bot can read are members' own
conversations with it (reports, consent), and those must never be quoted to moderators
as somebody's evidence.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp
import discord

from adapters.discord import translate
from domain.model import Message
from domain.ports import MessageFetcher

log = logging.getLogger(__name__)

_LINK = re.compile(
    r"^https?://(?:(?:www|ptb|canary)\.)?discord(?:app)?\.com"
    r"/channels/(@me|\d{1,21})/(\d{1,21})/(\d{1,21})/?$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscordLink:
    """Where a message link points; ``guild_id`` is None for a DM (``@me``)."""

    guild_id: int | None
    channel_id: int
    message_id: int


def parse_link(link: str) -> DiscordLink | None:
    """The guild, channel and message of a Discord message link; None if it is not one."""
    match = _LINK.match(link.strip().strip("<>"))
    if match is None:
        return None
    guild, channel, message = match.groups()
    return DiscordLink(
        guild_id=None if guild == "@me" else int(guild),
        channel_id=int(channel),
        message_id=int(message),
    )


class DiscordFetcher:
    """The :class:`MessageFetcher` for Discord message links; never raises."""

    def __init__(self, client: discord.Client) -> None:
        self._client = client

    async def fetch(self, link: str) -> Message | None:
        """The linked message in the common model, or None (another platform's link, a DM,
        a channel or message the bot cannot read, Discord unreachable)."""
        parsed = parse_link(link)
        if parsed is None or parsed.guild_id is None:
            return None
        try:
            return await self._read(parsed)
        except (discord.DiscordException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            # 403 (no access), 404 (deleted), rate limits, outages: the link stays a link.
            log.info("could not read linked message %s: %s", parsed.message_id, type(exc).__name__)
            return None

    async def _read(self, link: DiscordLink) -> Message | None:
        channel = self._client.get_channel(link.channel_id)
        if channel is None:
            channel = await self._client.fetch_channel(link.channel_id)
        # The link must say where the channel really is: a guild channel of that guild.
        if not isinstance(channel, discord.abc.GuildChannel | discord.Thread):
            return None
        if channel.guild.id != link.guild_id or not isinstance(channel, discord.abc.Messageable):
            return None
        found = await channel.fetch_message(link.message_id)
        return translate.message(found)


if TYPE_CHECKING:
    # mypy proves here that the fetcher satisfies the port it is written for.
    _PORT: type[MessageFetcher] = DiscordFetcher
