"""The command-line contract admins and tests rely on, run as an admin would run it."""

from __future__ import annotations

import io
import json
import logging
import os
import select
import subprocess
import sys
from pathlib import Path

import discord
import pytest

from bridge.logs import JsonFormatter, configure
from cli.main import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "config.example.toml")


def modbridge(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )


def test_rules_test_says_which_rule_why_and_what_would_be_done() -> None:
    result = modbridge("rules", "test", "--config", EXAMPLE, "what a l.o.s.e.r")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    insults = out.split("hit  insults (keywords, +2 points)", 1)[1].split("hit  ", 1)[0]
    assert "matched: 'what a loser'" in insults
    assert "clause:  Insults, threats, or demeaning comments" in out
    assert '"action": "delete"' in out
    assert '"action": "warn"' in out


def test_rules_test_clean_message() -> None:
    result = modbridge("rules", "test", "--config", EXAMPLE, "nova-compute 2025.1 on 10.0.0.7:8774")
    assert result.returncode == 0
    assert result.stdout.strip() == "no rule hit: nothing would be done"


def test_rules_eval_contract() -> None:
    lines = [
        {"id": "a", "platform": "discord", "author": "u1", "channel": "c", "text": "hello"},
        {"id": 2, "platform": "matrix", "author": "@x:hs", "channel": "!r:hs",
         "text": "whats ur whatsapp?", "ts": 100},
        "this is not json",
        {"id": "c", "platform": "discord", "author": "u1"},
        {"id": "d", "platform": "discord", "author": "u2", "channel": "c",
         "text": "her mail: jane at gmail dot com", "ts": 101},
    ]  # fmt: skip
    stdin = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n"
    result = modbridge("rules", "eval", "--config", EXAMPLE, stdin=stdin)
    assert result.returncode == 1  # one line was malformed
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == 5
    assert out[0] == {
        "id": "a", "hits": [], "actions": [], "observed": [], "points": 0,
    }  # fmt: skip
    assert out[1]["id"] == 2
    assert [h["rule"] for h in out[1]["hits"]] == ["off-platform-contact"]
    assert out[1]["hits"][0]["kind"] == "solicitation"
    assert {a["action"] for a in out[1]["actions"]} == {"delete", "warn", "notify"}
    assert out[2]["id"] is None
    assert out[2]["line"] == 3
    assert "error" in out[2]
    assert out[3]["id"] is None
    assert out[3]["line"] == 4
    assert "text" in out[3]["error"]
    assert [h["rule"] for h in out[4]["hits"]] == ["contact-details"]


def test_rules_eval_all_valid_exits_zero_and_uses_files(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    target = tmp_path / "out.jsonl"
    source.write_text(
        "".join(
            json.dumps(
                {
                    "id": i,
                    "platform": "discord",
                    "author": "spammer",
                    "channel": "c",
                    "text": f"message {i}",
                    "ts": 1000 + i * 0.5,
                }
            )
            + "\n"
            for i in range(12)
        )
    )
    result = modbridge(
        "rules", "eval", "--config", EXAMPLE, "--input", str(source), "--output", str(target)
    )
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in target.read_text().splitlines()]
    assert [o["id"] for o in out] == list(range(12))
    flooded = [o["id"] for o in out if any(h["rule"] == "flood" for h in o["hits"])]
    assert flooded == [8, 9, 10, 11]  # more than 8 messages within 10 seconds, by ts


def test_rules_eval_answers_a_pipe_line_by_line() -> None:
    """A program feeding `rules eval` through a pipe reads each answer before its next line."""
    with subprocess.Popen(
        [sys.executable, "-m", "cli.main", "rules", "eval", "--config", EXAMPLE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        # unbuffered output would hide a missing flush
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": ""},
    ) as child:
        assert child.stdin is not None
        assert child.stdout is not None
        try:
            for i, text in enumerate(["good morning all", "you idiot"]):
                child.stdin.write(json.dumps({"id": i, "author": "a", "text": text}) + "\n")
                child.stdin.flush()
                # the answer must come while the next line is still unsent, not at the end
                ready, _, _ = select.select([child.stdout], [], [], 30)
                assert ready, f"no answer to line {i} before the next was sent"
                answer = json.loads(child.stdout.readline())
                assert answer["id"] == i
                assert bool(answer["hits"]) is (i == 1)
            child.stdin.close()
            assert child.wait(timeout=60) == 0
        finally:
            child.kill()


def test_check_config_summarises_the_policy() -> None:
    result = modbridge("check-config", EXAMPLE)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout
    assert "contact-details (pii, 4 points): delete, warn, notify" in result.stdout
    assert "crypto-scam (regex, 3 points): delete, notify [observe only]" in result.stdout
    assert "points expire after 30d" in result.stdout


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[[rules]]\nid='r'\nkind='regex'\npatterns=['(\\w+)\\s\\1']\n", "linear time"),
        ("[[rules]\n", "not valid TOML"),
        ("[[rules]]\nid='r'\nkind='flood'\nmax_messages=0\n", "max_messages"),
    ],
)
def test_bad_config_is_one_clear_message_and_exit_2(
    tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content)
    result = modbridge("check-config", str(path))
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"modbridge: {path}")


def test_replay_narrates_the_sample_conversation() -> None:
    result = modbridge("rules", "replay", "--config", EXAMPLE)
    assert result.returncode == 0, result.stderr
    assert "! insults (keywords)" in result.stdout
    assert "! contact-details (pii)" in result.stdout
    assert "(observe mode: would delete)" in result.stdout


