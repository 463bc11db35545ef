"""What the benchmarks share: the service as a subprocess, paced traffic, the figures they
report, and the policy of the raid scenarios (scripts/bench_raid.py on Matrix,
scripts/bench_discord_raid.py on Discord), so both raids judge the same way.

Imported by the scripts in this folder (run as ``python scripts/bench_*.py``, which puts this
folder on ``sys.path``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEYWORD = "idiot"  # the raid's violations contain it; clean traffic never does

# -- the policy -------------------------------------------------------------------------------


def raid_policy(*, mute: str, window: str | None) -> str:
    """The raid scenarios' policy without its platform section: each violation deleted,
    warned and notified, and a raider muted for ``mute`` at 5 points; with ``window``, the
    moderators' notices are gathered into a digest."""
    digest = f'\n[digest]\nwindow = "{window}"\n' if window else ""
    return f"""[community]
name = "bench"

[escalation]
decay = "1h"
ladder = [{{ points = 5, action = "mute {mute}" }}]

[[rules]]
id = "insults"
kind = "keywords"
clause = "Insults"
points = 1
actions = ["delete", "warn", "notify"]
words = ["{KEYWORD}"]
{digest}"""


# -- the service ------------------------------------------------------------------------------


def start_service(config: Path, work: Path, secrets: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """``modbridge run --config config`` with its database and log (service.log) in ``work``.

    Only ``secrets`` (the platform's token or password) reach it of the MODBRIDGE_* variables.
    ``$BENCH_SERVICE_ROOT`` runs another checkout's service (to compare two versions);
    ``$BENCH_PROFILE`` cProfiles it into that file.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODBRIDGE_")}
    env.update(secrets)
    env["MODBRIDGE_STORAGE__PATH"] = str(work / "modbridge.db")
    profile = os.environ.get("BENCH_PROFILE")
    python = [sys.executable, *(["-m", "cProfile", "-o", profile] if profile else [])]
    with (work / "service.log").open("wb") as log:
        return subprocess.Popen(
            [*python, "-m", "cli.main", "run", "--config", str(config)],
            cwd=os.environ.get("BENCH_SERVICE_ROOT", str(ROOT)),
            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip


async def wait_for_log(
    process: subprocess.Popen[bytes], log: Path, marker: str, limit: float = 60.0
) -> float:
    """Seconds until ``marker`` appears in the service's ``log``; RuntimeError (with the
    log's end) when the service exits or ``limit`` passes first."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if process.poll() is not None:
            raise RuntimeError(f"the service exited:\n{tail(log)}")
        if _logged(log, marker):
            return time.monotonic() - started
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the service did not come up:\n{tail(log)}")


def _logged(log: Path, marker: str) -> bool:
    return marker in log.read_text(errors="replace")


def stop_process(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM (the service's clean stop), then kill after 20 s."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def tail(log: Path) -> str:
    """The end of a log, for an error message."""
    return log.read_text(errors="replace")[-3000:]


def outbox_summary(db: Path) -> str:
    """What the service's outbox did, by kind and state (read after the run)."""
    try:
        with contextlib.closing(sqlite3.connect(db)) as conn:
            rows = conn.execute(
                "SELECT kind, state, count(*) FROM actions GROUP BY kind, state ORDER BY kind"
            ).fetchall()
            cases = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
    except sqlite3.Error as exc:
        return f"outbox not readable: {exc}"
    parts = [f"{kind} {state} {n}" for kind, state, n in rows]
    return f"{cases} cases; outbox: " + ", ".join(parts)


# -- traffic ----------------------------------------------------------------------------------


async def paced(
    rate: float,
    one: Callable[[int], Awaitable[None]],
    *,
    stop: asyncio.Event,
    in_flight: int,
    skip_behind: bool,
) -> tuple[int, float]:
    """Start ``one(1)``, ``one(2)``, ... at ``rate`` a second until ``stop`` is set, with at
    most ``in_flight`` running (a tick beyond that is dropped). With ``skip_behind``, a loop
    more than half a second behind skips ahead rather than bursting.

    Returns how many ticks were dropped and when the pacing stopped (``time.monotonic()``),
    after the calls still running have finished.
    """
    running: set[asyncio.Task[None]] = set()
    loop = asyncio.get_running_loop()
    start = loop.time()
    tick = dropped = 0
    while not stop.is_set():
        delay = start + tick / rate - loop.time()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                break
        elif skip_behind and delay < -0.5:
            skipped = int(-delay * rate)
            dropped += skipped
            tick += skipped
            continue
        tick += 1
        if len(running) >= in_flight:
            dropped += 1
            continue
        task = asyncio.create_task(one(tick))
        running.add(task)
        task.add_done_callback(running.discard)
    stopped = time.monotonic()
    await asyncio.gather(*running, return_exceptions=True)
    return dropped, stopped


def stop_after(seconds: float) -> asyncio.Event:
    """An event set ``seconds`` from now (the end of a timed run of :func:`paced`)."""
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(seconds, stop.set)
    return stop


# -- figures ----------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def ms(value: float | None) -> str:
    """Seconds as whole milliseconds; "n/a" for nothing measured."""
    if value is None or value != value:
        return "n/a"
    return f"{value * 1000:.0f}"


def busy_seconds() -> float:
    """CPU seconds all processes of the machine have spent busy so far (from /proc/stat)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of a process so far (0 when it cannot be read)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
