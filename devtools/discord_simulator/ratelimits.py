"""Rate limits as Discord's "Rate Limits" documentation describes them.

* Per-route buckets: each route template has a limit per window, counted separately for each
  top-level resource in the path ("major parameters": channel, guild, webhook/interaction
  token) and for each bot. Every answer says where the bucket stands: ``X-RateLimit-Limit``,
  ``-Remaining``, ``-Reset`` (epoch seconds), ``-Reset-After`` (seconds) and ``-Bucket`` (an
  opaque id shared by the route's requests whatever the major parameter).
* The global limit: 50 requests per second per bot ("All bots can make up to 50 requests per
  second to our API"); interaction callbacks and webhooks are not bound by it.
* A request over a limit is not carried out and answers 429 with the JSON body
  ``{"message", "retry_after", "global"}`` and the headers ``Retry-After``,
  ``X-RateLimit-Scope`` (``user``: this bot's bucket; ``global``; ``shared``: a limit on the
  resource shared by every caller) and, for the global limit, ``X-RateLimit-Global: true``.

Discord publishes no per-route numbers ("you should not hard code"); the default here lets
ordinary tests run unhindered (50 per second per bucket), and a test sets the limit of a
route with :meth:`RateLimits.set` to make a bucket run out.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from .recorder import RecordedRequest

GLOBAL_LIMIT: Final = 50
GLOBAL_WINDOW: Final = 1.0
_MAJOR: Final = ("channel_id", "guild_id", "application_id", "token", "interaction_id")


@dataclass(frozen=True, slots=True)
class Limit:
    """``limit`` requests per ``per`` seconds; ``shared`` counts every bot together."""

    limit: int
    per: float
    shared: bool = False


@dataclass(slots=True)
class _Window:
    start: float
    count: int = 0


@dataclass(frozen=True, slots=True)
class Verdict:
    """The rate-limit headers for an answer, and the 429 to give instead, if any."""

    headers: dict[str, str]
    refused: bool = False
    retry_after: float = 0.0
    is_global: bool = False


class RateLimits:
    """Counts requests per bucket and per bot, on the simulator's clock."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.default = Limit(50, 1.0)
        self.global_limit = Limit(GLOBAL_LIMIT, GLOBAL_WINDOW)
        self._routes: dict[tuple[str, str], Limit] = {}
        self._windows: dict[tuple[object, ...], _Window] = {}

    def set(self, method: str, route: str, limit: int, per: float, *, shared: bool = False) -> None:
        """Give ``method route`` (a template such as ``/channels/{channel_id}/messages``) its
        own limit."""
        self._routes[(method.upper(), route)] = Limit(limit, per, shared)

    def lift(self) -> None:
        """No limits at all (for benchmarks of the client's own share, not of Discord's)."""
        self.default = Limit(1 << 30, 1.0)
        self.global_limit = Limit(1 << 30, 1.0)
        self._routes.clear()

    def check(self, record: RecordedRequest, match: dict[str, str], bot_id: int | None) -> Verdict:
        """Count the request (unless refused) and say how its answer must be labelled."""
        now = self._clock()
        if bot_id is not None:
            window = self._window(("global", bot_id), self.global_limit, now)
            if window.count >= self.global_limit.limit:
                after = window.start + self.global_limit.per - now
                return Verdict(headers=_global_headers(after), refused=True, retry_after=after,
                               is_global=True)  # fmt: skip
        limit = self._routes.get((record.method, record.route), self.default)
        major = tuple(match.get(name, "") for name in _MAJOR)
        owner = "shared" if limit.shared else bot_id
        window = self._window((record.method, record.route, major, owner), limit, now)
        after = window.start + limit.per - now
        if window.count >= limit.limit:
            headers = _bucket_headers(record, limit, 0, after)
            headers["X-RateLimit-Scope"] = "shared" if limit.shared else "user"
            headers["Retry-After"] = str(math.ceil(after))
            return Verdict(headers=headers, refused=True, retry_after=after)
        window.count += 1
        if bot_id is not None:
            self._windows[("global", bot_id)].count += 1
        return Verdict(headers=_bucket_headers(record, limit, limit.limit - window.count, after))

    def _window(self, key: tuple[object, ...], limit: Limit, now: float) -> _Window:
        window = self._windows.get(key)
        if window is None or now - window.start >= limit.per:
            window = self._windows[key] = _Window(start=now)
        return window


def _bucket_headers(
    record: RecordedRequest, limit: Limit, remaining: int, after: float
) -> dict[str, str]:
    bucket = hashlib.sha1(f"{record.method} {record.route}".encode(), usedforsecurity=False)
    return {
        "X-RateLimit-Limit": str(limit.limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": f"{time.time() + after:.3f}",
        "X-RateLimit-Reset-After": f"{after:.3f}",
        "X-RateLimit-Bucket": bucket.hexdigest()[:16],
    }


def _global_headers(after: float) -> dict[str, str]:
    return {
        "X-RateLimit-Global": "true",
        "X-RateLimit-Scope": "global",
        "Retry-After": str(math.ceil(after)),
    }
