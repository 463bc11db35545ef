"""The matrix-nio boundary: nio returns errors as values and, with its default config, retries
429s and timeouts forever. Here both stop: every response is checked, and every error becomes
a :class:`TransientError` (retry later) or a :class:`PermanentError` (dead letter) with a
message a moderator can act on.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import aiohttp
from nio import AsyncClientConfig, ErrorResponse

from domain.ports import PermanentError, TransientError

# Errors a token problem gives: the action is still right, the bot needs a new login, so the
# worker should keep it rather than dead-letter it.
_TOKEN_ERRORS = frozenset({"M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"})


def client_config(*, request_timeout: float = 10.0) -> AsyncClientConfig:
    """The nio config an executor's client must use: nio itself never retries.

    nio's defaults (``max_limit_exceeded=None``, ``max_timeouts=None``) retry 429s and
    connection errors forever inside one call, which stalls the action worker while the
    homeserver is down. With 0 the first 429 comes back as a value (with retry_after_ms) and
    the first connection error is raised, and the worker's own backoff decides.
    """
    return AsyncClientConfig(
        max_limit_exceeded=0,
        max_timeouts=0,
        request_timeout=request_timeout,
        store_sync_tokens=False,
        encryption_enabled=False,
    )


def error_from_response(response: Any, doing: str) -> TransientError | PermanentError | None:
    """The exception a nio response stands for, or None when it is a success.

    Pure: classifies on the Matrix errcode and the HTTP status nio keeps on the response.
    """
    transport = getattr(response, "transport_response", None)
    status: int | None = getattr(transport, "status", None)
    failed = isinstance(response, ErrorResponse) or (status is not None and status >= 400)
    if not failed:
        return None
    errcode = getattr(response, "status_code", None)
    message = getattr(response, "message", "") or ""
    retry_ms = getattr(response, "retry_after_ms", None)
    body = getattr(response, "content", None)
    if not isinstance(response, ErrorResponse) and isinstance(body, dict):
        # nio parses some error bodies as successes (a 403 on a state read becomes a
        # RoomGetStateEventResponse whose content is the error): read the error from there.
        errcode, message = body.get("errcode"), str(body.get("error", ""))
        retry_ms = body.get("retry_after_ms")
    message = message or "no error message"
    where = f"{doing}: {errcode or 'error'} {message}" + (f" (HTTP {status})" if status else "")
    if errcode == "M_LIMIT_EXCEEDED" or status == 429:
        retry_after = retry_ms / 1000 if isinstance(retry_ms, int | float) and retry_ms else None
        return TransientError(f"{where}; rate limited", retry_after=retry_after)
    if status is not None and status >= 500:
        return TransientError(f"{where}; homeserver error")
    if errcode in _TOKEN_ERRORS:
        return TransientError(f"{where}; the bot's access token was refused, log it in again")
    return PermanentError(where)


async def call(doing: str, request: Awaitable[Any]) -> Any:
    """Await one nio request and turn its failures into our two exceptions."""
    try:
        response = await request
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        # With client_config() nio re-raises the first connection error or timeout.
        raise TransientError(
            f"{doing}: homeserver unreachable ({type(exc).__name__}: {exc})"
        ) from exc
    error = error_from_response(response, doing)
    if error is not None:
        raise error
    return response
