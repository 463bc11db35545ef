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

The listener accepts connections itself, one at a time, and counts each before accepting
the next. asyncio's own server (``loop.create_server``) accepts up to 100 sockets per
wake-up and only later, in a task per socket, asks the protocol factory: a burst of
connections was accepted (each holding a descriptor) before the limit was even looked at,
so 64 served plus 100 accepted and not yet counted, on top of the process's own
descriptors, ran past a limit of 160.

Accept failures (EMFILE when descriptors run out anyway) are logged, accepting pauses for
a second and goes on; nothing read from a platform depends on this listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Callable

from aiohttp import web

log = logging.getLogger(__name__)

_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 15\r\nConnection: close\r\n\r\nmodbridge busy\n"
)


# Out of descriptors or memory: accepting again at once would fail again (asyncio's choice too).
_RESOURCE_ERRORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
_ACCEPT_RETRY_SECONDS = 1.0


def _refuse(conn: socket.socket) -> None:
    """A connection beyond the limit: told so (if its buffer takes it) and closed at once."""
    with contextlib.suppress(OSError):
        conn.send(_BUSY)
    conn.close()


class _Counted(asyncio.Protocol):
    """aiohttp's protocol for one connection, counted while it lives."""

    def __init__(self, inner: asyncio.Protocol, listener: BoundedListener) -> None:
        self._inner = inner
        self._listener = listener

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._listener.open_connections += 1
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
        self._sock: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None
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
        try:
            sock = await _listening_socket(host, port)
        except BaseException:
            await runner.cleanup()
            raise
        self._runner, self._sock = runner, sock
        self._accepting = asyncio.create_task(
            self._accept(sock, lambda: _Counted(handlers(), self))
        )
        bound = sock.getsockname()
        return str(bound[0]), int(bound[1])

    async def _accept(self, sock: socket.socket, protocol: Callable[[], asyncio.Protocol]) -> None:
        """Accept one connection at a time: served while fewer than the limit are open,
        refused (503, closed) otherwise; the count is up to date before the next accept."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(sock)
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                continue
            except OSError as exc:
                # Never give up listening: a dead accept loop would refuse nothing, silently.
                if exc.errno in _RESOURCE_ERRORS:
                    log.error("antispam: socket.accept() out of system resource (%s)", exc.strerror)
                else:
                    log.error("antispam: socket.accept() failed (%s)", exc.strerror)
                await asyncio.sleep(_ACCEPT_RETRY_SECONDS)
                continue
            if self.open_connections >= self._max:
                self._refused_one()
                _refuse(conn)
                continue
            try:
                # Returns once connection_made ran, i.e. once the connection is counted.
                await loop.connect_accepted_socket(protocol, conn)
            except OSError as exc:  # the peer went away meanwhile
                log.debug("antispam: an accepted connection failed: %s", exc.strerror)
                conn.close()

    def _refused_one(self) -> None:
        self.refused += 1
        if self.refused == 1 or self.refused % 1000 == 0:
            log.warning(
                "antispam: %d connections open, refusing more (%d so far)",
                self.open_connections, self.refused,
            )  # fmt: skip

    async def close(self) -> None:
        """Stop listening and close every connection; closing twice is harmless."""
        accepting, self._accepting = self._accepting, None
        sock, self._sock = self._sock, None
        runner, self._runner = self._runner, None
        if accepting is not None:
            accepting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await accepting
        if sock is not None:
            sock.close()
        if runner is not None:
            await runner.cleanup()


async def _listening_socket(host: str, port: int) -> socket.socket:
    """A non-blocking socket listening on the first address ``host`` resolves to."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def read_body(request: web.Request, within: float) -> bytes | None:
    """The request's body, or None when it did not arrive within ``within`` seconds."""
    try:
        async with asyncio.timeout(within):
            return await request.read()
    except TimeoutError:
        return None
