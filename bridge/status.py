"""``!status``: what a moderator checks first when something seems off.

Which platforms are connected, how many spaces each protects, how many actions wait in the
outbox (and how many of them are being retried), how many failed for good in the last hour,
and which policy is in force since when.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bridge.names import PLATFORM_NAMES
from bridge.planner import Community
from domain.model import Platform
from domain.storage_ports import OutboxBacklog

FAILURE_WINDOW = timedelta(hours=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyState:
    """The policy in force: how many rules, read from where, when."""

    rules: int
    source: str
    loaded_at: datetime


class ServiceStatus:
    """Builds the ``!status`` answer from the service's live parts."""

    def __init__(
        self,
        *,
        configured: Callable[[], Mapping[Platform, bool]],
        community: Callable[[], Community],
        outbox: OutboxBacklog,
        policy: Callable[[], PolicyState],
        clock: Callable[[], datetime],
    ) -> None:
        self._configured = configured
        self._community = community
        self._outbox = outbox
        self._policy = policy
        self._clock = clock

    async def __call__(self) -> str:
        """The status, a few lines."""
        now = self._clock()
        community = self._community()
        lines = ["modbridge status:"]
        for platform, connected in self._configured().items():
            label = PLATFORM_NAMES.get(platform, platform.value)
            spaces = len(community.spaces.get(platform, ()))
            unit = "guilds" if platform is Platform.DISCORD else "rooms"
            state = "connected" if connected else "NOT connected"
            lines.append(f"  {label}: {state}, {spaces} protected {unit}")
        pending, retrying = await self._outbox.backlog()
        failed = await self._outbox.failed_since(now - FAILURE_WINDOW)
        lines.append(f"  outbox: {pending} action(s) waiting ({retrying} being retried)")
        lines.append(f"  failures in the last hour: {failed}")
        policy = self._policy()
        lines.append(
            f"  policy: {policy.rules} rules from {policy.source}, loaded "
            f"{policy.loaded_at:%Y-%m-%d %H:%M} UTC"
        )
        return "\n".join(lines)
