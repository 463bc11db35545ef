"""Members whose Matrix clients encrypt, as Element does: matrix-nio with its e2e extra.

Each member has its own crypto store in a temp dir, uploads its device keys, reads what it
can decrypt, and sends with nio's ordinary ``room_send`` (room keys shared with the devices
it knows). Two misbehaving senders exist for the tests: one whose room key reaches the bot
only after the message (``send_key_late``) and one who never shares it (``withhold_key``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from Crypto.Signature import eddsa
from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinResponse,
    MegolmEvent,
    RoomCreateResponse,
    RoomKeyRequest,
    RoomMessage,
    RoomPreset,
    RoomSendResponse,
    SyncResponse,
)
from nio.store import SqliteStore

from adapters.matrix.crypto import upkeep
from tests.e2e.synapse import RegisteredUser, SynapseServer
from tests.fakes import Check, eventually

ENCRYPTION_STATE = {
    "type": "m.room.encryption",
    "state_key": "",
    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
}
UNDECRYPTABLE = "<undecryptable>"


async def until(check: Check, what: str, within: float = 20.0) -> None:
    """Wait until ``await check()`` holds (a helper for loops that sync members, which take
    longer than a plain send)."""
    await eventually(check, what, within, step=0.2)


@dataclass
class Seen:
    """One room event as the member's client shows it."""

    event_id: str
    sender: str
    body: str
    msgtype: str
    encrypted: bool


@dataclass
class EncryptingMember:
    """A logged-in nio client with encryption on, and what its syncs have shown it."""

    user: RegisteredUser
    client: AsyncClient
    seen: dict[str, list[Seen]] = field(default_factory=dict)

    @classmethod
    def open(cls, server: SynapseServer, user: RegisteredUser, store: Path) -> EncryptingMember:
        """The member's client on its registered device, with its own crypto store."""
        store.mkdir(parents=True, exist_ok=True)
        config = AsyncClientConfig(
            max_limit_exceeded=0,
            max_timeouts=0,
            request_timeout=10.0,
            # A new client on the same store goes on from the last sync: to-device messages
            # (room keys) are never delivered twice, as with a client that stays up.
            store_sync_tokens=True,
            encryption_enabled=True,
            store=SqliteStore,
        )
        client = AsyncClient(server.base_url, user.user_id, store_path=str(store), config=config)
        client.restore_login(user.user_id, user.device_id, user.access_token)
        return cls(user=user, client=client)

    async def sync(self, *, join_invites: bool = True) -> None:
        """One sync: read what arrived, join invitations, keep the keys in order."""
        # A new client on an old store: the rooms' full state, the events since last time.
        response = await self.client.sync(timeout=0, full_state=not self.client.next_batch)
        assert isinstance(response, SyncResponse), response
        for room_id, info in response.rooms.join.items():
            for event in info.timeline.events:
                self._record(room_id, event)
        await upkeep(self.client)
        if join_invites:
            for room_id in response.rooms.invite:
                answer = await self.client.join(room_id)
                assert isinstance(answer, JoinResponse), answer

    def _record(self, room_id: str, event: Any) -> None:
        if isinstance(event, MegolmEvent):
            seen = Seen(event.event_id, event.sender, UNDECRYPTABLE, "", True)
        elif isinstance(event, RoomMessage):
            content = event.source.get("content", {})
            seen = Seen(
                event.event_id,
                event.sender,
                str(content.get("body", "")),
                str(content.get("msgtype", "")),
                bool(getattr(event, "decrypted", False)),
            )
        else:
            return
        self.seen.setdefault(room_id, []).append(seen)

    def texts(self, room_id: str, sender: str | None = None) -> list[str]:
        """Bodies the member has read in ``room_id`` (by ``sender``), oldest first."""
        return [s.body for s in self.seen.get(room_id, []) if sender in (None, s.sender)]

    async def say(self, room_id: str, text: str) -> Any:
        """Send ``text`` as a member's client does; return nio's answer unchecked."""
        if room_id not in self.client.rooms:
            await self.sync()
        return await self.client.room_send(
            room_id,
            "m.room.message",
            {"msgtype": "m.text", "body": text},
            ignore_unverified_devices=True,
        )

    async def create_encrypted_room(self, *, invite: list[str], direct: bool = False) -> str:
        """A private encrypted room (a direct one: as Element X makes a DM)."""
        created = await self.client.room_create(
            is_direct=direct,
            invite=invite,
            preset=RoomPreset.trusted_private_chat,
            initial_state=[ENCRYPTION_STATE],
        )
        assert isinstance(created, RoomCreateResponse), created
        room_id: str = created.room_id
        return room_id

    async def send_key_late(self, room_id: str, text: str, to: list[str]) -> tuple[str, Any]:
        """Send ``text`` under a new room key, keeping the key's to-device message for later.

        Returns the event id and a coroutine function that delivers the key to ``to``.
        """
        olm = self.client.olm
        await self._prepare(room_id, to)
        payloads = list(olm.share_group_session_parallel(room_id, to, True))
        olm.outbound_group_sessions[room_id].shared = True
        sent = await self.say(room_id, text)
        assert isinstance(sent, RoomSendResponse), sent

        async def deliver() -> None:
            for _, messages in payloads:
                await self._put_to_device("m.room.encrypted", messages)

        return sent.event_id, deliver

    async def withhold_key(self, room_id: str, text: str) -> str:
        """Send ``text`` under a room key shared with nobody (a key-withholding client)."""
        olm = self.client.olm
        await self._prepare(room_id, [])
        olm.create_outbound_group_session(room_id)
        olm.outbound_group_sessions[room_id].shared = True
        sent = await self.say(room_id, text)
        assert isinstance(sent, RoomSendResponse), sent
        event_id: str = sent.event_id
        return event_id

    async def forward_requested_key(self, room_id: str, session_id: str, within: float) -> str:
        """Answer the first ``m.room_key_request`` for the member's own ``session_id`` by
        forwarding the session (``m.forwarded_room_key``, Olm-encrypted to the requesting
        device), as a client answering a key request does. Returns who asked."""
        olm = self.client.olm
        deadline = asyncio.get_running_loop().time() + within
        while True:
            response = await self.client.sync(timeout=500)
            assert isinstance(response, SyncResponse), response
            asked = [
                event
                for event in response.to_device_events
                if isinstance(event, RoomKeyRequest) and event.session_id == session_id
            ]
            if asked:
                break
            assert asyncio.get_running_loop().time() < deadline, "no key request came"
        request = asked[0]
        if self.client.should_query_keys:
            await self.client.keys_query()
        device = self.client.device_store[request.sender][request.requesting_device_id]
        if olm.session_store.get(device.curve25519) is None:
            await self.client.keys_claim({request.sender: [device.device_id]})
        own_key = olm.account.identity_keys["curve25519"]
        group = olm.inbound_group_store.get(room_id, own_key, session_id)
        session = olm.session_store.get(device.curve25519)
        message = olm._encrypt_forwarding_key(room_id, group, session, device)
        answer = await self.client.to_device(message)
        assert type(answer).__name__ == "ToDeviceResponse", answer
        sender: str = request.sender
        return sender

    async def _prepare(self, room_id: str, users: list[str]) -> None:
        await self.sync()
        room = self.client.rooms[room_id]
        if not room.members_synced:
            await self.client.joined_members(room_id)
        if self.client.should_query_keys:
            await self.client.keys_query()
        missing = self.client.get_missing_sessions(room_id)
        missing = {user: devices for user, devices in missing.items() if user in users}
        if missing:
            await self.client.keys_claim(missing)

    async def _put_to_device(self, event_type: str, body: dict[str, Any]) -> None:
        url = f"{self.client.homeserver}/_matrix/client/v3/sendToDevice/{event_type}/"
        url += uuid.uuid4().hex
        headers = {"Authorization": f"Bearer {self.client.access_token}"}
        async with aiohttp.ClientSession() as http, http.put(url, json=body, headers=headers) as r:
            assert r.status == 200, await r.text()

    async def device_keys_of(self, user_id: str) -> dict[str, Any]:
        """``/keys/query`` for ``user_id``, as the homeserver publishes it."""
        url = f"{self.client.homeserver}/_matrix/client/v3/keys/query"
        headers = {"Authorization": f"Bearer {self.client.access_token}"}
        body = {"device_keys": {user_id: []}}
        async with aiohttp.ClientSession() as http, http.post(url, json=body, headers=headers) as r:
            assert r.status == 200, await r.text()
            answer: dict[str, Any] = await r.json()
            return answer

    async def close(self) -> None:
        await self.client.close()


