"""Discord's incident action "pause DMs", as the executor carries out PauseDms and ResumeDms.

``PUT /guilds/{id}/incident-actions`` with ``dms_disabled_until`` stops DMs between members of
the guild who are not friends, but Discord accepts at most 24 hours ahead: a pause is applied
up to that, and the core's timers (bridge.dm_pauses) apply it again until the moderators'
end. Every PUT carries the invite pause as it currently is, since Discord resets a field
left out.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

import discord

from domain.model import PauseDms, ResumeDms

#: Discord refuses an incident action further ahead than this.
MAX_AHEAD: Final = timedelta(hours=24)
#: Our clock and Discord's differ by the request's transit time and some skew.
CLOCK_ALLOWANCE: Final = timedelta(minutes=1)
#: What the moderators read when the bot may not pause DMs.
NEEDS_MANAGE_SERVER: Final = "the bot needs the Manage Server permission to pause DMs"


def verb(action: PauseDms | ResumeDms) -> str:
    """What the action does, for the moderators ("pause DMs in guild ...")."""
    return "pause" if isinstance(action, PauseDms) else "resume"


async def needs_manage_server(_: discord.Forbidden) -> str:
    """Why Discord refused an incident action, in words a moderator can act on."""
    return NEEDS_MANAGE_SERVER


async def carry_out(
    client: discord.Client, guild_id: int, action: PauseDms | ResumeDms, now: datetime
) -> str:
    """Pause DMs in the guild (as far ahead as Discord accepts) or let them flow again;
    what was done, in words. The caller turns discord.py's errors into the port's."""
    if isinstance(action, ResumeDms):
        await set_dm_pause(client, guild_id, None, now)
        return f"DMs between members are back on in guild {guild_id}"
    if action.until <= now:
        return f"DMs were not paused in guild {guild_id}: the pause had already ended"
    until = reach(action.until, now)
    await set_dm_pause(client, guild_id, until, now)
    done = f"paused DMs in guild {guild_id} until {until.isoformat()}"
    if until < action.until:
        done += f" (Discord's limit; renewed until {action.until.isoformat()})"
    return done


def reach(wanted: datetime, now: datetime) -> datetime:
    """How far one application of a pause wanted until ``wanted`` goes (Discord's limit)."""
    return min(wanted, now + MAX_AHEAD - CLOCK_ALLOWANCE)


async def set_dm_pause(
    client: discord.Client, guild_id: int, until: datetime | None, now: datetime
) -> None:
    """Set the DM pause of a guild (None lifts it) and keep the invite pause as it is.

    Discord's PUT replaces both incident actions, resetting one left out: an invite pause a
    moderator set during a raid would be lifted by pausing or resuming DMs. So the current
    state is read first (fresh, not from the cache) and sent back.
    """
    guild = await client.http.get_guild(guild_id)
    incidents = guild.get("incidents_data") or {}
    invites = incidents.get("invites_disabled_until")
    if invites is not None and datetime.fromisoformat(invites) <= now:
        invites = None  # over already: sending it back would be refused as past
    await client.http.edit_incident_actions(
        guild_id,
        payload={
            "dms_disabled_until": None if until is None else until.isoformat(),
            "invites_disabled_until": invites,
        },
    )
