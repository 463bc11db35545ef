"""Messages posted while the service was down: read from the channels' history at start-up.

discord.py resumes a dropped gateway session by itself (Discord replays what was missed),
but a restart starts a new session, and Discord does not replay anything to it. So the
connection remembers the newest message it handed on (a snowflake: snowflakes grow with
time) and, when it is ready again, reads each protected channel's history after it.
Messages delivered twice this way (also live) are told apart by the core.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection, Iterator
from datetime import datetime, timedelta

import discord

from domain.ports import KeyValueStore

log = logging.getLogger(__name__)

KEY = "discord.last_seen"  # the newest message id handed on, in the state store
LIMIT = 200  # messages read per channel: more than that is a backlog for moderators
MAX_AGE = timedelta(hours=24)  # older messages are not judged any more


class Backfill:
    """Remembers the newest message handed on, and reads what came after it at start-up."""

    def __init__(self, state: KeyValueStore, clock: Callable[[], datetime]) -> None:
        self._state = state
        self._clock = clock
        self.newest = 0  # snowflake of the newest message handed on in this run
        self._saved = 0
        self._handling: set[int] = set()  # being handed on: the core has not recorded them

    def seen(self, message_id: int) -> None:
        """A message from a protected guild was handed on."""
        self.newest = max(self.newest, message_id)

    @contextlib.contextmanager
    def handling(self, message_id: int) -> Iterator[None]:
        """While a message is being handed on (maybe held, the core's disk being full), the
        stored marker stays before it, so a restart reads it again; then it counts as seen."""
        self._handling.add(message_id)
        try:
            yield
        finally:
            self._handling.discard(message_id)
        self.seen(message_id)

    def marker(self) -> int:
        """The newest message id a restart may skip: every message up to it was handed on."""
        if self._handling:
            return min(self.newest, min(self._handling) - 1)
        return self.newest

    async def save(self) -> None:
        """Store the marker (called every few seconds and at shutdown)."""
        marker = self.marker()
        if marker > self._saved:
            await self._state.set(KEY, str(marker))
            self._saved = marker

    async def catch_up(
        self,
        client: discord.Client,
        guilds: Collection[int],
        hand_on: Callable[[discord.Message], Awaitable[None]],
    ) -> int:
        """Hand on the messages of ``guilds`` posted after the stored one (a first start has
        none: history from before the bot was here is not judged). Returns how many."""
        stored = await self._state.get(KEY)
        if stored is None:
            self.newest = max(self.newest, discord.utils.time_snowflake(self._clock()))
            await self.save()
            return 0
        oldest = discord.utils.time_snowflake(self._clock() - MAX_AGE)
        after = discord.Object(id=max(int(stored), oldest))
        handed = 0
        for guild_id in sorted(guilds):
            guild = client.get_guild(guild_id)
            if guild is None:
                continue
            for channel in guild.text_channels:
                if channel.last_message_id is None or channel.last_message_id <= after.id:
                    continue
                with contextlib.suppress(discord.Forbidden):  # the bot may not read it
                    async for message in channel.history(
                        after=after, limit=LIMIT, oldest_first=True
                    ):
                        await hand_on(message)
                        handed += 1
        if handed:
            log.info("caught up on %d message(s) posted while the service was down", handed)
        await self.save()
        return handed
