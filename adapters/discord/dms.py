"""Discord's incident action "pause DMs", kept on for as long as the moderators asked.

``PUT /guilds/{id}/incident-actions`` with ``dms_disabled_until`` stops DMs between members of
the guild who are not friends, but Discord accepts at most 24 hours ahead. For a longer pause
the wanted end is written to the key-value store (so it survives a restart) and a
keeper task re-applies the action every ``renew_every`` until that end. Resume clears both.
Every PUT carries the invite pause as it currently is, since Discord resets a field left out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Final

import discord

from domain.ports import KeyValueStore

log = logging.getLogger(__name__)

#: Discord refuses an incident action further ahead than this.
MAX_AHEAD: Final = timedelta(hours=24)
#: Our clock and Discord's differ by the request's transit time and some skew.
CLOCK_ALLOWANCE: Final = timedelta(minutes=1)
#: Re-apply well before the applied end, so a slow restart or an outage leaves no gap.
RENEW_EVERY: Final = timedelta(hours=12)


def _now() -> datetime:
    return datetime.now(UTC)


def state_key(guild_id: int) -> str:
    """Where the wanted end of a guild's DM pause is kept."""
    return f"discord:dms-paused-until:{guild_id}"


class DmPauses:
    """Pause and resume DMs in guilds; keeps long pauses on across Discord's 24 h limit."""

    def __init__(
        self,
        client: discord.Client,
        state: KeyValueStore,
        *,
        renew_every: timedelta = RENEW_EVERY,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._client = client
        self._state = state
        self._renew_every = renew_every
        self._clock = clock
        self._keepers: dict[int, asyncio.Task[None]] = {}

    async def pause(self, guild_id: int, duration: timedelta) -> datetime:
        """Pause DMs in the guild for ``duration``; return the end actually applied now."""
        wanted = self._clock() + duration
        # Remember first: if applying fails or we crash, the restart still knows the intent.
        await self._state.set(state_key(guild_id), wanted.isoformat())
        try:
            applied = await self._apply(guild_id, wanted)
        except discord.Forbidden:
            # Missing Manage Server: renewing would be refused just the same.
            await self._state.set(state_key(guild_id), "")
            raise
        self._keep(guild_id)
        return applied

    async def resume(self, guild_id: int) -> None:
        """Let DMs flow again and forget the pause."""
        self._stop(guild_id)
        await self._state.set(state_key(guild_id), "")
        await self._put(guild_id, None)

    async def wanted_end(self, guild_id: int) -> datetime | None:
        """The end of the pause the moderators asked for, if one is still running."""
        raw = await self._state.get(state_key(guild_id))
        if not raw:
            return None
        end = datetime.fromisoformat(raw)
        return end if end > self._clock() else None

    async def restore(self, guild_ids: Iterable[int]) -> None:
        """After a start: re-apply the pauses that should still be on, and keep them on."""
        for guild_id in guild_ids:
            wanted = await self.wanted_end(guild_id)
            if wanted is None:
                continue
            try:
                await self._apply(guild_id, wanted)
            except discord.HTTPException as exc:
                log.warning("could not re-apply the DM pause in %s: %s", guild_id, exc.status)
            self._keep(guild_id)

    async def close(self) -> None:
        """Stop the keepers (the pauses themselves stay on at Discord)."""
        for guild_id in list(self._keepers):
            self._stop(guild_id)

    async def _apply(self, guild_id: int, wanted: datetime) -> datetime:
        until = min(wanted, self._clock() + MAX_AHEAD - CLOCK_ALLOWANCE)
        await self._put(guild_id, until)
        log.info("DMs paused in guild %s until %s", guild_id, until.isoformat())
        return until

    async def _put(self, guild_id: int, dms_until: datetime | None) -> None:
        """Set the DM pause and keep the invite pause as it is.

        Discord's PUT replaces both incident actions, resetting one left out: an invite
        pause a moderator set during a raid would be lifted by pausing or resuming DMs. So
        the current state is read first (fresh, not from the cache) and sent back.
        """
        guild = await self._client.http.get_guild(guild_id)
        incidents = guild.get("incidents_data") or {}
        invites = incidents.get("invites_disabled_until")
        if invites is not None and datetime.fromisoformat(invites) <= self._clock():
            invites = None  # over already: sending it back would be refused as past
        await self._client.http.edit_incident_actions(
            guild_id,
            payload={
                "dms_disabled_until": None if dms_until is None else dms_until.isoformat(),
                "invites_disabled_until": invites,
            },
        )

    def _keep(self, guild_id: int) -> None:
        self._stop(guild_id)
        self._keepers[guild_id] = asyncio.create_task(
            self._keeper(guild_id), name=f"dm-pause-{guild_id}"
        )

    def _stop(self, guild_id: int) -> None:
        task = self._keepers.pop(guild_id, None)
        if task is not None:
            task.cancel()

    async def _keeper(self, guild_id: int) -> None:
        while True:
            wanted = await self.wanted_end(guild_id)
            if wanted is None:
                return
            applied_until = min(wanted, self._clock() + MAX_AHEAD - CLOCK_ALLOWANCE)
            if applied_until >= wanted:
                return  # the last application already reaches the end
            await asyncio.sleep(self._renew_every.total_seconds())
            wanted = await self.wanted_end(guild_id)
            if wanted is None:
                return
            try:
                await self._apply(guild_id, wanted)
            except (discord.HTTPException, discord.RateLimited, OSError) as exc:
                # Try again sooner than a full period: the current pause may lapse.
                log.warning("could not renew the DM pause in %s: %s", guild_id, type(exc).__name__)
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.sleep(min(60.0, self._renew_every.total_seconds()))
