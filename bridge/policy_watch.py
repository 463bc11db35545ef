"""Keeping the policy in force up to date with its file.

The file is re-read when it changes (once it has stopped changing) or on SIGHUP. A file
that does not validate, or one that suddenly has no rules, is refused: the old policy
stays in force and the moderators are told why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from bridge.config import ConfigError, Settings, load_settings
from rules.engine import Engine

log = logging.getLogger(__name__)

SETTLE = 0.3  # seconds the file must stay unchanged before it is read


def _platform_sections(settings: Settings) -> str:
    return repr((settings.matrix, settings.discord))


class PolicyWatcher:
    """Holds the engine in force and replaces it when the policy file changes."""

    def __init__(
        self, path: Path, settings: Settings, notify: Callable[[str], Awaitable[None]]
    ) -> None:
        self._path = path
        self._notify = notify
        self.engine = Engine(settings.policy)
        self.loaded_at = datetime.now(UTC)  # when the policy in force was read (!status)
        self._platforms = _platform_sections(settings)
        self._seen = self._stat()
        self.reload_requested = asyncio.Event()
        # Called with the new engine after each successful reload (e.g. Discord's AutoMod).
        self.listeners: list[Callable[[Engine], Awaitable[None]]] = []

    def _stat(self) -> tuple[float, int]:
        try:
            stat = self._path.stat()
        except OSError:
            return (0.0, -1)
        return (stat.st_mtime, stat.st_size)

    async def reload(self) -> bool:
        """Load the file again; keep the old policy (and say why) if it is bad."""
        self._seen = self._stat()
        try:
            settings = load_settings(self._path)
        except ConfigError as exc:
            return await self._refuse(str(exc))
        except Exception as exc:  # a check we lack: still refused, still said
            return await self._refuse(f"{self._path}: cannot be loaded ({type(exc).__name__})")
        if not settings.policy.rules and self.engine.policy.rules:
            # An editor writing the file in place can be caught half-way: an empty policy
            # would silently stop all enforcement.
            return await self._refuse(
                f"{self._path}: the new policy has no rules. If that is intended, keep one "
                "rule in observe mode."
            )
        self.engine = Engine(settings.policy)
        self.loaded_at = datetime.now(UTC)
        log.info("policy reloaded: %d rules", len(settings.policy.rules))
        for listener in self.listeners:
            await listener(self.engine)
        note = ""
        if _platform_sections(settings) != self._platforms:
            note = " Changes to [matrix] or [discord] take effect after a restart."
        await self._notify(f"Policy reloaded: {len(settings.policy.rules)} rules in force.{note}")
        return True

    async def _refuse(self, why: str) -> bool:
        log.error("policy reload refused, the old policy stays in force: %s", why)
        await self._notify(f"The new policy was refused; the old one stays in force.\n{why}")
        return False

    async def run(self, stop: asyncio.Event, interval: float = 2.0) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.reload_requested.wait(), timeout=interval)
            if stop.is_set():
                return
            changed = self._stat() != self._seen
            if changed:
                # Wait until the file stops changing: editors may write it in several steps.
                await asyncio.sleep(SETTLE)
                before = self._stat()
                await asyncio.sleep(SETTLE)
                if self._stat() != before:
                    continue
            if self.reload_requested.is_set() or changed:
                self.reload_requested.clear()
                try:
                    await self.reload()
                except Exception as exc:  # a listener failed: keep watching the file
                    log.error("after the policy reload: %s", type(exc).__name__)
