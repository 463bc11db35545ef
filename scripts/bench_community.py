"""How long one moderator command takes to land on every platform of a two-platform community.

Usage: .venv/bin/python scripts/bench_community.py [--guilds 5] [--rooms 50] [--mutes 20]
    [--bans 3]

A real Synapse (``.synapse-venv``), the Discord simulator in this process, and `modbridge run`
as a subprocess configured with both, as in ``tests/e2e/test_community.py``. One linked member
per ban; one linked member is muted and unmuted in turn. Each figure runs from the moment
before the moderator's command is sent to the moment the last platform confirms: the
simulator's state for every Discord guild, and an observer's /sync for every Matrix room
(a ban event, or a power-level change that silences or frees the member).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the harness lives in tests/, which is not installed
    sys.path.insert(0, str(ROOT))

from nio import AsyncClient, SyncResponse  # noqa: E402

from devtools.discord_simulator import run_simulator  # noqa: E402
from tests.e2e.community_helpers import Community, Person, build_community  # noqa: E402
from tests.e2e.matrix_helpers import send_text  # noqa: E402
from tests.e2e.synapse import SynapseServer, synapse_available  # noqa: E402

SYNC_FILTER: dict[str, Any] = {
    "room": {"timeline": {"limit": 100}, "state": {"lazy_load_members": True}},
    "presence": {"types": []},
    "account_data": {"types": []},
}

RoomCheck = Callable[[Mapping[str, Any], str], bool]


def is_ban(event: Mapping[str, Any], user_id: str) -> bool:
    return (
        event.get("type") == "m.room.member"
        and event.get("state_key") == user_id
        and event.get("content", {}).get("membership") == "ban"
    )


def level_check(*, muted: bool) -> RoomCheck:
    """A power-levels event that silences (or frees) ``user_id``."""

    def check(event: Mapping[str, Any], user_id: str) -> bool:
        if event.get("type") != "m.room.power_levels":
            return False
        content = event.get("content", {})
        level = int(content.get("users", {}).get(user_id, content.get("users_default", 0)))
        silenced = level < int(content.get("events_default", 0))
        return silenced if muted else not silenced

    return check


def _synced(answer: object) -> SyncResponse:
    if not isinstance(answer, SyncResponse):
        raise RuntimeError(f"the observer's sync failed: {answer}")
    return answer


class Observer:
    """A member's client that /syncs all the time and notes when each room shows a change."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._token: str | None = None

    async def prime(self) -> None:
        answer = await self._client.sync(timeout=0, sync_filter=SYNC_FILTER)
        self._token = _synced(answer).next_batch

    async def until(self, rooms: list[str], user_id: str, check: RoomCheck) -> float:
        """Sync until every room showed an event ``check`` accepts; return the last moment."""
        waiting = set(rooms)
        last = 0.0
        while waiting:
            answer = await self._client.sync(
                timeout=5000, since=self._token, sync_filter=SYNC_FILTER
            )
            now = time.monotonic()
            self._token = _synced(answer).next_batch
            for room, info in answer.rooms.join.items():
                events = [e.source for e in (*info.state, *info.timeline.events)]
                if room in waiting and any(check(e, user_id) for e in events):
                    waiting.discard(room)
                    last = now
        return last


def _banned_everywhere(community: Community, person: Person) -> bool:
    return community.banned_guilds(person) == community.guilds


async def discord_until(condition: Callable[[], bool]) -> float:
    """Poll the simulator's state (it changes in this process) until ``condition`` holds."""
    while not condition():  # noqa: ASYNC110 - the simulator's state has no event to wait on
        await asyncio.sleep(0.002)
    return time.monotonic()


@dataclass(frozen=True, slots=True)
class Sample:
    total: float
    discord: float
    matrix: float


