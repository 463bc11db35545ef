"""Per-member sliding windows for the stateful rules: flood, duplicate, mentions, links.

Each detector keeps, per member, a deque of (time, value) pairs no older than its window,
so memory stays bounded by the traffic of the last window and every check is O(window).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from datetime import timedelta
from typing import Protocol
from urllib.parse import urlsplit

from rules.policy import DuplicateRule, FloodRule, LinksRule, MentionsRule
from rules.text import CASE_ODD


class Posted(Protocol):
    """What the window rules read of a message besides its cleaned text."""

    @property
    def text(self) -> str: ...
    @property
    def links(self) -> tuple[str, ...]: ...
    @property
    def mentions(self) -> tuple[object, ...]: ...


class _Events:
    """One member's events in a window, with their running total (no re-summing per check)."""

    __slots__ = ("items", "total")

    def __init__(self) -> None:
        self.items: deque[tuple[float, int]] = deque()
        self.total = 0


class SlidingWindow:
    """Weighted events per member within the last ``span`` seconds.

    Times are POSIX seconds (floats): the engine converts a message's time once, and float
    arithmetic costs a fraction of datetime arithmetic on every message.
    """

    __slots__ = ("_events", "_span")

    def __init__(self, span: timedelta) -> None:
        self._span = span.total_seconds()
        self._events: dict[str, _Events] = {}

    def add(self, member: str, ts: float, weight: int = 1) -> int:
        """Record ``weight`` at ``ts``; return the member's total within the window."""
        events = self._events.get(member)
        if events is None:
            events = self._events[member] = _Events()
        items = events.items
        items.append((ts, weight))
        total = events.total + weight
        horizon = ts - self._span
        # spans are positive: the event just added is inside, so the loop stops there
        while items[0][0] <= horizon:
            total -= items.popleft()[1]
        events.total = total
        return total

    def forget_idle(self, now: float) -> None:
        """Drop members with nothing left in the window (called now and then)."""
        horizon = now - self._span
        idle = [m for m, ev in self._events.items() if not ev.items or ev.items[-1][0] <= horizon]
        for member in idle:
            del self._events[member]

    def __len__(self) -> int:
        return len(self._events)


class FloodDetector:
    """More than ``max_messages`` messages of one member within the window."""

    def __init__(self, rule: FloodRule) -> None:
        self._max = rule.max_messages
        self._per = int(rule.per.total_seconds())
        self._span = rule.per.total_seconds()
        # per member: the times of their messages in the window, oldest first (every
        # message weighs one, so the count is the length: no (time, weight) pairs)
        self._times: dict[str, deque[float]] = {}

    def observe(self, member: str, ts: float, _cleaned: str, _message: Posted) -> str | None:
        """Count a message of ``member`` at ``ts`` (POSIX seconds); a hit if too many."""
        times = self._times.get(member)
        if times is None:
            times = self._times[member] = deque()
        times.append(ts)
        horizon = ts - self._span
        # spans are positive: the time just added is inside, so the loop stops there
        while times[0] <= horizon:
            times.popleft()
        count = len(times)
        if count > self._max:
            return f"{count} messages within {self._per}s"
        return None

    def forget_idle(self, now: float) -> None:
        horizon = now - self._span
        for member in [m for m, times in self._times.items() if times[-1] <= horizon]:
            del self._times[member]


def repeat_key(cleaned: str) -> str:
    """The text a repeat is recognised by: ``cleaned`` with its runs of whitespace as single
    spaces, and none at either end (what ``" ".join(cleaned.split())`` makes of it)."""
    # Cleaned text holds no whitespace but the space, tab, line feed and carriage return
    # (``clean`` removes control characters and spaces out the others; a test checks every
    # character): without those three, double spaces or an outer space, it is the key
    # already. Four C scans, a fifth of the cost of splitting and joining it again.
    if (
        "  " not in cleaned
        and "\n" not in cleaned
        and "\t" not in cleaned
        and "\r" not in cleaned
        and (not cleaned or cleaned[0] != " " != cleaned[-1])
    ):
        return cleaned
    return " ".join(cleaned.split())


