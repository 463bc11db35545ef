"""Carrying out modbridge actions in Discord guilds over a logged-in discord.py client.

Every call goes to the REST API by id (``client.http``, ``discord.Object``), so an action
works whether or not the member, channel or guild is in discord.py's cache. The cache is only
read to explain a refusal in words a moderator can act on.

discord.py's exceptions become the two errors of :mod:`domain.ports` in
:mod:`adapters.discord.rest`; here a "not found" that means "already done" (a message already
gone, a member already out, a ban already lifted) is told apart from a failure.

Messages (warnings, private words, notices) carry a nonce derived from the action's
idempotency key, and discord.py sends it with ``enforce_nonce``: a retry of a message Discord
already created (its answer was lost) returns that message instead of posting a second one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

import discord

from adapters.discord import dms
from adapters.discord.refusals import RefusalExplainer
from adapters.discord.rest import (
    CANNOT_DM,
    UNKNOWN_BAN,
    UNKNOWN_CHANNEL,
    UNKNOWN_MEMBER,
    UNKNOWN_MESSAGE,
    RestBoundary,
    audit_reason,
    clip,
    nonce_for,
    snowflake,
)
from domain.durations import format_duration
from domain.model import (
    Action,
    Ban,
    DeleteMessage,
    Mute,
    NotifyModerators,
    PauseDms,
    Platform,
    Remove,
    ResumeDms,
    Space,
    Tell,
    Unban,
    Unmute,
    Warn,
)
from domain.ports import ActionExecutor, PermanentError

log = logging.getLogger(__name__)

#: Discord refuses a timeout of 28 days or more; 27 leaves room for clock skew.
MAX_TIMEOUT: Final = timedelta(days=27)
MAX_PURGE: Final = 7 * 86_400  # seconds: the most of a banned member's messages Discord deletes


def _now() -> datetime:
    return datetime.now(UTC)


class DiscordExecutor:
    """Carries out actions in Discord guilds: the ActionExecutor of :mod:`domain.ports`.

    ``space.id`` is the guild id, except for NotifyModerators (the moderators' channel id) and
    Warn (empty: a warning is a DM, not tied to a guild). The client must have been made with
    ``max_ratelimit_timeout`` (the connection does), or a long 429 would stall the worker.
    """

    platform: Platform = Platform.DISCORD

    def __init__(
        self,
        client: discord.Client,
        *,
        max_timeout: timedelta = MAX_TIMEOUT,
        deadline: float = 30.0,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        if client.http.max_ratelimit_timeout is None:
            raise ValueError(
                "the client would wait out any 429 however long: make it with "
                "max_ratelimit_timeout (discord.Client(max_ratelimit_timeout=30))"
            )
        self._client = client
        self._max_timeout = max_timeout
        self._clock = clock
        self._refusals = RefusalExplainer(client, deadline=deadline)
        rest = RestBoundary(deadline=deadline)
        self._call, self._absent = rest.call, rest.absent

    async def execute(self, action: Action, space: Space, *, key: str = "") -> str:
        """Carry out ``action`` in ``space``; return a short description of what was done.

        ``key`` (the action's idempotency key) gives the nonce of a message sent.

        Raises TransientError (rate limited beyond what discord.py waits out, Discord failing
        or unreachable, deadline passed) or PermanentError (refused, unknown target).
        """
        if space.platform is not Platform.DISCORD:
            raise PermanentError(f"{space.platform} space {space.id} given to the Discord executor")
        nonce = nonce_for(key)
        match action:
            case DeleteMessage():
                return await self._delete(action)
            case Warn():
                return await self._warn(action, space, nonce)
            case NotifyModerators():
                return await self._notify(snowflake(space.id, "channel"), action.text, nonce)
            case Tell():
                return await self._tell(action, nonce)
        guild_id = snowflake(space.id, "guild")
        match action:
            case Mute():
                return await self._mute(guild_id, action)
            case Unmute():
                return await self._unmute(guild_id, action)
            case Remove():
                return await self._remove(guild_id, action)
            case Ban():
                return await self._ban(guild_id, action)
            case Unban():
                return await self._unban(guild_id, action)
            case PauseDms() | ResumeDms():
                return await self._call(
                    f"{dms.verb(action)} DMs in guild {guild_id}",
                    dms.carry_out(self._client, guild_id, action, self._clock()),
                    explain=dms.needs_manage_server,
                )
        raise PermanentError(f"the Discord executor cannot carry out {type(action).__name__}")

    # -- the actions ------------------------------------------------------------------------

    async def _delete(self, action: DeleteMessage) -> str:
        channel_id = snowflake(action.channel_id, "channel")
        message_id = snowflake(action.message_id, "message")
        doing = f"delete message {message_id} in channel {channel_id}"
        try:
            await self._call(
                doing,
                self._client.http.delete_message(
                    channel_id, message_id, reason=audit_reason(action.reason)
                ),
                explain=self._refusals.channel_action(
                    channel_id, "manage_messages", "Manage Messages"
                ),
            )
        except PermanentError as exc:
            # Deleted already (by its author, a moderator, AutoMod, or a retry of this action):
            # what the action wanted is true.
            cause = exc.__cause__
            if isinstance(cause, discord.NotFound) and cause.code in (
                UNKNOWN_MESSAGE,
                UNKNOWN_CHANNEL,
                0,
            ):
                return f"message {message_id} in channel {channel_id} was already gone"
            raise
        return f"deleted message {message_id} in channel {channel_id}"

    async def _warn(self, action: Warn, space: Space, nonce: str | int) -> str:
        user_id = snowflake(action.target.id, "user")
        where = f" of {space.name}" if space.name else ""
        text = f"A warning from the moderators{where}: {action.reason}"
        if action.clause:
            # Quote the clause so the member reads the rule itself, not a paraphrase.
            text += "\n\n" + "\n".join(f"> {line}" for line in action.clause.splitlines())
        await self._send_dm(user_id, text, f"send a warning to {user_id}", nonce)
        return f"warned {user_id} by DM"

    async def _tell(self, action: Tell, nonce: str | int) -> str:
        """A private message to the member (a reporter, an admin)."""
        user_id = snowflake(action.target.id, "user")
        await self._send_dm(user_id, action.text, f"send a private message to {user_id}", nonce)
        return f"told {user_id} by DM"

    async def _send_dm(self, user_id: int, text: str, doing: str, nonce: str | int) -> None:
        """Open the DM channel (refused as 40003 when opened too fast: retried) and post."""

        async def closed(exc: discord.Forbidden) -> str:
            return "the member's DMs are closed" if exc.code == CANNOT_DM else ""

        dm = await self._call(doing, self._client.create_dm(discord.Object(user_id)))
        await self._call(
            doing,
            dm.send(clip(text), allowed_mentions=discord.AllowedMentions.none(), nonce=nonce),
            explain=closed,
        )

    async def _notify(self, channel_id: int, text: str, nonce: str | int) -> str:
        channel = self._client.get_partial_messageable(channel_id)
        await self._call(
            f"notify the moderators in channel {channel_id}",
            # Nobody gets pinged by what a rule or a report put in the text.
            channel.send(clip(text), allowed_mentions=discord.AllowedMentions.none(), nonce=nonce),
            explain=self._refusals.channel_action(channel_id, "send_messages", "Send Messages"),
        )
        return f"notified the moderators in channel {channel_id}"

    async def _mute(self, guild_id: int, action: Mute) -> str:
        user_id = snowflake(action.target.id, "user")
        now = self._clock()
        if action.until <= now:
            return f"{user_id} was not timed out: the mute had already ended"
        until = min(action.until, now + self._max_timeout)
        if await self._absent(
            UNKNOWN_MEMBER,
            f"time out {user_id} in guild {guild_id}",
            self._client.http.edit_member(
                guild_id,
                user_id,
                reason=audit_reason(action.reason),
                communication_disabled_until=until.isoformat(),
            ),
            explain=self._refusals.member_action(
                guild_id, user_id, "moderate_members", "Moderate Members"
            ),
        ):
            # A member in only some of the community's guilds: the mute is applied here
            # when they join (mute evasion), so this is not a failure.
            return f"{user_id} is not in guild {guild_id}: timed out if they join"
        done = f"timed out {user_id} in guild {guild_id} until {until.isoformat()}"
        if until < action.until:
            # The core reads this to renew the timeout before it lapses.
            done += f" (Discord's limit; the mute runs until {action.until.isoformat()})"
        return done

    async def _unmute(self, guild_id: int, action: Unmute) -> str:
        user_id = snowflake(action.target.id, "user")
        if await self._absent(
            UNKNOWN_MEMBER,
            f"lift the timeout of {user_id} in guild {guild_id}",
            self._client.http.edit_member(
                guild_id,
                user_id,
                reason=audit_reason(action.reason),
                communication_disabled_until=None,
            ),
            explain=self._refusals.member_action(
                guild_id, user_id, "moderate_members", "Moderate Members"
            ),
        ):
            return f"{user_id} is not in guild {guild_id}: already no timeout to lift"
        return f"lifted the timeout of {user_id} in guild {guild_id}"

    async def _remove(self, guild_id: int, action: Remove) -> str:
        user_id = snowflake(action.target.id, "user")
        if await self._absent(
            UNKNOWN_MEMBER,
            f"remove {user_id} from guild {guild_id}",
            self._client.http.kick(user_id, guild_id, reason=audit_reason(action.reason)),
            explain=self._refusals.member_action(guild_id, user_id, "kick_members", "Kick Members"),
        ):
            return f"{user_id} was already out of guild {guild_id}"
        return f"removed {user_id} from guild {guild_id}"

    async def _ban(self, guild_id: int, action: Ban) -> str:
        user_id = snowflake(action.target.id, "user")
        # Two cases banning one member (moderators on both platforms at once), or a retry
        # after a crash, must not ban twice: a second ban is a second audit log entry.
        try:
            await self._call(
                f"read the ban of {user_id} in guild {guild_id}",
                self._client.http.get_ban(user_id, guild_id),
            )
            return f"{user_id} was already banned from guild {guild_id}"
        except PermanentError as exc:
            if not isinstance(exc.__cause__, discord.NotFound):
                raise
        # The messages stay (they are the evidence) unless the ban purges: Discord deletes
        # at most the last 7 days.
        purge = 0 if action.purge is None else min(int(action.purge.total_seconds()), MAX_PURGE)
        await self._call(
            f"ban {user_id} from guild {guild_id}",
            self._client.http.ban(
                user_id, guild_id, delete_message_seconds=purge, reason=audit_reason(action.reason)
            ),
            explain=self._refusals.member_action(guild_id, user_id, "ban_members", "Ban Members"),
        )
        if purge:
            window = format_duration(timedelta(seconds=purge))
            return f"banned {user_id} from guild {guild_id}; messages of the last {window} deleted"
        return f"banned {user_id} from guild {guild_id}"

    async def _unban(self, guild_id: int, action: Unban) -> str:
        user_id = snowflake(action.target.id, "user")
        if await self._absent(
            UNKNOWN_BAN,
            f"unban {user_id} in guild {guild_id}",
            self._client.http.unban(user_id, guild_id, reason=audit_reason(action.reason)),
            explain=self._refusals.member_action(guild_id, None, "ban_members", "Ban Members"),
        ):
            return f"{user_id} was already not banned in guild {guild_id}"
        return f"unbanned {user_id} in guild {guild_id}"


if TYPE_CHECKING:
    # mypy proves here that the executor satisfies the port it is written for.
    _PORT: type[ActionExecutor] = DiscordExecutor
