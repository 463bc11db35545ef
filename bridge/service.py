"""The composition root: `modbridge run` builds every part here and runs it until a signal.

Only this module knows every concrete class. It opens storage, builds the engine from the
policy, connects the configured platforms, and runs the worker, the timers, the platform
connections and the policy watcher side by side. SIGTERM/SIGINT stop it cleanly (actions
in flight finish; the rest wait in the outbox); SIGHUP or a change of the file reloads the
policy, keeping the old one if the new file is bad.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path

from adapters.discord.connection import DiscordConnection, DiscordStartupError
from adapters.discord.fetch import DiscordFetcher
from adapters.discord.names import DiscordDirectory
from adapters.discord.replies import DiscordReplier
from adapters.matrix.antispam_http import AntispamHttp
from adapters.matrix.connection import MatrixConnection
from bridge.antispam import DmConsent
from bridge.compose import CoreParts, Surroundings, build_core
from bridge.config import (
    AntispamConfig,
    ConfigError,
    Settings,
    check_platforms,
    load_settings,
)
from bridge.connected import Connected
from bridge.core import Core
from bridge.health import STORAGE_ERRORS, describe
from bridge.http import StatusServer
from bridge.instance import database_path, only_instance
from bridge.names import Names
from bridge.observe import Link, Observatory
from bridge.planner import Community
from bridge.policy_watch import PolicyWatcher
from bridge.reports import Reports
from bridge.service_matrix import MatrixSide
from bridge.status import PolicyState, ServiceStatus
from bridge.worker import ActionWorker
from domain.model import Account, Platform
from domain.ports import PermanentError
from rules.automod import automod_specs
from rules.engine import Engine
from storage.audit import AuditRepository
from storage.consent import ConsentRepository
from storage.db import Database
from storage.identity import IdentityRepository
from storage.repositories import Repositories

log = logging.getLogger(__name__)


class AntispamServer(AntispamHttp):
    """The homeserver's spam-checker callbacks (``[antispam]``): the core's DM-consent
    decision (:class:`bridge.antispam.DmConsent`) served over Synapse's HTTP module."""

    def __init__(
        self,
        *,
        identity: IdentityRepository,
        consent: ConsentRepository,
        audit: AuditRepository,
        config: AntispamConfig,
        clock: Callable[[], float] = time.monotonic,
        on_direct_invite: Callable[[Account, Account], Awaitable[None]] | None = None,
        bots: frozenset[str] = frozenset(),
        dry_run: bool = False,
        tell_moderators: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        if config.secret is None or not config.secret.get_secret_value():
            raise ConfigError("[antispam] needs MODBRIDGE_ANTISPAM__SECRET in the environment")
        gate = DmConsent(
            identity=identity, consent=consent, audit=audit, config=config,
            on_direct_invite=on_direct_invite, bots=bots, dry_run=dry_run,
            tell_moderators=tell_moderators,
        )  # fmt: skip
        super().__init__(
            gate, secret=config.secret.get_secret_value(),
            direct_window=config.direct_window_seconds, max_connections=config.max_connections,
            timeout=config.request_timeout_seconds, clock=clock,
        )  # fmt: skip
        self._listen = (config.host, config.port)

    async def start(self, host: str | None = None, port: int | None = None) -> int:
        """Listen on ``host:port`` (the configured ``listen`` by default); return the port."""
        host = self._listen[0] if host is None else host
        port = self._listen[1] if port is None else port
        try:
            return await super().start(host, port)
        except OSError as exc:
            raise ConfigError(
                f"[antispam] cannot listen on {host}:{port}: {exc.strerror}"
            ) from None


def utc_now() -> datetime:
    return datetime.now(UTC)


class Service:
    """One modbridge service: every configured platform, one engine, one outbox."""

    def __init__(self, settings: Settings, config_path: Path, *, dry_run: bool = False) -> None:
        check_platforms(settings)
        self.settings = settings
        self._path = config_path
        # Judge and record, tell the moderators, do nothing on the platforms.
        self.dry_run = dry_run or settings.service.dry_run
        self._stop = asyncio.Event()
        self._connected = Connected(dry_run=self.dry_run)  # filled in as platforms connect
        self._up = self._connected.up
        self._matrix = (
            MatrixSide(
                settings, settings.matrix, self._connected, notify=self._notify_moderators,
                stop=self._stop,
            )
            if settings.matrix is not None
            else None
        )  # fmt: skip
        self.discord: DiscordConnection | None = None
        self._failure: BaseException | None = None  # why a platform connection gave up
        self._failed = ""  # which one

    def stop(self) -> None:
        self._stop.set()

    @property
    def matrix(self) -> MatrixConnection | None:
        """The Matrix connection, once made."""
        return self._matrix.connection if self._matrix is not None else None

    async def _is_moderator(self, account: Account) -> bool:
        """Whether ``account`` is one of the configured moderators (reports about them go to
        the admins only)."""
        matrix = self.settings.matrix
        if matrix is not None and account.platform is Platform.MATRIX:
            return account.id in matrix.moderators
        if self.discord is not None and account.platform is Platform.DISCORD:
            return await self.discord.check_moderator(int(account.id))
        return False

    def community(self) -> Community:
        spaces: dict[Platform, list[str]] = {}
        mod_rooms: dict[Platform, list[str]] = {}
        modlog: dict[Platform, list[str]] = {}
        publish_list: str | None = None
        if self.matrix is not None:
            mod_room = self.matrix.mod_room_id
            spaces[Platform.MATRIX] = sorted(self.matrix.protected_rooms - {mod_room or ""})
            if mod_room:
                mod_rooms[Platform.MATRIX] = [mod_room]
                keeps = self.settings.matrix is not None and self.settings.matrix.modlog
                modlog[Platform.MATRIX] = [mod_room] if keeps else []
            publish_list = self.matrix.ecosystem.publish_list_id
        if self.discord is not None and self.settings.discord is not None:
            spaces[Platform.DISCORD] = [str(g) for g in sorted(self.discord.protected_guilds)]
            channels = self.discord.mod_channel_ids
            mod_rooms[Platform.DISCORD] = [str(c) for c in channels.values()]
            modlog[Platform.DISCORD] = [
                str(c) for g, c in channels.items() if self.settings.discord.keeps_modlog(g)
            ]
        return Community(
            spaces=spaces, mod_rooms=mod_rooms, modlog_rooms=modlog, publish_list=publish_list
        )

    def _configured(self) -> dict[Platform, bool]:
        """The configured platforms, and whether each is connected now."""
        return {platform: self._up[platform].is_set() for platform in self._links()}

    def _policy_state(self) -> PolicyState:
        return PolicyState(
            rules=len(self.policy.engine.policy.rules),
            source=str(self._path),
            loaded_at=self.policy.loaded_at,
        )

    async def run(self) -> None:
        """Run until stop() or a termination signal."""
        path = database_path(self.settings, self._path)
        with only_instance(path):
            try:
                db = await Database.open(path, clock=utc_now)
            except STORAGE_ERRORS as exc:  # a read-only or full directory: one clear line
                raise ConfigError(f"cannot open the database {path}: {describe(exc)}") from None
            try:
                await self._run(db)
            finally:
                # aiosqlite's thread is not a daemon: an unclosed database would hang the exit.
                await db.close()

    async def _run(self, db: Database) -> None:
        repos = Repositories.over(db)
        # Only one service runs on a database: whatever a previous process had claimed and
        # not finished (it was killed) is due again now, not when its lease runs out.
        released = await repos.outbox.release_claims()
        if released:
            log.info("%d action(s) left unfinished by the previous run are due again", released)
        tasks: list[asyncio.Task[None]] = []
        observatory = Observatory(
            outbox=repos.outbox, clock=utc_now, links=self._links,
            worker_running=lambda: bool(tasks) and not tasks[0].done(),
        )  # fmt: skip
        parts = self._assemble(db, repos, observatory)
        self._install_signals()
        tasks += [
            asyncio.create_task(self._worker.run(), name="worker"),
            asyncio.create_task(parts.scheduler.run(ready=self._platforms_up()), name="timers"),
            asyncio.create_task(self.policy.run(self._stop), name="policy"),
        ]
        servers: list[AntispamServer | StatusServer] = []
        try:
            if self.settings.http is not None:
                servers.append(observatory.serve(self.settings.http.host, self.settings.http.port))
            if self.settings.antispam is not None:
                servers.append(self._antispam(self.settings.antispam, repos, parts.reports))
            for server in servers:
                await server.start()
            runs: list[tuple[str, Coroutine[None, None, None]]] = []
            if self._matrix is not None:
                runs.append(("Matrix", self._matrix.run(
                    parts.core, repos.kv, ecosystem=parts.ecosystem, lists=parts.lists,
                    wake_worker=self._worker.wake,
                )))  # fmt: skip
            if self.settings.discord is not None:
                runs.append(("Discord", self._run_discord(parts.core, repos)))
            for name, run in runs:
                task = asyncio.create_task(run, name=name)
                task.add_done_callback(self._platform_ended)
                tasks.append(task)
            dry = " (dry run): nothing is done on the platforms" if self.dry_run else ""
            log.info("modbridge running%s", dry)
            await self._stop.wait()
        finally:
            await self._shut_down(parts, tasks, servers)
        if isinstance(self._failure, PermanentError | DiscordStartupError):
            # Refused credentials and the like: the admin has to fix the configuration.
            raise ConfigError(f"the {self._failed} connection failed: {self._failure}")
        if self._failure is not None:
            raise self._failure

    def _assemble(self, db: Database, repos: Repositories, observatory: Observatory) -> CoreParts:
        """The worker, the policy watcher and the core (`bridge.compose`), wired to the
        platforms as they connect."""
        self._worker = ActionWorker(
            outbox=repos.outbox, executors=self._connected.executors,
            on_failure=lambda row, reason: self._writer.tell_failure(row, reason),
            clock=utc_now, community_name=self.settings.community.name,
            on_outcome=observatory.on_outcome,
        )  # fmt: skip
        self.policy = PolicyWatcher(self._path, self.settings, self._notify_moderators)
        status = ServiceStatus(
            configured=self._configured, community=self.community, outbox=repos.outbox,
            policy=self._policy_state, clock=utc_now,
        )  # fmt: skip
        parts = build_core(
            self.settings, db=db, repos=repos, engine=lambda: self.policy.engine, clock=utc_now,
            dry_run=self.dry_run,
            around=Surroundings(
                community=self.community, wake_worker=self._worker.wake,
                hand_over=self._worker.hand_over, names=Names(self._connected.directories),
                repliers=self._connected.repliers,
                fetchers=self._connected.fetchers, bots=self._connected.bots,
                is_moderator=self._is_moderator,
                on_judged=observatory.on_judged, on_report=observatory.on_report,
                status=status,
            ),
        )  # fmt: skip
        self._writer = parts.writer
        return parts

    def _antispam(
        self, config: AntispamConfig, repos: Repositories, reports: Reports
    ) -> AntispamServer:
        """Synapse's spam-checker callbacks (DM invites and consent), served over HTTP."""
        return AntispamServer(
            identity=repos.identity, consent=repos.consent, audit=repos.audit, config=config,
            on_direct_invite=reports.flag_invite,
            bots=frozenset([self.settings.matrix.user_id] if self.settings.matrix else []),
            dry_run=self.dry_run, tell_moderators=self._notice,
        )  # fmt: skip

    async def _shut_down(
        self,
        parts: CoreParts,
        tasks: list[asyncio.Task[None]],
        servers: list[AntispamServer | StatusServer],
    ) -> None:
        """Commands in progress finish, then the platforms close; the worker finishes what
        it started (unstarted actions stay in the outbox)."""
        log.info("modbridge stopping")
        await parts.core.drain_commands()
        self._worker.stop()
        parts.scheduler.stop()
        if self.matrix is not None:
            await self.matrix.close()
        if self.discord is not None:
            await self.discord.close()
        for task in tasks:
            if task.get_name() != "worker":
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for server in servers:
            await server.close()
        log.info("modbridge stopped")

    async def _platforms_up(self) -> None:
        """Until every configured platform has connected once (and knows its spaces)."""
        await asyncio.gather(*(self._up[platform].wait() for platform in self._configured()))

    def _platform_ended(self, task: asyncio.Task[None]) -> None:
        """A platform connection gave up (credentials refused, a bug): stop, do not idle on."""
        if task.cancelled() or self._stop.is_set() or task.exception() is None:
            return
        error = task.exception()
        why = str(error) if isinstance(error, PermanentError) else type(error).__name__
        log.error("the %s connection stopped, so does modbridge: %s", task.get_name(), why)
        self._failure = error
        self._failed = task.get_name()
        self.stop()

    async def _run_discord(self, core: Core, repos: Repositories) -> None:
        config = self.settings.discord
        if config is None or config.token is None:
            return
        connection = DiscordConnection(
            token=config.token.get_secret_value(),
            api_base=config.api_base,
            gateway_url=config.gateway_url,
            guilds=config.guilds,
            mod_channels={int(g): c for g, c in config.mod_channels.items()},
            moderator_roles=config.moderator_roles,
            handlers=core,
            state=repos.kv,
            automod=config.automod and not self.dry_run,  # AutoMod would block messages
            dry_run=self.dry_run,
            automod_rules=automod_specs(self.policy.engine.policy, config.moderator_roles),
        )
        self.discord = connection

        async def remirror(engine: Engine) -> None:
            await connection.update_automod(automod_specs(engine.policy, config.moderator_roles))

        self.policy.listeners.append(remirror)
        await connection.start()
        self._connected.directories[Platform.DISCORD] = DiscordDirectory(connection.client)
        if connection.client.user is not None:
            self._connected.bots.add(f"discord:{connection.client.user.id}")
        self._connected.connect(
            Platform.DISCORD,
            executor=connection.executor(),
            replier=DiscordReplier(connection.client),
            fetcher=DiscordFetcher(connection.client),
            wake_worker=self._worker.wake,
        )
        log.info("Discord connection up: %d protected guilds", len(connection.protected_guilds))
        await connection.run()

    def _links(self) -> dict[Platform, Link]:
        """Each configured platform's connection, for /healthz and the metrics."""
        links = {}
        for platform, configured, connection in (
            (Platform.MATRIX, self.settings.matrix, self.matrix),
            (Platform.DISCORD, self.settings.discord, self.discord),
        ):
            if configured is not None:
                down_since = connection.down_since if connection is not None else None
                links[platform] = Link(up=self._up[platform].is_set(), down_since=down_since)
        return links

    async def _notice(self, text: str) -> None:
        """A notice to the moderators about no case (the antispam callbacks' dry run)."""
        # Each one is news: never deduplicated.
        await self._writer.notify(text, origin=f"notice:{uuid.uuid4().hex}")

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGTERM, self.stop)
            loop.add_signal_handler(signal.SIGINT, self.stop)
            loop.add_signal_handler(signal.SIGHUP, self.policy.reload_requested.set)

    async def _notify_moderators(self, text: str) -> None:
        await self._writer.notify(text, origin=f"notice:{utc_now().isoformat()}")


async def run_service(config_path: Path) -> None:
    """Load the configuration and run the service until a signal."""
    settings = load_settings(config_path)
    await Service(settings, config_path).run()
