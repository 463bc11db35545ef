"""The "raid" scenario of scripts/bench_matrix.py: moderation keeping up with a spam raid.

Usage: .venv/bin/python scripts/bench_matrix.py --scenario raid [--rate 45] [--seconds 60]

A local Synapse, the real service (`modbridge run`), 5 protected rooms and 10 members who
post mixed traffic at ``--rate`` messages/s, every 10th message a violation. The policy is
the shape of a real one: each violation is deleted, warned and notified, and the escalation
ladder mutes each raider for 10 s at 5 points (raiders take turns, 8 violations each, so
mutes and unmutes run during the raid without silencing everyone at once).
Measured, in the same run and under the same load:

  * violation sent -> its redaction seen by another member's syncing client (p50/p99/max);
  * the homeserver's own latency: a clean message sent -> seen by that same client;
  * every violation redacted? what the outbox did (by kind), the moderators' notices seen.

A member's send refused because the service muted them counts as "refused (muted)" and the
message goes out from the next member, so the rate holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench_common import (
    KEYWORD,
    busy_seconds,
    cpu_seconds,
    ms,
    outbox_summary,
    paced,
    percentile,
    start_service,
    stop_after,
)
from bench_common import raid_policy as common_raid_policy
from bench_matrix import (
    Observer,
    World,
    create_room,
    join_all,
    machine,
    service_pid,
    stop_service,
    synapse_pid,
    wait_service_up,
)
from nio import AsyncClient, RoomSendResponse

from tests.e2e.matrix_helpers import client_for
from tests.e2e.synapse import SynapseServer

MEMBERS = 10
ROOMS = 5
EVERY = 10  # every 10th message is a violation
TURN = 8  # raiders take turns: 8 violations each, so their mutes do not all fall at once
IN_FLIGHT = 64
SETTLE_LIMIT = 60.0


@dataclass(slots=True)
class Sent:
    """What the raid traffic sent: (send time, event id) of violations and of clean ones."""

    violations: list[tuple[float, str]] = field(default_factory=list)
    clean: list[tuple[float, str]] = field(default_factory=list)
    refused: int = 0  # refused by the homeserver: the member was muted
    failed: int = 0
    dropped: int = 0
    started: float = 0.0
    stopped: float = 0.0

    @property
    def rate(self) -> float:
        elapsed = self.stopped - self.started
        total = len(self.violations) + len(self.clean)
        return total / elapsed if elapsed > 0 else 0.0


def raid_policy(world: World, window: str | None) -> str:
    rooms = ", ".join(f'"{room}"' for room in world.rooms)
    return (
        common_raid_policy(mute="10s", window=window)
        + f"""
