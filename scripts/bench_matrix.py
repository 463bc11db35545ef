"""Benchmark of the Matrix side of the real service, against a local Synapse it starts itself.

Usage: .venv/bin/python scripts/bench_matrix.py [--rates 20,200] [--samples 40] [--rooms 50]
       .venv/bin/python scripts/bench_matrix.py --scenario raid [--rate 45] [--seconds 60]
       (the raid: mixed traffic, 1 in 10 a violation; scripts/bench_raid.py)
       .venv/bin/python scripts/bench_matrix.py --encrypted [--samples 40]

Starts a throwaway Synapse on loopback (rate limits raised, tests/e2e/synapse.py), registers
a bot, a moderator, a member, an observer, a target and a few background senders, lets the
bot create 50 protected rooms and a mod room, then starts `modbridge run` as a subprocess
(the real composition root, a keywords rule with actions ["delete"]) and measures:

  1. the time from a member's `room_send` of a violating text to the redaction of that event
     being seen by ANOTHER member's syncing client (the observer), p50 and p99, while
     background senders post clean messages into the same rooms at each rate; and, in the
     same run and under the same load, the baseline: a plain send seen by the observer;
  2. the time from a moderator's `!ban @target:localhost raid` in the mod room until the
     observer has seen the target banned in all the protected rooms (and the bot's answer).

With ``--encrypted`` it measures only violation -> redaction seen in an encrypted room next
to a plain room, in the same run, from a member whose client encrypts (see
``bench_encrypted``).

Prints a Markdown table with the machine. Synapse and the service are stopped on exit,
also on Ctrl-C or an error. Needs `.synapse-venv` (scripts/install-synapse.sh).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the harness lives in tests/, which is not installed
    sys.path.insert(0, str(ROOT))

from bench_common import (  # noqa: E402
    KEYWORD,
    busy_seconds,
    cpu_seconds,
    ms,
    paced,
    percentile,
    stop_process,
    wait_for_log,
)
from bench_common import start_service as start_service_in  # noqa: E402
from nio import AsyncClient, RoomCreateResponse, RoomPreset, RoomSendResponse, SyncResponse  # noqa: E402

from tests.e2e.crypto_helpers import ENCRYPTION_STATE, EncryptingMember  # noqa: E402
from tests.e2e.matrix_helpers import client_for  # noqa: E402
from tests.e2e.synapse import (  # noqa: E402
    RegisteredUser,
    SynapseServer,
    synapse_available,
    synapse_python,
)

T = TypeVar("T")

TRAFFIC_ROOMS = 10  # background and samples go to this many of the protected rooms
WARMUP = 3.0  # seconds of background before the first sample
PHASE_LIMIT = 88.0  # seconds per rate, all included
SETTLE_LIMIT = 60.0  # seconds to wait for the service to work off a backlog
BAN_LIMIT = 60.0
SENDERS = 4  # background users
IN_FLIGHT = 64  # background sends in flight at most; beyond that a tick is dropped
OBSERVER_FILTER: dict[str, Any] = {
    "room": {"timeline": {"limit": 1000}, "state": {"lazy_load_members": True}},
    "presence": {"types": []},
    "account_data": {"types": []},
}


# -- small helpers ----------------------------------------------------------------------------


async def bounded(jobs: Sequence[Callable[[], Awaitable[T]]], limit: int = 16) -> list[T]:
    """Run the jobs with at most ``limit`` at a time; results in order."""
    slots = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[T]]) -> T:
        async with slots:
            return await job()

    return list(await asyncio.gather(*(one(job) for job in jobs)))


async def send_text(client: AsyncClient, room_id: str, body: str) -> str:
    response = await client.room_send(
        room_id, "m.room.message", {"msgtype": "m.text", "body": body}
    )
    if not isinstance(response, RoomSendResponse):
        raise RuntimeError(f"send to {room_id} failed: {response}")
    event_id: str = response.event_id
    return event_id


# -- the observer -----------------------------------------------------------------------------


class Observer:
    """A member's client that syncs and notes when each event of interest first arrived."""

    def __init__(self, client: AsyncClient, *, target: str, bot: str, mod_room: str) -> None:
        self.client = client
        self.target = target
        self.bot = bot
        self.mod_room = mod_room
        self.seen: dict[str, float] = {}  # message event id -> arrival
        self.redacted: dict[str, float] = {}  # redacted event id -> arrival of the redaction
        self.bans: dict[str, float] = {}  # room id -> arrival of the target's ban
        self.notices: list[tuple[float, str]] = []  # the bot's notices in the mod room
        self.limited = 0  # timelines the server cut short (events the observer did not see)
        self.changed = asyncio.Event()
        self._next_batch: str | None = None
        self._stop = asyncio.Event()

    async def first_sync(self) -> None:
        response = await self.client.sync(timeout=0, sync_filter=OBSERVER_FILTER, full_state=True)
        if not isinstance(response, SyncResponse):
            raise RuntimeError(f"observer's first sync failed: {response}")
        self._next_batch = response.next_batch

    async def run(self) -> None:
        while not self._stop.is_set():
            response = await self.client.sync(
                timeout=5000, since=self._next_batch, sync_filter=OBSERVER_FILTER
            )
            now = time.monotonic()
            if not isinstance(response, SyncResponse):
                await asyncio.sleep(0.1)
                continue
            self._take(response, now)
            self._next_batch = response.next_batch
            self.changed.set()

    def stop(self) -> None:
        self._stop.set()

    def _take(self, response: Any, now: float) -> None:
        for room_id, info in response.rooms.join.items():
            if info.timeline.limited:
                self.limited += 1
            for event in [*info.state, *info.timeline.events]:
                self._event(room_id, event.source, now)

    def _event(self, room_id: str, source: dict[str, Any], now: float) -> None:
        kind = source.get("type")
        content = source.get("content") or {}
        if kind == "m.room.message":
            self.seen.setdefault(str(source.get("event_id")), now)
            if (
                room_id == self.mod_room
                and source.get("sender") == self.bot
                and content.get("msgtype") == "m.notice"
            ):
                self.notices.append((now, str(content.get("body", ""))))
        elif kind == "m.room.redaction":
            redacts = source.get("redacts") or content.get("redacts")
            if isinstance(redacts, str):
                self.redacted.setdefault(redacts, now)
        elif (
            kind == "m.room.member"
            and source.get("state_key") == self.target
            and content.get("membership") == "ban"
        ):
            self.bans.setdefault(room_id, now)

    async def wait_for(self, done: Callable[[], bool], limit: float) -> bool:
        """Wait until ``done()`` holds (checked after each sync) or ``limit`` seconds pass."""
        deadline = time.monotonic() + limit
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(left, 1.0))
        return True


