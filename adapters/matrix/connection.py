"""The live side of the Matrix adapter: log in, join the community's rooms, sync, hand events on.

The sync loop is ours rather than nio's ``sync_forever``: nio would retry a dead homeserver
inside one call, log every attempt and keep its sync token only in memory. Here the token is
persisted after each batch has been handed to the handlers, so a restart neither replays nor
misses anything, and an outage is one WARNING and a capped exponential backoff.
Which room is what lives in :mod:`adapters.matrix.rooms`, where each event goes in
:mod:`adapters.matrix.routing`, the login and the request boundary in
:mod:`adapters.matrix.session`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from nio import (
    AsyncClient,
    InviteAliasEvent,
    InviteMemberEvent,
    MessageDirection,
    RoomMemberEvent,
    SyncResponse,
)

from adapters.matrix.crypto import make_client, share_crypto
from adapters.matrix.e2ee import Encryption, EncryptionOptions, Notify, encrypted_direct_room
from adapters.matrix.ecosystem import Ecosystem, EcosystemHandlers
from adapters.matrix.powers import RoomPowers
from adapters.matrix.rooms import RoomBook, RoomKind, children_from_hierarchy
from adapters.matrix.routing import EventRouter, MatrixHandlers, own_join_index
from adapters.matrix.session import (
    BACKOFF_CAP,
    KEY_USER,
    MatrixLoginError,
    Outage,
    Session,
    sleep_unless,
    unless,
)
from adapters.matrix.stores import MatrixStateStore
from domain.ports import NotRecorded, PermanentError, TransientError

__all__ = ["MatrixConnection", "MatrixHandlers", "MatrixLoginError", "MatrixStateStore"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

KEY_NEXT_BATCH = "matrix.next_batch"
KEY_DIRECT_ROOMS = "matrix.direct_rooms"

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


class MatrixConnection:
    """One bot account's live connection to a homeserver, handing events to the core.

    Give exactly one of ``password`` and ``access_token``. ``rooms`` and ``spaces`` are ids or
    aliases; the children of each space are found and joined while running. ``moderators``
    are user ids; with ``moderator_power_level``, anyone at that level in the mod room counts
    as a moderator too.
    """

    def __init__(
        self,
        *,
        homeserver: str,
        user_id: str,
        password: str | None,
        access_token: str | None,
        rooms: Sequence[str],
        spaces: Sequence[str],
        mod_room: str | None,
        moderators: Sequence[str],
        moderator_power_level: int | None,
        state: MatrixStateStore,
        handlers: MatrixHandlers,
        hierarchy_refresh: float = 60.0,
        sync_timeout_ms: int = 30000,
        command_prefix: str = "!",
        policy_lists: Sequence[str] = (),
        publish_list: str | None = None,
        ecosystem: EcosystemHandlers | None = None,
        encryption: EncryptionOptions | None = None,
        notify: Notify | None = None,
    ) -> None:
        if (password is None) == (access_token is None):
            raise ValueError(
                f"the Matrix account {user_id} needs exactly one of a password or an access token"
            )
        self.user_id = user_id
        self._homeserver = homeserver
        self._state = state
        self._hierarchy_refresh = hierarchy_refresh
        self._sync_timeout_ms = sync_timeout_ms
        self._book = RoomBook(rooms=rooms, spaces=spaces, mod_room=mod_room)
        self._client = self._make_client(encrypted=encryption is not None)
        self._session = Session(
            self._client,
            user_id=user_id,
            password=password,
            access_token=access_token,
            state=state,
        )
        self._call = self._session.call
        # Policy lists and room upgrades (adapters/matrix/ecosystem.py).
        self.ecosystem = Ecosystem(
            client=self._client, call=self._call, book=self._book, state=state,
            handlers=ecosystem, policy_lists=policy_lists, publish_list=publish_list,
        )  # fmt: skip
        self._router = EventRouter(
            user_id=user_id,
            book=self._book,
            rooms=self._client.rooms,
            handlers=handlers,
            moderators=moderators,
            moderator_power_level=moderator_power_level,
            on_space_change=self._refresh_soon,
            command_prefix=command_prefix,
        )
        self._e2ee: Encryption | None = None
        if encryption is not None:
            self._e2ee = Encryption(
                self._client, encryption, book=self._book, dispatch=self._router.dispatch,
                notify=notify, room_name=self._room_name,
            )  # fmt: skip
        self._next_batch: str | None = None
        # A synced batch not yet handed on in full (the core could not record an event) and
        # its token: handed on again before the next sync; the token is saved only after.
        self._held: list[tuple[str, list[Any]]] = []
        self._held_token: str | None = None
        self._held_surroundings: list[tuple[str, Any]] = []  # the batch's, for the ecosystem
        self._started = False
        self._closed = asyncio.Event()
        self._refresh = asyncio.Event()
        self._stopped = asyncio.Event()
        self._stopped.set()  # run() is not running
        self._warned: set[str] = set()  # rooms and aliases already warned about
        # When syncing last started failing (None while it works): the service's /healthz.
        self.down_since: datetime | None = None

    # -- the public side ------------------------------------------------------------------------

    @property
    def protected_rooms(self) -> frozenset[str]:
        """Room ids whose messages are judged: configured rooms, spaces and the spaces' rooms."""
        return self._book.protected

    @property
    def mod_room_id(self) -> str | None:
        """The moderators' room id (None when none is configured or its alias is unresolved)."""
        return self._book.mod_room_id

    def account_name(self, account_id: str) -> str:
        """A user's display name in a room the bot shares with them (a Directory)."""
        return self._router.display_name(account_id)

    def space_name(self, space_id: str) -> str:
        """A room's name as members read it (a Directory); "" when unknown."""
        room = self._client.rooms.get(space_id)
        if room is None:
            return ""
        name = room.name or room.canonical_alias or ""
        return str(name)

    def accounts_named(self, name: str) -> list[str]:
        """Members of the protected rooms whose display name is ``name`` (a Directory)."""
        wanted = name.casefold()
        found: dict[str, None] = {}
        for room_id in self.protected_rooms:
            room = self._client.rooms.get(room_id)
            for user in room.users.values() if room is not None else ():
                if (user.display_name or "").casefold() == wanted and user.user_id != self.user_id:
                    found[user.user_id] = None
        return list(found)

    def known_powers(self, room_id: str) -> RoomPowers | None:
        """A room's powers as the sync last saw them (for the executor: no read before a
        redaction); None while unknown."""
        return self._book.state(room_id).known_powers()

    def is_direct(self, room_id: str) -> bool:
        """Whether ``room_id`` is a member's direct room with the bot (a private one)."""
        return self._book.kind(room_id) is RoomKind.DIRECT

    def encrypted_direct_room(self, user_id: str) -> str | None:
        """An encrypted direct room ``user_id`` shares with the bot alone, if there is one."""
        return encrypted_direct_room(self._client.rooms, self._book.direct_rooms, user_id)

    @property
    def device_id(self) -> str | None:
        """The device the bot is logged in as (kept across restarts)."""
        device: str | None = self._client.device_id or None
        return device

    def new_client(self) -> AsyncClient:
        """A second client on the same login, for :class:`MatrixExecutor` (never waits on sync)."""
        if not self._started:
            raise RuntimeError("start() the Matrix connection before asking for a client")
        client = self._make_client(encrypted=self._e2ee is not None)
        client.restore_login(self.user_id, self._client.device_id, self._client.access_token)
        if self._e2ee is not None:
            share_crypto(self._client, client)
        # A refused token is replaced by the sync's new login (password logins): this client
        # gets it too, or every action would be retried on a dead token forever.
        self._session.followers.append(client)
        return client

    async def start(self) -> None:
        """Log in, resolve aliases, join the rooms, do the first sync.

        Waits (with backoff) while the homeserver is unreachable; raises MatrixLoginError when
        the credentials are refused.
        """
        stored_user = await self._state.get(KEY_USER)
        # Values kept for another account (the configuration changed) are of no use.
        fresh = stored_user != self.user_id
        await self._retrying("log in to Matrix", lambda: self._session.log_in(fresh=fresh))
        if self._e2ee is not None:
            await self._e2ee.open(self._state)
        if not fresh:
            self._next_batch = await self._state.get(KEY_NEXT_BATCH)
            for room_id in json.loads(await self._state.get(KEY_DIRECT_ROOMS) or "[]"):
                self._book.add_direct(room_id)
        await self._state.set(KEY_USER, self.user_id)
        await self.ecosystem.restore()
        await self._retrying("join the Matrix rooms", self._reconcile)
        await self._retrying("the first Matrix sync", self._first_sync)
        self._started = True
        logger.info(
            "Matrix connection up as %s: %d protected rooms",
            self.user_id,
            len(self.protected_rooms),
        )

    async def run(self) -> None:
        """Sync until :meth:`close`; an unreachable or failing homeserver is waited out."""
        if not self._started:
            raise RuntimeError("start() the Matrix connection before run()")
        refresher = asyncio.create_task(self._refresh_loop())
        if self._e2ee is not None:
            counter = asyncio.create_task(self._e2ee.run(self._closed))
        outage = Outage("Matrix sync", logger)
        self._stopped.clear()
        try:
            while not self._closed.is_set():
                try:
                    await self._sync(full_state=False)
                except TransientError as exc:
                    self._went_down()
                    await self._sleep(outage.failed(exc))
                except PermanentError as exc:
                    self._went_down()
                    # Nothing the bot can fix by itself (e.g. an expired token without a
                    # password); keep trying slowly so it recovers when an admin fixes it.
                    logger.error("Matrix sync refused: %s", exc)
                    await self._sleep(BACKOFF_CAP)
                except Exception as exc:
                    # A bug or an answer nio cannot parse: stalling for good would be worse.
                    self._went_down()
                    logger.error("Matrix sync failed: %s", type(exc).__name__)
                    await self._sleep(BACKOFF_CAP)
                else:
                    self.down_since = None
                    outage.recovered()
        finally:
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher
            if self._e2ee is not None:
                counter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await counter
                await self._e2ee.save(self._state)
            self._stopped.set()

    async def close(self) -> None:
        """Stop :meth:`run` (an open long-poll is abandoned) and close the HTTP session."""
        self._closed.set()
        # Let run() finish handing on its batch before the HTTP session goes.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), 10)
        await self._client.close()

    # -- rooms and spaces ------------------------------------------------------------------

    async def _reconcile(self) -> None:
        """Resolve aliases, read the spaces' hierarchies, join every room not joined yet."""
        for alias in self._book.unresolved():
            try:
                answer = await self._call(
                    f"resolve {alias}", self._client.room_resolve_alias(alias)
                )
            except PermanentError as exc:
                self._warn_once(alias, f"cannot resolve the configured alias {alias}: {exc}")
                continue
            self._book.resolve(alias, answer.room_id)
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
            if space not in member_of:
                continue
            try:
                children = await self._hierarchy(space)
            except PermanentError as exc:
                self._warn_once(space, f"cannot read the hierarchy of space {space}: {exc}")
                continue
            added, removed = self._book.set_children(space, children)
            for room_id in added:
                logger.info("protecting %s, a room of space %s", room_id, space)
            for room_id in removed:
                logger.info("no longer protecting %s, gone from space %s", room_id, space)
        for room_id in self._book.protected - member_of - tried:
            await self._join(room_id)
        await self.ecosystem.reconcile()

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

    async def _refresh_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._refresh.wait(), self._hierarchy_refresh)
            self._refresh.clear()
            try:
                await self._reconcile()
            except TransientError as exc:
                logger.debug("space refresh postponed: %s", exc)  # the sync loop reports outages
            except Exception as exc:
                # The refresh must outlive one bad answer, or new rooms go unprotected.
                logger.error("space refresh failed: %s", type(exc).__name__)

    async def _on_invite(self, room_id: str, invite_state: Sequence[Any]) -> None:
        # nio keeps the stripped state as typed events (their ``source`` lost its content).
        mine: dict[str, Any] | None = None
        aliases: list[str] = []
        for event in invite_state:
            if isinstance(event, InviteMemberEvent) and event.state_key == self.user_id:
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
            self._refresh_soon()  # it may be a room just added to a space

    async def _note_direct_room(self, room_id: str, events: Sequence[Any]) -> None:
        """Count a room the bot made to talk to one member (a warning) as a direct room.

        Replies to a warning are appeals or reports: they must reach the core like any
        direct message. Such a room is known by the bot's own ``is_direct`` invitation in it.
        """
        if room_id in self._book.direct_rooms or self._book.kind(room_id) is not RoomKind.OTHER:
            return
        for event in events:
            if (
                isinstance(event, RoomMemberEvent)
                and event.sender == self.user_id
                and event.membership == "invite"
                and event.content.get("is_direct") is True
            ):
                await self._add_direct(room_id)
                return

    async def _add_direct(self, room_id: str) -> None:
        self._book.add_direct(room_id)
        await self._state.set(KEY_DIRECT_ROOMS, json.dumps(sorted(self._book.direct_rooms)))

    def _refresh_soon(self) -> None:
        self._refresh.set()

    def _room_name(self, room_id: str) -> str:
        room = self._client.rooms.get(room_id)
        return str(room.display_name) if room is not None else room_id

    def _make_client(self, *, encrypted: bool) -> AsyncClient:
        return make_client(self._homeserver, self.user_id, encrypted=encrypted)

    # -- sync -------------------------------------------------------------------------------------

    async def _first_sync(self) -> None:
        await self._sync(full_state=True)

    async def _sync(self, *, full_state: bool) -> None:
        """One sync: fetch, hand every event on, then persist the token."""
        await self._hand_on_held()
        since = self._next_batch
        timeout = 0 if full_state else self._sync_timeout_ms
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
            await self._on_invite(room_id, info.invite_state)
        # Fetch every gap before handing anything on: a failure then retries the whole batch
        # without handlers seeing any event twice.
        batches: list[tuple[str, list[Any]]] = []
        surroundings: list[tuple[str, Any]] = []  # for the ecosystem: lists, upgrades
        for section in (response.rooms.join, response.rooms.leave):
            for room_id, info in section.items():
                for event in info.state:
                    self._router.observe(room_id, event.source)
                events = list(info.timeline.events)
                if section is response.rooms.join:
                    surroundings += [(room_id, e.source) for e in [*info.state, *events]]
                await self._note_direct_room(room_id, [*info.state, *events])
                if since is None:
                    # The very first start: history is not judged; only its state counts.
                    for event in events:
                        self._router.observe(room_id, event.source)
                    continue
                if info.timeline.limited and own_join_index(events, self.user_id) < 0:
                    gap = await self._gap(room_id, info.timeline.prev_batch, since)
                    events = gap + events
                batches.append((room_id, events[own_join_index(events, self.user_id) + 1 :]))
        self._held, self._held_token = batches, response.next_batch
        self._held_surroundings = surroundings
        await self._hand_on_held()

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
            await self.ecosystem.take(room_id, source)
        if self._held_token is not None:
            await self._state.set(KEY_NEXT_BATCH, self._held_token)
            self._next_batch, self._held_token = self._held_token, None

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
            if own_join_index(answer.chunk, self.user_id) >= 0:
                break
            token = answer.end
        if len(found) >= GAP_LIMIT:
            logger.warning(
                "more than %d events missed in %s; older ones skipped", GAP_LIMIT, room_id
            )
        return found[::-1]

    # -- plumbing ---------------------------------------------------------------------------

    async def _retrying(self, doing: str, attempt: Callable[[], Awaitable[None]]) -> None:
        outage = Outage(doing, logger)
        while True:
            try:
                await attempt()
            except TransientError as exc:
                await self._sleep(outage.failed(exc))
                if self._closed.is_set():
                    raise RuntimeError(f"closed while trying to {doing}") from exc
            else:
                outage.recovered()
                return

    def _went_down(self) -> None:
        if self.down_since is None:
            self.down_since = datetime.now(UTC)

    async def _sleep(self, seconds: float) -> None:
        await sleep_unless(self._closed, seconds)

    async def _until_closed(self, request: Awaitable[T]) -> T | None:
        return await unless(self._closed, request)

    def _warn_once(self, key: str, text: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning("%s", text)
