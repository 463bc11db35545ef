"""Keeping the bot in the rooms it should be in: aliases resolved, spaces' rooms found and
joined, invitations accepted or declined, and direct rooms remembered across restarts.

The pure bookkeeping (which room is what) is :class:`adapters.matrix.rooms.RoomBook`; this is
the I/O around it, used by the connection's start-up, its sync and a periodic refresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from typing import Any

from nio import AsyncClient, InviteAliasEvent, InviteMemberEvent, RoomMemberEvent

from adapters.matrix.ecosystem import Call, Ecosystem
from adapters.matrix.rooms import RoomBook, RoomKind, children_from_hierarchy
from domain.ports import KeyValueStore, PermanentError, TransientError

logger = logging.getLogger(__name__)

KEY_DIRECT_ROOMS = "matrix.direct_rooms"


class RoomMembership:
    """Joins the configured rooms and the spaces' children, answers invitations, and keeps
    the direct rooms with members (where they report and moderators command)."""

    def __init__(
        self,
        *,
        client: AsyncClient,
        call: Call,
        book: RoomBook,
        state: KeyValueStore,
        ecosystem: Ecosystem,
        user_id: str,
        refresh_every: float,
    ) -> None:
        self._client = client
        self._call = call
        self._book = book
        self._state = state
        self._ecosystem = ecosystem
        self._user_id = user_id
        self._refresh_every = refresh_every
        self._refresh = asyncio.Event()
        self._warned: set[str] = set()  # rooms and aliases already warned about

    async def restore(self) -> None:
        """Take back the direct rooms remembered before a restart."""
        for room_id in json.loads(await self._state.get(KEY_DIRECT_ROOMS) or "[]"):
            self._book.add_direct(room_id)

    def refresh_soon(self) -> None:
        """Look at the spaces again now rather than at the next periodic refresh."""
        self._refresh.set()

    async def reconcile(self) -> None:
        """Resolve aliases, read the spaces' hierarchies, join every room not joined yet."""
        await self._resolve_aliases()
        joined = await self._call("list joined rooms", self._client.joined_rooms())
        member_of = set(joined.rooms)
        tried: set[str] = set()
        # Spaces first: a restricted child room lets in members of its space only.
        for room_id in self._book.configured_ids():
            if room_id not in member_of:
                tried.add(room_id)
                if await self._join(room_id):
                    member_of.add(room_id)
        for space in self._book.space_ids:
            if space in member_of:
                await self._read_space(space)
        for room_id in self._book.protected - member_of - tried:
            await self._join(room_id)
        await self._ecosystem.reconcile()

    async def refresh_loop(self) -> None:
        """Reconcile every ``refresh_every`` seconds, or sooner when asked; until cancelled."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._refresh.wait(), self._refresh_every)
            self._refresh.clear()
            try:
                await self.reconcile()
            except TransientError as exc:
                logger.debug("space refresh postponed: %s", exc)  # the sync loop reports outages
            except Exception as exc:
                # The refresh must outlive one bad answer, or new rooms go unprotected.
                logger.error("space refresh failed: %s", type(exc).__name__)

    async def on_invite(self, room_id: str, invite_state: Sequence[Any]) -> None:
        """Accept an invitation to a room the bot protects, or to a member's direct room."""
        # nio keeps the stripped state as typed events (their ``source`` lost its content).
        mine: dict[str, Any] | None = None
        aliases: list[str] = []
        for event in invite_state:
            if isinstance(event, InviteMemberEvent) and event.state_key == self._user_id:
                mine = {**event.content, "membership": event.membership}
            elif isinstance(event, InviteAliasEvent) and event.canonical_alias:
                aliases.append(event.canonical_alias)
        if mine is None or mine.get("membership") != "invite":
            return
        if self._book.wants_invite(room_id, aliases):
            await self._join(room_id)
        elif mine.get("is_direct") is True:
            # Members report to the bot, and moderators command it, in direct rooms.
            await self._add_direct(room_id)
            await self._join(room_id)
        else:
            logger.info("not accepting an invitation to %s", room_id)
            self.refresh_soon()  # it may be a room just added to a space

    async def note_direct_room(self, room_id: str, events: Sequence[Any]) -> None:
        """Count a room the bot made to talk to one member (a warning) as a direct room.

        Replies to a warning are appeals or reports: they must reach the core like any
        direct message. Such a room is known by the bot's own ``is_direct`` invitation in it.
        """
        if room_id in self._book.direct_rooms or self._book.kind(room_id) is not RoomKind.OTHER:
            return
        for event in events:
            if (
                isinstance(event, RoomMemberEvent)
                and event.sender == self._user_id
                and event.membership == "invite"
                and event.content.get("is_direct") is True
            ):
                await self._add_direct(room_id)
                return

    async def _resolve_aliases(self) -> None:
        for alias in self._book.unresolved():
            try:
                answer = await self._call(
                    f"resolve {alias}", self._client.room_resolve_alias(alias)
                )
            except PermanentError as exc:
                self._warn_once(alias, f"cannot resolve the configured alias {alias}: {exc}")
                continue
            self._book.resolve(alias, answer.room_id)

    async def _read_space(self, space: str) -> None:
        """Protect the rooms now in ``space`` and no longer the ones gone from it."""
        try:
            children = await self._hierarchy(space)
        except PermanentError as exc:
            self._warn_once(space, f"cannot read the hierarchy of space {space}: {exc}")
            return
        added, removed = self._book.set_children(space, children)
        for room_id in added:
            logger.info("protecting %s, a room of space %s", room_id, space)
        for room_id in removed:
            logger.info("no longer protecting %s, gone from space %s", room_id, space)

    async def _hierarchy(self, space: str) -> list[str]:
        rooms: list[dict[str, Any]] = []
        page: str | None = None
        while True:
            answer = await self._call(
                f"read the hierarchy of {space}",
                self._client.space_get_hierarchy(space, from_page=page, limit=100),
            )
            rooms.extend(answer.rooms)
            page = answer.next_batch
            if not page:
                return children_from_hierarchy(space, rooms)

    async def _join(self, room_id: str) -> bool:
        """Join ``room_id``; a refusal is logged once (an invitation will be accepted later)."""
        try:
            await self._call(f"join {room_id}", self._client.join(room_id))
        except PermanentError as exc:
            self._warn_once(room_id, f"cannot join {room_id}: {exc}")
            return False
        logger.info("joined %s", room_id)
        return True

    async def _add_direct(self, room_id: str) -> None:
        self._book.add_direct(room_id)
        await self._state.set(KEY_DIRECT_ROOMS, json.dumps(sorted(self._book.direct_rooms)))

    def _warn_once(self, key: str, text: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning("%s", text)
