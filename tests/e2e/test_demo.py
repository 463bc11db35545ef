"""`modbridge demo`, run the way the README's main command runs it: what the terminal shows.

The demo starts its own Synapse and Discord simulator in a temp dir; each run here points
TMPDIR at a fresh directory, so "nothing left behind" is checkable: no process whose command
line names it, and nothing in it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from tests.e2e.conftest import require_synapse
from tests.e2e.synapse import PROJECT_ROOT

CONSOLE_SCRIPT = Path(sys.executable).with_name("modbridge")
SECRET_SHAPES = {
    "a Synapse access token": re.compile(r"syt_[A-Za-z0-9_]+"),
    "a simulator bot token": re.compile(r"sim\.\d+\.[0-9a-f]{16}"),
    "a hex secret (shared secret, macaroon key)": re.compile(r"\b[0-9a-f]{32}\b"),
}


def _demo_command() -> list[str]:
    if CONSOLE_SCRIPT.is_file():
        return [str(CONSOLE_SCRIPT), "demo"]
    return [sys.executable, "-m", "cli.main", "demo"]


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODBRIDGE_")}
    if "MODBRIDGE_SYNAPSE_PYTHON" in os.environ:
        env["MODBRIDGE_SYNAPSE_PYTHON"] = os.environ["MODBRIDGE_SYNAPSE_PYTHON"]
    env["TMPDIR"] = str(tmp)
    env.update(extra)
    return env


def _processes_naming(path: Path) -> list[str]:
    """Command lines of running processes that mention ``path`` (e.g. a leftover Synapse)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(path) in cmdline:
            found.append(cmdline)
    return found


def _nothing_left(tmp: Path) -> None:
    deadline = time.monotonic() + 5.0
    while _processes_naming(tmp) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_naming(tmp) == []
    assert list(tmp.iterdir()) == []


@pytest.mark.synapse
def test_demo_tells_the_whole_story_and_cleans_up(tmp_path: Path) -> None:
    require_synapse()
    started = time.monotonic()
    done = subprocess.run(
        _demo_command(),
        cwd=PROJECT_ROOT,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    took = time.monotonic() - started
    out = done.stdout
    print(out, done.stderr, f"took {took:.1f}s", sep="\n")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in out + done.stderr
    assert took < 60.0

    # 1. Ordinary chat: nothing happens.
    assert "nothing happens: both messages stay" in out
    # 2. Doxxing on Matrix: redacted for everyone, warned, the moderators told on both sides.
    assert "Otieno's client shows it as redacted" in out
    assert "Amina is warned in a direct chat with the bot" in out
    assert "A warning from the moderators of OpenInfra User Group Kenya" in out
    assert re.search(
        r"\[Matrix  #moderators\] Case #1: Amina \(@amina:localhost\) in General,\s+message", out
    )
    assert "[Discord #mods] the same notice" in out
    # 3. The troll: linked, each insult deleted and warned, muted on both platforms.
    assert re.search(r"are now one\s+member", out)
    assert out.count("Kip warned by DM") == 3
    assert "the ladder's 6-point step: mute 5m" in out
    assert "[Discord] Kip is timed out until" in out
    assert "refused by the homeserver (M_FORBIDDEN)" in out
    # 4. A day's ban with purge on Discord: the ephemeral answer says where and how many
    # messages went; Matrix refuses a rejoin; the Matrix moderators read the modlog line.
    assert "only Wanjiru sees (ephemeral: True)" in out
    assert re.search(r"Case #\d+: Kip \(discord:\d+\) banned for 1d \(until ", out)
    assert "done: ban in OpenInfra-Kenya (Discord) (messages of the last 1h deleted)" in out
    assert re.search(r"done: ban in General \(Matrix\) \([1-9]\d* messages? removed\)", out)
    assert "Kip's earlier messages are gone from Discord's #general" in out
    assert "and redacted on Matrix: Otieno's client shows none of them any more" in out
    assert "Kip tries to rejoin #general: refused" in out
    flat = " ".join(out.split())  # the narrator wraps long lines
    assert re.search(
        r"\[Matrix #moderators\] modbridge: \[modlog\] Case #\d+ · ban 1d, purge 1h · Kip "
        r"\(discord:\d+\) · Discord: OpenInfra-Kenya; Matrix: General · by Wanjiru "
        r"\(discord:\d+\) · repeated insults",
        flat,
    )
    assert "banned" in out.split("Kip tries to rejoin #general: refused", 1)[1].splitlines()[0]
    # 5. !case 1 in the Matrix mod room.
    assert "Wanjiru: !case 1" in out
    assert "modbridge: Case #1 (open): Amina (@amina:localhost)" in out
    assert "done: delete in General (Matrix)" in out

    # The phone number appears once, where Amina posted it; nothing the bot said repeats it.
    assert out.count("0712 345 678") == 1
    for what, shape in SECRET_SHAPES.items():
        assert not shape.search(out + done.stderr), f"{what} was printed"
    assert "password" not in (out + done.stderr).lower()
    _nothing_left(tmp_path)


@pytest.mark.synapse
def test_ctrl_c_stops_everything(tmp_path: Path) -> None:
    require_synapse()
    process = subprocess.Popen(
        _demo_command(),
        cwd=PROJECT_ROOT,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if line.startswith("== 2."):
                process.send_signal(signal.SIGINT)
                break
        rest, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    out = "".join(lines) + rest
    assert process.returncode == 130, out
    assert "Interrupted: everything stopped, temp dir removed." in out
    assert "Traceback" not in out
    _nothing_left(tmp_path)


def test_without_synapse_it_says_how_to_install_it(tmp_path: Path) -> None:
    missing = tmp_path / "no-synapse" / "python"
    done = subprocess.run(
        _demo_command(),
        cwd=tmp_path,
        env=_env(tmp_path, MODBRIDGE_SYNAPSE_PYTHON=str(missing)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "scripts/dev main" in done.stderr
    assert str(missing) in done.stderr
    assert "Traceback" not in done.stderr


def test_the_demo_policy_is_the_example_policy_with_shorter_mutes() -> None:
    example = tomllib.loads((PROJECT_ROOT / "config.example.toml").read_text())
    demo = tomllib.loads((PROJECT_ROOT / "devtools" / "data" / "demo-policy.toml").read_text())
    assert demo["rules"] == example["rules"]
    assert demo["community"] == example["community"]
    steps = [step["points"] for step in demo["escalation"]["ladder"]]
    assert steps == [step["points"] for step in example["escalation"]["ladder"]]
    assert not {"matrix", "discord", "storage"} & demo.keys()  # the demo adds its own
