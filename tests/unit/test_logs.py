"""The service's logging set-up keeps message text out of the log, libraries' lines too."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from nio import RoomMessage

from bridge.logs import LIBRARY_LEVELS, quiet_libraries

SECRET = "my private number is 0712 345 678"


@pytest.fixture
def restored() -> Iterator[None]:
    before = {name: logging.getLogger(name).level for name in LIBRARY_LEVELS}
    yield
    for name, level in before.items():
        logging.getLogger(name).setLevel(level)


def broken_event() -> dict[str, object]:
    """A message event without msgtype: any member can send one; nio cannot parse it."""
    return {
        "type": "m.room.message", "event_id": "$x", "sender": "@m:hs",
        "origin_server_ts": 1, "content": {"body": SECRET},
    }  # fmt: skip


def test_nio_would_log_the_text_of_an_event_it_cannot_parse(
    caplog: pytest.LogCaptureFixture, restored: None
) -> None:
    """Why the set-up exists: without it, nio writes the body into the log."""
    logging.getLogger("nio").setLevel(logging.WARNING)
    with caplog.at_level(logging.WARNING):
        RoomMessage.parse_event(broken_event())
    assert SECRET in caplog.text


def test_the_service_logging_keeps_it_out(caplog: pytest.LogCaptureFixture, restored: None) -> None:
    quiet_libraries()
    with caplog.at_level(logging.WARNING):
        RoomMessage.parse_event(broken_event())
    assert SECRET not in caplog.text
