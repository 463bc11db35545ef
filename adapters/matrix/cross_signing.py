"""Cross-signing for the bot's account, so that clients that trust only cross-signed devices
(MSC4153, where Element is going) still share room keys with the bot.

matrix-nio 0.26 has no cross-signing, and vodozemac's bindings sign only with the device
key; this module closes the gap with the homeserver's client API and Ed25519 from
pycryptodome (already a dependency of nio): three keys (master, self-signing,
user-signing), uploaded with ``/keys/device_signing/upload`` (user-interactive auth with the
bot's password when the homeserver asks), then the bot's own device signed with the
self-signing key through ``/keys/signatures/upload``. The private keys stay in the crypto
store's directory, owner-only, and are reused on every start.

When the account already has cross-signing keys made elsewhere (an admin set it up in
Element), the bot cannot make new ones without throwing those away: it reads the
self-signing key from the account's secret storage with the recovery key the admin gives in
``MODBRIDGE_MATRIX__RECOVERY_KEY`` (:mod:`adapters.matrix.secret_storage`).
"""

from __future__ import annotations

import base64
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from Crypto.Signature import eddsa

from adapters.matrix.secret_storage import SecretStorageError, read_secrets

logger = logging.getLogger(__name__)

KEYS_FILE = "cross_signing.json"
USAGES = ("master", "self_signing", "user_signing")


class CrossSigningError(Exception):
    """Cross-signing could not be set up; the bot works on, untrusted by careful clients."""


def b64(data: bytes) -> str:
    """Unpadded standard base64, as Matrix writes keys and signatures."""
    return base64.b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    """Decode unpadded (or padded) base64."""
    return base64.b64decode(text + "=" * (-len(text) % 4))


