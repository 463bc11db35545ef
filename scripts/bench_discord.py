"""Benchmark of the Discord adapter: from MESSAGE_CREATE to the DELETE that removes it.

Usage: .venv/bin/python scripts/bench_discord.py [--seconds 10] [--rates 20,200]
       .venv/bin/python scripts/bench_discord.py --scenario raid --seconds 60 [--rate 200]
       (the whole service under a raid: scripts/bench_discord_raid.py)

A Discord simulator and the real discord.py client (through DiscordConnection) run in this
one process and event loop. The core is replaced by a MINIMAL STAND-IN (`DeleteEverything`
below): it deletes every message it is handed, through the adapter's executor, without
rules, storage or the outbox. So the figures are the adapter's share of the latency: gateway
frame -> discord.py parsing -> translate -> handler -> executor -> REST DELETE arriving at the
simulator. They do not include the rules engine or SQLite, and real Discord adds network
round trips and its own rate limits (deleting 200 messages a second in one channel would be
throttled by Discord; the simulator does not throttle).

For each rate, a scripted member posts messages at that rate for ``--seconds``; the latency
of each is measured from the moment the simulator dispatches its MESSAGE_CREATE to the moment
the DELETE request for it reaches the simulator.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

with warnings.catch_warnings():
    # discord.py 2.7 imports audioop (voice), deprecated since Python 3.11; voice is unused.
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord  # noqa: F401 - imported here once, under the filter

from adapters.discord.connection import DiscordConnection
from adapters.discord.executor import DiscordExecutor
from devtools.discord_simulator import DiscordSimulator, RecordedRequest, permissions
from domain.model import (
    DeleteMessage,
    Message,
    Platform,
    Space,
    SpaceKind,
)

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the shared test doubles live in tests/, which is not installed
    sys.path.insert(0, str(ROOT))

from tests.fakes import MemoryKeyValueStore, RecordingCore  # noqa: E402


@dataclass
class DeleteEverything(RecordingCore):
    """A minimal stand-in for the core: every message is deleted at once via the executor."""

    executor: DiscordExecutor | None = None
    failures: int = 0

    async def on_message(self, message: Message) -> None:
        assert self.executor is not None  # noqa: S101 - set before any message comes
        action = DeleteMessage(
            platform=Platform.DISCORD, channel_id=message.channel.id, message_id=message.id
        )
        space = Space(
            platform=Platform.DISCORD, id=message.channel.space_id or "", kind=SpaceKind.GUILD
        )
        try:
            await self.executor.execute(action, space)
        except Exception:
            self.failures += 1


class Arrivals:
    """When each DELETE reached the simulator, by path."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self._changed = asyncio.Event()

    def stamp(self, request: RecordedRequest) -> None:
        if request.method == "DELETE":
            self.at.setdefault(request.path, time.perf_counter())
            self._changed.set()

    async def all_of(self, paths: dict[str, float]) -> None:
        while not all(path in self.at for path in paths):
            self._changed.clear()
            await self._changed.wait()


async def run_rate(
    sim: DiscordSimulator,
    arrivals: Arrivals,
    post: tuple[object, object],
    rate: int,
    seconds: float,
) -> tuple[int, list[float]]:
    """Post at ``rate`` per second for ``seconds``; return how many and the latencies (ms)."""
    author, channel = post
    sent: dict[str, float] = {}
    interval = 1.0 / rate
    start = time.perf_counter()
    count = int(rate * seconds)
    for number in range(count):
        # Keep to the schedule rather than sleeping a fixed interval, so slow handling
        # shows up as latency instead of a lower rate.
        delay = start + number * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        dispatched = time.perf_counter()
        message = sim.post_message(author, channel, f"bench {rate}/s #{number}")  # type: ignore[arg-type]
        sent[f"/channels/{message.channel_id}/messages/{message.id}"] = dispatched
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(arrivals.all_of(sent), timeout=10)
    latencies = [(arrivals.at[p] - t) * 1000 for p, t in sent.items() if p in arrivals.at]
    return count, latencies


def percentile(values: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` lie (nearest rank)."""
    ranked = sorted(values)
    return ranked[min(len(ranked) - 1, max(0, round(fraction * len(ranked)) - 1))]


async def main(seconds: float, rates: list[int]) -> None:
    sim = DiscordSimulator()
    await sim.start()
    arrivals = Arrivals()
    record = sim.requests.add

    def stamp(request: RecordedRequest) -> None:
        arrivals.stamp(request)
        record(request)

    sim.requests.add = stamp  # type: ignore[method-assign]
    owner = sim.create_user("owner")
    guild = sim.create_guild("Bench", owner=owner)
    general = sim.create_text_channel(guild, "general")
    bot = sim.create_bot("modbot")
    sim.add_member(
        guild, bot, [sim.create_role(guild, "modbot", permissions=permissions.MODERATOR)]
    )
    member = sim.create_user("member")
    sim.add_member(guild, member)
    core = DeleteEverything()
    connection = DiscordConnection(
        token=bot.token or "",
        api_base=sim.api_url,
        gateway_url=sim.gateway_url,
        guilds=[guild.id],
        mod_channels={},
        moderator_roles=[],
        handlers=core,
        state=MemoryKeyValueStore(),
        guild_ready_timeout=0.05,
    )
    try:
        await connection.start()
        core.executor = connection.executor()
        await run_rate(sim, arrivals, (member, general), 20, 0.5)  # warm-up
        rows = []
        for rate in rates:
            count, latencies = await run_rate(sim, arrivals, (member, general), rate, seconds)
            rows.append((rate, count, latencies))
        print(f"{'rate/s':>7} {'sent':>6} {'deleted':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
        for rate, count, latencies in rows:
            print(
                f"{rate:>7} {count:>6} {len(latencies):>8} "
                f"{statistics.median(latencies):>8.2f} {percentile(latencies, 0.99):>8.2f} "
                f"{max(latencies):>8.2f}"
            )
        print(f"executor failures: {core.failures}")
    finally:
        with contextlib.suppress(Exception):
            await connection.close()
        await sim.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rates", default="20,200")
    parser.add_argument(
        "--scenario", choices=["adapter", "raid"], default="adapter",
        help="raid: the whole service under a spam raid (scripts/bench_discord_raid.py)",
    )  # fmt: skip
    parser.add_argument("--rate", type=float, default=200.0, help="raid: messages/s")
    parser.add_argument("--window", default=None, help="raid: [digest] window")
    arguments = parser.parse_args()
    if arguments.scenario == "raid":
        from bench_discord_raid import raid  # only the raid needs the service's pieces

        asyncio.run(raid(arguments.rate, arguments.seconds, arguments.window))
    else:
        asyncio.run(main(arguments.seconds, [int(r) for r in arguments.rates.split(",")]))
