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
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from devtools.discord_simulator import DiscordSimulator, RecordedRequest, permissions
from devtools.discord_simulator.state import Channel, Guild, Message, SimulatorError, User

ROOT = Path(__file__).resolve().parents[1]
MEMBERS = 40  # at 200 msg/s, 5 a second each
CHANNELS = 5
EVERY = 10
TURN = 8  # raiders take turns: 8 violations each, so their timeouts do not all fall at once


def policy(sim: DiscordSimulator, guild: Guild, mods: Channel, window: str | None) -> str:
    digest = f'\n[digest]\nwindow = "{window}"\n' if window else ""
    return f"""[community]
name = "bench"

[escalation]
decay = "1h"
ladder = [{{ points = 5, action = "mute 5s" }}]

[[rules]]
id = "insults"
kind = "keywords"
clause = "Insults"
points = 1
actions = ["delete", "warn", "notify"]
words = ["idiot"]
{digest}
[discord]
guilds = [{guild.id}]
mod_channels = {{ "{guild.id}" = {mods.id} }}
api_base = "{sim.api_url}"
gateway_url = "{sim.gateway_url}"
"""


def post(
    sim: DiscordSimulator, members: list[User], n: int, channel: Channel, text: str
) -> Message | None:
    """Post as the n-th member, or the next one not timed out (the service muted them)."""
    for k in range(len(members)):
        with contextlib.suppress(SimulatorError):
            return sim.post_message(members[(n + k) % len(members)], channel, text)
    return None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def outbox(db: Path) -> str:
    try:
        with contextlib.closing(sqlite3.connect(db)) as conn:
            rows = conn.execute(
                "SELECT kind, state, count(*) FROM actions GROUP BY kind, state ORDER BY kind"
            ).fetchall()
    except sqlite3.Error as exc:
        return f"outbox not readable: {exc}"
    return "outbox: " + ", ".join(f"{k} {s} {n}" for k, s, n in rows)


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


def copy_log(log: Path, to: Path) -> None:
    to.write_text(log.read_text(errors="replace"))


def is_up(log: Path) -> bool:
    return "Discord connection up" in log.read_text(errors="replace")


def profile() -> list[str]:
    """cProfile the service into $BENCH_PROFILE, when set (to find where the time goes)."""
    out = os.environ.get("BENCH_PROFILE")
    return ["-m", "cProfile", "-o", out] if out else []


def start_service(work: Path, config: Path, token: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODBRIDGE_")}
    env["MODBRIDGE_DISCORD__TOKEN"] = token
    env["MODBRIDGE_STORAGE__PATH"] = str(work / "modbridge.db")
    with (work / "service.log").open("wb") as out:
        return subprocess.Popen(
            [sys.executable, *profile(), "-m", "cli.main", "run", "--config", str(config)],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


async def wait_up(log: Path, process: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise RuntimeError(f"the service exited:\n{tail(log)}")
        if is_up(log):
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the service did not come up:\n{tail(log)}")


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
    with tempfile.TemporaryDirectory(prefix="bench-discord-raid-") as tmp:
        work = Path(tmp)
        config = work / "modbridge.toml"
        config.write_text(policy(sim, guild, mods, window), encoding="utf-8")
        service = start_service(work, config, bot.token or "")
        try:
            await wait_up(work / "service.log", service)
            await asyncio.sleep(1.0)
            cpu = cpu_seconds(service.pid), cpu_seconds(os.getpid())
            violations: dict[str, float] = {}
            refused = 0  # every member timed out
            count = int(rate * seconds)
            start = time.perf_counter()
            for n in range(count):
                delay = start + n / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                bad = n % EVERY == 0
                text = f"raid {n}: you idiot" if bad else f"status {n}: build {n % 7} is green"
                channel = channels[n % CHANNELS]
                sender = (n // EVERY // TURN) if bad else n
                sent = time.perf_counter()
                message = post(sim, members, sender, channel, text)
                if message is None:
                    refused += 1
                elif bad:
                    violations[f"/channels/{channel.id}/messages/{message.id}"] = sent
            elapsed = time.perf_counter() - start
            for _ in range(300):
                if all(path in deletes for path in violations):
                    break
                await asyncio.sleep(0.1)
            wall = time.perf_counter() - start
            used = cpu_seconds(service.pid) - cpu[0], cpu_seconds(os.getpid()) - cpu[1]
            latencies = [(deletes[p] - t) * 1000 for p, t in violations.items() if p in deletes]
            print(
                f"| raid on Discord: {rate:.0f} msg/s asked for {seconds:.0f} s, "
                f"{CHANNELS} channels, {MEMBERS} members, 1 in {EVERY} a violation | |\n"
                "|---|---|\n"
                f"| achieved (msg/s) | {count / elapsed:.0f} ({refused} not sent) |\n"
                f"| violations deleted / sent | {len(latencies)} / {len(violations)} |\n"
                f"| MESSAGE_CREATE → DELETE, p50 / p99 / max (ms) | "
                f"{percentile(latencies, 50):.1f} / {percentile(latencies, 99):.1f} / "
                f"{max(latencies, default=float('nan')):.1f} |\n"
                f"| CPU % of one core: service / simulator+bench | "
                f"{used[0] / wall * 100:.0f} / {used[1] / wall * 100:.0f} |\n"
            )
            print(outbox(work / "modbridge.db"))
            keep = os.environ.get("BENCH_KEEP_LOG")  # where to keep the service's log
            if keep:
                copy_log(work / "service.log", Path(keep))
        finally:
            service.send_signal(signal.SIGTERM)
            try:
                service.wait(20)
            except subprocess.TimeoutExpired:
                service.kill()
            await sim.close()
