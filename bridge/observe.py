"""What the service tells monitoring: metrics fed by the pipeline, the worker and reports, and
the health answer built from the platforms' connections, the worker and the outbox."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from bridge.http import CONNECTED, RUNNING, Health, StatusServer
from bridge.metrics import Metrics
from domain.model import Message, Platform, Verdict
from domain.records import ActionRow
from domain.storage_ports import OutboxBacklog


@dataclass(frozen=True, slots=True)
class Link:
    """One configured platform's connection as the composition root sees it."""

    up: bool  # connected once (start-up finished)
    down_since: datetime | None  # lost since then, being re-established


def platform_state(link: Link, started_at: datetime) -> str:
    """``connected``, ``reconnecting since <iso time>`` or ``connecting since <iso time>``."""
    if not link.up:
        return f"connecting since {started_at.isoformat(timespec='seconds')}"
    if link.down_since is not None:
        return f"reconnecting since {link.down_since.isoformat(timespec='seconds')}"
    return CONNECTED


class Observatory:
    """The metrics of one service and the answers of its status server."""

    def __init__(
        self,
        *,
        outbox: OutboxBacklog,
        clock: Callable[[], datetime],
        links: Callable[[], Mapping[Platform, Link]],
        worker_running: Callable[[], bool],
    ) -> None:
        self.metrics = Metrics()
        self._outbox = outbox
        self._clock = clock
        self._links = links
        self._worker_running = worker_running
        self._started_at = clock()
        self.server: StatusServer | None = None

    def serve(self, host: str, port: int) -> StatusServer:
        """The status server for ``[http] listen`` (start it, close it)."""
        self.server = StatusServer(
            host=host, port=port, health=self.health, metrics=self.metrics, refresh=self.refresh
        )
        return self.server

    async def health(self) -> Health:
        """Every configured platform's state, the worker's, and the outbox's oldest wait."""
        _, oldest = await self._outbox.pending_summary()
        waited = 0 if oldest is None else int((self._clock() - oldest).total_seconds())
        return Health(
            platforms={
                p.value: platform_state(link, self._started_at) for p, link in self._links().items()
            },
            worker=RUNNING if self._worker_running() else "stopped",
            outbox_oldest_pending_s=max(0, waited),
        )

    async def refresh(self) -> None:
        """Set the gauges that are read rather than counted (before each scrape)."""
        count, oldest = await self._outbox.pending_summary()
        self.metrics.outbox_pending.set(count)
        waited = 0.0 if oldest is None else (self._clock() - oldest).total_seconds()
        self.metrics.outbox_oldest.set(max(0.0, waited))
        for platform, link in self._links().items():
            connected = link.up and link.down_since is None
            self.metrics.platform_connected.labels(platform=platform.value).set(int(connected))

    # -- hooks given to the pipeline, the worker and reports --------------------------------

    def on_judged(self, message: Message, verdict: Verdict) -> None:
        """A message was judged: count it and its rule hits (never its text or author)."""
        self.metrics.judged(
            message.platform.value, ((h.rule_id, h.mode.value) for h in verdict.hits)
        )

    def on_outcome(self, row: ActionRow, outcome: str) -> None:
        """An action attempt ended; a done action of a case times the way from its case."""
        since = None
        if outcome == "done" and row.case_id is not None:
            since = (self._clock() - row.created_at).total_seconds()
        self.metrics.action(row.platform.value, str(row.kind), outcome, since)

    def on_report(self, platform: Platform) -> None:
        """A member's report arrived."""
        self.metrics.report(platform.value)
