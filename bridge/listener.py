"""An HTTP listener that idle or slow clients cannot starve: bounded connections, timeouts.

aiohttp's own server keeps a connection that sent half a request for an hour (its
``keepalive_timeout``) and accepts as many connections as there are file descriptors. A few
hundred such connections on the antispam port took every descriptor of the process, and
with them the homeserver connections and the database files moderation needs. Here:

- a connection that has not sent a whole request (line and headers) within ``timeout``
  seconds, or sits idle between requests that long, is closed (aiohttp's keep-alive timer,
  which since 3.10 also runs before the first request);
- a body is read within ``timeout`` seconds (:func:`read_body`), or the request is refused;
- at most ``max_connections`` are served at once; a connection beyond that is answered
  ``503`` and closed at once (not queued), which the homeserver's module treats like an
  outage (its ``fail_open`` setting applies).

Accept failures (EMFILE when descriptors run out anyway) are asyncio's business: it logs
them, pauses accepting for a second and goes on; nothing read from a platform depends on
this listener.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 15\r\nConnection: close\r\n\r\nmodbridge busy\n"
)


class _Refused(asyncio.Protocol):
    """A connection beyond the limit: told so, and closed before it holds anything."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if isinstance(transport, asyncio.WriteTransport):
            transport.write(_BUSY)
        transport.close()


class _Counted(asyncio.Protocol):
    """aiohttp's protocol for one connection, counted while it lives."""

    def __init__(self, inner: asyncio.Protocol, listener: BoundedListener) -> None:
        self._inner = inner
        self._listener = listener

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._listener.open_connections -= 1
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class BoundedListener:
    """Serves ``app`` on ``host:port`` with at most ``max_connections`` connections and
    ``timeout`` seconds for a request's headers and between requests."""

    def __init__(self, app: web.Application, *, max_connections: int, timeout: float) -> None:
        self._app = app
        self._max = max_connections
        self._timeout = timeout
        self._runner: web.AppRunner | None = None
        self._server: asyncio.Server | None = None
        self.open_connections = 0
        self.refused = 0  # connections turned away because the limit was reached

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Listen; return the address bound (port 0 picks a free one). Raises OSError."""
        # lingering_time=0: a request refused before its body came is closed, not read on.
        runner = web.AppRunner(
            self._app, access_log=None, keepalive_timeout=self._timeout, lingering_time=0
        )
        await runner.setup()
        handlers = runner.server
        if handlers is None:  # setup() makes it
            raise RuntimeError("aiohttp's runner has no server after setup()")

        def connection() -> asyncio.Protocol:
            if self.open_connections >= self._max:
                self.refused += 1
                if self.refused == 1 or self.refused % 1000 == 0:
                    log.warning(
                        "antispam: %d connections open, refusing more (%d so far)",
                        self.open_connections, self.refused,
                    )  # fmt: skip
                return _Refused()
            self.open_connections += 1
            return _Counted(handlers(), self)

        try:
            server = await asyncio.get_running_loop().create_server(
                connection, host, port, reuse_address=True
            )
        except BaseException:
            await runner.cleanup()
            raise
        self._runner, self._server = runner, server
        bound: Any = server.sockets[0].getsockname()
        return str(bound[0]), int(bound[1])

    async def close(self) -> None:
        """Stop listening and close every connection; closing twice is harmless."""
        server, self._server = self._server, None
        runner, self._runner = self._runner, None
        if server is not None:
            server.close()
        if runner is not None:
            await runner.cleanup()
        if server is not None:
            await server.wait_closed()


async def read_body(request: web.Request, within: float) -> bytes | None:
    """The request's body, or None when it did not arrive within ``within`` seconds."""
    try:
        async with asyncio.timeout(within):
            return await request.read()
    except TimeoutError:
        return None
