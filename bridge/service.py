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
import fcntl
import logging
import os
import signal
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.discord.connection import DiscordConnection, DiscordStartupError
from adapters.discord.fetch import DiscordFetcher
from adapters.discord.names import DiscordDirectory
from adapters.discord.replies import DiscordReplier
from adapters.matrix.abuse_reports import AbuseReportReader
from adapters.matrix.antispam_http import AntispamHttp
from adapters.matrix.connection import MatrixConnection
from adapters.matrix.crypto import encryption_available
from adapters.matrix.e2ee import EncryptedDirectRooms, EncryptionOptions
from adapters.matrix.executor import MatrixExecutor
from adapters.matrix.fetch import MatrixFetcher
from adapters.matrix.policy_lists import PublishingExecutor
from adapters.matrix.replies import MatrixReplier
from adapters.matrix.stores import MatrixMemory
from bridge.antispam import DmConsent
from bridge.config import AntispamConfig, ConfigError, Settings, check_platforms, load_settings
from bridge.conversation import DRAFT_PREFIX, DRAFT_TTL, DirectMessages
from bridge.core import Core
from bridge.digest import DIGEST_TIMER, NoticeDigest
from bridge.dryrun import DryRunCore, DryRunReplier, SimulatedExecutor, with_notice
from bridge.ecosystem import MatrixEcosystem
from bridge.health import STORAGE_ERRORS, StorageHealth, describe
from bridge.linking import Linking
from bridge.moderation import Moderation
from bridge.modlog import ModLog
from bridge.names import Names
from bridge.observe import Link, Observatory
from bridge.pipeline import Pipeline
from bridge.planner import Community
from bridge.policy_lists import ListBans
from bridge.policy_watch import PolicyWatcher
from bridge.reports import Reports
from bridge.scheduler import Chore, Scheduler
from bridge.status import PolicyState, ServiceStatus
from bridge.worker import ActionWorker
from domain.model import Account, NotifyModerators, Platform
from domain.ports import ActionExecutor, Directory, MessageFetcher, PermanentError, Replier
from rules.automod import automod_specs
from rules.engine import Engine
from storage.audit import AuditRepository
from storage.consent import ConsentRepository
from storage.db import Database
from storage.identity import IdentityRepository
from storage.repositories import Repositories

log = logging.getLogger(__name__)

KEEP_DONE_TIMERS = timedelta(days=30)  # fired timers kept this long, for a look afterwards


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


@contextlib.contextmanager
def _only_instance(database: Path) -> Iterator[None]:
    """Hold ``<database>.lock`` while running: a second service on the same database would
    take the first one's actions in hand again (it believes them left by a crash)."""
    try:
        lock = open(f"{database}.lock", "a")  # noqa: SIM115 -- closed below, after the run
    except OSError as exc:
        raise ConfigError(f"cannot write next to the database {database}: {exc.strerror}") from None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(
                f"another modbridge is already running on {database}; stop it first"
            ) from None
        try:
            yield
        finally:
            # Removed before unlocking: a service starting meanwhile locks a new file.
            with contextlib.suppress(OSError):
                os.unlink(f"{database}.lock")
            fcntl.flock(lock, fcntl.LOCK_UN)


