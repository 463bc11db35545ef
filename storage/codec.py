"""Actions to and from the outbox's JSON payload.

The outbox stores a model `Action` as a kind plus a JSON object so the executor can rebuild the
exact action after a restart. Written by hand, not by reflection: the stored shape is a
contract with rows written by older versions, and it must not change when a field is renamed.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from domain.model import (
    Account,
    Action,
    Ban,
    DeleteMessage,
    Mute,
    NotifyModerators,
    PauseDms,
    Platform,
    Remove,
    ResumeDms,
    Tell,
    Unban,
    Unmute,
    Warn,
)
from storage.db import from_db_time, to_db_time


def encode_action(action: Action) -> str:
    """The JSON payload stored for ``action`` (keys sorted, so equal actions give equal text)."""
    payload: dict[str, Any]
    match action:
        case DeleteMessage():
            payload = {
                "platform": action.platform.value,
                "channel_id": action.channel_id,
                "message_id": action.message_id,
                "reason": action.reason,
            }
        case NotifyModerators():
            payload = {"text": action.text}
            if action.modlog:  # absent in rows written before the modlog existed
                payload["modlog"] = True
        case Tell():
            payload = {"target": _account(action.target), "text": action.text}
        case Warn():
            payload = {"target": _account(action.target), "reason": action.reason}
            payload["clause"] = action.clause
        case Mute():
            payload = {"target": _account(action.target), "reason": action.reason}
            payload["until"] = to_db_time(action.until)
        case Ban():
            payload = {"target": _account(action.target), "reason": action.reason}
            payload["until"] = None if action.until is None else to_db_time(action.until)
            if action.purge is not None:
                payload["purge_seconds"] = int(action.purge.total_seconds())
        case Unmute() | Remove() | Unban():
            payload = {"target": _account(action.target), "reason": action.reason}
        case PauseDms():
            payload = {"space_id": action.space_id, "until": to_db_time(action.until)}
            payload["reason"] = action.reason
        case ResumeDms():
            payload = {"space_id": action.space_id, "reason": action.reason}
    return json.dumps(payload, sort_keys=True, ensure_ascii=False)


def decode_action(kind: str, payload: str) -> Action:
    """Rebuild the action stored as ``kind`` and ``payload``; raises ValueError when unknown."""
    data: dict[str, Any] = json.loads(payload)
    if kind == "delete":
        return DeleteMessage(
            platform=Platform(data["platform"]),
            channel_id=str(data["channel_id"]),
            message_id=str(data["message_id"]),
            reason=str(data["reason"]),
        )
    if kind == "notify":
        return NotifyModerators(text=str(data["text"]), modlog=bool(data.get("modlog", False)))
    if kind == "pause-dms":
        until = from_db_time(data["until"])
        return PauseDms(space_id=str(data["space_id"]), until=until, reason=str(data["reason"]))
    if kind == "resume-dms":
        return ResumeDms(space_id=str(data["space_id"]), reason=str(data["reason"]))
    target = Account(
        platform=Platform(data["target"]["platform"]),
        id=str(data["target"]["id"]),
        display_name=str(data["target"]["display_name"]),
    )
    if kind == "tell":
        return Tell(target=target, text=str(data["text"]))
    reason = str(data["reason"])
    match kind:
        case "warn":
            return Warn(target=target, reason=reason, clause=str(data["clause"]))
        case "mute":
            return Mute(target=target, reason=reason, until=from_db_time(data["until"]))
        case "unmute":
            return Unmute(target=target, reason=reason)
        case "remove":
            return Remove(target=target, reason=reason)
        case "ban":
            until = data["until"]
            purge = data.get("purge_seconds")
            return Ban(
                target=target,
                reason=reason,
                until=None if until is None else from_db_time(until),
                purge=None if purge is None else timedelta(seconds=int(purge)),
            )
        case "unban":
            return Unban(target=target, reason=reason)
    raise ValueError(f"unknown action kind {kind!r}")


def _account(account: Account) -> dict[str, str]:
    return {
        "platform": account.platform.value,
        "id": account.id,
        "display_name": account.display_name,
    }
