"""The discord.py boundary of the executor: one REST call at a time, its failures turned
into the two errors of :mod:`domain.ports`, and Discord's limits on what is sent.

* ``Forbidden`` (missing permission, role hierarchy, owner or administrator, closed DMs) and
  ``NotFound`` (unknown member, user, channel, ban) -> :class:`PermanentError` (the caller
  decides when "not found" means "already done");
* 5xx, connection errors, timeouts -> :class:`TransientError`;
* 429: discord.py sleeps and retries by itself, but only up to the client's
  ``max_ratelimit_timeout``; a longer one raises ``discord.RateLimited``, which becomes a
  TransientError carrying ``retry_after`` so the action worker, not this call, does the waiting.

discord.py also retries 500/502/504 five times with growing sleeps (25 s in all); each call
has a ``deadline`` so a persistent outage comes back as a TransientError in bounded time.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable
from typing import Final, TypeVar

import aiohttp
import discord

from adapters.discord.refusals import MISSING_PERMISSIONS, Explain
from domain.ports import PermanentError, TransientError, request_token

T = TypeVar("T")

#: Discord's limit on X-Audit-Log-Reason, in decoded characters.
MAX_AUDIT_REASON: Final = 512
#: Discord's limit on a message's length.
MAX_CONTENT: Final = 2000
#: Discord's limit on a message nonce's length.
NONCE_LENGTH: Final = 25
#: Discord's JSON error codes the executor tells apart.
CANNOT_DM: Final = 50007
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


class RestBoundary:
    """Awaits discord.py's REST calls within ``deadline`` seconds and raises the port's
    errors; ``explain`` callbacks put a refusal in words (adapters/discord/refusals.py)."""

    def __init__(self, *, deadline: float) -> None:
        self._deadline = deadline

    async def call(
        self,
        doing: str,
        request: Awaitable[T],
        *,
        explain: Explain | None = None,
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
            raise await self._port_error(doing, exc, explain) from exc
        except TimeoutError as exc:
            raise TransientError(
                f"{doing}: no answer from Discord within {self._deadline:.0f} s"
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise TransientError(f"{doing}: Discord unreachable ({type(exc).__name__})") from exc

    async def _port_error(
        self,
        doing: str,
        exc: discord.HTTPException,
        explain: Explain | None,
    ) -> TransientError | PermanentError:
        """The port's error for an answer Discord gave (not a rate limit discord.py raised)."""
        if exc.code in RATE_LIKE:
            return TransientError(
                f"{doing}: Discord asks to slow down ({described(exc)})",
                retry_after=RATE_LIKE_RETRY,
            )
        if isinstance(exc, discord.Forbidden):
            reason = await explain(exc) if explain is not None else ""
            return PermanentError(f"{doing}: {reason or refusal(exc)}")
        if isinstance(exc, discord.NotFound):
            return PermanentError(f"{doing}: {described(exc)}")
        # 5xx after discord.py's own retries, or a 429 from outside Discord's API
        # (Cloudflare): worth trying again later. Anything else is a request Discord
        # refuses as written, which retrying will not change.
        if exc.status >= 500 or exc.status == 429:
            return TransientError(f"{doing}: Discord is failing ({described(exc)})")
        return PermanentError(f"{doing}: {described(exc)}")

    async def absent(
        self,
        code: int,
        doing: str,
        request: Awaitable[object],
        *,
        explain: Explain,
    ) -> bool:
        """Make the request; True if Discord answered 404 with ``code`` (the member is not
        in the guild, or not banned): nothing to do there, which is not a failure."""
        try:
            await self.call(doing, request, explain=explain)
        except PermanentError as exc:
            cause = exc.__cause__
            if isinstance(cause, discord.NotFound) and cause.code == code:
                return True
            raise
        return False


def snowflake(value: str, what: str) -> int:
    """``value`` as a Discord id; a PermanentError when it is not one."""
    try:
        return int(value)
    except ValueError:
        raise PermanentError(f"{value!r} is not a Discord {what} id") from None


def nonce_for(key: str) -> str | int:
    """The message nonce for an action: from its key, or random as discord.py would pick."""
    return request_token(key, NONCE_LENGTH) or secrets.randbits(63)


def audit_reason(reason: str) -> str | None:
    """The audit-log reason, cut to Discord's 512 characters BEFORE discord.py URL-encodes it.

    Discord counts the decoded header (what the audit log shows): cutting the encoded text
    instead would waste the limit on "%C3%A9"s and could split an escape in two. Blank
    reasons are left out, since Discord refuses an empty header.
    """
    return reason.strip()[:MAX_AUDIT_REASON] or None


def clip(text: str) -> str:
    """``text`` cut to Discord's largest message."""
    return text if len(text) <= MAX_CONTENT else text[: MAX_CONTENT - 1] + "…"


def described(exc: discord.HTTPException) -> str:
    """Discord's answer in a few words: status, JSON code, message."""
    return f"{exc.status} {exc.code or ''} {exc.text or exc.response.reason}".replace("  ", " ")


def refusal(exc: discord.Forbidden) -> str:
    """A 403 in words a moderator can act on, when nothing better is known."""
    if exc.code == CANNOT_DM:
        return "the member's DMs are closed"
    if exc.code == MISSING_ACCESS:
        return "the bot cannot see that guild or channel (Missing Access)"
    if exc.code == MISSING_PERMISSIONS:
        return (
            "Discord refused (Missing Permissions): the bot lacks the permission, or the "
            "member is the owner, an administrator, or ranks above the bot's highest role"
        )
    return f"Discord refused ({described(exc)})"
