"""What the Matrix connection does for encryption around each sync.

nio decrypts the timeline of each sync itself (the room keys of the same sync come first).
What it leaves as ``MegolmEvent`` had no key yet: it is held here, its key is asked for (from
the bot's own other devices and from the sender's device, with ``m.room_key_request``), and
each later sync tries again; a key that arrives (``m.room_key``, or a forwarded one nio or
:mod:`adapters.matrix.forwarded_keys` accepts) turns it into the message it was, and it is
handed on to be judged like any other.
What waited too long is counted for the moderators (:mod:`adapters.matrix.undecryptable`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from nio import (
    AsyncClient,
    BadEvent,
    MatrixRoom,
    MegolmEvent,
    ToDeviceMessage,
    UnknownBadEvent,
)
from nio.exceptions import EncryptionError, LocalProtocolError

from adapters.matrix.cross_signing import CrossSigning, CrossSigningError
from adapters.matrix.crypto import open_store, upkeep
from adapters.matrix.rooms import RoomBook, RoomKind
from adapters.matrix.stores import DirectRoomStore
from adapters.matrix.translate import timestamp
from adapters.matrix.undecryptable import HeldEvents, UndecryptableTally, Waiting
from domain.ports import KeyValueStore

logger = logging.getLogger(__name__)

KEY_HELD = "matrix.held_events"

Dispatch = Callable[[str, Any], Awaitable[None]]
Notify = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, slots=True, kw_only=True)
class EncryptionOptions:
    """Where the crypto store lives and how long an encrypted message waits for its key."""

    store_dir: Path
    key_wait: float = 120.0  # seconds
    # Said in a direct chat whose message stayed unreadable (None: nothing is said).
    unreadable_text: str | None = None
    password: str | None = None  # for the user-interactive auth of cross-signing
    recovery_key: str | None = None  # when the account's cross-signing was made elsewhere

    def __repr__(self) -> str:  # never the password or the recovery key
        return f"EncryptionOptions(store_dir={self.store_dir!r}, key_wait={self.key_wait})"


def encrypted_direct_room(
    rooms: Mapping[str, MatrixRoom], direct_rooms: Iterable[str], user_id: str
) -> str | None:
    """An encrypted direct room ``user_id`` has joined and shares with the bot alone.

    A member who chose to talk to the bot encrypted gets warnings there too.
    """
    for room_id in sorted(direct_rooms):
        room = rooms.get(room_id)
        if (
            room is not None
            and room.encrypted
            and len(room.users) == 2
            and user_id in room.users
            and not room.users[user_id].invited
        ):
            return room_id
    return None


class EncryptedDirectRooms:
    """A :class:`DirectRoomStore` that prefers a member's own encrypted DM with the bot.

    A warning then reaches the member where they talk to the bot, encrypted; without such a
    room the remembered (or a new, plain) direct room is used as before.
    """

    def __init__(self, stored: DirectRoomStore, encrypted: Callable[[str], str | None]) -> None:
        self._stored = stored
        self._encrypted = encrypted

    async def get_direct_room(self, user_id: str) -> str | None:
        """See :class:`DirectRoomStore`."""
        return self._encrypted(user_id) or await self._stored.get_direct_room(user_id)

    async def set_direct_room(self, user_id: str, room_id: str) -> None:
        """See :class:`DirectRoomStore`."""
        await self._stored.set_direct_room(user_id, room_id)


class Encryption:
    """Holds undecryptable events of ``client``'s sync, retries them, counts the lost ones.

    ``dispatch`` hands a (decrypted) event on as the sync would have; ``notify`` tells the
    moderators (None: only logged).
    """

    def __init__(
        self,
        client: AsyncClient,
        options: EncryptionOptions,
        *,
        book: RoomBook,
        dispatch: Dispatch,
        notify: Notify | None,
        room_name: Callable[[str], str],
    ) -> None:
        self._client = client
        self._options = options
        self._book = book
        self._dispatch = dispatch
        self._notify = notify
        self._room_name = room_name
        self._held = HeldEvents(wait=options.key_wait)
        self._tally = UndecryptableTally()
        self._unanswered: set[str] = set()  # direct rooms with a message the bot cannot read

    async def open(self, state: KeyValueStore) -> None:
        """Load the device's crypto store and publish its keys (after the login); take back
        what a clean stop left waiting for its key (the sync will not bring it again)."""
        await open_store(self._client, self._options.store_dir, state)
        await upkeep(self._client)
        stored = json.loads(await state.get(KEY_HELD) or "[]")
        await state.set(KEY_HELD, "[]")
        now = time.monotonic()
        for room_id, source in stored:
            event = MegolmEvent.from_dict(source)
            if isinstance(event, MegolmEvent):
                event.room_id = room_id
                self._held.hold(room_id, event, now)

    async def save(self, state: KeyValueStore) -> None:
        """Keep what still waits for its key across a clean stop (ciphertext only)."""
        held = [(w.room_id, w.event.source) for w in self._held.waiting()]
        await state.set(KEY_HELD, json.dumps(held))

    async def cross_sign(self) -> None:
        """Make sure the device is cross-signed; a failure is logged (the bot works on)."""
        signing = CrossSigning(
            homeserver=self._client.homeserver, access_token=self._client.access_token,
            user_id=self._client.user_id, device_id=self._client.device_id,
            password=self._options.password, recovery_key=self._options.recovery_key,
            store_dir=self._options.store_dir, session=self._client.client_session,
        )  # fmt: skip
        try:
            logger.info("cross-signing: %s", await signing.ensure())
        except (CrossSigningError, aiohttp.ClientError, OSError, ValueError) as exc:
            # The bot still works; clients that trust only cross-signed devices will not
            # share their keys with it, which the admin must hear about.
            logger.warning("cross-signing not set up: %s", exc)

    async def intercept(self, room_id: str, event: Any) -> bool:
        """Hold ``event`` when it is an encrypted one nio could not read; True if held."""
        if not isinstance(event, MegolmEvent):
            return False
        if event.sender == self._client.user_id or self._book.kind(room_id) is RoomKind.OTHER:
            return True  # nothing to judge
        event.room_id = room_id
        for lost in self._held.hold(room_id, event, time.monotonic()):
            self._lost(lost)
        await self._request_key(room_id, event)
        return True

    async def after_sync(self) -> None:
        """Judge what the keys of this sync unlocked; keep the device's keys in order."""
        await upkeep(self._client)
        released = self._held.release(self._decrypt)
        for index, (held, event) in enumerate(released):
            try:
                await self._dispatch(held.room_id, event)
            except Exception:
                # Not recorded (the core's disk is full): hold it and the rest for next time.
                for again, _ in released[index:]:
                    self._held.hold(again.room_id, again.event, again.since)
                raise
            logger.info("event %s decrypted after its key arrived", held.event.event_id)

    async def run(self, closed: asyncio.Event) -> None:
        """Cross-sign the device, then until ``closed``: count what waited too long for its
        key and tell the moderators."""
        # Not on the way to "connected": a start should not wait for it.
        await self.cross_sign()
        every = max(0.5, min(5.0, self._options.key_wait / 2))
        while not closed.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(closed.wait(), every)
            for held in self._held.expired(time.monotonic()):
                self._lost(held)
            if self._tally:
                await self._tell()
            await self._answer_unreadable()

    def _decrypt(self, held: Waiting) -> Any | None:
        try:
            event = self._client.decrypt_event(held.event)
        except (EncryptionError, LocalProtocolError):
            return None
        return None if isinstance(event, BadEvent | UnknownBadEvent) else event

    def _lost(self, held: Waiting) -> None:
        kind = self._book.kind(held.room_id)
        if kind is RoomKind.PROTECTED:
            self._tally.add(
                held.room_id, held.event.sender, timestamp(held.event), time.monotonic()
            )
        elif kind is RoomKind.DIRECT:
            self._unanswered.add(held.room_id)
        # Neither the room of a direct chat (it points at the member) nor any content.
        where = held.room_id if kind is RoomKind.PROTECTED else f"a {kind.value} room"
        logger.warning("an encrypted message in %s stayed unreadable (no key)", where)

    async def _tell(self) -> None:
        notices = self._tally.notices(self._room_name, time.monotonic(), self._options.key_wait)
        for text in list(notices):
            if self._notify is None:
                continue
            try:
                await self._notify(text)
            except Exception as exc:
                logger.error("could not tell the moderators: %s", type(exc).__name__)

    async def _answer_unreadable(self) -> None:
        """Tell the member in each direct chat whose message stayed unreadable: a report
        must not vanish without a word."""
        rooms, self._unanswered = self._unanswered, set()
        text = self._options.unreadable_text
        for room_id in sorted(rooms) if text else ():
            try:
                answer = await self._client.room_send(
                    room_id, "m.room.message", {"msgtype": "m.notice", "body": text}
                )
            except Exception as exc:
                answer = exc
            if type(answer).__name__.endswith("Error"):
                logger.warning("could not answer in a direct room: %s", type(answer).__name__)

    async def _request_key(self, room_id: str, event: MegolmEvent) -> None:
        """Ask the bot's own devices (nio's request) and the sender's device for the key."""
        with contextlib.suppress(LocalProtocolError):  # already asked for this session
            try:
                await self._client.request_room_key(event)
            except Exception as exc:
                logger.info("room key request failed: %s", type(exc).__name__)
                return
            content = {
                "action": "request",
                "body": {
                    "algorithm": event.algorithm,
                    "room_id": room_id,
                    "sender_key": event.sender_key,
                    "session_id": event.session_id,
                },
                "request_id": event.session_id,
                "requesting_device_id": self._client.device_id,
            }
            message = ToDeviceMessage(
                "m.room_key_request", event.sender, event.device_id or "*", content
            )
            try:
                await self._client.to_device(message)
            except Exception as exc:
                logger.info("room key request failed: %s", type(exc).__name__)
