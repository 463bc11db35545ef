"""The bot's Matrix login and the boundary of every request the connection makes.

A login is kept across restarts: the device id always (one device, not one per start), and
with a password login the access token too, so a restart does not log in again. Every nio
answer is checked here: network failures and error values become
:class:`~domain.ports.TransientError` or :class:`~domain.ports.PermanentError`, and a revoked
token is replaced by a new password login on the same device.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

import aiohttp
from nio import AsyncClient

from adapters.matrix.responses import error_from_response
from domain.ports import KeyValueStore, PermanentError, TransientError

logger = logging.getLogger(__name__)

KEY_USER = "matrix.user_id"
KEY_DEVICE = "matrix.device_id"
KEY_TOKEN = "matrix.access_token"  # noqa: S105 -- the name of a key, not a secret
DEVICE_NAME = "modbridge"

BACKOFF_FIRST = 0.5
BACKOFF_CAP = 30.0

T = TypeVar("T")

_NETWORK_ERRORS = (aiohttp.ClientError, TimeoutError, OSError, json.JSONDecodeError)


class MatrixLoginError(PermanentError):
    """The homeserver refused the bot's credentials: fix the configuration."""


class Outage:
    """Backoff for one failing activity, and one WARNING per outage rather than one per try."""

    def __init__(self, doing: str, log: logging.Logger = logger) -> None:
        self._doing = doing
        self._log = log
        self._since: float | None = None
        self._tries = 0

    def failed(self, error: TransientError) -> float:
        """Record a failure; return how long to wait before the next try (capped)."""
        if self._since is None:
            self._since = time.monotonic()
            self._log.warning("%s failed, retrying with backoff: %s", self._doing, error)
        else:
            self._log.debug("%s failed again: %s", self._doing, error)
        self._tries += 1
        delay: float = min(BACKOFF_CAP, BACKOFF_FIRST * 2.0 ** (self._tries - 1))
        if error.retry_after:
            # The homeserver said how long: waiting less only earns another 429.
            delay = min(BACKOFF_CAP, max(delay, float(error.retry_after)))
        return delay

    def recovered(self) -> None:
        """Record a success; say so when it ends an outage."""
        if self._since is not None:
            elapsed = time.monotonic() - self._since
            self._log.warning("%s works again after %.1fs", self._doing, elapsed)
        self._since = None
        self._tries = 0


async def sleep_unless(closed: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less when ``closed`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(closed.wait(), seconds)


async def unless(closed: asyncio.Event, request: Awaitable[T]) -> T | None:
    """Await ``request``, abandoning it (None) when ``closed`` is set first.

    A sync long-poll may wait 30 s for news: shutting down should not.
    """
    task = asyncio.ensure_future(request)
    waiter = asyncio.ensure_future(closed.wait())
    try:
        done, _ = await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return task.result() if task in done else None


class Session:
    """Logs ``client`` in as ``user_id`` and carries its requests (see the module docstring).

    Exactly one of ``password`` and ``access_token`` is given (the connection checks).
    """

    def __init__(
        self,
        client: AsyncClient,
        *,
        user_id: str,
        password: str | None,
        access_token: str | None,
        state: KeyValueStore,
    ) -> None:
        self._client = client
        self._user_id = user_id
        self._password = password
        self._access_token = access_token
        self._state = state
        # Clients on the same login (the executor's): a new login's token is theirs too.
        self.followers: list[AsyncClient] = []

    async def log_in(self, *, fresh: bool) -> None:
        """Log in, reusing the stored device (and token) unless ``fresh``.

        Raises MatrixLoginError when the credentials are refused, TransientError when the
        homeserver cannot be reached.
        """
        device = None if fresh else await self._state.get(KEY_DEVICE)
        if self._access_token is not None:
            self._client.restore_login(self._user_id, device or "", self._access_token)
            await self._whoami()
        else:
            token = None if fresh else await self._state.get(KEY_TOKEN)
            restored = False
            if token is not None:
                self._client.restore_login(self._user_id, device or "", token)
                try:
                    await self._whoami()
                    restored = True
                except MatrixLoginError:
                    logger.info("the stored Matrix login was refused; logging in again")
            if not restored:
                await self._password_login(device)
        await self._state.set(KEY_DEVICE, self._client.device_id)

    async def call(
        self, doing: str, request: Awaitable[Any], *, within: float | None = None
    ) -> Any:
        """Await one nio request (at most ``within`` seconds); return the successful answer.

        Raises TransientError (unreachable, timed out, 5xx, 429, token refused) or
        PermanentError. A refused token with a password configured is replaced by a new login
        before the TransientError goes up, so the caller's retry works.
        """
        try:
            return await self._attempt(doing, request, within)
        except TransientError as exc:
            if "M_UNKNOWN_TOKEN" in str(exc) and self._password is not None:
                await self._password_login(self._client.device_id)
            raise

    async def _attempt(self, doing: str, request: Awaitable[Any], within: float | None) -> Any:
        try:
            response = await (asyncio.wait_for(request, within) if within else request)
        except _NETWORK_ERRORS as exc:
            # The type only: aiohttp's messages can carry URLs, and nothing secret may be logged.
            raise TransientError(f"{doing}: homeserver unreachable ({type(exc).__name__})") from exc
        error = error_from_response(response, doing)
        if error is not None:
            raise error
        return response

    async def _whoami(self) -> None:
        response = await self._login_call("check the Matrix login", self._client.whoami())
        if response.user_id != self._user_id:
            raise MatrixLoginError(
                f"the access token is for {response.user_id}, not {self._user_id}"
            )
        if response.device_id:
            self._client.device_id = response.device_id

    async def _password_login(self, device: str | None) -> None:
        if self._password is None:
            raise MatrixLoginError(f"the access token for {self._user_id} was refused")
        self._client.access_token = ""
        # nio sends the client's device id with the login: the same device, not a new one.
        self._client.device_id = device or None
        await self._login_call(
            f"log in as {self._user_id}",
            self._client.login(password=self._password, device_name=DEVICE_NAME),
        )
        await self._state.set(KEY_TOKEN, self._client.access_token)
        for follower in self.followers:
            follower.access_token = self._client.access_token
        logger.info("logged in to Matrix as %s, device %s", self._user_id, self._client.device_id)

    async def _login_call(self, doing: str, request: Awaitable[Any]) -> Any:
        try:
            return await self._attempt(doing, request, None)
        except PermanentError as exc:
            raise MatrixLoginError(str(exc)) from exc
        except TransientError as exc:
            if "M_UNKNOWN_TOKEN" in str(exc):
                raise MatrixLoginError(str(exc)) from exc
            raise
