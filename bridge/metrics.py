"""Prometheus metrics of one service, in a registry of its own (no process-wide state).

Labels carry only platform names, rule ids, action kinds and outcomes: never a member id, a
room or channel name, or any text a member wrote, so the metrics can be scraped and kept by
a monitoring system that is not trusted with members' data.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["CONTENT_TYPE", "Metrics"]

# From a violation to the action that answers it: seconds (a redaction) up to hours (an
# outage of a platform, waited out by the outbox).
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400)


class Metrics:
    """Every metric modbridge exports; ``render()`` gives the Prometheus text."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.messages_judged = Counter(
            "modbridge_messages_judged", "Messages judged by the rules", ["platform"], registry=r
        )
        self.rule_hits = Counter(
            "modbridge_rule_hits", "Rule hits, by rule id and mode", ["rule", "mode"], registry=r
        )
        self.actions = Counter(
            "modbridge_actions",
            "Action attempts, by platform, kind and outcome (done, retry, failed)",
            ["platform", "kind", "outcome"],
            registry=r,
        )
        self.outbox_pending = Gauge(
            "modbridge_outbox_pending", "Actions waiting in the outbox", registry=r
        )
        self.outbox_oldest = Gauge(
            "modbridge_outbox_oldest_pending_seconds",
            "Age of the oldest action waiting in the outbox",
            registry=r,
        )
        self.platform_connected = Gauge(
            "modbridge_platform_connected",
            "1 when the platform's connection is up",
            ["platform"],
            registry=r,
        )
        self.reports = Counter(
            "modbridge_reports", "Reports received from members", ["platform"], registry=r
        )
        self.violation_to_action = Histogram(
            "modbridge_violation_to_action_seconds",
            "From a case being opened to each of its actions being done",
            ["platform"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)

    def judged(self, platform: str, hits: Iterable[tuple[str, str]]) -> None:
        """One message judged on ``platform``; ``hits`` are its (rule id, mode) pairs."""
        self.messages_judged.labels(platform=platform).inc()
        for rule, mode in hits:
            self.rule_hits.labels(rule=rule, mode=mode).inc()

    def action(self, platform: str, kind: str, outcome: str, since_case: float | None) -> None:
        """One action attempt; ``since_case``: seconds from its case's opening, when done."""
        self.actions.labels(platform=platform, kind=kind, outcome=outcome).inc()
        if since_case is not None:
            self.violation_to_action.labels(platform=platform).observe(max(0.0, since_case))

    def report(self, platform: str) -> None:
        """A member's report was received on ``platform``."""
        self.reports.labels(platform=platform).inc()
