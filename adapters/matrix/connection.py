"""The live side of the Matrix adapter: log in, join the community's rooms, sync, hand events on.

This is the connection's face (start, run, close, the names it knows) and the loop that keeps
syncing through outages: an outage is one WARNING and a capped exponential backoff. One sync
(fetch, fill gaps, hand on, save the token) is :mod:`adapters.matrix.sync`; joining rooms,
spaces and invitations :mod:`adapters.matrix.membership`; which room is what
:mod:`adapters.matrix.rooms`; where each event goes :mod:`adapters.matrix.routing`; the login
and the request boundary :mod:`adapters.matrix.session`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from nio import AsyncClient

from adapters.matrix.crypto import make_client, share_crypto
from adapters.matrix.e2ee import Encryption, EncryptionOptions, Notify, encrypted_direct_room
from adapters.matrix.ecosystem import Ecosystem
from adapters.matrix.membership import RoomMembership
from adapters.matrix.powers import RoomPowers
from adapters.matrix.rooms import RoomBook, RoomKind
from adapters.matrix.routing import EventRouter
from adapters.matrix.session import (
    BACKOFF_CAP,
    KEY_USER,
    MatrixLoginError,
    Outage,
    Session,
    sleep_unless,
    unless,
)
from adapters.matrix.sync import Syncer
from domain.ports import EcosystemInbound, Inbound, KeyValueStore, PermanentError, TransientError

__all__ = ["MatrixConnection", "MatrixLoginError"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


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
        state: KeyValueStore,
        handlers: Inbound,
        hierarchy_refresh: float = 60.0,
        sync_timeout_ms: int = 30000,
        command_prefix: str = "!",
        policy_lists: Sequence[str] = (),
        publish_list: str | None = None,
        ecosystem: EcosystemInbound | None = None,
        encryption: EncryptionOptions | None = None,
        notify: Notify | None = None,
    ) -> None:
        _one_credential(user_id, password, access_token)
        self.user_id = user_id
        self._homeserver = homeserver
        self._state = state
        self._book = RoomBook(rooms=rooms, spaces=spaces, mod_room=mod_room)
        self._client = self._make_client(encrypted=encryption is not None)
        self._session = Session(
            self._client, user_id=user_id, password=password, access_token=access_token,
            state=state,
        )  # fmt: skip
        # Policy lists and room upgrades (adapters/matrix/ecosystem.py).
        self.ecosystem = Ecosystem(
            client=self._client, call=self._session.call, book=self._book, state=state,
            handlers=ecosystem, policy_lists=policy_lists, publish_list=publish_list,
        )  # fmt: skip
        self._membership = RoomMembership(
            client=self._client, call=self._session.call, book=self._book, state=state,
            ecosystem=self.ecosystem, user_id=user_id, refresh_every=hierarchy_refresh,
        )  # fmt: skip
        # Where each synced event goes (adapters/matrix/routing.py).
        self._router = EventRouter(
            user_id=user_id, book=self._book, rooms=self._client.rooms, handlers=handlers,
            moderators=moderators, moderator_power_level=moderator_power_level,
            on_space_change=self._membership.refresh_soon, command_prefix=command_prefix,
        )  # fmt: skip
        self._e2ee = self._encryption(encryption, notify)
        self._sync = Syncer(
            client=self._client, session=self._session, state=state, user_id=user_id,
            router=self._router, membership=self._membership, ecosystem=self.ecosystem,
            e2ee=self._e2ee, until_closed=self._until_closed, timeout_ms=sync_timeout_ms,
        )  # fmt: skip
        self._started = False
        self._closed = asyncio.Event()
        self._stopped = asyncio.Event()
        self._stopped.set()  # run() is not running
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
            await self._sync.restore()
            await self._membership.restore()
        await self._state.set(KEY_USER, self.user_id)
        await self.ecosystem.restore()
        await self._retrying("join the Matrix rooms", self._membership.reconcile)
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
        refresher = asyncio.create_task(self._membership.refresh_loop())
        if self._e2ee is not None:
            counter = asyncio.create_task(self._e2ee.run(self._closed))
        outage = Outage("Matrix sync", logger)
        self._stopped.clear()
        try:
            while not self._closed.is_set():
                try:
                    await self._sync.sync(full_state=False)
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

    def _encryption(
        self, options: EncryptionOptions | None, notify: Notify | None
    ) -> Encryption | None:
        """End-to-end encryption for the bot's device, when it is on."""
        if options is None:
            return None
        return Encryption(
            self._client, options, book=self._book, dispatch=self._router.dispatch,
            notify=notify, room_name=self._room_name,
        )  # fmt: skip

    def _room_name(self, room_id: str) -> str:
        room = self._client.rooms.get(room_id)
        return str(room.display_name) if room is not None else room_id

    def _make_client(self, *, encrypted: bool) -> AsyncClient:
        return make_client(self._homeserver, self.user_id, encrypted=encrypted)

    async def _first_sync(self) -> None:
        await self._sync.sync(full_state=True)

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


def _one_credential(user_id: str, password: str | None, access_token: str | None) -> None:
    if (password is None) == (access_token is None):
        raise ValueError(
            f"the Matrix account {user_id} needs exactly one of a password or an access token"
        )
