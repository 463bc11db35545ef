"""Carrying out modbridge actions in Discord guilds over a logged-in discord.py client.

Every call goes to the REST API by id (``client.http``, ``discord.Object``), so an action
works whether or not the member, channel or guild is in discord.py's cache. The cache is only
read to explain a refusal in words a moderator can act on.

This is the boundary where discord.py's exceptions become the two of :mod:`domain.ports`:

* ``Forbidden`` (missing permission, role hierarchy, owner or administrator, closed DMs) and
  ``NotFound`` (unknown member, user, channel, ban) -> :class:`PermanentError`, except that a
  message already gone counts as deleted;
* 5xx, connection errors, timeouts -> :class:`TransientError`;
* 429: discord.py sleeps and retries by itself, but only up to the client's
  ``max_ratelimit_timeout``; a longer one raises ``discord.RateLimited``, which becomes a
  TransientError carrying ``retry_after`` so the action worker, not this call, does the waiting.

discord.py also retries 500/502/504 five times with growing sleeps (25 s in all); each action
has a ``deadline`` so a persistent outage comes back as a TransientError in bounded time.

Messages (warnings, private words, notices) carry a nonce derived from the action's
idempotency key, and discord.py sends it with ``enforce_nonce``: a retry of a message Discord
already created (its answer was lost) returns that message instead of posting a second one.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final, TypeVar

import aiohttp
import discord

from adapters.discord import dms
from adapters.discord.refusals import RefusalExplainer
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
from domain.ports import ActionExecutor, PermanentError, TransientError, request_token

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Discord refuses a timeout of 28 days or more; 27 leaves room for clock skew.
MAX_TIMEOUT: Final = timedelta(days=27)
#: Discord's limit on X-Audit-Log-Reason, in decoded characters.
MAX_AUDIT_REASON: Final = 512
#: Discord's limit on a message's length.
MAX_CONTENT: Final = 2000
MAX_PURGE: Final = 7 * 86_400  # seconds: the most of a banned member's messages Discord deletes
#: Discord's limit on a message nonce's length.
NONCE_LENGTH: Final = 25
#: Discord's JSON error codes the executor tells apart.
CANNOT_DM: Final = 50007
MISSING_PERMISSIONS: Final = 50013
MISSING_ACCESS: Final = 50001
UNKNOWN_MEMBER: Final = 10007  # not in the guild (left, removed, never joined)
UNKNOWN_BAN: Final = 10026  # not banned
UNKNOWN_CHANNEL: Final = 10003
UNKNOWN_MESSAGE: Final = 10008
#: Refusals that are rate limits in disguise (JSON error codes): they pass with time, so
#: they are retried, not dead-lettered. 40003 "You are opening direct messages too fast"
#: comes as a 403; 20016 slowmode, 20028 the channel's and 20029 the server's write limits.
#: Discord gives no retry_after with them: the worker waits ``RATE_LIKE_RETRY`` seconds.
RATE_LIKE: Final = frozenset({40003, 20016, 20028, 20029})
RATE_LIKE_RETRY: Final = 10.0


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
        self._deadline = deadline
        self._clock = clock
        self._refusals = RefusalExplainer(client, deadline=deadline)

    async def execute(self, action: Action, space: Space, *, key: str = "") -> str:
        """Carry out ``action`` in ``space``; return a short description of what was done.

        ``key`` (the action's idempotency key) gives the nonce of a message sent.

        Raises TransientError (rate limited beyond what discord.py waits out, Discord failing
        or unreachable, deadline passed) or PermanentError (refused, unknown target).
        """
        if space.platform is not Platform.DISCORD:
            raise PermanentError(f"{space.platform} space {space.id} given to the Discord executor")
        nonce = _nonce(key)
        match action:
            case DeleteMessage():
                return await self._delete(action)
            case Warn():
                return await self._warn(action, space, nonce)
            case NotifyModerators():
                return await self._notify(_snowflake(space.id, "channel"), action.text, nonce)
            case Tell():
                return await self._tell(action, nonce)
        guild_id = _snowflake(space.id, "guild")
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

    # -- the discord.py boundary ------------------------------------------------------------

    async def _call(
        self,
        doing: str,
        request: Awaitable[T],
        *,
        explain: Callable[[discord.Forbidden], Awaitable[str]] | None = None,
    ) -> T:
        """Await one REST call and turn its failures into TransientError / PermanentError."""
        try:
            async with asyncio.timeout(self._deadline):
                return await request
        except discord.RateLimited as exc:
            raise TransientError(
                f"{doing}: rate limited by Discord for {exc.retry_after:.0f} s",
                retry_after=exc.retry_after,
            ) from exc
        except discord.HTTPException as exc:
            raise await self._translate(doing, exc, explain) from exc
        except TimeoutError as exc:
            raise TransientError(
                f"{doing}: no answer from Discord within {self._deadline:.0f} s"
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise TransientError(f"{doing}: Discord unreachable ({type(exc).__name__})") from exc

    async def _translate(
        self,
        doing: str,
        exc: discord.HTTPException,
        explain: Callable[[discord.Forbidden], Awaitable[str]] | None,
    ) -> TransientError | PermanentError:
        """The port's error for an answer Discord gave (not a rate limit discord.py raised)."""
        if exc.code in RATE_LIKE:
            return TransientError(
                f"{doing}: Discord asks to slow down ({_described(exc)})",
                retry_after=RATE_LIKE_RETRY,
            )
        if isinstance(exc, discord.Forbidden):
            reason = await explain(exc) if explain is not None else ""
            return PermanentError(f"{doing}: {reason or _refusal(exc)}")
        if isinstance(exc, discord.NotFound):
            return PermanentError(f"{doing}: {_described(exc)}")
        # 5xx after discord.py's own retries, or a 429 from outside Discord's API
        # (Cloudflare): worth trying again later. Anything else is a request Discord
        # refuses as written, which retrying will not change.
        if exc.status >= 500 or exc.status == 429:
            return TransientError(f"{doing}: Discord is failing ({_described(exc)})")
        return PermanentError(f"{doing}: {_described(exc)}")

    async def _absent(
        self,
        code: int,
        doing: str,
        request: Awaitable[object],
        *,
        explain: Callable[[discord.Forbidden], Awaitable[str]],
    ) -> bool:
        """Make the request; True if Discord answered 404 with ``code`` (the member is not
        in the guild, or not banned): nothing to do there, which is not a failure."""
        try:
            await self._call(doing, request, explain=explain)
        except PermanentError as exc:
            cause = exc.__cause__
            if isinstance(cause, discord.NotFound) and cause.code == code:
                return True
            raise
        return False

    # -- the actions ------------------------------------------------------------------------

    async def _delete(self, action: DeleteMessage) -> str:
        channel_id = _snowflake(action.channel_id, "channel")
        message_id = _snowflake(action.message_id, "message")
        doing = f"delete message {message_id} in channel {channel_id}"
        try:
            await self._call(
                doing,
                self._client.http.delete_message(
                    channel_id, message_id, reason=_reason(action.reason)
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
        user_id = _snowflake(action.target.id, "user")
        where = f" of {space.name}" if space.name else ""
        text = f"A warning from the moderators{where}: {action.reason}"
        if action.clause:
            # Quote the clause so the member reads the rule itself, not a paraphrase.
            text += "\n\n" + "\n".join(f"> {line}" for line in action.clause.splitlines())
        await self._send_dm(user_id, text, f"send a warning to {user_id}", nonce)
        return f"warned {user_id} by DM"

    async def _tell(self, action: Tell, nonce: str | int) -> str:
        """A private message to the member (a reporter, an admin)."""
        user_id = _snowflake(action.target.id, "user")
        await self._send_dm(user_id, action.text, f"send a private message to {user_id}", nonce)
        return f"told {user_id} by DM"

    async def _send_dm(self, user_id: int, text: str, doing: str, nonce: str | int) -> None:
        """Open the DM channel (refused as 40003 when opened too fast: retried) and post."""

        async def closed(exc: discord.Forbidden) -> str:
            return "the member's DMs are closed" if exc.code == CANNOT_DM else ""

        dm = await self._call(doing, self._client.create_dm(discord.Object(user_id)))
        await self._call(
            doing,
            dm.send(_clip(text), allowed_mentions=discord.AllowedMentions.none(), nonce=nonce),
            explain=closed,
        )

    async def _notify(self, channel_id: int, text: str, nonce: str | int) -> str:
        channel = self._client.get_partial_messageable(channel_id)
        await self._call(
            f"notify the moderators in channel {channel_id}",
            # Nobody gets pinged by what a rule or a report put in the text.
            channel.send(_clip(text), allowed_mentions=discord.AllowedMentions.none(), nonce=nonce),
            explain=self._refusals.channel_action(channel_id, "send_messages", "Send Messages"),
        )
        return f"notified the moderators in channel {channel_id}"

    async def _mute(self, guild_id: int, action: Mute) -> str:
        user_id = _snowflake(action.target.id, "user")
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
                reason=_reason(action.reason),
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
        user_id = _snowflake(action.target.id, "user")
        if await self._absent(
            UNKNOWN_MEMBER,
            f"lift the timeout of {user_id} in guild {guild_id}",
            self._client.http.edit_member(
                guild_id,
                user_id,
                reason=_reason(action.reason),
                communication_disabled_until=None,
            ),
            explain=self._refusals.member_action(
                guild_id, user_id, "moderate_members", "Moderate Members"
            ),
        ):
            return f"{user_id} is not in guild {guild_id}: already no timeout to lift"
        return f"lifted the timeout of {user_id} in guild {guild_id}"

    async def _remove(self, guild_id: int, action: Remove) -> str:
        user_id = _snowflake(action.target.id, "user")
        if await self._absent(
            UNKNOWN_MEMBER,
            f"remove {user_id} from guild {guild_id}",
            self._client.http.kick(user_id, guild_id, reason=_reason(action.reason)),
            explain=self._refusals.member_action(guild_id, user_id, "kick_members", "Kick Members"),
        ):
            return f"{user_id} was already out of guild {guild_id}"
        return f"removed {user_id} from guild {guild_id}"

    async def _ban(self, guild_id: int, action: Ban) -> str:
        user_id = _snowflake(action.target.id, "user")
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
                user_id, guild_id, delete_message_seconds=purge, reason=_reason(action.reason)
            ),
            explain=self._refusals.member_action(guild_id, user_id, "ban_members", "Ban Members"),
        )
        if purge:
            window = format_duration(timedelta(seconds=purge))
            return f"banned {user_id} from guild {guild_id}; messages of the last {window} deleted"
        return f"banned {user_id} from guild {guild_id}"

    async def _unban(self, guild_id: int, action: Unban) -> str:
        user_id = _snowflake(action.target.id, "user")
        if await self._absent(
            UNKNOWN_BAN,
            f"unban {user_id} in guild {guild_id}",
            self._client.http.unban(user_id, guild_id, reason=_reason(action.reason)),
            explain=self._refusals.member_action(guild_id, None, "ban_members", "Ban Members"),
        ):
            return f"{user_id} was already not banned in guild {guild_id}"
        return f"unbanned {user_id} in guild {guild_id}"


def _snowflake(value: str, what: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise PermanentError(f"{value!r} is not a Discord {what} id") from None


def _nonce(key: str) -> str | int:
    """The message nonce for an action: from its key, or random as discord.py would pick."""
    return request_token(key, NONCE_LENGTH) or secrets.randbits(63)


def _reason(reason: str) -> str | None:
    """The audit-log reason, cut to Discord's 512 characters BEFORE discord.py URL-encodes it.

    Discord counts the decoded header (what the audit log shows): cutting the encoded text
    instead would waste the limit on "%C3%A9"s and could split an escape in two. Blank
    reasons are left out, since Discord refuses an empty header.
    """
    return reason.strip()[:MAX_AUDIT_REASON] or None


def _clip(text: str) -> str:
    return text if len(text) <= MAX_CONTENT else text[: MAX_CONTENT - 1] + "…"


def _described(exc: discord.HTTPException) -> str:
    return f"{exc.status} {exc.code or ''} {exc.text or exc.response.reason}".replace("  ", " ")


def _refusal(exc: discord.Forbidden) -> str:
    if exc.code == CANNOT_DM:
        return "the member's DMs are closed"
    if exc.code == MISSING_ACCESS:
        return "the bot cannot see that guild or channel (Missing Access)"
    if exc.code == MISSING_PERMISSIONS:
        return (
            "Discord refused (Missing Permissions): the bot lacks the permission, or the "
            "member is the owner, an administrator, or ranks above the bot's highest role"
        )
    return f"Discord refused ({_described(exc)})"


if TYPE_CHECKING:
    # mypy proves here that the executor satisfies the port it is written for.
    _PORT: type[ActionExecutor] = DiscordExecutor
