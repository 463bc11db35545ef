"""Which forwarded room keys the bot accepts beyond nio's rule: only a session it asked for,
forwarded by the device whose Curve25519 key created it, under that device's Ed25519 key."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from adapters.matrix.forwarded_keys import MEGOLM, forwarded_by_session_sender

ROOM, SESSION, ALICE = "!room:example.org", "session-1", "@alice:example.org"
CURVE, ED = "alice-curve", "alice-ed"


def _olm(requested: bool = True, device_ed: str = ED) -> Any:
    requests = (
        {SESSION: SimpleNamespace(room_id=ROOM, session_id=SESSION, algorithm=MEGOLM)}
        if requested
        else {}
    )
    device = SimpleNamespace(ed25519=device_ed)
    store = SimpleNamespace(
        device_from_sender_key=lambda user, key: device if (user, key) == (ALICE, CURVE) else None
    )
    return SimpleNamespace(outgoing_key_requests=requests, device_store=store)


def _forward(**content: Any) -> Any:
    body = {
        "sender_key": CURVE,
        "sender_claimed_ed25519_key": ED,
        "forwarding_curve25519_key_chain": [],
        **content,
    }
    return SimpleNamespace(
        source={"content": body},
        sender=ALICE,
        room_id=content.get("room_id", ROOM),
        session_id=SESSION,
        algorithm=MEGOLM,
    )


def test_the_session_s_own_device_forwarding_a_requested_key_is_accepted() -> None:
    assert forwarded_by_session_sender(_olm(), CURVE, _forward())


@pytest.mark.parametrize(
    ("olm", "olm_sender", "event"),
    [
        (_olm(requested=False), CURVE, _forward()),  # never asked for
        (_olm(), "mallory-curve", _forward()),  # another device forwards alice's session
        (_olm(), CURVE, _forward(sender_key="bob-curve")),  # alice forwards someone else's
        (_olm(), CURVE, _forward(forwarding_curve25519_key_chain=["x"])),  # forwarded on
        (_olm(device_ed="other-ed"), CURVE, _forward()),  # claims a signing key not hers
        (_olm(), CURVE, _forward(room_id="!other:example.org")),  # not the room asked about
    ],
)
def test_any_other_forward_is_left_to_nio_s_rule(olm: Any, olm_sender: str, event: Any) -> None:
    assert not forwarded_by_session_sender(olm, olm_sender, event)