# -- background traffic -----------------------------------------------------------------------


@dataclass(slots=True)
class Traffic:
    """What the background loop managed to send."""

    ok: int = 0
    failed: int = 0
    dropped: int = 0  # ticks skipped: too many sends in flight, or the loop fell behind
    started: float = 0.0
    stopped: float = 0.0

    @property
    def rate(self) -> float:
        elapsed = self.stopped - self.started
        return self.ok / elapsed if elapsed > 0 else 0.0


async def background(
    clients: Sequence[AsyncClient], rooms: Sequence[str], rate: float, stop: asyncio.Event
) -> Traffic:
    """Send clean messages at ``rate`` per second, round-robin over clients and rooms."""
    stats = Traffic(started=time.monotonic())

    async def one(n: int) -> None:
        client = clients[n % len(clients)]
        room = rooms[(n // len(clients)) % len(rooms)]
        body = f"status {n}: the nightly build on node {n % 7} finished, see the dashboard"
        try:
            await send_text(client, room, body)
        except Exception:
            stats.failed += 1
        else:
            stats.ok += 1

    stats.dropped, stats.stopped = await paced(
        rate, one, stop=stop, in_flight=IN_FLIGHT, skip_behind=True
    )
    return stats


# -- the world --------------------------------------------------------------------------------


@dataclass(slots=True)
class World:
    server: SynapseServer
    users: dict[str, RegisteredUser]
    clients: dict[str, AsyncClient]
    senders: list[AsyncClient]
    rooms: list[str]
    mod_room: str
    observer: Observer
    service: subprocess.Popen[bytes] | None = None
    service_log: Path | None = None
    closers: list[AsyncClient] = field(default_factory=list)


async def create_room(bot: AsyncClient, initial_state: Sequence[dict[str, Any]] = ()) -> str:
    """A public room made by the bot (so it has the power to moderate there)."""
    response = await bot.room_create(
        preset=RoomPreset.public_chat, initial_state=list(initial_state)
    )
    if not isinstance(response, RoomCreateResponse):
        raise RuntimeError(f"room creation failed: {response}")
    room_id: str = response.room_id
    return room_id


async def join_all(joins: Sequence[tuple[AsyncClient, str]]) -> None:
    """Each client joins its room, eight at a time; a refused join stops the benchmark."""

    def joiner(client: AsyncClient, room: str) -> Callable[[], Awaitable[None]]:
        async def join() -> None:
            response = await client.join(room)
            if getattr(response, "room_id", None) != room:
                raise RuntimeError(f"{client.user_id} could not join {room}: {response}")

        return join

    await bounded([joiner(client, room) for client, room in joins], limit=8)


async def build_world(server: SynapseServer, n_rooms: int) -> World:
    names = ["modbridge", "mod", "member", "observer", "target"]
    names += [f"chatter{i}" for i in range(SENDERS)]
    users = {name: server.register(name) for name in names}
    clients = {name: client_for(server, user, timeout=30.0) for name, user in users.items()}
    bot = clients["modbridge"]
    rooms = await bounded([lambda: create_room(bot) for _ in range(n_rooms)], limit=8)
    mod_room = await create_room(bot)
    traffic = rooms[:TRAFFIC_ROOMS]
    joins: list[tuple[AsyncClient, str]] = [(clients["mod"], mod_room)]
    joins += [(clients["observer"], room) for room in [*rooms, mod_room]]
    joins += [(clients["target"], room) for room in rooms]
    joins += [(clients["member"], room) for room in traffic]
    joins += [(clients[f"chatter{i}"], room) for i in range(SENDERS) for room in traffic]

    await join_all(joins)
    observer = Observer(
        clients["observer"], target=users["target"].user_id, bot=users["modbridge"].user_id,
        mod_room=mod_room,
    )  # fmt: skip
    await observer.first_sync()
    return World(
        server=server,
        users=users,
        clients=clients,
        senders=[clients[f"chatter{i}"] for i in range(SENDERS)],
        rooms=rooms,
        mod_room=mod_room,
        observer=observer,
        closers=list(clients.values()),
    )


# Deletion only: the measurements are of the redaction, with no warnings or notices beside it.
DELETE_POLICY = f"""[community]
name = "bench"

[escalation]
ladder = []

[[rules]]
id = "insults"
kind = "keywords"
clause = "Insults"
points = 0
actions = ["delete"]
words = ["{KEYWORD}"]
"""


def write_config(path: Path, world: World) -> None:
    rooms = ", ".join(f'"{room}"' for room in world.rooms)
    path.write_text(
        DELETE_POLICY
        + f"""
[matrix]
homeserver = "{world.server.base_url}"
user_id = "{world.users["modbridge"].user_id}"
rooms = [{rooms}]
mod_room = "{world.mod_room}"
moderators = ["{world.users["mod"].user_id}"]
""",
        encoding="utf-8",
    )


def start_service(world: World, work: Path) -> None:
    config = work / "modbridge.toml"
    write_config(config, world)
    token = world.users["modbridge"].access_token
    world.service = start_service_in(config, work, {"MODBRIDGE_MATRIX__ACCESS_TOKEN": token})
    world.service_log = work / "service.log"


async def wait_service_up(world: World, limit: float = 60.0) -> float:
    if world.service is None or world.service_log is None:
        raise RuntimeError("start_service() first")
    return await wait_for_log(world.service, world.service_log, "Matrix connection up", limit)


def stop_service(world: World) -> None:
    stop_process(world.service)


# -- the measurements -------------------------------------------------------------------------


@dataclass(slots=True)
class RateResult:
    rate: int
    traffic: Traffic
    redaction: list[float]
    baseline: list[float]
    sent: int
    redacted: int
    probes_seen: int
    settle: float | None
    cpu: dict[str, float]
    observer_limited: int


def service_pid(world: World) -> int | None:
    return world.service.pid if world.service is not None else None


def synapse_pid(world: World) -> int | None:
    # The harness keeps its Popen private; Synapse only writes its pid file when daemonised.
    process: subprocess.Popen[bytes] | None = getattr(world.server, "_process", None)
    return process.pid if process is not None else None


async def settle(world: World, label: str) -> float | None:
    """Send one violation and wait for its redaction: the service has worked off its backlog."""
    started = time.monotonic()
    event_id = await send_text(
        world.clients["member"], world.rooms[0], f"settle {label}: you {KEYWORD}"
    )
    ok = await world.observer.wait_for(lambda: event_id in world.observer.redacted, SETTLE_LIMIT)
    return time.monotonic() - started if ok else None


async def measure_rate(world: World, rate: int, samples: int) -> RateResult:
    observer = world.observer
    member = world.clients["member"]
    rooms = world.rooms[:TRAFFIC_ROOMS]
    pids = {"synapse": synapse_pid(world), "service": service_pid(world), "bench": os.getpid()}
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    busy_before = busy_seconds()
    phase_start = time.monotonic()
    stop = asyncio.Event()
    traffic_task = asyncio.create_task(background(world.senders, rooms, rate, stop))
    violations: list[tuple[float, str]] = []
    probes: list[tuple[float, str]] = []
    limited_before = observer.limited
    try:
        await asyncio.sleep(WARMUP)
        spacing = 1.0
        for i in range(samples):
            room = rooms[i % len(rooms)]
            t0 = time.monotonic()
            violations.append((t0, await send_text(member, room, f"r{rate} #{i}: you {KEYWORD}")))
            await asyncio.sleep(max(0.0, t0 + spacing / 2 - time.monotonic()))
            t1 = time.monotonic()
            probes.append((t1, await send_text(member, room, f"r{rate} #{i}: a plain probe")))
            await asyncio.sleep(max(0.0, t0 + spacing - time.monotonic()))
        left = PHASE_LIMIT - (time.monotonic() - phase_start)
        await observer.wait_for(
            lambda: (
                all(e in observer.redacted for _, e in violations)
                and all(e in observer.seen for _, e in probes)
            ),
            max(1.0, left),
        )
    finally:
        stop.set()
        traffic = await traffic_task
    wall = time.monotonic() - phase_start
    cpu = {name: (cpu_seconds(pid) - cpu_before[name]) / wall * 100 for name, pid in pids.items()}
    # Whatever else ran on the machine meanwhile (other jobs compete for the same cores).
    cpu["others"] = max(0.0, (busy_seconds() - busy_before) / wall * 100 - sum(cpu.values()))
    redaction = [observer.redacted[e] - t for t, e in violations if e in observer.redacted]
    baseline = [observer.seen[e] - t for t, e in probes if e in observer.seen]
    settled = await settle(world, f"after {rate}/s")
    return RateResult(
        rate=rate,
        traffic=traffic,
        redaction=redaction,
        baseline=baseline,
        sent=len(violations),
        redacted=len(redaction),
        probes_seen=len(baseline),
        settle=settled,
        cpu=cpu,
        observer_limited=observer.limited - limited_before,
    )


@dataclass(slots=True)
class BanResult:
    rooms: int
    banned: int
    first: float | None
    all_rooms: float | None
    answer: float | None
    answer_text: str
    during: float | None  # a violation sent just after the !ban: its redaction seen after


async def measure_ban(world: World) -> BanResult:
    observer = world.observer
    target = world.users["target"].user_id
    notices_before = len(observer.notices)
    t0 = time.monotonic()
    await send_text(world.clients["mod"], world.mod_room, f"!ban {target} raid")
    # A violation right behind the command: does moderation wait while the ban is carried out?
    await asyncio.sleep(0.05)
    t1 = time.monotonic()
    violation = await send_text(
        world.clients["member"], world.rooms[0], f"during the ban: you {KEYWORD}"
    )
    await observer.wait_for(
        lambda: (
            len(observer.bans) >= len(world.rooms)
            and len(observer.notices) > notices_before
            and violation in observer.redacted
        ),
        BAN_LIMIT,
    )
    times = sorted(observer.bans[room] - t0 for room in world.rooms if room in observer.bans)
    answers = observer.notices[notices_before:]
    return BanResult(
        rooms=len(world.rooms),
        banned=len(times),
        first=times[0] if times else None,
        all_rooms=times[-1] if len(times) == len(world.rooms) else None,
        answer=answers[0][0] - t0 if answers else None,
        answer_text=answers[0][1] if answers else "",
        during=observer.redacted[violation] - t1 if violation in observer.redacted else None,
    )


# -- the report -------------------------------------------------------------------------------


def machine() -> str:
    try:
        synapse = subprocess.run(
            [str(synapse_python()), "-c", "import synapse; print(synapse.__version__)"],
            capture_output=True, text=True, timeout=30, check=False,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        synapse = "?"
    return (
        f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), "
        f"{platform.machine()}, Linux {platform.release()}; Python {platform.python_version()}; "
        f"Synapse {synapse} (SQLite); matrix-nio {importlib.metadata.version('matrix-nio')}"
    )


def report(results: list[RateResult], ban: BanResult | None, rooms: int, up: float) -> str:
    lines = [f"Machine: {machine()}", ""]
    lines.append(f"Service start-up (log in, {rooms + 1} rooms, first sync): {up:.1f} s")
    lines.append("")
    if results:
        lines += rate_table(results)
    if ban is not None:
        lines += ban_table(ban)
    return "\n".join(lines)


def rate_table(results: list[RateResult]) -> list[str]:
    """The rate phases side by side, as a Markdown table."""
    lines: list[str] = []
    head = "| | " + " | ".join(f"{r.rate} msg/s asked" for r in results) + " |"
    lines += [head, "|---|" + "---|" * len(results)]

    def row(label: str, cell: Callable[[RateResult], str]) -> None:
        lines.append(f"| {label} | " + " | ".join(cell(r) for r in results) + " |")

    row(
        "background achieved (msg/s)",
        lambda r: (
            f"{r.traffic.rate:.0f} ({r.traffic.failed} failed, {r.traffic.dropped} ticks dropped)"
        ),
    )
    row(
        "violation → redaction seen, p50 / p99 (ms)",
        lambda r: f"{ms(percentile(r.redaction, 50))} / {ms(percentile(r.redaction, 99))}",
    )
    row(
        "baseline: plain send → seen, p50 / p99 (ms)",
        lambda r: f"{ms(percentile(r.baseline, 50))} / {ms(percentile(r.baseline, 99))}",
    )
    row(
        "service's own cost, p50 / p99 (ms)",
        lambda r: (
            f"{ms(percentile(r.redaction, 50) - percentile(r.baseline, 50))} / "
            f"{ms(percentile(r.redaction, 99) - percentile(r.baseline, 99))}"
        ),
    )
    row(
        "max redaction latency (ms)",
        lambda r: ms(max(r.redaction)) if r.redaction else "n/a",
    )
    row("violations redacted / sent", lambda r: f"{r.redacted} / {r.sent}")
    row("probes seen / sent", lambda r: f"{r.probes_seen} / {r.sent}")
    row(
        "CPU % of one core: Synapse / service / bench / other jobs",
        lambda r: (
            f"{r.cpu['synapse']:.0f} / {r.cpu['service']:.0f} / {r.cpu['bench']:.0f} / "
            f"{r.cpu['others']:.0f}"
        ),
    )
    row(
        "backlog worked off after the phase (s)",
        lambda r: "not within 60" if r.settle is None else f"{r.settle:.1f}",
    )
    if any(r.observer_limited for r in results):
        row("observer timelines cut short", lambda r: str(r.observer_limited))
    lines.append("")
    return lines


def ban_table(ban: BanResult) -> list[str]:
    """The quiet ``!ban`` across every room, as a Markdown table."""
    lines: list[str] = []
    lines += [
        f"| `!ban` across {ban.rooms} rooms (quiet, before the rate phases) | ms |",
        "|---|---|",
        f"| first room seen banned | {ms(ban.first)} |",
        f"| all {ban.rooms} rooms seen banned ({ban.banned} seen) | {ms(ban.all_rooms)} |",
        f"| the bot's answer in the mod room | {ms(ban.answer)} |",
        f"| a violation sent 50 ms after the `!ban`: redaction seen | {ms(ban.during)} |",
        "",
    ]
    if ban.answer_text:
        first_line = ban.answer_text.splitlines()[0]
        done = ban.answer_text.count("done: ban")
        lines.append(f"Answer: {first_line!r}, {done} rooms listed as done.")
    return lines


def log_summary(world: World) -> str:
    if world.service_log is None or not world.service_log.exists():
        return ""
    text = world.service_log.read_text(errors="replace").splitlines()
    bad = [line for line in text if " WARNING " in line or " ERROR " in line]
    out = f"Service log: {len(text)} lines, {len(bad)} warnings/errors"
    if bad:
        out += ":\n" + "\n".join(f"    {line[:240]}" for line in bad[:10])
    return out


# -- the encrypted scenario (--encrypted) ------------------------------------------------------
#
# Violation -> redaction seen, in an encrypted room next to a plain room, in the same run: the
# member's client encrypts (matrix-nio with its e2e extra, its own crypto store), the bot's
# device decrypts, the observer (a plain client: redactions are not encrypted) times them.


@dataclass(slots=True)
class EncryptedWorld:
    server: SynapseServer
    users: dict[str, RegisteredUser]
    member: EncryptingMember
    encrypted: str
    plain: str
    observer: Observer
    closers: list[AsyncClient]
    service: subprocess.Popen[bytes] | None = None
    service_log: Path | None = None


async def build_encrypted_world(server: SynapseServer, work: Path) -> EncryptedWorld:
    users = {name: server.register(name) for name in ("modbridge", "mod", "member", "observer")}
    bot = client_for(server, users["modbridge"], timeout=30.0)
    observer_client = client_for(server, users["observer"], timeout=30.0)
    encrypted = await create_room(bot, [ENCRYPTION_STATE])
    plain = await create_room(bot)
    mod_room = await create_room(bot)
    member = EncryptingMember.open(server, users["member"], work / "member-store")
    for client in (member.client, observer_client):
        for room in (encrypted, plain):
            if getattr(await client.join(room), "room_id", None) != room:
                raise RuntimeError(f"{client.user_id} could not join {room}")
    await member.sync()  # the member's device keys go up
    observer = Observer(
        observer_client, target="@nobody:localhost", bot=users["modbridge"].user_id,
        mod_room=mod_room,
    )  # fmt: skip
    await observer.first_sync()
    return EncryptedWorld(
        server=server, users=users, member=member, encrypted=encrypted, plain=plain,
        observer=observer, closers=[bot, observer_client, member.client],
    )  # fmt: skip


def start_encrypted_service(world: EncryptedWorld, work: Path) -> subprocess.Popen[bytes]:
    config = work / "modbridge.toml"
    config.write_text(
        DELETE_POLICY
        + f"""
[matrix]
homeserver = "{world.server.base_url}"
user_id = "{world.users["modbridge"].user_id}"
rooms = ["{world.encrypted}", "{world.plain}"]
mod_room = "{world.observer.mod_room}"
moderators = ["{world.users["mod"].user_id}"]
""",
        encoding="utf-8",
    )
    password = world.users["modbridge"].password
    process = start_service_in(config, work, {"MODBRIDGE_MATRIX__PASSWORD": password})
    world.service, world.service_log = process, work / "service.log"
    return process


async def measure_encrypted(world: EncryptedWorld, samples: int) -> dict[str, list[float]]:
    """Alternate violations into the encrypted and the plain room, one every 0.5 s."""
    sent: dict[str, list[tuple[float, str]]] = {"encrypted": [], "plain": []}
    member = world.member
    bot = world.users["modbridge"].user_id
    # A member's client learns of the bot's new device from its syncs, as Element would.
    deadline = time.monotonic() + 30
    while not list(member.client.device_store.active_user_devices(bot)):
        if time.monotonic() > deadline:
            raise RuntimeError("the member's client never saw the bot's device keys")
        await member.sync()
        await asyncio.sleep(0.2)
    # The first encrypted send shares the room key with the bot's device: not a sample.
    await member.say(world.encrypted, "hello, everyone")
    for i in range(samples):
        for label, room in (("encrypted", world.encrypted), ("plain", world.plain)):
            t0 = time.monotonic()
            answer = await member.say(room, f"{label} #{i}: you {KEYWORD}")
            if not isinstance(answer, RoomSendResponse):
                raise RuntimeError(f"send failed: {answer}")
            sent[label].append((t0, answer.event_id))
            await asyncio.sleep(max(0.0, t0 + 0.5 - time.monotonic()))
    observer = world.observer
    every = [e for pairs in sent.values() for _, e in pairs]
    await observer.wait_for(lambda: all(e in observer.redacted for e in every), 60.0)
    return {
        label: [observer.redacted[e] - t for t, e in pairs if e in observer.redacted]
        for label, pairs in sent.items()
    }


def report_encrypted(latencies: dict[str, list[float]], samples: int) -> str:
    lines = [
        machine(),
        "",
        "| room | redacted | violation -> redaction seen, p50 | p99 |",
        "|---|---|---|---|",
    ]
    p50 = {}
    for label, values in latencies.items():
        p50[label] = percentile(values, 50) if values else None
        p99 = percentile(values, 99) if values else None
        lines.append(f"| {label} | {len(values)} / {samples} | {ms(p50[label])} | {ms(p99)} |")
    lines.append("")
    if p50["encrypted"] and p50["plain"]:
        lines.append(f"encrypted / plain, p50: {p50['encrypted'] / p50['plain']:.2f}x")
    # Other jobs on the machine change the absolute figures far more than encryption does.
    lines.append(f"load average at the end (1, 5, 15 min): {os.getloadavg()}")
    return "\n".join(lines)


async def bench_encrypted(server: SynapseServer, work: Path, args: argparse.Namespace) -> None:
    print(f"Synapse at {server.base_url}; encrypted and plain room ...", file=sys.stderr)
    world = await build_encrypted_world(server, work)
    observer_task = asyncio.create_task(world.observer.run())
    try:
        process = start_encrypted_service(world, work)
        log = work / "service.log"
        started = time.monotonic()
        while "Matrix connection up" not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() - started > 60:
                raise RuntimeError(f"the service did not come up:\n{log.read_text()[-3000:]}")
            await asyncio.sleep(0.1)
        print(f"{args.samples} violations in each room ...", file=sys.stderr)
        latencies = await measure_encrypted(world, args.samples)
        print()
        print(report_encrypted(latencies, args.samples))
    finally:
        world.observer.stop()
        observer_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await observer_task
        if world.service is not None and world.service.poll() is None:
            world.service.send_signal(signal.SIGTERM)
            world.service.wait(20)
        for client in world.closers:
            with contextlib.suppress(Exception):
                await client.close()


# -- main -------------------------------------------------------------------------------------


async def bench(server: SynapseServer, work: Path, args: argparse.Namespace) -> None:
    print(f"Synapse at {server.base_url}; setting up {args.rooms} rooms ...", file=sys.stderr)
    world = await build_world(server, args.rooms)
    observer_task = asyncio.create_task(world.observer.run())
    try:
        start_service(world, work)
        up = await wait_service_up(world)
        print(f"service up in {up:.1f}s; !ban across {args.rooms} rooms ...", file=sys.stderr)
        ban = await measure_ban(world)
        results = []
        for rate in args.rates:
            await settle(world, f"before {rate}/s")
            print(f"{rate} msg/s for about a minute ...", file=sys.stderr)
            results.append(await measure_rate(world, rate, args.samples))
        print()
        print(report(results, ban, args.rooms, up))
        print()
        print(log_summary(world))
    finally:
        world.observer.stop()
        observer_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await observer_task
        stop_service(world)
        for client in world.closers:
            with contextlib.suppress(Exception):
                await client.close()


def run_raid(server: SynapseServer, work: Path, args: argparse.Namespace) -> None:
    """The raid scenario (scripts/bench_raid.py), on the same Synapse set-up."""
    from bench_raid import raid  # here: bench_raid imports this module's helpers

    print(asyncio.run(raid(server, work, args.rate, args.seconds, args.window)))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rates", type=lambda s: [int(x) for x in s.split(",")], default=[20, 200])
    parser.add_argument("--samples", type=int, default=40, help="violations per rate")
    parser.add_argument("--rooms", type=int, default=50, help="protected rooms")
    parser.add_argument(
        "--scenario", choices=["default", "raid"], default="default",
        help="raid: mixed traffic with 1 in 10 a violation (scripts/bench_raid.py)",
    )  # fmt: skip
    parser.add_argument("--rate", type=float, default=45.0, help="raid: messages/s")
    parser.add_argument("--seconds", type=float, default=60.0, help="raid: how long")
    parser.add_argument("--window", default=None, help="raid: [moderation] digest_window")
    parser.add_argument(
        "--encrypted", action="store_true",
        help="only: violation -> redaction in an encrypted room next to a plain room",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.rooms < TRAFFIC_ROOMS:
        parser.error(f"--rooms must be at least {TRAFFIC_ROOMS}")
    if not synapse_available():
        print(f"no Synapse at {synapse_python()}: run scripts/install-synapse.sh", file=sys.stderr)
        return 2

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # the finally blocks below stop what was started

    signal.signal(signal.SIGTERM, terminate)
    with tempfile.TemporaryDirectory(prefix="bench-matrix-") as tmp:
        work = Path(tmp)
        server = SynapseServer(work / "synapse")
        try:
            server.start()
            if args.scenario == "raid":
                run_raid(server, work, args)
            else:
                asyncio.run((bench_encrypted if args.encrypted else bench)(server, work, args))
        except KeyboardInterrupt:
            print("interrupted; stopping Synapse and the service", file=sys.stderr)
            return 130
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
