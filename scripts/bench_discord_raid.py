"""The "raid" scenario of scripts/bench_discord.py: the real service under a spam raid.

Usage: .venv/bin/python scripts/bench_discord.py --scenario raid [--rate 200] [--seconds 60]

Unlike the adapter benchmark, this runs the whole service (`modbridge run`: rules, SQLite,
the outbox, the worker) as a subprocess against the Discord simulator, which runs in this
process. 40 members post into 5 channels at ``--rate`` messages/s, every 10th message a
violation (raiders take turns, 8 violations each); the policy deletes, warns and notifies,
and its ladder times each raider out for 5 s at 5 points (so timeouts and their ends run
during the raid too; a timed-out member's message goes out from the next member). Measured: from the
simulator dispatching a violation's MESSAGE_CREATE to the DELETE request for it reaching the
simulator (p50/p99/max), every violation deleted?, what the outbox did.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench_common import (
    KEYWORD,
    cpu_seconds,
    outbox_summary,
    percentile,
    raid_policy,
    start_service,
    stop_process,
    wait_for_log,
)

from devtools.discord_simulator import DiscordSimulator, RecordedRequest, permissions
from devtools.discord_simulator.entities import Channel, Guild, Message, SimulatorError, User

MEMBERS = 40  # at 200 msg/s, 5 a second each
CHANNELS = 5
EVERY = 10
TURN = 8  # raiders take turns: 8 violations each, so their timeouts do not all fall at once


def policy(sim: DiscordSimulator, guild: Guild, mods: Channel, window: str | None) -> str:
    return (
        raid_policy(mute="5s", window=window)
        + f"""
[discord]
guilds = [{guild.id}]
mod_channels = {{ "{guild.id}" = {mods.id} }}
api_base = "{sim.api_url}"
gateway_url = "{sim.gateway_url}"
"""
    )


def post(
    sim: DiscordSimulator, members: list[User], n: int, channel: Channel, text: str
) -> Message | None:
    """Post as the n-th member, or the next one not timed out (the service muted them)."""
    for k in range(len(members)):
        with contextlib.suppress(SimulatorError):
            return sim.post_message(members[(n + k) % len(members)], channel, text)
    return None


def copy_log(log: Path, to: Path) -> None:
    to.write_text(log.read_text(errors="replace"))


@dataclass(slots=True)
class RaidGuild:
    """The benchmark's guild: protected channels, the moderators' channel, the bot, members."""

    guild: Guild
    channels: list[Channel]
    mods: Channel
    bot: User
    members: list[User]


def build_guild(sim: DiscordSimulator) -> RaidGuild:
    owner = sim.create_user("owner")
    guild = sim.create_guild("Bench", owner=owner)
    channels = [sim.create_text_channel(guild, f"room{i}") for i in range(CHANNELS)]
    mods = sim.create_text_channel(guild, "moderators")
    bot = sim.create_bot("modbot")
    sim.add_member(
        guild, bot, [sim.create_role(guild, "modbot", permissions=permissions.MODERATOR)]
    )
    members: list[User] = []
    for i in range(MEMBERS):
        members.append(sim.create_user(f"member{i}"))
        sim.add_member(guild, members[-1])
    return RaidGuild(guild, channels, mods, bot, members)


@dataclass(slots=True)
class Posted:
    """What the raid posted: when each violation went out, by its path; how many could not."""

    violations: dict[str, float] = field(default_factory=dict)
    refused: int = 0  # every member timed out
    count: int = 0
    elapsed: float = 0.0


async def post_raid(sim: DiscordSimulator, world: RaidGuild, rate: float, seconds: float) -> Posted:
    """Post mixed traffic at ``rate`` for ``seconds``, every ``EVERY``-th a violation."""
    posted = Posted(count=int(rate * seconds))
    start = time.perf_counter()
    for n in range(posted.count):
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        bad = n % EVERY == 0
        text = f"raid {n}: you {KEYWORD}" if bad else f"status {n}: build {n % 7} is green"
        channel = world.channels[n % CHANNELS]
        sender = (n // EVERY // TURN) if bad else n
        sent = time.perf_counter()
        message = post(sim, world.members, sender, channel, text)
        if message is None:
            posted.refused += 1
        elif bad:
            posted.violations[f"/channels/{channel.id}/messages/{message.id}"] = sent
    posted.elapsed = time.perf_counter() - start
    return posted


def report(rate: float, seconds: float, posted: Posted, latencies: list[float],
           used: tuple[float, float], wall: float) -> str:  # fmt: skip
    return (
        f"| raid on Discord: {rate:.0f} msg/s asked for {seconds:.0f} s, "
        f"{CHANNELS} channels, {MEMBERS} members, 1 in {EVERY} a violation | |\n"
        "|---|---|\n"
        f"| achieved (msg/s) | {posted.count / posted.elapsed:.0f} ({posted.refused} not sent) |\n"
        f"| violations deleted / sent | {len(latencies)} / {len(posted.violations)} |\n"
        f"| MESSAGE_CREATE → DELETE, p50 / p99 / max (ms) | "
        f"{percentile(latencies, 50):.1f} / {percentile(latencies, 99):.1f} / "
        f"{max(latencies, default=float('nan')):.1f} |\n"
        f"| CPU % of one core: service / simulator+bench | "
        f"{used[0] / wall * 100:.0f} / {used[1] / wall * 100:.0f} |\n"
    )


async def raid(rate: float, seconds: float, window: str | None) -> None:
    sim = DiscordSimulator()
    await sim.start()
    deletes: dict[str, float] = {}
    record = sim.requests.add

    def stamp(request: RecordedRequest) -> None:
        if request.method == "DELETE":
            deletes.setdefault(request.path, time.perf_counter())
        record(request)

    sim.requests.add = stamp  # type: ignore[method-assign]
    world = build_guild(sim)
    with tempfile.TemporaryDirectory(prefix="bench-discord-raid-") as tmp:
        work = Path(tmp)
        config = work / "modbridge.toml"
        config.write_text(policy(sim, world.guild, world.mods, window), encoding="utf-8")
        token = {"MODBRIDGE_DISCORD__TOKEN": world.bot.token or ""}
        service = start_service(config, work, token)
        try:
            await wait_for_log(service, work / "service.log", "Discord connection up")
            await asyncio.sleep(1.0)
            cpu = cpu_seconds(service.pid), cpu_seconds(os.getpid())
            start = time.perf_counter()
            posted = await post_raid(sim, world, rate, seconds)
            for _ in range(300):
                if all(path in deletes for path in posted.violations):
                    break
                await asyncio.sleep(0.1)
            wall = time.perf_counter() - start
            used = cpu_seconds(service.pid) - cpu[0], cpu_seconds(os.getpid()) - cpu[1]
            latencies = [
                (deletes[p] - t) * 1000 for p, t in posted.violations.items() if p in deletes
            ]
            print(report(rate, seconds, posted, latencies, used, wall))
            print(outbox_summary(work / "modbridge.db"))
            keep = os.environ.get("BENCH_KEEP_LOG")  # where to keep the service's log
            if keep:
                copy_log(work / "service.log", Path(keep))
        finally:
            stop_process(service)
            await sim.close()
