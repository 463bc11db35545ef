"""How nio's error values become the two exceptions of the ports (no homeserver needed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from nio import RoomBanError, RoomGetStateEventResponse, RoomKickResponse, RoomSendError

from adapters.matrix.responses import error_from_response
from domain.ports import PermanentError, TransientError


@dataclass
class FakeTransport:
    status: int


def answer(response: Any, status: int) -> Any:
    response.transport_response = FakeTransport(status)
    return response


def error(cls: Any, errcode: str, message: str = "nope", retry_after_ms: int | None = None) -> Any:
    return cls(message=message, status_code=errcode, retry_after_ms=retry_after_ms)


@pytest.mark.parametrize(
    ("response", "kind", "retry_after", "text"),
    [
        (answer(error(RoomSendError, "M_LIMIT_EXCEEDED", retry_after_ms=2500), 429),
         TransientError, 2.5, "rate limited"),
        (answer(error(RoomSendError, "M_LIMIT_EXCEEDED"), 429), TransientError, None, "M_LIMIT"),
        (answer(error(RoomBanError, "M_UNKNOWN", "Internal server error"), 500),
         TransientError, None, "homeserver error"),
        # A proxy's HTML 502 parses as an empty body, which nio takes for a success.
        (answer(RoomKickResponse.from_dict({}), 502), TransientError, None, "HTTP 502"),
        (answer(error(RoomSendError, "M_UNKNOWN_TOKEN"), 401), TransientError, None, "log it in"),
        (answer(error(RoomBanError, "M_FORBIDDEN", "You don't have permission"), 403),
         PermanentError, None, "M_FORBIDDEN You don't have permission"),
        (answer(error(RoomSendError, "M_NOT_FOUND"), 404), PermanentError, None, "M_NOT_FOUND"),
        # nio parses a refused state read as a success holding the error body.
        (answer(RoomGetStateEventResponse({"errcode": "M_FORBIDDEN", "error": "not in room"},
                                          "m.room.power_levels", "", "!r:x"), 403),
         PermanentError, None, "M_FORBIDDEN not in room"),
    ],
)  # fmt: skip
def test_errors_are_classified(
    response: Any, kind: type[Exception], retry_after: float | None, text: str
) -> None:
    exc = error_from_response(response, "ban @ann:x")

    assert type(exc) is kind
    assert text in str(exc)
    assert str(exc).startswith("ban @ann:x: ")
    if isinstance(exc, TransientError):
        assert exc.retry_after == retry_after


def test_a_success_is_no_error() -> None:
    assert error_from_response(answer(RoomKickResponse(), 200), "kick") is None