def test_log_level_error_and_json_format_are_accepted_and_bad_values_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.toml"
    config.write_text("")
    # Accepted: the run goes on to the configuration (which has no platform).
    args = ["run", "--config", str(config), "--log-level", "ERROR", "--log-format", "json"]
    assert main(args) == 2
    assert "no platform is configured" in capsys.readouterr().err
    monkeypatch.setenv("MODBRIDGE_LOG_LEVEL", "loud")
    assert main(["run", "--config", str(config)]) == 2
    assert "MODBRIDGE_LOG_LEVEL: 'LOUD' is not one of DEBUG, INFO, WARNING, ERROR" in (
        capsys.readouterr().err
    )
    monkeypatch.setenv("MODBRIDGE_LOG_LEVEL", "warning")
    monkeypatch.setenv("MODBRIDGE_LOG_FORMAT", "xml")
    assert main(["run", "--config", str(config)]) == 2
    assert "MODBRIDGE_LOG_FORMAT: 'xml' is not one of text, json" in capsys.readouterr().err


def test_json_log_lines_are_one_object_each_with_the_message_only() -> None:
    record = logging.LogRecord(
        "bridge.pipeline", logging.ERROR, __file__, 1, "case %s opened for message %s",
        (7, "m1"), None,
    )  # fmt: skip
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["message"] == "case 7 opened for message m1"
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "bridge.pipeline"
    assert "\n" not in line


def test_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "--version"],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0
    assert done.stdout.startswith("modbridge 0.1.0")


def test_discord_voice_warnings_are_silenced_and_others_kept() -> None:
    stream = io.StringIO()
    configure("INFO", "text", stream)
    discord.Client(intents=discord.Intents.none())  # warns: no PyNaCl, no davey, no guilds
    logged = stream.getvalue()
    assert "voice will NOT be supported" not in logged
    assert "Guilds intent seems to be disabled" in logged  # other warnings still show


def test_rules_and_check_config_start_without_the_service_the_platforms_or_the_demo() -> None:
    # `rules` and `check-config` are an admin's quick tools: the service, the adapters,
    # discord.py, nio and the demo cost most of a second of imports and are not needed.
    script = (
        "import sys\n"
        "from cli.main import main\n"
        f"main(['rules', 'test', '--config', {EXAMPLE!r}, 'you idiot'])\n"
        f"main(['check-config', {EXAMPLE!r}])\n"
        "print('MODULES', ' '.join(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True, text=True, timeout=60, cwd=ROOT, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "hit  insults" in result.stdout
    modules = result.stdout.split("MODULES ", 1)[1].split()
    loaded = [
        name
        for name in modules
        if name.split(".")[0] in {"adapters", "discord", "nio", "aiosqlite", "storage"}
        or name in {"bridge.service", "bridge.worker", "bridge.writer", "bridge.compose"}
        or name.split(".")[0] == "devtools"
    ]
    assert loaded == []


def test_run_starts_without_any_development_tool(tmp_path: Path) -> None:
    # `modbridge run` loads the service and both platforms' adapters, but never the Discord
    # simulator, the local Synapse launcher or the demo: those are in devtools/.
    script = (
        "import sys\n"
        "from cli.main import main\n"
        "try:\n"
        f"    code = main(['run', '--config', {EXAMPLE!r}])\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        "print('EXIT', code)\n"
        "print('MODULES', ' '.join(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True, text=True, timeout=60, cwd=ROOT, check=False,
        env={
            **os.environ, "PYTHONPATH": str(ROOT),
            "MODBRIDGE_STORAGE__PATH": str(tmp_path / "modbridge.db"),
        },
    )  # fmt: skip
    assert "EXIT 2" in result.stdout, result.stderr  # the example configures no platform
    assert "no platform" in result.stderr
    modules = result.stdout.split("MODULES ", 1)[1].split()
    assert {"bridge.service", "adapters.discord.connection", "adapters.matrix.connection"} <= set(
        modules
    )
    assert [name for name in modules if name.split(".")[0] == "devtools"] == []


def test_rules_eval_answers_bad_times_and_bad_bytes_line_by_line(tmp_path: Path) -> None:
    """A time no calendar holds and bytes that are not UTF-8 are that line's error; the
    lines around them are answered, from a file as through a pipe."""
    lines = [
        b'{"id": 1, "author": "a", "text": "hi", "ts": 1e20}',
        b'{"id": 2, "author": "a", "text": "hi", "ts": NaN}',
        b'{"id": 3, "author": "a", "text": "hi", "ts": -Infinity}',
        b'{"id": 4, "author": "a", "text": "caf\xe9 idiot"}',
        b'{"id": 5, "author": "a", "text": "kill yourself", "ts": 32503600000}',
        b'{"id": 6, "author": "a", "text": "hello", "ts": 1800000000}',
    ]
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    from_file = modbridge("rules", "eval", "--config", EXAMPLE, "--input", str(source))
    piped = subprocess.run(
        [sys.executable, "-m", "cli.main", "rules", "eval", "--config", EXAMPLE],
        input=source.read_bytes(), capture_output=True, timeout=60, cwd=ROOT, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    for result in (from_file.stdout, piped.stdout.decode()):
        out = [json.loads(line) for line in result.splitlines()]
        assert [o.get("line") for o in out[:4]] == [1, 2, 3, 4], out
        assert all("ts: " in o["error"] for o in out[:3])
        assert "valid string" in out[3]["error"]
        assert out[4]["id"] == 5
        assert out[4]["actions"][1]["action"] == "mute"
        assert out[5] == {"id": 6, "hits": [], "actions": [], "observed": [], "points": 0}
    assert from_file.returncode == piped.returncode == 1
    assert "Traceback" not in from_file.stderr + piped.stderr.decode()
