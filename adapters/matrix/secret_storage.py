"""Reading secrets from a Matrix account's secret storage (SSSS) with its recovery key.

The recovery key Element shows ("EsT1 ...") is base58 of ``0x8B 0x01``, the 32-byte key and
a parity byte. The default key's description (``m.secret_storage.key.<id>``) proves the key
is right (a MAC of 32 zero bytes); each secret (``m.cross_signing.self_signing`` ...) is
AES-256-CTR with HMAC-SHA-256, both keys derived with HKDF-SHA-256 from the recovery key and
the secret's name (algorithm ``m.secret_storage.v1.aes-hmac-sha2``).
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Iterable
from hashlib import sha256
from typing import Any
from urllib.parse import quote

import aiohttp
from Crypto.Cipher import AES
from Crypto.Hash import SHA256
from Crypto.Protocol.KDF import HKDF

ALGORITHM = "m.secret_storage.v1.aes-hmac-sha2"
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_PREFIX = b"\x8b\x01"


class SecretStorageError(Exception):
    """The recovery key is wrong, or the account's secret storage cannot be read."""


def decode_recovery_key(text: str) -> bytes:
    """The 32-byte key of a recovery key as Element shows it (spaces allowed)."""
    number = 0
    digits = "".join(text.split())
    for char in digits:
        index = _BASE58.find(char)
        if index < 0:
            raise SecretStorageError("the recovery key has a character base58 does not use")
        number = number * 58 + index
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    raw = b"\x00" * (len(digits) - len(digits.lstrip("1"))) + raw
    parity = 0
    for byte in raw:
        parity ^= byte
    if len(raw) != 35 or not raw.startswith(_PREFIX) or parity != 0:
        raise SecretStorageError("this is not a recovery key (wrong length or check digit)")
    return raw[2:34]


def encode_recovery_key(key: bytes) -> str:
    """The recovery key text of a 32-byte key (the inverse of :func:`decode_recovery_key`)."""
    raw = _PREFIX + key
    parity = 0
    for byte in raw:
        parity ^= byte
    raw += bytes([parity])
    number = int.from_bytes(raw, "big")
    digits = ""
    while number:
        number, rest = divmod(number, 58)
        digits = _BASE58[rest] + digits
    digits = "1" * (len(raw) - len(raw.lstrip(b"\x00"))) + digits
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


def _keys(key: bytes, name: str) -> tuple[bytes, bytes]:
    derived = HKDF(key, 64, b"\x00" * 32, SHA256, context=name.encode())
    if not isinstance(derived, bytes):  # a tuple only when asked for several keys
        raise SecretStorageError("key derivation failed")
    return derived[:32], derived[32:]


def _b64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def encrypt_secret(key: bytes, name: str, secret: str, iv: bytes) -> dict[str, str]:
    """``secret`` encrypted under ``name`` as secret storage keeps it (for the key check and
    for tests that set an account up as Element would)."""
    aes_key, mac_key = _keys(key, name)
    iv = bytes([iv[0]]) + iv[1:8] + bytes([iv[8] & 0x7F]) + iv[9:16]
    cipher = AES.new(aes_key, AES.MODE_CTR, nonce=b"", initial_value=iv)
    ciphertext = cipher.encrypt(secret.encode())
    mac = hmac.new(mac_key, ciphertext, sha256).digest()
    return {
        "iv": base64.b64encode(iv).decode(),
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "mac": base64.b64encode(mac).decode(),
    }


def decrypt_secret(key: bytes, name: str, encrypted: dict[str, Any]) -> str:
    """The plain text of one encrypted secret; raises SecretStorageError on a bad MAC."""
    aes_key, mac_key = _keys(key, name)
    ciphertext = _b64(str(encrypted["ciphertext"]))
    mac = hmac.new(mac_key, ciphertext, sha256).digest()
    if not hmac.compare_digest(mac, _b64(str(encrypted["mac"]))):
        raise SecretStorageError(f"{name}: the recovery key does not open it")
    cipher = AES.new(aes_key, AES.MODE_CTR, nonce=b"", initial_value=_b64(str(encrypted["iv"])))
    return bytes(cipher.decrypt(ciphertext)).decode()


def check_key(key: bytes, description: dict[str, Any]) -> None:
    """Raise SecretStorageError unless ``key`` is the one ``description`` stands for."""
    if description.get("algorithm") != ALGORITHM:
        raise SecretStorageError(f"unsupported secret storage: {description.get('algorithm')}")
    if "mac" in description and "iv" in description:
        check = decrypt_or_none(key, description)
        if not check:
            raise SecretStorageError("the recovery key is not this account's")


def decrypt_or_none(key: bytes, description: dict[str, Any]) -> bool:
    """Whether the key's check value (32 zero bytes under the empty name) verifies."""
    aes_key, mac_key = _keys(key, "")
    cipher = AES.new(aes_key, AES.MODE_CTR, nonce=b"", initial_value=_b64(description["iv"]))
    ciphertext = cipher.encrypt(b"\x00" * 32)
    mac = hmac.new(mac_key, ciphertext, sha256).digest()
    return hmac.compare_digest(mac, _b64(description["mac"]))


async def read_secrets(
    http: aiohttp.ClientSession,
    base: str,
    headers: dict[str, str],
    user_id: str,
    recovery_key: str,
    names: Iterable[str],
) -> dict[str, bytes]:
    """The named secrets (base64 key seeds) of ``user_id``'s secret storage, decoded."""
    key = decode_recovery_key(recovery_key)
    default = await _account_data(http, base, headers, user_id, "m.secret_storage.default_key")
    key_id = str(default.get("key", ""))
    if not key_id:
        raise SecretStorageError("the account has no default secret storage key")
    description = f"m.secret_storage.key.{key_id}"
    check_key(key, await _account_data(http, base, headers, user_id, description))
    found: dict[str, bytes] = {}
    for name in names:
        try:
            stored = await _account_data(http, base, headers, user_id, name)
        except SecretStorageError:
            continue  # not every account keeps every secret
        encrypted = (stored.get("encrypted") or {}).get(key_id)
        if isinstance(encrypted, dict):
            found[name] = _b64(decrypt_secret(key, name, encrypted))
    return found


async def _account_data(
    http: aiohttp.ClientSession, base: str, headers: dict[str, str], user_id: str, kind: str
) -> dict[str, Any]:
    url = f"{base}/user/{quote(user_id)}/account_data/{quote(kind)}"
    async with http.get(url, headers=headers) as response:
        if response.status != 200:
            raise SecretStorageError(f"{kind}: HTTP {response.status}")
        answer: dict[str, Any] = await response.json()
        return answer