def housekeeping(repos: Repositories, retention: timedelta = timedelta(days=180)) -> list[Chore]:
    """What the scheduler deletes every hour: fired timers after 30 days, abandoned report
    conversations after their hour, evidence and report texts ``retention`` after their case
    was closed."""
    return [
        lambda now: repos.timers.delete_done(now - KEEP_DONE_TIMERS),
        lambda now: repos.kv.delete_stale(DRAFT_PREFIX, now - DRAFT_TTL),
        lambda now: repos.privacy.purge_closed(now - retention),
    ]


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
        # Set once each platform has connected: timers wait for all (they act in every space).
        self._up = {platform: asyncio.Event() for platform in Platform}
        self.matrix: MatrixConnection | None = None
        self.discord: DiscordConnection | None = None
        self._executors: dict[Platform, ActionExecutor] = {}
        self._repliers: dict[Platform, Replier] = {}
        self._bots: set[str] = set()
        self._fetchers: dict[Platform, MessageFetcher] = {}
        self._directories: dict[Platform, Directory] = {}  # names, as platforms connect
        self._failure: BaseException | None = None  # why a platform connection gave up
        self._failed = ""  # which one

    def stop(self) -> None:
        self._stop.set()

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
        configured = {}
        if self.settings.matrix is not None:
            configured[Platform.MATRIX] = self._up[Platform.MATRIX].is_set()
        if self.settings.discord is not None:
            configured[Platform.DISCORD] = self._up[Platform.DISCORD].is_set()
        return configured

    def _policy_state(self) -> PolicyState:
        return PolicyState(
            rules=len(self.policy.engine.policy.rules),
            source=str(self._path),
            loaded_at=self.policy.loaded_at,
        )

    async def run(self) -> None:
        """Run until stop() or a termination signal."""
        path = database_path(self.settings, self._path)
        with _only_instance(path):
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
        worker = ActionWorker(
            outbox=repos.outbox, executors=self._executors,
            on_failure=lambda row, reason: self.pipeline.tell_failure(row, reason),
            clock=utc_now, community_name=self.settings.community.name,
            on_outcome=observatory.on_outcome,
        )  # fmt: skip
        self._worker = worker
        self.policy = PolicyWatcher(self._path, self.settings, self._notify_moderators)
        names = Names(self._directories)
        digest = self.settings.digest
        self.pipeline = Pipeline(
            db=db, repos=repos, engine=lambda: self.policy.engine, community=self.community,
            wake_worker=worker.wake, hand_over=worker.hand_over, clock=utc_now,
            modlog=ModLog(names, utc_now),
            on_judged=observatory.on_judged, amend=with_notice if self.dry_run else None,
            digest=NoticeDigest(
                db=db, repos=repos, engine=lambda: self.policy.engine,
                window=digest.window if digest.enabled else None,
            ),
        )  # fmt: skip
        linking = Linking(repos=repos, pipeline=self.pipeline, clock=utc_now)
        reports = Reports(
            pipeline=self.pipeline, repos=repos, clock=utc_now, config=self.settings.reports,
            texts=self.settings.texts, is_moderator=self._is_moderator,
            on_received=observatory.on_report,
        )  # fmt: skip
        prefix = self.settings.matrix.command_prefix if self.settings.matrix else "!"
        status = ServiceStatus(
            configured=self._configured, community=self.community, outbox=repos.outbox,
            policy=self._policy_state, clock=utc_now,
        )  # fmt: skip
        moderation = Moderation(
            pipeline=self.pipeline, linking=linking, reports=reports, repos=repos, clock=utc_now,
            names=names, status=status, prefix=prefix,
        )  # fmt: skip
        matrix_config = self.settings.matrix
        self._lists = ListBans(
            pipeline=self.pipeline, list_bans=repos.list_bans, sanctions=repos.sanctions,
            lists=matrix_config.policy_lists if matrix_config else (),
            bot_user=matrix_config.user_id if matrix_config else "",
            reach_discord=matrix_config.list_bans_reach_discord if matrix_config else True,
            clock=utc_now,
        )  # fmt: skip
        moderation.lists = self._lists.describe
        self.pipeline.reaches = self._lists.reaches
        self._ecosystem = MatrixEcosystem(
            pipeline=self.pipeline, lists=self._lists, reports=reports,
            sanctions=repos.sanctions, clock=utc_now,
        )  # fmt: skip
        direct = DirectMessages(
            repos=repos, reports=reports, linking=linking, texts=self.settings.texts,
            fetchers=self._fetchers, clock=utc_now,
            retention_days=self.settings.retention.after_close.days,
        )  # fmt: skip
        core = (DryRunCore if self.dry_run else Core)(
            pipeline=self.pipeline, moderation=moderation, audit=repos.audit, direct=direct,
            reports=reports,
            repliers=self._repliers, bots=self._bots,
            mirror_bans=self.settings.sync.mirror_manual_bans,
            mirror_kicks=self.settings.sync.mirror_manual_kicks,
            prefixes={Platform.MATRIX: prefix}, known=repos.identity.search, names=names,
            lists=self._lists,
            health=StorageHealth(community=self.community, repliers=self._repliers),
        )  # fmt: skip
        scheduler = Scheduler(
            timers=repos.timers, pipeline=self.pipeline, clock=utc_now,
            chores=housekeeping(repos, self.settings.retention.after_close),
            handlers={DIGEST_TIMER: self.pipeline.fire_digest},
        )  # fmt: skip
        self._install_signals()
        antispam: AntispamServer | None = None
        tasks += [
            asyncio.create_task(worker.run(), name="worker"),
            asyncio.create_task(scheduler.run(ready=self._platforms_up()), name="timers"),
            asyncio.create_task(self.policy.run(self._stop), name="policy"),
        ]
        status_server = None
        try:
            if self.settings.http is not None:
                status_server = observatory.serve(self.settings.http.host, self.settings.http.port)
                await status_server.start()
            if self.settings.antispam is not None:
                antispam = AntispamServer(
                    identity=repos.identity, consent=repos.consent, audit=repos.audit,
                    config=self.settings.antispam, on_direct_invite=reports.flag_invite,
                    bots=frozenset(
                        [self.settings.matrix.user_id] if self.settings.matrix else []
                    ),
                    dry_run=self.dry_run, tell_moderators=self._notice,
                )  # fmt: skip
                await antispam.start()
            if self.settings.matrix is not None:
                matrix = asyncio.create_task(self._run_matrix(core, repos), name="Matrix")
                matrix.add_done_callback(self._platform_ended)
                tasks.append(matrix)
            if self.settings.discord is not None:
                discord = asyncio.create_task(self._run_discord(core, repos), name="Discord")
                discord.add_done_callback(self._platform_ended)
                tasks.append(discord)
            if self.dry_run:
                log.info("modbridge running (dry run): nothing is done on the platforms")
            else:
                log.info("modbridge running")
            await self._stop.wait()
        finally:
            log.info("modbridge stopping")
            await core.drain_commands()
            worker.stop()
            scheduler.stop()
            if self.matrix is not None:
                await self.matrix.close()
            if self.discord is not None:
                await self.discord.close()
            for task in tasks:
                if task.get_name() != "worker":
                    task.cancel()
            # The worker finishes what it started; unstarted actions stay in the outbox.
            await asyncio.gather(*tasks, return_exceptions=True)
            if antispam is not None:
                await antispam.close()
            if status_server is not None:
                await status_server.close()
            log.info("modbridge stopped")
        if isinstance(self._failure, PermanentError | DiscordStartupError):
            # Refused credentials and the like: the admin has to fix the configuration.
            raise ConfigError(f"the {self._failed} connection failed: {self._failure}")
        if self._failure is not None:
            raise self._failure

    async def _platforms_up(self) -> None:
        """Until every configured platform has connected once (and knows its spaces)."""
        configured = {
            Platform.MATRIX: self.settings.matrix is not None,
            Platform.DISCORD: self.settings.discord is not None,
        }
        await asyncio.gather(*(self._up[p].wait() for p, on in configured.items() if on))

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

    async def _run_matrix(self, core: Core, repos: Repositories) -> None:
        config = self.settings.matrix
        if config is None:
            return
        connection = MatrixConnection(
            homeserver=config.homeserver,
            user_id=config.user_id,
            password=config.password.get_secret_value() if config.password else None,
            access_token=config.access_token.get_secret_value() if config.access_token else None,
            rooms=config.rooms,
            spaces=config.spaces,
            mod_room=config.mod_room,
            moderators=config.moderators,
            moderator_power_level=config.moderator_power_level,
            state=repos.kv,
            handlers=core,
            command_prefix=config.command_prefix,
            policy_lists=config.policy_lists,
            publish_list=config.publish_list,
            ecosystem=self._ecosystem,
            encryption=self._encryption(),
            notify=self._notify_moderators,
        )
        self.matrix = connection
        self._directories[Platform.MATRIX] = connection
        # Before start(): the first sync already hands the lists' rules on.
        self._lists.members = connection.ecosystem.members
        self._bots.add(f"matrix:{config.user_id}")
        await connection.start()
        client = connection.new_client()
        memory = MatrixMemory(repos.kv)
        # A member's own encrypted DM with the bot carries their warnings.
        direct_rooms = EncryptedDirectRooms(memory, connection.encrypted_direct_room)
        executor = MatrixExecutor(
            client, mod_room_id=connection.mod_room_id or "", levels=memory,
            direct_rooms=direct_rooms, known_powers=connection.known_powers,
        )  # fmt: skip
        # In a dry run the twin stands in front: a ban is neither carried out nor published.
        self._executors[Platform.MATRIX] = self._twin(
            PublishingExecutor(executor, client) if config.publish_list else executor
        )
        self._repliers[Platform.MATRIX] = self._marked(MatrixReplier(client))
        self._fetchers[Platform.MATRIX] = MatrixFetcher(client, is_direct=connection.is_direct)
        self._worker.wake()
        self._up[Platform.MATRIX].set()
        reader: asyncio.Task[None] | None = None
        if config.read_abuse_reports:
            reports = AbuseReportReader(
                homeserver=config.homeserver, token=lambda: str(client.access_token),
                protected=lambda: connection.protected_rooms, handler=self._ecosystem,
                members=lambda: {a.id for a in connection.ecosystem.members()},
                seen=repos.kv,
            )  # fmt: skip
            reader = asyncio.create_task(reports.run(self._stop), name="homeserver reports")
        try:
            await connection.run()
        finally:
            if reader is not None:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
            await client.close()

    def _encryption(self) -> EncryptionOptions | None:
        """Encryption on (the default): the crypto store goes beside the database."""
        config = self.settings.matrix
        if config is None or not config.encryption:
            return None
        if not encryption_available():
            raise ConfigError(
                "[matrix] encryption is on but matrix-nio's e2e extra is missing: install "
                "modbridge again (pip install -e .), or set encryption = false"
            )
        storage = Path(self.settings.storage.path)
        return EncryptionOptions(
            store_dir=storage.with_name(storage.name + ".crypto"),
            key_wait=config.key_wait.total_seconds(),
            unreadable_text=self.settings.texts.unreadable_message,
            password=config.password.get_secret_value() if config.password else None,
            recovery_key=config.recovery_key.get_secret_value() if config.recovery_key else None,
        )

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
        self._executors[Platform.DISCORD] = self._twin(connection.executor())
        self._repliers[Platform.DISCORD] = self._marked(DiscordReplier(connection.client))
        self._fetchers[Platform.DISCORD] = DiscordFetcher(connection.client)
        self._directories[Platform.DISCORD] = DiscordDirectory(connection.client)
        if connection.client.user is not None:
            self._bots.add(f"discord:{connection.client.user.id}")
        self._worker.wake()
        self._up[Platform.DISCORD].set()
        log.info("Discord connection up: %d protected guilds", len(connection.protected_guilds))
        await connection.run()

    def _twin(self, executor: ActionExecutor) -> ActionExecutor:
        return SimulatedExecutor(executor) if self.dry_run else executor

    def _marked(self, replier: Replier) -> Replier:
        return DryRunReplier(replier) if self.dry_run else replier

    def _links(self) -> dict[Platform, Link]:
        """Each configured platform's connection, for /healthz and the metrics."""
        links = {}
        if self.settings.matrix is not None:
            matrix = self.matrix
            links[Platform.MATRIX] = Link(
                up=self._up[Platform.MATRIX].is_set(),
                down_since=matrix.down_since if matrix is not None else None,
            )
        if self.settings.discord is not None:
            discord = self.discord
            links[Platform.DISCORD] = Link(
                up=self._up[Platform.DISCORD].is_set(),
                down_since=discord.down_since if discord is not None else None,
            )
        return links

    async def _notice(self, text: str) -> None:
        """A notice to the moderators about no case (the antispam callbacks' dry run)."""
        await self.pipeline.enqueue_actions(
            None, [NotifyModerators(text=text)], member_id=None,
            origin=f"notice:{uuid.uuid4().hex}",  # each one is news: never deduplicated
        )  # fmt: skip

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGTERM, self.stop)
            loop.add_signal_handler(signal.SIGINT, self.stop)
            loop.add_signal_handler(signal.SIGHUP, self.policy.reload_requested.set)

    async def _notify_moderators(self, text: str) -> None:
        await self.pipeline.enqueue_actions(
            None,
            [NotifyModerators(text=text)],
            member_id=None,
            origin=f"notice:{utc_now().isoformat()}",
        )


def database_path(settings: Settings, config_path: Path) -> Path:
    """``[storage] path``, read relative to the configuration file (like ``words_file``)."""
    return (config_path.parent / settings.storage.path).resolve()


async def run_service(config_path: Path) -> None:
    """Load the configuration and run the service until a signal."""
    settings = load_settings(config_path)
    await Service(settings, config_path).run()
