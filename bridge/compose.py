"""The core's wiring, written once: `build_core` builds every part of the core over one
database and hands back the parts. The service (`bridge.service`) calls it with the real
platforms around it; the component tests' bot (`tests/component/harness.py`) calls it with
fake ones, so what the tests drive is wired exactly as what runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bridge.config import Settings
from bridge.conversation import DRAFT_PREFIX, DRAFT_TTL, DirectMessages
from bridge.core import Core
from bridge.digest import DIGEST_TIMER, NoticeDigest
from bridge.dryrun import DryRunCore, with_notice
from bridge.ecosystem import MatrixEcosystem
from bridge.health import StorageHealth
from bridge.judge import Judge
from bridge.linking import Linking
from bridge.members import Members
from bridge.moderation import Moderation, Status
from bridge.modlog import ModLog
from bridge.names import Names
from bridge.planner import Community
from bridge.policy_lists import ListBans
from bridge.reports import Reports
from bridge.scheduler import Chore, Scheduler
from bridge.writer import CaseWriter
from domain.model import Account, Message, Platform, Verdict
from domain.ports import MessageFetcher, Replier
from domain.records import ActionRow
from rules.engine import Engine
from storage.db import Database
from storage.repositories import Repositories

KEEP_DONE_TIMERS = timedelta(days=30)  # fired timers kept this long, for a look afterwards


def housekeeping(repos: Repositories, retention: timedelta = timedelta(days=180)) -> list[Chore]:
    """What the scheduler deletes every hour: fired timers after 30 days, abandoned report
    conversations after their hour, evidence and report texts ``retention`` after their case
    was closed."""
    return [
        lambda now: repos.timers.delete_done(now - KEEP_DONE_TIMERS),
        lambda now: repos.kv.delete_stale(DRAFT_PREFIX, now - DRAFT_TTL),
        lambda now: repos.privacy.purge_closed(now - retention),
    ]


@dataclass(frozen=True, slots=True, kw_only=True)
class Surroundings:
    """What the core is given from around it: the platforms as they connect (filled in
    later by the service), the names they know, the worker to wake, and the hooks of the
    metrics. Mappings and sets are read when used, so a platform may join after building."""

    community: Callable[[], Community]
    wake_worker: Callable[[], None]
    names: Names
    # Deletions the writer hands to the worker as their case commits (no claim first).
    hand_over: Callable[[Sequence[ActionRow]], None] | None = None
    repliers: Mapping[Platform, Replier] = field(default_factory=dict)
    fetchers: Mapping[Platform, MessageFetcher] = field(default_factory=dict)
    bots: set[str] = field(default_factory=set)  # the bot's own account keys
    is_moderator: Callable[[Account], bool | Awaitable[bool]] = lambda _account: False
    on_judged: Callable[[Message, Verdict], None] | None = None
    on_report: Callable[[Platform], None] | None = None
    status: Status | None = None
    answer_wait: float = 8.0  # how long a command's answer waits for the worker
    new_code: Callable[[], str] | None = None  # link codes (tests pick them)


@dataclass(frozen=True, slots=True, kw_only=True)
class CoreParts:
    """The core, built: its face towards the adapters (`core`) and the parts behind it."""

    repos: Repositories
    members: Members
    writer: CaseWriter
    judge: Judge
    linking: Linking
    reports: Reports
    moderation: Moderation
    direct: DirectMessages
    lists: ListBans
    ecosystem: MatrixEcosystem
    core: Core
    scheduler: Scheduler


def build_core(
    settings: Settings,
    *,
    db: Database,
    repos: Repositories,
    engine: Callable[[], Engine],
    clock: Callable[[], datetime],
    around: Surroundings,
    dry_run: bool = False,
) -> CoreParts:
    """Every part of the core over ``db`` and its ``repos`` (one set for the whole service:
    the identity repository's cache must see every link), configured by ``settings``;
    ``engine`` gives the rules in force (a reload swaps it)."""
    members, writer = _write_side(settings, db, repos, engine, clock, around, dry_run)
    judge = Judge(
        members=members, writer=writer, cases=repos.cases, engine=engine, clock=clock,
        on_judged=around.on_judged,
    )  # fmt: skip
    codes = {"new_code": around.new_code} if around.new_code is not None else {}
    linking = Linking(codes=repos.links, members=members, writer=writer, clock=clock, **codes)
    reports = Reports(
        writer=writer, members=members, repos=repos, engine=engine, clock=clock,
        config=settings.reports, texts=settings.texts, is_moderator=around.is_moderator,
        on_received=around.on_report,
    )  # fmt: skip
    matrix = settings.matrix
    prefix = matrix.command_prefix if matrix else "!"
    moderation = Moderation(
        writer=writer, members=members, linking=linking, reports=reports, repos=repos,
        clock=clock, answer_wait=around.answer_wait, names=around.names,
        status=around.status, prefix=prefix,
    )  # fmt: skip
    lists = _list_bans(settings, repos, writer, members, clock)
    moderation.lists = lists.describe
    writer.reaches = lists.reaches
    direct = DirectMessages(
        repos=repos, reports=reports, linking=linking, texts=settings.texts,
        fetchers=around.fetchers, clock=clock,
        retention_days=settings.retention.after_close.days,
    )  # fmt: skip
    core = (DryRunCore if dry_run else Core)(
        judge=judge, writer=writer, members=members, moderation=moderation, direct=direct,
        reports=reports, repliers=around.repliers, bots=around.bots,
        mirror_bans=settings.sync.mirror_manual_bans,
        mirror_kicks=settings.sync.mirror_manual_kicks,
        prefixes={Platform.MATRIX: prefix}, known=repos.identity.search, names=around.names,
        lists=lists,
        health=StorageHealth(community=around.community, repliers=around.repliers),
    )  # fmt: skip
    ecosystem = MatrixEcosystem(
        writer=writer, members=members, lists=lists, reports=reports,
        sanctions=repos.sanctions, clock=clock,
    )  # fmt: skip
    scheduler = Scheduler(
        timers=repos.timers, writer=writer, members=members, clock=clock,
        chores=housekeeping(repos, settings.retention.after_close),
        handlers={DIGEST_TIMER: writer.fire_digest},
    )  # fmt: skip
    return CoreParts(
        repos=repos, members=members, writer=writer, judge=judge, linking=linking,
        reports=reports, moderation=moderation, direct=direct, lists=lists,
        ecosystem=ecosystem, core=core, scheduler=scheduler,
    )  # fmt: skip


def _write_side(
    settings: Settings,
    db: Database,
    repos: Repositories,
    engine: Callable[[], Engine],
    clock: Callable[[], datetime],
    around: Surroundings,
    dry_run: bool,
) -> tuple[Members, CaseWriter]:
    """The member look-ups and the one writer of cases and outbox rows."""
    members = Members(
        identity=repos.identity, sanctions=repos.sanctions, strikes=repos.strikes,
        outbox=repos.outbox, clock=clock,
    )  # fmt: skip
    digest = settings.digest
    writer = CaseWriter(
        db=db, repos=repos, members=members, engine=engine, community=around.community,
        wake_worker=around.wake_worker, hand_over=around.hand_over, clock=clock,
        modlog=ModLog(around.names, clock),
        amend=with_notice if dry_run else None,
        digest=NoticeDigest(
            db=db, repos=repos, engine=engine, window=digest.window if digest.enabled else None
        ),
    )  # fmt: skip
    return members, writer


def _list_bans(
    settings: Settings,
    repos: Repositories,
    writer: CaseWriter,
    members: Members,
    clock: Callable[[], datetime],
) -> ListBans:
    """The bans of the subscribed Matrix policy lists (none without ``[matrix]``)."""
    matrix = settings.matrix
    return ListBans(
        writer=writer, members=members, list_bans=repos.list_bans, sanctions=repos.sanctions,
        lists=matrix.policy_lists if matrix else (), bot_user=matrix.user_id if matrix else "",
        reach_discord=matrix.list_bans_reach_discord if matrix else True, clock=clock,
    )  # fmt: skip