async def measure(
    community: Community,
    observer: Observer,
    person: Person,
    send: Callable[[], Any],
    *,
    discord_done: Callable[[], bool],
    matrix_check: RoomCheck,
) -> Sample:
    watch = asyncio.create_task(
        observer.until(community.rooms, person.matrix.user_id, matrix_check)
    )
    await asyncio.sleep(0)  # the sync request is on its way before the command
    started = time.monotonic()
    await send()
    discord_at = await asyncio.wait_for(discord_until(discord_done), 60)
    matrix_at = await asyncio.wait_for(watch, 60)
    return Sample(
        total=max(discord_at, matrix_at) - started,
        discord=discord_at - started,
        matrix=matrix_at - started,
    )


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


async def run(guilds: int, rooms: int, mutes: int, bans: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-community-") as tmp:
        server = SynapseServer(Path(tmp) / "synapse")
        await asyncio.to_thread(server.start)
        try:
            async with run_simulator() as sim:
                community = await build_community(
                    server, sim, Path(tmp), guilds=guilds, rooms=rooms
                )
                up = await community.start()
                try:
                    await bench(community, up, mutes, bans)
                finally:
                    community.service.kill()
        finally:
            await asyncio.to_thread(server.stop)


async def bench(community: Community, up: float, mutes: int, bans: int) -> None:
    watcher = community.client(community.observer)
    moderator = community.client(community.matrix_mod)
    observer = Observer(watcher)
    try:
        ban_samples = []
        for index in range(bans):
            person = await community.linked_person(f"banned{index}")
            await observer.prime()

            async def ban(person: Person = person) -> None:
                await send_text(
                    moderator, community.mod_room, f"!ban {person.matrix.user_id} bench"
                )

            sample = await measure(
                community,
                observer,
                person,
                ban,
                discord_done=partial(_banned_everywhere, community, person),
                matrix_check=is_ban,
            )
            ban_samples.append(sample)
        person = await community.linked_person("muted")
        mute_samples = []
        for index in range(mutes):
            await observer.prime()
            sample = await _mute_or_unmute(community, observer, person, muting=index % 2 == 0)
            mute_samples.append(sample)
            await asyncio.sleep(0.2)  # let the command's answer finish before the next one
    finally:
        await watcher.close()
        await moderator.close()
    report(community, up, ban_samples, mute_samples)


async def _mute_or_unmute(
    community: Community, observer: Observer, person: Person, *, muting: bool
) -> Sample:
    options: dict[str, Any] = {"member": person.discord, "reason": "bench"}
    if muting:
        options["duration"] = "1h"

    async def command() -> None:
        community.slash("mod mute" if muting else "mod unmute", options)

    def discord_done() -> bool:
        timed_out = community.timed_out_guilds(person)
        return timed_out == community.guilds if muting else not timed_out

    return await measure(
        community,
        observer,
        person,
        command,
        discord_done=discord_done,
        matrix_check=level_check(muted=muting),
    )


def report(community: Community, up: float, bans: list[Sample], mutes: list[Sample]) -> None:
    spaces = f"{len(community.guilds)} guilds + {len(community.rooms)} rooms"
    print()
    print(
        f"Machine: {platform.machine()}, nproc {os.cpu_count()}, Python "
        f"{platform.python_version()}, {platform.system()} {platform.release()}; "
        f"service start (both platforms up) {up:.2f} s"
    )
    print()
    print("| Measurement | n | p50 (s) | p99 (s) | max (s) | Discord p50 (s) | Matrix p50 (s) |")
    print("|---|---|---|---|---|---|---|")
    for name, samples in (
        (f"ban -> {spaces}", bans),
        (f"mute/unmute -> {spaces}", mutes),
    ):
        totals = [s.total for s in samples]
        print(
            f"| {name} | {len(samples)} | {percentile(totals, 0.5):.3f} | "
            f"{percentile(totals, 0.99):.3f} | {max(totals):.3f} | "
            f"{percentile([s.discord for s in samples], 0.5):.3f} | "
            f"{percentile([s.matrix for s in samples], 0.5):.3f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guilds", type=int, default=5)
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--mutes", type=int, default=20)
    parser.add_argument("--bans", type=int, default=3)
    args = parser.parse_args()
    if not synapse_available():
        sys.exit("Synapse is not installed: run `bash scripts/install-synapse.sh` first")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(args.guilds, args.rooms, args.mutes, args.bans))


if __name__ == "__main__":
    main()
