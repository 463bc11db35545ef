"""Removing a banned member's recent messages from a Matrix room (``!ban ... --purge 24h``).

The member's events are found in the room's recent history (``/messages`` backwards from
the newest, filtered to the member as sender) and redacted one by one, newest first, until
the window's start. Events already redacted are skipped, so a retry after a crash or a rate
limit redacts only what is left: the purge is idempotent. State events (the member's own
joins and leaves) are history, not messages, and stay.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from nio import AsyncClient

Call = Callable[[str, Awaitable[Any]], Awaitable[Any]]
PAGE = 100  # events per /messages page
MAX_PAGES = 50  # at most this much history is read per room (5,000 of the member's events)


def to_redact(events: list[dict[str, Any]], sender: str, since_ms: int) -> tuple[list[str], bool]:
    """The ids of ``sender``'s message events in a page (newest first) sent since
    ``since_ms``, and whether the page reached back past the window's start."""
    ids: list[str] = []
    for event in events:
        if int(event.get("origin_server_ts", 0)) < since_ms:
            return ids, True
        if event.get("sender") != sender or "state_key" in event:
            continue
        if event.get("type") == "m.room.redaction":
            continue
        if not event.get("content") or "redacted_because" in (event.get("unsigned") or {}):
            continue  # already redacted (a retry, or a moderator by hand)
        event_id = event.get("event_id")
        if isinstance(event_id, str):
            ids.append(event_id)
    return ids, False


async def purge_room(
    call: Call, client: AsyncClient, room: str, sender: str, since: datetime, reason: str
) -> int:
    """Redact ``sender``'s messages in ``room`` sent since ``since``; return how many."""
    since_ms = int(since.timestamp() * 1000)
    start: str | None = None
    removed = 0
    for _ in range(MAX_PAGES):
        page = await call(
            f"read the recent history of {room}",
            client.room_messages(
                room, start=start, limit=PAGE, message_filter={"senders": [sender]}
            ),
        )
        events = [getattr(e, "source", {}) for e in page.chunk]
        ids, done = to_redact(events, sender, since_ms)
        for event_id in ids:
            await call(
                f"redact {event_id} in {room}",
                client.room_redact(room, event_id, reason=reason or None),
            )
            removed += 1
        if done or not page.chunk or not page.end or page.end == start:
            break
        start = page.end
    return removed
