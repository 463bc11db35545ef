"""The pure parts of Matrix encryption: held events, the unreadable count, cross-signing
signatures, and secret storage with a recovery key."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.matrix.cross_signing import CrossSigningKeys, canonical_json, public_key, signed
from adapters.matrix.secret_storage import (
    SecretStorageError,
    decode_recovery_key,
    decrypt_secret,
    encode_recovery_key,
    encrypt_secret,
)
from adapters.matrix.undecryptable import HeldEvents, UndecryptableTally
from tests.e2e.crypto_helpers import signed_by

T0 = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
ME = "@bot:example.org"


@dataclass
class FakeEvent:
    event_id: str
    sender: str = "@ann:example.org"


def test_held_events_are_bounded_in_number_oldest_first() -> None:
    held = HeldEvents(wait=60, limit=2)
    assert held.hold("!r", FakeEvent("$1"), 0.0) == []
    assert held.hold("!r", FakeEvent("$2"), 1.0) == []
    dropped = held.hold("!r", FakeEvent("$3"), 2.0)
    assert [d.event.event_id for d in dropped] == ["$1"]
    assert len(held) == 2


def test_held_events_are_released_when_they_decrypt_and_expire_otherwise() -> None:
    held = HeldEvents(wait=10)
    held.hold("!r", FakeEvent("$1"), 0.0)
    held.hold("!r", FakeEvent("$2"), 5.0)
    released = held.release(lambda w: "text" if w.event.event_id == "$2" else None)
    assert [(w.event.event_id, e) for w, e in released] == [("$2", "text")]
    assert held.expired(9.9) == []
    assert [w.event.event_id for w in held.expired(10.0)] == ["$1"]
    assert len(held) == 0


def test_the_count_is_one_notice_per_room_with_time_span_and_no_content() -> None:
    tally = UndecryptableTally(name_after=3)
    tally.add("!a", "@x:s", T0, 0.0)
    tally.add("!a", "@y:s", T0 + timedelta(minutes=2), 1.0)
    assert list(tally.notices(lambda r: "General", 5.0, 10.0)) == []  # not due yet
    (notice,) = tally.notices(lambda r: "General", 10.0, 10.0)
    assert notice.startswith("2 encrypted messages in General (!a) could not be read")
    assert "between 2026-12-03 10:00:00 and 10:02:00 UTC" in notice
    assert "@x:s" not in notice  # two messages from two people: nobody is named
    assert not tally


def test_a_member_who_keeps_sending_unreadable_messages_is_named() -> None:
    tally = UndecryptableTally(name_after=3)
    for second in range(2):
        tally.add("!a", "@x:s", T0 + timedelta(seconds=second), 0.0)
    (first,) = tally.notices(lambda r: r, 1.0, 1.0)
    assert "@x:s" not in first
    tally.add("!a", "@x:s", T0 + timedelta(minutes=5), 2.0)
    (second,) = tally.notices(lambda r: r, 3.0, 1.0)
    assert second.startswith("1 encrypted message in !a could not be read by the bot (at 2026-")
    assert "(at 2026-12-03 10:05:00 UTC): the sender's device" in second
    assert "so it was not moderated" in second
    assert "@x:s has sent 3 unreadable messages there so far" in second


def test_canonical_json_sorts_and_drops_signatures() -> None:
    value = {"b": 1, "a": "é", "signatures": {"x": {}}, "unsigned": {"age": 1}}
    assert canonical_json(value) == '{"a":"é","b":1}'.encode()


def test_cross_signing_keys_sign_as_clients_verify() -> None:
    keys = CrossSigningKeys.generate()
    body = keys.upload_body(ME)
    assert keys.master is not None
    master = public_key(keys.master)
    assert body["master_key"]["keys"] == {f"ed25519:{master}": master}
    assert signed_by(body["self_signing_key"], ME, master)
    assert signed_by(body["user_signing_key"], ME, master)
    device = {"user_id": ME, "device_id": "DEV", "keys": {"ed25519:DEV": "k"}}
    device = signed(device, ME, keys.self_signing)
    assert signed_by(device, ME, public_key(keys.self_signing))
    assert not signed_by({**device, "device_id": "OTHER"}, ME, public_key(keys.self_signing))


def test_cross_signing_keys_are_kept_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "cross_signing.json"
    keys = CrossSigningKeys.generate()
    keys.save(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert CrossSigningKeys.load(path) == keys


def test_a_recovery_key_round_trips_and_its_check_digit_is_checked() -> None:
    key = os.urandom(32)
    text = encode_recovery_key(key)
    assert text.startswith("Es")  # as Element shows them
    assert decode_recovery_key(text) == key
    assert decode_recovery_key(text.replace(" ", "")) == key
    broken = ("1" if text[-1] != "1" else "2").join([text[:-1], ""])
    with pytest.raises(SecretStorageError):
        decode_recovery_key(broken)


def test_a_secret_opens_only_with_its_key_and_name() -> None:
    key = os.urandom(32)
    stored = encrypt_secret(key, "m.cross_signing.self_signing", "c2VlZA", os.urandom(16))
    assert decrypt_secret(key, "m.cross_signing.self_signing", stored) == "c2VlZA"
    with pytest.raises(SecretStorageError):
        decrypt_secret(key, "m.cross_signing.master", stored)
    with pytest.raises(SecretStorageError):
        decrypt_secret(os.urandom(32), "m.cross_signing.self_signing", stored)
