"""Which of a room's recent events a ban's purge redacts (pure: the page as /messages gives it)."""

from __future__ import annotations

from typing import Any

from adapters.matrix.purge import to_redact

KIP = "@kip:hs"


def event(event_id: str, ts: int, sender: str = KIP, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "origin_server_ts": ts,
        "sender": sender,
        "type": "m.room.message",
        "content": {"msgtype": "m.text", "body": "..."},
        **extra,
    }


def test_the_members_messages_of_the_window_newest_first_until_the_window_starts() -> None:
    page = [
        event("$new", 5000),
        event("$other", 4000, sender="@ann:hs"),
        event("$join", 3500, type="m.room.member", state_key=KIP, content={"membership": "join"}),
        event("$gone", 3000, content={}, unsigned={"redacted_because": {}}),
        event("$mid", 2500),
        event("$old", 1000),
        event("$older", 500),
    ]
    ids, done = to_redact(page, KIP, since_ms=2000)
    assert ids == ["$new", "$mid"]  # not others', not state, not what is redacted already
    assert done


def test_a_page_inside_the_window_asks_for_the_next() -> None:
    ids, done = to_redact([event("$a", 9000), event("$b", 8000)], KIP, since_ms=1000)
    assert (ids, done) == (["$a", "$b"], False)
