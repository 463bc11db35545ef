"""Reading a message a member linked to in a report (the evidence), from the homeserver.

An event permalink is ``https://matrix.to/#/<room id or alias>/<event id>``, optionally
with ``?via=...``; clients percent-encode the ids (``%21room%3Aserver/%24event``). The bot
reads the event with its own login, so only rooms it is in (or world-readable ones) work.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import aiohttp
from nio import (
    AsyncClient,
    MegolmEvent,
    RoomGetEventResponse,
    RoomMessage,
    RoomResolveAliasResponse,
)

from adapters.matrix.crypto import UNREADABLE, decrypted_or_placeholder
from adapters.matrix.translate import RoomContext, message_from_event
from domain.model import Message
from domain.ports import MessageFetcher

log = logging.getLogger(__name__)

# The event part runs to the query: room v3 event ids may hold a raw "/".
_LINK = re.compile(r"^https://matrix\.to/#/([^/?\s]+)/([^?#\s]+)(?:\?\S*)?$", re.IGNORECASE)
_ROOM = re.compile(r"^[!#][^:\s]+:\S+$|^![^\s:]+$")  # room v12 ids have no server part
_EVENT = re.compile(r"^\$\S+$")


@dataclass(frozen=True, slots=True, kw_only=True)
class MatrixLink:
    """Where an event permalink points: a room id (``!``) or alias (``#``), and an event."""

    room: str
    event_id: str


def parse_link(link: str) -> MatrixLink | None:
    """The room and event of a matrix.to event permalink; None if it is not one."""
    match = _LINK.match(link.strip().strip("<>"))
    if match is None:
        return None
    room, event_id = unquote(match.group(1)), unquote(match.group(2)).rstrip("/")
    if not _ROOM.match(room) or not _EVENT.match(event_id):
        return None
    return MatrixLink(room=room, event_id=event_id)


class MatrixFetcher:
    """The :class:`MessageFetcher` for matrix.to event links; never raises."""

    def __init__(
        self, client: AsyncClient, *, is_direct: Callable[[str], bool] = lambda _: False
    ) -> None:
        self._client = client
        # A member's direct room with the bot is theirs alone: a link into it (someone
        # else's report conversation) is never read out.
        self._is_direct = is_direct

    async def fetch(self, link: str) -> Message | None:
        """The linked message in the common model, or None (another platform's link, an
        event the bot cannot read or that is no message, the homeserver unreachable)."""
        parsed = parse_link(link)
        if parsed is None:
            return None
        try:
            return await self._read(parsed)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.info("could not read linked event %s: %s", parsed.event_id, type(exc).__name__)
            return None

    async def _read(self, link: MatrixLink) -> Message | None:
        room_id = link.room
        if room_id.startswith("#"):
            resolved = await self._client.room_resolve_alias(room_id)
            if not isinstance(resolved, RoomResolveAliasResponse):
                return None
            room_id = resolved.room_id
        if self._is_direct(room_id):
            return None
        answer = await self._client.room_get_event(room_id, link.event_id)
        if not isinstance(answer, RoomGetEventResponse):
            # M_FORBIDDEN (not in the room), M_NOT_FOUND: the link stays a link.
            return None
        event = answer.event
        if isinstance(event, MegolmEvent):
            # Decrypted with the bot's room keys when it has them; else said so, not dropped.
            event = decrypted_or_placeholder(self._client, room_id, event)
        if not isinstance(event, RoomMessage):
            return None  # a state event, a redacted or undecryptable one
        message = message_from_event(event, RoomContext(room_id=room_id))
        edited = _latest_edit(event.source)
        if message is not None and message.text == UNREADABLE:
            return message  # a bundled edit of an encrypted message is encrypted too
        if message is None or edited is None or edited == message.text:
            return message
        # What members see now is the edit (servers no longer apply it to the event since
        # Matrix 1.7); what was first said stays evidence too.
        return replace(message, text=f"{edited} (edited; at first: {message.text})")


def _latest_edit(source: Mapping[str, Any]) -> str | None:
    """The body of the latest edit the server bundles with an event, if any."""
    relations = (source.get("unsigned") or {}).get("m.relations") or {}
    edit = relations.get("m.replace") or {}
    new = (edit.get("content") or {}).get("m.new_content") or {}
    body = new.get("body")
    return body if isinstance(body, str) else None


if TYPE_CHECKING:
    # mypy proves here that the fetcher satisfies the port it is written for.
    _PORT: type[MessageFetcher] = MatrixFetcher