[matrix]
homeserver = "{world.server.base_url}"
user_id = "{world.users["modbridge"].user_id}"
rooms = [{rooms}]
mod_room = "{world.mod_room}"
moderators = ["{world.users["mod"].user_id}"]
"""
    )


async def build_raid_world(server: SynapseServer) -> World:
    names = ["modbridge", "mod", "observer", *(f"member{i}" for i in range(MEMBERS))]
    users = {name: server.register(name) for name in names}
    clients = {name: client_for(server, user, timeout=30.0) for name, user in users.items()}
    bot = clients["modbridge"]
    rooms = [await create_room(bot) for _ in range(ROOMS)]
    mod_room = await create_room(bot)
    members = [clients[f"member{i}"] for i in range(MEMBERS)]
    joins = [(clients["mod"], mod_room), (clients["observer"], mod_room)]
    joins += [(client, room) for room in rooms for client in [clients["observer"], *members]]

    await join_all(joins)
    observer = Observer(
        clients["observer"], target="", bot=users["modbridge"].user_id, mod_room=mod_room
    )
    await observer.first_sync()
    return World(
        server=server, users=users, clients=clients, senders=members, rooms=rooms,
        mod_room=mod_room, observer=observer, closers=list(clients.values()),
    )  # fmt: skip


def start_raid_service(world: World, work: Path, window: str | None) -> None:
    config = work / "modbridge.toml"
    config.write_text(raid_policy(world, window), encoding="utf-8")
    token = world.users["modbridge"].access_token
    world.service = start_service(config, work, {"MODBRIDGE_MATRIX__ACCESS_TOKEN": token})
    world.service_log = work / "service.log"


async def raid_traffic(
    members: Sequence[AsyncClient], rooms: Sequence[str], rate: float, seconds: float
) -> Sent:
    """Mixed traffic at ``rate`` for ``seconds``: round-robin members, rooms in turn."""
    sent = Sent(started=time.monotonic())
    muted_until: dict[str, float] = {}

    async def one(n: int) -> None:
        violation = n % EVERY == 0
        room = rooms[n % len(rooms)]
        body = f"raid {n}: you {KEYWORD}" if violation else f"status {n}: build {n % 7} is green"
        first = n // EVERY // TURN if violation else n
        for k in range(len(members)):
            client = members[(first + k) % len(members)]
            if muted_until.get(client.user_id, 0.0) > time.monotonic():
                continue
            t0 = time.monotonic()
            content = {"msgtype": "m.text", "body": body}
            try:
                response = await client.room_send(room, "m.room.message", content)
            except Exception:
                sent.failed += 1
                return
            if isinstance(response, RoomSendResponse):
                (sent.violations if violation else sent.clean).append((t0, response.event_id))
                return
            if getattr(response, "status_code", None) == "M_FORBIDDEN":
                sent.refused += 1  # muted by the service: the next member sends it
                muted_until[client.user_id] = time.monotonic() + 2.0
                continue
            sent.failed += 1
            return
        sent.dropped += 1  # every member muted

    dropped, sent.stopped = await paced(
        rate, one, stop=stop_after(seconds), in_flight=IN_FLIGHT, skip_behind=False
    )
    sent.dropped += dropped
    return sent


@dataclass(slots=True)
class RaidResult:
    sent: Sent
    redaction: list[float]
    baseline: list[float]
    last_after: float | None  # the last redaction seen, after the last violation was sent
    cpu: dict[str, float]
    notices: int
    outbox: str


async def measure_raid(world: World, rate: float, seconds: float, work: Path) -> RaidResult:
    observer = world.observer
    pids = {"synapse": synapse_pid(world), "service": service_pid(world), "bench": os.getpid()}
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    busy_before = busy_seconds()
    notices_before = len(observer.notices)
    phase_start = time.monotonic()
    sent = await raid_traffic(world.senders, world.rooms, rate, seconds)
    await observer.wait_for(
        lambda: (
            all(e in observer.redacted for _, e in sent.violations)
            and all(e in observer.seen for _, e in sent.clean)
        ),
        SETTLE_LIMIT,
    )
    wall = time.monotonic() - phase_start
    cpu = {name: (cpu_seconds(pid) - cpu_before[name]) / wall * 100 for name, pid in pids.items()}
    cpu["others"] = max(0.0, (busy_seconds() - busy_before) / wall * 100 - sum(cpu.values()))
    redaction = [observer.redacted[e] - t for t, e in sent.violations if e in observer.redacted]
    baseline = [observer.seen[e] - t for t, e in sent.clean if e in observer.seen]
    last_sent = max((t for t, _ in sent.violations), default=None)
    seen = [observer.redacted[e] for _, e in sent.violations if e in observer.redacted]
    return RaidResult(
        sent=sent, redaction=redaction, baseline=baseline,
        last_after=max(seen) - last_sent if seen and last_sent is not None else None,
        cpu=cpu, notices=len(observer.notices) - notices_before,
        outbox=outbox_summary(work / "modbridge.db"),
    )  # fmt: skip


def raid_report(result: RaidResult, rate: float, seconds: float) -> str:
    s = result.sent

    def p(values: list[float]) -> str:
        return f"{ms(percentile(values, 50))} / {ms(percentile(values, 99))}"

    lines = [
        f"Machine: {machine()}",
        "",
        f"| raid: {rate:.0f} msg/s asked for {seconds:.0f} s, {ROOMS} rooms, {MEMBERS} members,"
        " 1 in 10 a violation | |",
        "|---|---|",
        f"| achieved (msg/s) | {s.rate:.1f} ({len(s.clean)} clean, {len(s.violations)} "
        f"violations; {s.refused} refused while muted, {s.failed} failed, {s.dropped} dropped) |",
        f"| violation → redaction seen, p50 / p99 (ms) | {p(result.redaction)} |",
        f"| max (ms) | {ms(max(result.redaction)) if result.redaction else 'n/a'} |",
        f"| baseline: clean send → seen, p50 / p99 (ms) | {p(result.baseline)} |",
        f"| violations redacted / sent | {len(result.redaction)} / {len(s.violations)} |",
        f"| last redaction after the last violation (ms) | {ms(result.last_after)} |",
        f"| notices in the mod room | {result.notices} |",
        "| CPU % of one core: Synapse / service / bench / other jobs | "
        + " / ".join(f"{result.cpu[k]:.0f}" for k in ("synapse", "service", "bench", "others"))
        + " |",
        "",
        result.outbox,
    ]
    return "\n".join(lines)


async def raid(server: SynapseServer, work: Path, rate: float, seconds: float,
               window: str | None) -> str:  # fmt: skip
    """Build the raid world, run the service and the raid; the report as Markdown."""
    print(f"Synapse at {server.base_url}; setting up the raid ...", file=sys.stderr)
    world = await build_raid_world(server)
    observer_task = asyncio.create_task(world.observer.run())
    try:
        start_raid_service(world, work, window)
        up = await wait_service_up(world)
        print(f"service up in {up:.1f}s; raid at {rate}/s for {seconds}s ...", file=sys.stderr)
        await asyncio.sleep(2.0)
        result = await measure_raid(world, rate, seconds, work)
        return raid_report(result, rate, seconds)
    finally:
        world.observer.stop()
        observer_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await observer_task
        stop_service(world)
        for client in world.closers:
            with contextlib.suppress(Exception):
                await client.close()
