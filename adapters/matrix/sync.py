"""One Matrix sync at a time: fetch, fill the gaps, hand every event on, then save the token.

The sync loop is ours rather than nio's ``sync_forever``: nio would retry a dead homeserver
inside one call, log every attempt and keep its sync token only in memory. Here the token is
persisted after each batch has been handed to the core, so a restart neither replays nor
misses anything; a batch the core could not record stays held and is handed on again first.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from nio import AsyncClient, MessageDirection, SyncResponse

from adapters.matrix.e2ee import Encryption
from adapters.matrix.ecosystem import Ecosystem
from adapters.matrix.membership import RoomMembership
from adapters.matrix.routing import EventRouter, own_join_index
from adapters.matrix.session import Session
from domain.ports import KeyValueStore, NotRecorded, TransientError

logger = logging.getLogger(__name__)

KEY_NEXT_BATCH = "matrix.next_batch"

# A gap bigger than this after a long outage is logged, not fetched: judging week-old
# messages helps nobody, and the fetch would hold up the live ones.
GAP_LIMIT = 1000
# Fewer gaps to fill after a restart than with Synapse's default of 10 events a batch.
SYNC_FILTER: dict[str, Any] = {
    "room": {"timeline": {"limit": 50}},
    "presence": {"types": []},
    "account_data": {"types": []},
}
# A full-state sync has no server-side timeout and can be big; a long-poll gets its own
# timeout plus this much before the connection is presumed hung.
FULL_SYNC_WITHIN = 120.0
LONG_POLL_GRACE = 20.0

Batch = tuple[str, list[Any]]  # a room id and its new timeline events, oldest first


class Syncer:
    """Syncs one client and hands what arrives to the router, the decryption and the
    ecosystem, in order; keeps the sync token in ``state``."""

    def __init__(
        self,
        *,
        client: AsyncClient,
        session: Session,
        state: KeyValueStore,
        user_id: str,
        router: EventRouter,
        membership: RoomMembership,
        ecosystem: Ecosystem,
        e2ee: Encryption | None,
        until_closed: Callable[[Awaitable[Any]], Awaitable[Any]],
        timeout_ms: int,
    ) -> None:
        self._client = client
        self._call = session.call
        self._state = state
        self._user_id = user_id
        self._router = router
        self._membership = membership
        self._ecosystem = ecosystem
        self._e2ee = e2ee
        self._until_closed = until_closed
        self._timeout_ms = timeout_ms
        self.next_batch: str | None = None
        # A synced batch not yet handed on in full (the core could not record an event) and
        # its token: handed on again before the next sync; the token is saved only after.
        self._held: list[Batch] = []
        self._held_token: str | None = None
        self._held_surroundings: list[tuple[str, Any]] = []  # the batch's, for the ecosystem

    async def restore(self) -> None:
        """Go on from the token saved before a restart."""
        self.next_batch = await self._state.get(KEY_NEXT_BATCH)

    async def sync(self, *, full_state: bool) -> None:
        """One sync: fetch, hand every event on, then persist the token."""
        await self._hand_on_held()
        since = self.next_batch
        timeout = 0 if full_state else self._timeout_ms
        request = self._client.sync(
            timeout=timeout, since=since, full_state=full_state, sync_filter=SYNC_FILTER
        )
        within = FULL_SYNC_WITHIN if full_state else timeout / 1000 + LONG_POLL_GRACE
        response = await self._until_closed(self._call("sync", request, within=within))
        if response is None:
            return
        if not isinstance(response, SyncResponse):
            raise TransientError(f"sync: unexpected answer {type(response).__name__}")
        for room_id, info in response.rooms.invite.items():
            await self._membership.on_invite(room_id, info.invite_state)
        # Fetch every gap before handing anything on: a failure then retries the whole batch
        # without handlers seeing any event twice.
        self._held, self._held_surroundings = await self._batches(response, since)
        self._held_token = response.next_batch
        await self._hand_on_held()

    async def _batches(
        self, response: SyncResponse, since: str | None
    ) -> tuple[list[Batch], list[tuple[str, Any]]]:
        """The new events of each room (gaps filled), and every event of the joined rooms
        for the ecosystem (policy lists, upgrades)."""
        batches: list[Batch] = []
        surroundings: list[tuple[str, Any]] = []
        for section in (response.rooms.join, response.rooms.leave):
            for room_id, info in section.items():
                for event in info.state:
                    self._router.observe(room_id, event.source)
                events = list(info.timeline.events)
                if section is response.rooms.join:
                    surroundings += [(room_id, e.source) for e in [*info.state, *events]]
                await self._membership.note_direct_room(room_id, [*info.state, *events])
                if since is None:
                    # The very first start: history is not judged; only its state counts.
                    for event in events:
                        self._router.observe(room_id, event.source)
                    continue
                if info.timeline.limited and own_join_index(events, self._user_id) < 0:
                    gap = await self._gap(room_id, info.timeline.prev_batch, since)
                    events = gap + events
                batches.append((room_id, events[own_join_index(events, self._user_id) + 1 :]))
        return batches, surroundings

    async def _hand_on_held(self) -> None:
        """Hand on the held batch, event by event; then save its token.

        An event the core could not record (its disk is full) stays held with those after
        it, and the token is not saved: the batch goes on from there at the next try, and a
        restart meanwhile gets it from the homeserver again.
        """
        while self._held:
            room_id, events = self._held[0]
            while events:
                try:
                    if self._e2ee is None or not await self._e2ee.intercept(room_id, events[0]):
                        await self._router.dispatch(room_id, events[0])
                except NotRecorded as exc:
                    raise TransientError(f"hand on synced events: {exc}") from exc
                events.pop(0)
            self._held.pop(0)
        if self._e2ee is not None:
            try:
                await self._e2ee.after_sync()  # what the keys of this sync unlocked
            except NotRecorded as exc:
                raise TransientError(f"hand on decrypted events: {exc}") from exc
        surroundings, self._held_surroundings = self._held_surroundings, []
        for room_id, source in surroundings:
            await self._ecosystem.take(room_id, source)
        if self._held_token is not None:
            await self._state.set(KEY_NEXT_BATCH, self._held_token)
            self.next_batch, self._held_token = self._held_token, None

    async def _gap(self, room_id: str, start: str | None, since: str) -> list[Any]:
        """The events between the last batch and a limited timeline, oldest first."""
        found: list[Any] = []
        token = start
        while token and len(found) < GAP_LIMIT:
            answer = await self._call(
                f"fetch missed events of {room_id}",
                self._client.room_messages(
                    room_id, start=token, end=since, direction=MessageDirection.back, limit=100
                ),
            )
            found += answer.chunk
            if not answer.chunk or not answer.end or answer.end == token:
                break
            if own_join_index(answer.chunk, self._user_id) >= 0:
                break
            token = answer.end
        if len(found) >= GAP_LIMIT:
            logger.warning(
                "more than %d events missed in %s; older ones skipped", GAP_LIMIT, room_id
            )
        return found[::-1]
