"""The admin's window on a running service: ``GET /healthz`` and ``GET /metrics``.

Served on ``[http] listen`` (off by default), apart from the antispam callbacks' listener:
this one is read by monitoring, that one answers the homeserver with a shared secret, and
an admin may expose them to different networks. Neither answer carries a member id, a room
name or any text a member wrote.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bridge.metrics import CONTENT_TYPE, Metrics

log = logging.getLogger(__name__)

CONNECTED = "connected"
RUNNING = "running"


@dataclass(frozen=True, slots=True)
class Health:
    """What ``/healthz`` says: each configured platform's state, the worker's, the outbox."""

    platforms: dict[str, str]  # "connected", "reconnecting since <iso time>"...
    worker: str  # "running" or "stopped"
    outbox_oldest_pending_s: int

    @property
    def healthy(self) -> bool:
        """Every platform connected and the worker running."""
        return self.worker == RUNNING and all(v == CONNECTED for v in self.platforms.values())

    def body(self) -> dict[str, Any]:
        """The JSON body, platforms first."""
        return {
            **self.platforms,
            "worker": self.worker,
            "outbox_oldest_pending_s": self.outbox_oldest_pending_s,
        }


HealthSource = Callable[[], Awaitable[Health]]


class StatusServer:
    """An aiohttp server for ``/healthz`` and ``/metrics`` on one address."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        health: HealthSource,
        metrics: Metrics,
        refresh: Callable[[], Awaitable[None]],
    ) -> None:
        self._host = host
        self._port = port
        self._health = health
        self._metrics = metrics
        self._refresh = refresh  # gauges read at scrape time (outbox, connections)
        self._runner: web.AppRunner | None = None
        self.port = port  # the bound port once started (port 0 picks a free one)

    async def start(self) -> None:
        """Bind and serve in the background."""
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics_page)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        server = site._server  # aiohttp gives no public way to the bound port
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        log.info("health and metrics on http://%s:%d (/healthz, /metrics)", self._host, self.port)

    async def close(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, _request: web.Request) -> web.Response:
        health = await self._health()
        return web.Response(
            status=200 if health.healthy else 503,
            text=json.dumps(health.body()),
            content_type="application/json",
        )

    async def _metrics_page(self, _request: web.Request) -> web.Response:
        await self._refresh()
        return web.Response(body=self._metrics.render(), headers={"Content-Type": CONTENT_TYPE})
