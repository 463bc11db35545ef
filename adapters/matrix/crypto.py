"""The bot's Matrix device doing end-to-end encryption (matrix-nio's e2e extra, vodozemac).

One Olm machine per device: the syncing client owns it (it receives the keys), and the
executor's client borrows it (:func:`share_crypto`), since two machines on one device would
hand out conflicting one-time keys and never see each other's room keys. The crypto store is
nio's SQLite store in a directory beside the database, owner-only, named by the user and the
device the connection keeps across restarts; its pickles are encrypted with a key kept in the
database, so the directory alone gives nothing away.

A moderation bot cannot verify every member's devices: it shares room keys with every
joined member's device it knows (``ignore_unverified_devices``) and reads messages from
unverified devices like any other.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    AsyncClientConfig,
    ErrorResponse,
    MatrixRoom,
    MegolmEvent,
    RoomMessage,
    RoomMessageNotice,
)
from nio.crypto import ENCRYPTION_ENABLED
from nio.exceptions import EncryptionError, LocalProtocolError
from nio.store import SqliteStore

from adapters.matrix.forwarded_keys import accept_keys_forwarded_by_their_sender
from adapters.matrix.responses import client_config
from domain.ports import KeyValueStore, TransientError

logger = logging.getLogger(__name__)

KEY_PICKLE = "matrix.pickle_key"
ENCRYPTION_EVENT = "m.room.encryption"
UNREADABLE = "could not be read (encrypted)"


class ServiceClient(AsyncClient):  # type: ignore[misc]  # nio is untyped
    """nio's client, loading a crypto store only where and when the connection says.

    With the e2e extra installed nio loads a store on every ``restore_login``, and refuses
    one without a device id (a first login with an access token has none yet).
    """

    def load_store(self) -> None:
        """nio's, once the connection has chosen the store's place (and knows the device)."""
        if self.store_path and self.config.encryption_enabled:
            super().load_store()
            if self.olm is not None:
                accept_keys_forwarded_by_their_sender(self.olm)


class EncryptingClient(ServiceClient):
    """A nio client whose sends trust members' devices and know every room's encryption.

    nio refuses to send into an encrypted room with an unverified device in it, and into a
    room its sync has not seen yet; a moderation bot must do both (a warning goes into a
    direct room seconds old).
    """

    async def room_send(self, room_id: str, message_type: str, content: Any, *args: Any,
                        **kwargs: Any) -> Any:  # fmt: skip
        """nio's ``room_send``, with ``ignore_unverified_devices`` always on."""
        kwargs["ignore_unverified_devices"] = True
        if self.olm is not None and room_id not in self.rooms:
            await self._learn_room(room_id)
        return await super().room_send(room_id, message_type, content, *args, **kwargs)

    async def _learn_room(self, room_id: str) -> None:
        """Add a room the sync has not shown yet, encrypted or not as its state says.

        Guessing "plain" would send a confidential text in the clear into an encrypted room.
        """
        answer = await self.room_get_state_event(room_id, ENCRYPTION_EVENT)
        if isinstance(answer, ErrorResponse):
            content: Any = {}
            errcode = answer.status_code
        else:
            content = getattr(answer, "content", None)
            if not isinstance(content, dict):
                raise TransientError(f"cannot tell whether {room_id} is encrypted")
            errcode = content.get("errcode")
        if errcode not in (None, "M_NOT_FOUND"):
            raise TransientError(f"cannot tell whether {room_id} is encrypted: {errcode}")
        encrypted = errcode is None and bool(content.get("algorithm"))
        if room_id not in self.rooms:
            self.rooms[room_id] = MatrixRoom(room_id, self.user_id, encrypted)
            if encrypted:
                self.encrypted_rooms.add(room_id)