def canonical_json(value: dict[str, Any]) -> bytes:
    """The canonical JSON Matrix signs: sorted keys, no spaces, UTF-8, no signatures."""
    stripped = {k: v for k, v in value.items() if k not in ("signatures", "unsigned")}
    text = json.dumps(stripped, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode()


def public_key(seed: bytes) -> str:
    """The unpadded-base64 Ed25519 public key of a 32-byte private seed."""
    key = eddsa.import_private_key(seed)
    return b64(key.public_key().export_key(format="raw"))


def signed(value: dict[str, Any], user_id: str, seed: bytes) -> dict[str, Any]:
    """``value`` with ``user_id``'s signature by the key of ``seed`` added to its own."""
    signer = eddsa.new(eddsa.import_private_key(seed), "rfc8032")
    signature = b64(signer.sign(canonical_json(value)))
    signatures = {user: dict(sigs) for user, sigs in value.get("signatures", {}).items()}
    signatures.setdefault(user_id, {})[f"ed25519:{public_key(seed)}"] = signature
    return {**{k: v for k, v in value.items() if k != "unsigned"}, "signatures": signatures}


@dataclass(frozen=True, slots=True)
class CrossSigningKeys:
    """The account's three private seeds (the user-signing one may be unknown: recovered)."""

    master: bytes | None
    self_signing: bytes
    user_signing: bytes | None

    @classmethod
    def generate(cls) -> CrossSigningKeys:
        return cls(os.urandom(32), os.urandom(32), os.urandom(32))

    @classmethod
    def load(cls, path: Path) -> CrossSigningKeys | None:
        if not path.exists():
            return None
        seeds = json.loads(path.read_text())
        found = {usage: unb64(seeds[usage]) if seeds.get(usage) else None for usage in USAGES}
        if found["self_signing"] is None:
            return None
        return cls(found["master"], found["self_signing"], found["user_signing"])

    def save(self, path: Path) -> None:
        """Write the seeds owner-only (never printed, never logged)."""
        seeds = {
            usage: b64(seed) if seed else None
            for usage, seed in zip(
                USAGES, (self.master, self.self_signing, self.user_signing), strict=True
            )
        }
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump(seeds, file)
        path.chmod(0o600)

    def upload_body(self, user_id: str) -> dict[str, Any]:
        """The ``/keys/device_signing/upload`` body: the public keys, each signed by master."""
        if self.master is None or self.user_signing is None:
            raise CrossSigningError("new cross-signing keys need all three private keys")
        master = _key_object(user_id, "master", public_key(self.master))
        return {
            "master_key": master,
            "self_signing_key": signed(
                _key_object(user_id, "self_signing", public_key(self.self_signing)),
                user_id,
                self.master,
            ),
            "user_signing_key": signed(
                _key_object(user_id, "user_signing", public_key(self.user_signing)),
                user_id,
                self.master,
            ),
        }


def _key_object(user_id: str, usage: str, key: str) -> dict[str, Any]:
    return {"user_id": user_id, "usage": [usage], "keys": {f"ed25519:{key}": key}}


class CrossSigning:
    """Sets up (or reuses) cross-signing for ``user_id`` and signs ``device_id`` with it."""

    def __init__(
        self,
        *,
        homeserver: str,
        access_token: str,
        user_id: str,
        device_id: str,
        password: str | None,
        recovery_key: str | None,
        store_dir: Path,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._base = homeserver.rstrip("/") + "/_matrix/client/v3"
        self._headers = {"Authorization": f"Bearer {access_token}"}
        self._me = user_id
        self._device = device_id
        self._password = password
        self._recovery_key = recovery_key
        self._path = store_dir / KEYS_FILE
        self._session = session

    async def ensure(self) -> str:
        """Make sure the device is cross-signed; return what was done (for the log).

        Raises CrossSigningError when it cannot be done.
        """
        # The bot's own HTTP session when it has one: no extra connections to the homeserver.
        session = self._session
        if session is None or session.closed:
            async with aiohttp.ClientSession() as http:
                return await self._ensure(http)
        return await self._ensure(session)

    async def _ensure(self, http: aiohttp.ClientSession) -> str:
        published = await self._query(http)
        master = published.get("master_keys", {}).get(self._me)
        keys = CrossSigningKeys.load(self._path)
        done = "reused the stored cross-signing keys"
        if master is None:
            keys = keys if keys is not None and keys.master else CrossSigningKeys.generate()
            keys.save(self._path)
            await self._upload(http, keys)
            published = await self._query(http)
            done = "set up cross-signing for the account"
        elif keys is None or not self._matches(published, keys):
            keys = await self._recover(http, published)
            keys.save(self._path)
            done = "took the account's cross-signing keys from its secret storage"
        device = published.get("device_keys", {}).get(self._me, {}).get(self._device)
        if device is None:
            raise CrossSigningError(f"the homeserver has no keys of device {self._device}")
        ssk = public_key(keys.self_signing)
        if f"ed25519:{ssk}" not in device.get("signatures", {}).get(self._me, {}):
            body = {self._me: {self._device: signed(device, self._me, keys.self_signing)}}
            answer = await self._post(http, "/keys/signatures/upload", body)
            if answer.get("failures"):
                raise CrossSigningError(f"signing the device failed: {answer['failures']}")
            done += f"; signed device {self._device}"
        return done

    def _matches(self, published: dict[str, Any], keys: CrossSigningKeys) -> bool:
        ssk = published.get("self_signing_keys", {}).get(self._me, {}).get("keys", {})
        return public_key(keys.self_signing) in ssk.values()

    async def _recover(
        self, http: aiohttp.ClientSession, published: dict[str, Any]
    ) -> CrossSigningKeys:
        if not self._recovery_key:
            raise CrossSigningError(
                "the account already has cross-signing keys made elsewhere: give the bot its "
                "recovery key in MODBRIDGE_MATRIX__RECOVERY_KEY (see the README)"
            )
        try:
            names = [f"m.cross_signing.{usage}" for usage in USAGES]
            seeds = await read_secrets(
                http, self._base, self._headers, self._me, self._recovery_key, names
            )
        except SecretStorageError as exc:
            raise CrossSigningError(f"cannot read the account's secret storage: {exc}") from exc
        ssk = seeds.get("m.cross_signing.self_signing")
        if ssk is None:
            raise CrossSigningError("the secret storage holds no self-signing key")
        keys = CrossSigningKeys(
            seeds.get("m.cross_signing.master"), ssk, seeds.get("m.cross_signing.user_signing")
        )
        if not self._matches(published, keys):
            raise CrossSigningError("the self-signing key in secret storage is not the published")
        return keys

    async def _upload(self, http: aiohttp.ClientSession, keys: CrossSigningKeys) -> None:
        body = keys.upload_body(self._me)
        url = self._base + "/keys/device_signing/upload"
        async with http.post(url, json=body, headers=self._headers) as response:
            answer = await response.json()
            if response.status == 200:
                return
            if response.status != 401 or "session" not in answer:
                raise CrossSigningError(f"uploading the keys failed: HTTP {response.status}")
        if self._password is None:
            raise CrossSigningError(
                "the homeserver wants the account password to upload cross-signing keys, "
                "and the bot logs in with an access token"
            )
        body["auth"] = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": self._me},
            "password": self._password,
            "session": answer["session"],
        }
        await self._post(http, "/keys/device_signing/upload", body)

    async def _query(self, http: aiohttp.ClientSession) -> dict[str, Any]:
        return await self._post(http, "/keys/query", {"device_keys": {self._me: []}})

    async def _post(
        self, http: aiohttp.ClientSession, path: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        async with http.post(self._base + path, json=body, headers=self._headers) as response:
            answer: dict[str, Any] = await response.json()
            if response.status != 200:
                # The errcode only: the body of a failed auth may echo what was sent.
                raise CrossSigningError(f"{path}: HTTP {response.status} {answer.get('errcode')}")
            return answer