class DuplicateDetector:
    """The same (cleaned) text posted more than ``max_repeats`` times within the window."""

    def __init__(self, rule: DuplicateRule) -> None:
        self._min_length = rule.min_length
        self._max_repeats = rule.max_repeats
        self._per = rule.per.total_seconds()
        # per member: the window's (time, text key) pairs and how often each key is in it
        self._seen: dict[str, tuple[deque[tuple[float, str]], dict[str, int]]] = {}

    def observe(self, member: str, ts: float, cleaned: str, _message: Posted) -> str | None:
        """Count ``cleaned`` for ``member`` at ``ts`` (POSIX seconds); a hit if repeated."""
        if len(cleaned) < self._min_length:  # the key is never longer than the text
            return None
        key = repeat_key(cleaned)
        if len(key) < self._min_length:  # "thanks!", "+1", emoji repeat innocently
            return None
        seen = self._seen.get(member)
        if seen is None:
            seen = self._seen[member] = (deque(), {})
        events, counts = seen
        events.append((ts, key))
        counts[key] = counts.get(key, 0) + 1
        horizon = ts - self._per
        # windows are positive: the event just added is inside, so the loop stops there
        while events[0][0] <= horizon:
            old = events.popleft()[1]
            left = counts[old] - 1
            if left:
                counts[old] = left
            else:
                del counts[old]
        if counts[key] > self._max_repeats:
            return key[:80]
        return None

    def forget_idle(self, now: float) -> None:
        horizon = now - self._per
        for member in [m for m, (ev, _) in self._seen.items() if not ev or ev[-1][0] <= horizon]:
            del self._seen[member]


class MentionsDetector:
    def __init__(self, rule: MentionsRule) -> None:
        self._rule = rule
        self._window = SlidingWindow(rule.per)

    def observe(self, member: str, ts: float, _cleaned: str, message: Posted) -> str | None:
        """Count the message's mentions for ``member`` at ``ts`` (POSIX seconds)."""
        mentions = len(message.mentions)
        if not mentions:
            return None
        if mentions > self._rule.max_per_message:
            return f"{mentions} mentions in one message"
        if self._window.add(member, ts, mentions) > self._rule.max_in_window:
            return f"more than {self._rule.max_in_window} mentions within the window"
        return None

    def forget_idle(self, now: float) -> None:
        self._window.forget_idle(now)


URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"')\]]+"
    r"|\b(?:discord(?:app)?\.com/invite|discord\.gg|t\.me|chat\.whatsapp\.com)/[\w+/-]+",
    re.IGNORECASE,
)

# Invitations that pull members to other communities.
_INVITES = re.compile(
    r"^(?:(?:www\.)?discord(?:app)?\.(?:gg|com/invite|com/servers)/|(?:www\.)?discord\.gg/"
    r"|t\.me/(?:joinchat/|\+)|telegram\.me/joinchat/|chat\.whatsapp\.com/)",
    re.IGNORECASE,
)


# A necessary condition of ``find_links`` finding a link, as an RE2 pattern over the
# cleaned text (the engine's prefilter runs it there), for any text free of
# ``rules.text.LINK_HIDERS``. Each branch of URL opens with one of these strings.
LINK_SIGN_PATTERN = (
    r"https?://|www\.|discord(?:app)?\.com/invite/|discord\.gg/|t\.me/|chat\.whatsapp\.com/"
)


# URL's first branch for lower-case text. Case-insensitive, the re module tries every
# position of a message (about 1.8 ms on 8 KB); on the lower-cased text it skips to an "h"
# or a "w" (about 60 us).
_WEB = re.compile(r"(?:https?://|www\.)[^\s<>\"')\]]+")


def find_links(text: str) -> tuple[str, ...]:
    """Links written in ``text`` (adapters give their own; this serves plain text input)."""
    # Every shape URL matches holds a "." and either a "/" or "www." (case-insensitive):
    # three substring tests spare most chatter the regex scan (about 20x cheaper).
    if "." not in text:
        return ()
    low = text.lower()
    if "/" not in text and "www." not in low:
        return ()
    if (
        len(low) == len(text)  # each character lower-cased in place: the spans carry over
        and "discord" not in low  # nor any invitation shape URL's second branch needs
        and "t.me/" not in low
        and "whatsapp.com/" not in low
        and (text.isascii() or not any(odd in text for odd in CASE_ODD))
    ):
        return tuple(text[m.start() : m.end()] for m in _WEB.finditer(low))
    return tuple(m.group(0) for m in URL.finditer(text))