def decrypted_or_placeholder(client: AsyncClient, room_id: str, event: MegolmEvent) -> Any:
    """``event`` decrypted with the room keys ``client`` has, or a notice standing for it.

    The stand-in is an m.notice from the same sender saying :data:`UNREADABLE`, so that
    evidence names who wrote it and says plainly that its text is unknown.
    """
    if client.olm is not None:
        event.room_id = room_id
        try:
            decrypted = client.decrypt_event(event)
        except (EncryptionError, LocalProtocolError):
            decrypted = None
        if isinstance(decrypted, RoomMessage):
            return decrypted
    source = {
        "type": "m.room.message",
        "event_id": event.event_id,
        "sender": event.sender,
        "origin_server_ts": event.server_timestamp,
        "content": {"msgtype": "m.notice", "body": UNREADABLE},
    }
    return RoomMessageNotice.from_dict(source)


def make_client(homeserver: str, user_id: str, *, encrypted: bool) -> AsyncClient:
    """A client on the service's terms (nio never retries): encrypting, or as before."""
    if encrypted:
        return EncryptingClient(homeserver, user_id, config=crypto_config())
    return ServiceClient(homeserver, user_id, config=client_config())


def encryption_available() -> bool:
    """Whether nio's e2e extra (vodozemac) is installed."""
    return bool(ENCRYPTION_ENABLED)


def crypto_config(*, request_timeout: float = 10.0) -> AsyncClientConfig:
    """The syncing client's config with encryption: nio never retries (see client_config)."""
    return AsyncClientConfig(
        max_limit_exceeded=0,
        max_timeouts=0,
        request_timeout=request_timeout,
        store_sync_tokens=False,
        encryption_enabled=True,
        store=SqliteStore,
        store_name="",
    )


def prepare_store_dir(path: Path) -> None:
    """Create the crypto store's directory owner-only, and keep what is in it owner-only."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    for entry in path.iterdir():
        if entry.is_file():
            entry.chmod(0o600)


async def open_store(client: AsyncClient, path: Path, state: KeyValueStore) -> None:
    """Load (or create) the crypto store of ``client``'s device under ``path``.

    Call it once the device id is known. The pickle key lives in the database.
    """
    if client.olm is not None:
        return
    key = await state.get(KEY_PICKLE)
    if key is None:
        key = secrets.token_urlsafe(32)
        await state.set(KEY_PICKLE, key)
    prepare_store_dir(path)
    old_umask = os.umask(0o077)  # the store's SQLite file is created owner-only
    try:
        client.config = dataclasses.replace(client.config, pickle_key=key)
        client.store_path = str(path)
        client.load_store()
    finally:
        os.umask(old_umask)
    prepare_store_dir(path)
    logger.info("Matrix encryption on for device %s", client.device_id)


def share_crypto(owner: AsyncClient, follower: AsyncClient) -> None:
    """Let ``follower`` (on the same login) encrypt with ``owner``'s Olm machine and rooms."""
    follower.store = owner.store
    follower.olm = owner.olm
    follower.rooms = owner.rooms
    follower.encrypted_rooms = owner.encrypted_rooms
    follower.sharing_session = owner.sharing_session


async def upkeep(client: AsyncClient) -> None:
    """What nio's ``sync_forever`` does between syncs: keys up, keys asked, to-device out.

    A failure is logged and retried after the next sync; it never stops the sync loop.
    """
    if client.olm is None:
        return
    steps: list[tuple[str, Any]] = []
    if client.should_upload_keys:
        steps.append(("upload the device's keys", client.keys_upload))
    if client.should_query_keys:
        steps.append(("query members' device keys", client.keys_query))
    if client.should_claim_keys:
        users = client.get_users_for_key_claiming()
        steps.append(("claim one-time keys", lambda: client.keys_claim(users)))
    if client.outgoing_to_device_messages:
        steps.append(("send to-device messages", client.send_to_device_messages))
    for doing, step in steps:
        try:
            answer = await step()
        except Exception as exc:
            logger.warning("encryption upkeep: could not %s: %s", doing, type(exc).__name__)
            continue
        if type(answer).__name__.endswith("Error"):
            logger.warning("encryption upkeep: could not %s: %s", doing, answer)
