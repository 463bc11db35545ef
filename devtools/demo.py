"""``modbridge demo``: the real service between a local Synapse and the Discord simulator.

No accounts needed. The demo starts a throwaway Synapse homeserver and the Discord simulator,
builds the community in both (rooms, a guild, members and moderators), starts the real
:class:`~bridge.service.Service` in this process with a policy based on config.example.toml,
and plays a short story through it, narrating what each person sees. Everything lives in a
temp dir that is removed at the end; every server is stopped on exit, also on Ctrl-C.

Like :mod:`bridge.service`, this is a composition root: it may know the platforms.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TextIO

from bridge.config import load_settings
from bridge.logs import quiet_libraries
from bridge.service import Service
from devtools import demo_story as story
from devtools.demo_story import Narrator
from devtools.demo_world import DemoError, build_discord, build_matrix, config_text, until
from devtools.discord_simulator import run_simulator
from devtools.synapse import SynapseError, SynapseServer, synapse_python

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_NO_SYNAPSE = 2
EXIT_INTERRUPTED = 130


async def _wait_ready(task: asyncio.Task[None], logs: ReadyLog) -> None:
    """Wait until the service says both connections are up (or fail with why it stopped)."""

    async def ready() -> bool:
        if task.done():
            task.result()  # raises why the service stopped
            raise DemoError("the service stopped before it was up")
        return logs.matrix and logs.discord

    await until(ready, "the service to connect to both platforms", within=60.0)


async def _stopped(task: asyncio.Task[None], within: float = 20.0) -> None:
    """Wait for the stopped service to finish; cancel it if it hangs."""
    done, _ = await asyncio.wait({task}, timeout=within)
    if not done:
        task.cancel()
        await asyncio.wait({task})


class ReadyLog(logging.Handler):
    """Notices when the service says each platform's connection is up (as the tests do)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.matrix = False
        self.discord = False

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        self.matrix = self.matrix or message.startswith("Matrix connection up")
        self.discord = self.discord or message.startswith("Discord connection up")


@contextlib.contextmanager
def _service_logs(path: Path) -> Iterator[ReadyLog]:
    """The service's log goes to a file in the temp dir, not into the story."""
    root = logging.getLogger()
    to_file = logging.FileHandler(path, encoding="utf-8")
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    ready = ReadyLog()
    old_level = root.level
    root.setLevel(logging.INFO)
    quiet_libraries()
    root.addHandler(to_file)
    root.addHandler(ready)
    try:
        yield ready
    finally:
        root.removeHandler(to_file)
        root.removeHandler(ready)
        root.setLevel(old_level)
        to_file.close()


@contextlib.contextmanager
def _environment(secrets: Mapping[str, str]) -> Iterator[None]:
    """Only the demo's settings: a MODBRIDGE_ variable of a real deployment (its database
    path, its tokens) must not leak into the demo. The secrets go where the service reads
    them, the environment."""
    saved = dict(os.environ)
    for key in list(os.environ):
        if key.startswith("MODBRIDGE_") and key != "MODBRIDGE_SYNAPSE_PYTHON":
            del os.environ[key]
    os.environ.update(secrets)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


