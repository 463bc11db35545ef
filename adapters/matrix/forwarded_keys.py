"""Room keys forwarded by the device that made them, in answer to the bot's key request.

matrix-nio accepts an ``m.forwarded_room_key`` only from the bot's own verified devices. A
moderation bot has no other devices: the key of a message it could not read comes, when it
comes late, from the sender's own device answering the bot's ``m.room_key_request``
(:mod:`adapters.matrix.e2ee` asks it). Such a forward is as trustworthy as the original
``m.room_key``: it arrived Olm-encrypted from the very Curve25519 key the Megolm session
names as its sender, so only the session's creator could have sent it. It is accepted when

- the bot asked for that session (nio's outgoing request, same room and algorithm);
- the Olm sender key is the session's ``sender_key`` and the forward went through no other
  device (empty ``forwarding_curve25519_key_chain``);
- the claimed Ed25519 key is the one the sending device published.

Everything else keeps nio's rule.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

MEGOLM = "m.megolm.v1.aes-sha2"


def accept_keys_forwarded_by_their_sender(olm: Any) -> None:
    """Widen ``olm``'s (nio's Olm machine) rule for forwarded keys as the module says."""
    nio_rule = olm._should_accept_forward

    def should_accept(sender: str, sender_key: str, event: Any) -> bool:
        if forwarded_by_session_sender(olm, sender_key, event):
            logger.info("accepting a requested room key forwarded by its sender's device")
            return True
        return bool(nio_rule(sender, sender_key, event))

    olm._should_accept_forward = should_accept


def forwarded_by_session_sender(olm: Any, sender_key: str, event: Any) -> bool:
    """Whether ``event`` (a ForwardedRoomKeyEvent Olm-decrypted from ``sender_key``) is a
    session the bot requested, forwarded by the device that created it."""
    content = event.source.get("content", {}) if isinstance(event.source, dict) else {}
    request = olm.outgoing_key_requests.get(event.session_id)
    if request is None or event.algorithm != MEGOLM:
        return False
    if (request.room_id, request.session_id, request.algorithm) != (
        event.room_id, event.session_id, event.algorithm,
    ):  # fmt: skip
        return False
    if content.get("sender_key") != sender_key or content.get("forwarding_curve25519_key_chain"):
        return False
    device = olm.device_store.device_from_sender_key(event.sender, sender_key)
    return device is not None and device.ed25519 == content.get("sender_claimed_ed25519_key")