def _same_link(link: str) -> str:
    """One key for the same link written twice ("https://x.org/a", "x.org/a."), query and
    fragment kept: links that differ only there are still different links."""
    bare = link.split("://", 1)[-1].rstrip("/.,;:!?")
    host, _, rest = bare.partition("/")
    return f"{host.lower()}/{rest}"


# The usual link: an optional http(s) scheme, a host of letters, digits, dots and dashes,
# then a path, query or fragment free of spaces and control characters.
_PLAIN_LINK = re.compile(r"([hH][tT][tT][pP][sS]?://)?([A-Za-z0-9.-]+)([/?#][^\x00-\x20\x7f]*)?")


def host_and_rest(link: str) -> tuple[str, str]:
    """The host of ``link`` in lower case, and host and path (query and fragment left out),
    as ``urllib.parse.urlsplit`` reads them (a link without a scheme as ``https://``). Any
    text gets an answer: an address urlsplit refuses (an unclosed "[" of an IPv6 address)
    has no host, and its rest is what follows the scheme."""
    plain = _PLAIN_LINK.fullmatch(link)
    # most links: urlsplit's answer without its cost (several us); a "://" further on in a
    # link written without a scheme makes urlsplit read no host at all
    if plain is not None and (plain.group(1) is not None or "://" not in link):
        host, after = plain.group(2, 3)
        host = host.lower()
        path = after.partition("?")[0].partition("#")[0] if after else ""
        return host, host + path
    return split_host_and_rest(link)


def split_host_and_rest(link: str) -> tuple[str, str]:
    """``host_and_rest`` by urlsplit itself, for any link."""
    bare = link if "://" in link else f"https://{link}"
    try:
        parts = urlsplit(bare)
        host = (parts.hostname or "").lower()
    except ValueError:  # "Invalid IPv6 URL": "www.[::1" is still a link, with no host
        return "", bare.split("://", 1)[1]
    return host, f"{host}{parts.path}"


class LinksDetector:
    def __init__(self, rule: LinksRule) -> None:
        self._rule = rule
        self._window = SlidingWindow(rule.per)
        self._allowed = rule.allow_domains

    def _allowed_link(self, host: str, rest: str) -> bool:
        """An entry is a domain (subdomains included) or a domain with a path prefix."""
        for entry in self._allowed:
            if "/" in entry:
                if rest.startswith(entry):
                    return True
            elif host == entry or host.endswith("." + entry):
                return True
        return False

    def observe(self, member: str, ts: float, _cleaned: str, message: Posted) -> str | None:
        """Count the message's links for ``member`` at ``ts`` (POSIX seconds): the
        platform's and those only written in the text ("join discord.gg/x" beside a https
        link, which platforms do not list)."""
        written = find_links(message.text)
        if not written and not message.links:
            return None
        return self.check(member, ts, (*message.links, *written))

    def check(self, member: str, ts: float, links: Iterable[str]) -> str | None:
        """``links`` may name a link twice (the platform's list and the text's): once each;
        ``ts``: the message's time in POSIX seconds."""
        unique = {_same_link(link): link for link in links}
        links = tuple(unique.values())
        if not links:
            return None
        counted = 0  # links to allowed domains (the community's own) are not counted
        for link in links:
            host, rest = host_and_rest(link)
            if self._allowed_link(host, rest.lower()):
                continue
            counted += 1
            if self._rule.block_invites and _INVITES.match(rest):
                return f"invite link to another community: {rest}"
            if self._rule.only_allowed:
                return f"link to a domain that is not allowed: {host}"
        if self._window.add(member, ts, counted) > self._rule.max_links:
            return f"more than {self._rule.max_links} links within the window"
        return None

    def forget_idle(self, now: float) -> None:
        self._window.forget_idle(now)
