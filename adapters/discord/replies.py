"""Answers to people who spoke to the bot on Discord (a DM, a text in a channel)."""

from __future__ import annotations

import discord

from domain.model import Channel
from domain.ports import PermanentError, TransientError, split_message

LIMIT = 2000  # Discord refuses longer messages


class DiscordReplier:
    """Posts answers in the channel (usually a DM) where someone wrote to the bot."""

    def __init__(self, client: discord.Client) -> None:
        self._client = client

    async def reply(self, channel: Channel, text: str) -> None:
        """Send ``text`` to ``channel``; raise TransientError or PermanentError on failure."""
        try:
            target = self._client.get_channel(int(channel.id)) or await self._client.fetch_channel(
                int(channel.id)
            )
            if not isinstance(target, discord.abc.Messageable):
                raise PermanentError(f"channel {channel.id} cannot receive messages")
            for part in split_message(text, LIMIT):
                await target.send(part)
        except discord.Forbidden as exc:
            raise PermanentError(f"not allowed to answer in {channel.id}: {exc.text}") from None
        except discord.NotFound:
            raise PermanentError(f"channel {channel.id} is gone") from None
        except (discord.HTTPException, discord.RateLimited) as exc:
            raise TransientError(f"answer in {channel.id} failed: {exc}") from None
