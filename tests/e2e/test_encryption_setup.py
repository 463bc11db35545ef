"""Turning the bot's encryption off, and an account whose cross-signing was set up elsewhere.

Each test runs its own `modbridge run` for an account of its own against a real Synapse, and
reads what the homeserver publishes about the bot's device, as members' clients do.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from nio import RoomCreateResponse, RoomPreset

from adapters.matrix.cross_signing import CrossSigningKeys, b64, public_key
from adapters.matrix.secret_storage import ALGORITHM, encode_recovery_key, encrypt_secret
from tests.e2e.crypto_helpers import cross_signed_device, until
from tests.e2e.matrix_helpers import client_for
from tests.e2e.service_helpers import ServiceProcess, service_env
from tests.e2e.synapse import RegisteredUser, SynapseServer

pytestmark = pytest.mark.synapse


@dataclass
class Place:
    server: SynapseServer
    room: str  # a public room, the services' mod room
    reader: RegisteredUser  # reads the published keys
    tmp: Path


async def _public_room(server: SynapseServer, owner: RegisteredUser) -> str:
    client = client_for(server, owner)
    try:
        created = await client.room_create(preset=RoomPreset.public_chat)
        assert isinstance(created, RoomCreateResponse), created
        room_id: str = created.room_id
        return room_id
    finally:
        await client.close()


@pytest.fixture(scope="module")
def place(synapse: SynapseServer, tmp_path_factory: pytest.TempPathFactory) -> Place:
    reader = synapse.register("keyreader")
    room = asyncio.run(_public_room(synapse, reader))
    return Place(synapse, room, reader, tmp_path_factory.mktemp("encryption-setup"))


def _service(place: Place, name: str, user: RegisteredUser, extra: str, **env: str):
    """A service on its own database for ``user``'s account (no protected rooms)."""
    tmp = place.tmp / name
    tmp.mkdir()
    config = tmp / "modbridge.toml"
    config.write_text(
        f"""
[matrix]
homeserver = "{place.server.base_url}"
user_id = "{user.user_id}"
mod_room = "{place.room}"
moderators = ["{place.reader.user_id}"]
{extra}
"""
    )
    secrets = {"MODBRIDGE_MATRIX__PASSWORD": user.password, **env}
    return ServiceProcess(config, service_env(tmp / "modbridge.db", **secrets), tmp / "log")


async def _logged(service: ServiceProcess, text: str) -> None:
    """Wait until the service has logged ``text`` (cross-signing runs once it is up)."""
    await until(lambda: _contains(service, text), f"{text!r} in the service's log")


async def _contains(service: ServiceProcess, text: str) -> bool:
    return text in service.log()


async def _published(place: Place, user_id: str) -> dict[str, Any]:
    """``/keys/query`` for ``user_id``, as a member's client asks it."""
    url = f"{place.server.base_url}/_matrix/client/v3/keys/query"
    headers = {"Authorization": f"Bearer {place.reader.access_token}"}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.post(url, json={"device_keys": {user_id: []}}) as response,
    ):
        assert response.status == 200, await response.text()
        answer: dict[str, Any] = await response.json()
        return answer


async def test_encryption_false_turns_the_device_s_encryption_off(place: Place) -> None:
    user = place.server.register("plainbot")
    service = _service(place, "plain-service", user, "encryption = false")
    service.start()
    try:
        keys = await _published(place, user.user_id)
    finally:
        service.terminate()
    assert not (place.tmp / "plain-service" / "modbridge.db.crypto").exists()
    devices = keys["device_keys"].get(user.user_id, {})
    assert not [d for d, k in devices.items() if k.get("keys")]  # no device keys uploaded
    assert "cross-signing" not in service.log()


async def _cross_signing_elsewhere(place: Place, user: RegisteredUser) -> tuple[str, str]:
    """Set the account up as Element does: cross-signing keys, and secret storage holding
    them under a recovery key. Returns the recovery key and the self-signing public key."""
    keys = CrossSigningKeys.generate()
    key = os.urandom(32)
    base = f"{place.server.base_url}/_matrix/client/v3"
    headers = {"Authorization": f"Bearer {user.access_token}"}
    check = encrypt_secret(key, "", "\0" * 32, os.urandom(16))
    account_data = {
        "m.secret_storage.default_key": {"key": "elsewhere"},
        "m.secret_storage.key.elsewhere": {
            "algorithm": ALGORITHM, "iv": check["iv"], "mac": check["mac"],
        },
    }  # fmt: skip
    for usage, seed in (("master", keys.master), ("self_signing", keys.self_signing)):
        assert seed is not None
        name = f"m.cross_signing.{usage}"
        secret = encrypt_secret(key, name, b64(seed), os.urandom(16))
        account_data[name] = {"encrypted": {"elsewhere": secret}}
    async with aiohttp.ClientSession(headers=headers) as http:
        body = keys.upload_body(user.user_id)
        async with http.post(f"{base}/keys/device_signing/upload", json=body) as response:
            answer = await response.json()
        if response.status == 401:
            body["auth"] = {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": user.user_id},
                "password": user.password,
                "session": answer["session"],
            }
            async with http.post(f"{base}/keys/device_signing/upload", json=body) as response:
                assert response.status == 200, await response.text()
        for kind, content in account_data.items():
            url = f"{base}/user/{user.user_id}/account_data/{kind}"
            async with http.put(url, json=content) as response:
                assert response.status == 200, await response.text()
    return encode_recovery_key(key), public_key(keys.self_signing)


async def test_an_account_cross_signed_elsewhere_is_used_through_the_recovery_key(
    place: Place,
) -> None:
    user = place.server.register("crossbot")
    recovery, ssk = await _cross_signing_elsewhere(place, user)
    without = _service(place, "cross-without", user, "")
    without.start()
    await _logged(without, "cross-signing")
    without.terminate()
    # Without the recovery key the bot works on, and says what the admin must do.
    assert "MODBRIDGE_MATRIX__RECOVERY_KEY" in without.log()
    service = _service(place, "cross-with", user, "", MODBRIDGE_MATRIX__RECOVERY_KEY=recovery)
    service.start()
    try:
        await _logged(service, "cross-signing:")
        keys = await _published(place, user.user_id)
    finally:
        service.terminate()
    published = keys["self_signing_keys"][user.user_id]["keys"]
    assert list(published.values()) == [ssk]  # the account's own key, not a new one
    devices = keys["device_keys"][user.user_id]
    assert [d for d in devices if cross_signed_device(keys, user.user_id, d)]
    assert recovery not in service.log()
    assert recovery.replace(" ", "") not in service.log()