def canonical(value: dict[str, Any]) -> bytes:
    """Matrix canonical JSON of an object without its signatures and unsigned parts."""
    stripped = {k: v for k, v in value.items() if k not in ("signatures", "unsigned")}
    text = json.dumps(stripped, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode()


def signed_by(value: dict[str, Any], user_id: str, public_key: str) -> bool:
    """Whether ``value`` carries a valid Ed25519 signature of ``user_id``'s ``public_key``."""
    signature = value.get("signatures", {}).get(user_id, {}).get(f"ed25519:{public_key}")
    if not signature:
        return False
    key = eddsa.import_public_key(_unpadded(public_key))
    try:
        eddsa.new(key, "rfc8032").verify(canonical(value), _unpadded(signature))
    except ValueError:
        return False
    return True


def cross_signed_device(keys: dict[str, Any], user_id: str, device_id: str) -> bool:
    """What a client that trusts only cross-signed devices checks before sharing a key:
    ``device_id`` is signed by ``user_id``'s self-signing key, itself signed by the master."""
    master = keys.get("master_keys", {}).get(user_id)
    self_signing = keys.get("self_signing_keys", {}).get(user_id)
    device = keys.get("device_keys", {}).get(user_id, {}).get(device_id)
    if not master or not self_signing or not device:
        return False
    (master_key,) = master["keys"].values()
    (ssk,) = self_signing["keys"].values()
    return signed_by(self_signing, user_id, master_key) and signed_by(device, user_id, ssk)


def _unpadded(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))
