"""What each platform hands the core once it has connected: its executor, its replier, its
message fetcher and the names it knows, and whether it is up. The composition root fills
this in as platforms connect; the worker, the core and the answers read it at use."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from bridge.dryrun import DryRunReplier, SimulatedExecutor
from domain.model import Platform
from domain.ports import ActionExecutor, Directory, MessageFetcher, Replier


def _events() -> dict[Platform, asyncio.Event]:
    return {platform: asyncio.Event() for platform in Platform}


@dataclass(kw_only=True)
class Connected:
    """The connected platforms' parts; in a dry run, their simulated twins."""

    dry_run: bool
    executors: dict[Platform, ActionExecutor] = field(default_factory=dict)
    repliers: dict[Platform, Replier] = field(default_factory=dict)
    fetchers: dict[Platform, MessageFetcher] = field(default_factory=dict)
    directories: dict[Platform, Directory] = field(default_factory=dict)  # names
    bots: set[str] = field(default_factory=set)  # the bot's own account keys
    # Set once each platform has connected: timers wait for all (they act in every space).
    up: dict[Platform, asyncio.Event] = field(default_factory=_events)

    def connect(
        self,
        platform: Platform,
        *,
        executor: ActionExecutor,
        replier: Replier,
        fetcher: MessageFetcher,
        wake_worker: Callable[[], None],
    ) -> None:
        """``platform`` is up: its actions can be carried out (by the simulated twin in a dry
        run: a ban is neither carried out nor published) and its answers given (marked)."""
        self.executors[platform] = SimulatedExecutor(executor) if self.dry_run else executor
        self.repliers[platform] = DryRunReplier(replier) if self.dry_run else replier
        self.fetchers[platform] = fetcher
        wake_worker()
        self.up[platform].set()
