"""Encrypted messages the bot cannot read yet: held for their key, then counted. Pure, no I/O.

A member's client may send a message before the room key reaches the bot (a slow to-device
path, a key shared only later), or never send the key at all: withholding keys is a known
way to dodge a moderation bot. Held messages are bounded in number and in time; those whose
key never came are counted per room and per sender for the moderators, never with content.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

MAX_HELD = 500  # events waiting for a key, over all rooms; the oldest gives way
NAME_AFTER = 3  # undecryptable messages from one member in one room before they are named


@dataclass(slots=True)
class Waiting:
    """One event waiting for its room key."""

    room_id: str
    event: Any  # nio's MegolmEvent
    since: float  # monotonic clock


class HeldEvents:
    """Events whose key has not arrived, oldest first, at most ``limit`` and ``wait`` seconds."""

    def __init__(self, *, wait: float, limit: int = MAX_HELD) -> None:
        self._wait = wait
        self._limit = limit
        self._held: OrderedDict[str, Waiting] = OrderedDict()

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, room_id: str, event: Any, now: float) -> list[Waiting]:
        """Hold ``event``; return what had to give way to keep within the limit."""
        self._held[event.event_id] = Waiting(room_id=room_id, event=event, since=now)
        dropped: list[Waiting] = []
        while len(self._held) > self._limit:
            dropped.append(self._held.popitem(last=False)[1])
        return dropped

    def release(self, decrypt: Callable[[Waiting], Any | None]) -> list[tuple[Waiting, Any]]:
        """Try every held event again; return (held, decrypted) for those that now decrypt."""
        done = [(held, decrypt(held)) for held in self._held.values()]
        done = [(held, event) for held, event in done if event is not None]
        for held, _ in done:
            self._held.pop(held.event.event_id, None)
        return done

    def waiting(self) -> list[Waiting]:
        """What is held, oldest first."""
        return list(self._held.values())

    def expired(self, now: float) -> list[Waiting]:
        """Take out the events held longer than the wait."""
        gone = [held for held in self._held.values() if now - held.since >= self._wait]
        for held in gone:
            self._held.pop(held.event.event_id, None)
        return gone


@dataclass(slots=True)
class _RoomTally:
    first: datetime
    last: datetime
    counted_at: float  # monotonic: when the first of these was counted
    count: int = 0
    senders: Counter[str] = field(default_factory=Counter)


class UndecryptableTally:
    """Undecryptable messages per protected room since the last notice, and per sender ever."""

    def __init__(self, *, name_after: int = NAME_AFTER) -> None:
        self._name_after = name_after
        self._rooms: dict[str, _RoomTally] = {}
        self._ever: Counter[tuple[str, str]] = Counter()  # (room, sender) since the start

    def add(self, room_id: str, sender: str, sent: datetime, now: float) -> None:
        """Count one message of ``sender`` in ``room_id`` that could not be read."""
        tally = self._rooms.setdefault(room_id, _RoomTally(first=sent, last=sent, counted_at=now))
        tally.count += 1
        tally.first = min(tally.first, sent)
        tally.last = max(tally.last, sent)
        tally.senders[sender] += 1
        self._ever[(room_id, sender)] += 1

    def __bool__(self) -> bool:
        return bool(self._rooms)

    def notices(self, room_name: Callable[[str], str], now: float, every: float) -> Iterator[str]:
        """One notice per room whose first uncounted loss is ``every`` seconds old: what
        was lost meanwhile goes in the same notice, so a burst is one notice, not many."""
        due = [room for room, tally in self._rooms.items() if now - tally.counted_at >= every]
        for room_id in due:
            yield self._notice(room_id, room_name(room_id), self._rooms.pop(room_id))

    def _notice(self, room_id: str, name: str, tally: _RoomTally) -> str:
        what = "1 encrypted message" if tally.count == 1 else f"{tally.count} encrypted messages"
        where = f"{name} ({room_id})" if name and name != room_id else room_id
        when = _span(tally.first, tally.last)
        devices = "sender's device" if len(tally.senders) == 1 else "senders' devices"
        unjudged = "it was" if tally.count == 1 else "they were"
        text = (
            f"{what} in {where} could not be read by the bot ({when}): the {devices} did not "
            f"share the room key with it, so {unjudged} not moderated."
        )
        named = [
            (sender, self._ever[(room_id, sender)])
            for sender in sorted(tally.senders)
            if self._ever[(room_id, sender)] >= self._name_after
        ]
        for sender, total in named:
            text += (
                f" {sender} has sent {total} unreadable messages there so far: withholding "
                "keys is a known way to dodge moderation."
            )
        return text


def _span(first: datetime, last: datetime) -> str:
    start = first.strftime("%Y-%m-%d %H:%M:%S")
    if last - first < _SECOND:
        return f"at {start} UTC"
    end = last.strftime("%H:%M:%S" if last.date() == first.date() else "%Y-%m-%d %H:%M:%S")
    return f"between {start} and {end} UTC"


_SECOND = timedelta(seconds=1)