async def _tell(tmp: Path, server: SynapseServer, out: TextIO) -> None:
    """Start the servers, build the community, start the service, tell the story, stop."""
    n = Narrator(out)
    n.line("modbridge demo: the real service between a local Synapse homeserver and a simulated")
    n.line("Discord, for OpenInfra User Group Kenya. Moderator: Wanjiru. Members: Amina, Otieno")
    n.line("(Matrix), Baraka (Discord), Kip (both). Policy: config.example.toml's, shorter mutes.")
    await asyncio.to_thread(server.start)
    mx = await build_matrix(server)
    try:
        async with run_simulator() as sim:
            dc = build_discord(sim)
            config = tmp / "demo.toml"
            config.write_text(config_text(storage=tmp / "modbridge.db", matrix=mx, discord=dc))
            secrets = {
                "MODBRIDGE_MATRIX__PASSWORD": mx.bot.password,
                "MODBRIDGE_DISCORD__TOKEN": dc.bot.token or "",
            }
            with _environment(secrets), _service_logs(tmp / "service.log") as logs:
                settings = load_settings(config)
                service = Service(settings, config)
                task = asyncio.create_task(service.run(), name="modbridge")
                try:
                    await _wait_ready(task, logs)
                    n.line(
                        f"Ready after {n.elapsed():.1f} s: Matrix #general, #moderators; "
                        "Discord server OpenInfra-Kenya: #general, #mods."
                    )
                    await story.chat(n, mx, dc)
                    await story.doxxing(n, mx, dc)
                    await story.troll(n, mx, dc, settings.policy)
                    await story.ban(n, mx, dc)
                    await story.case(n, mx)
                finally:
                    service.stop()
                    await _stopped(task)
                if not task.cancelled() and (error := task.exception()) is not None:
                    raise error
    finally:
        await mx.close()
    n.line(f"\nStory told, {n.elapsed():.1f} s after the start. Stopping everything...")


async def _main(tmp: Path, server: SynapseServer, out: TextIO) -> int:
    """Tell the story; Ctrl-C or SIGTERM cancel it, and every ``finally`` stops what it started.

    The service installs its own SIGINT/SIGTERM handlers when it starts (they would stop only
    the service and leave the story waiting), so ours are put back while the story runs.
    """
    loop = asyncio.get_running_loop()
    telling = asyncio.create_task(_tell(tmp, server, out), name="demo")
    interrupted = False

    def interrupt() -> None:
        nonlocal interrupted
        interrupted = True
        telling.cancel()

    def take_signals() -> None:
        with contextlib.suppress(NotImplementedError):
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, interrupt)

    take_signals()
    while not telling.done():
        await asyncio.wait({telling}, timeout=0.5)
        take_signals()
    if telling.cancelled() and interrupted:
        return EXIT_INTERRUPTED
    telling.result()  # raises what went wrong
    return EXIT_OK


def run_demo(out: TextIO = sys.stdout) -> int:
    """``modbridge demo``: the exit status (0 told, 1 failed, 2 no Synapse, 130 Ctrl-C)."""
    python = synapse_python()
    if not python.is_file():
        print(
            f"modbridge demo needs a local Synapse homeserver, and none is installed "
            f"({python} is missing).\nRun `scripts/dev main`, which installs it, or "
            "`bash scripts/install-synapse.sh`; or set MODBRIDGE_SYNAPSE_PYTHON to the "
            "python of a venv with Synapse.",
            file=sys.stderr,
        )
        return EXIT_NO_SYNAPSE
    started = time.monotonic()
    status = EXIT_FAILED
    with tempfile.TemporaryDirectory(prefix="modbridge-demo-") as name:
        tmp = Path(name)
        server = SynapseServer(tmp / "synapse")
        try:
            status = asyncio.run(_main(tmp, server, out))
        except (DemoError, SynapseError, OSError) as exc:
            print(f"\nmodbridge demo failed: {exc}", file=sys.stderr)
            _show_log(tmp / "service.log")
        except KeyboardInterrupt:
            status = EXIT_INTERRUPTED
        finally:
            server.stop()
    took = time.monotonic() - started
    if status == EXIT_OK:
        print(
            f"Service, Discord simulator and Synapse stopped, temp dir removed: {took:.1f} s "
            "in all.",
            file=out,
            flush=True,
        )
    elif status == EXIT_INTERRUPTED:
        print("\nInterrupted: everything stopped, temp dir removed.", file=out, flush=True)
    return status


def _show_log(path: Path) -> None:
    """The tail of the service's log (it holds no message text and no secret by design)."""
    if path.exists():
        tail = path.read_text(errors="replace").splitlines()[-25:]
        print("The service's log ends with:", *tail, sep="\n  ", file=sys.stderr)
