"""Installing and deploying as an admin does: the wheel in a fresh virtual environment, and
the systemd unit file of the repository."""

from __future__ import annotations

import configparser
import json
import os
import re
import runpy
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Callable
from pathlib import Path

import discord
import pytest

from adapters.discord.startup_check import NEEDED

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "modbridge.service"
DEV_TOOLS = ("pytest", "_pytest", "hypothesis", "mypy", "ruff", "importlinter")

# Refuses the development tools: the installed `modbridge` must run without them.
NO_DEV_TOOLS = f"""
import importlib.abc, sys
class _NoDevTools(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {DEV_TOOLS!r}:
            raise ImportError(f"{{name}} is a development tool, not installed here")
        return None
sys.meta_path.insert(0, _NoDevTools())
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(out), str(ROOT)],
        check=True, capture_output=True, timeout=900,  # the engine is compiled (setup.py)
    )  # fmt: skip
    (found,) = out.glob("modbridge-*.whl")
    return found


def _metadata(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return archive.read(name).decode().splitlines()


# The wheel's build compiles the engine (setup.py): a minute or two, paid by the first test.
@pytest.mark.timeout(900)
def test_the_wheel_needs_runtime_dependencies_only_and_carries_the_licence(wheel: Path) -> None:
    metadata = _metadata(wheel)
    required = [line.split(":", 1)[1].strip() for line in metadata
                if line.startswith("Requires-Dist:")]  # fmt: skip
    runtime = [r for r in required if "extra ==" not in r]
    assert any(r.startswith("prometheus-client") for r in runtime)
    for tool in ("pytest", "hypothesis", "mypy", "ruff", "import-linter"):
        assert not any(r.startswith(tool) for r in runtime), runtime
        assert any(r.startswith(tool) and 'extra == "dev"' in r for r in required), tool
    assert "License-Expression: Apache-2.0" in metadata
    with zipfile.ZipFile(wheel) as archive:
        licence = [n for n in archive.namelist() if n.endswith("/LICENSE")]
        assert licence
        assert b"Apache License" in archive.read(licence[0])
        assert not any(n.startswith("tests/") for n in archive.namelist())


@pytest.mark.timeout(900)
def test_the_wheel_in_a_fresh_venv_runs_version_and_check_config(
    wheel: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
         str(wheel)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
    )  # fmt: skip
    # The runtime dependencies come from this environment (already installed and checked by
    # pip against the wheel's requirements below), not from the network; this source tree is
    # not on the path (the editable install's hook is not run for a directory added this way).
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    (site / "sitecustomize.py").write_text(NO_DEV_TOOLS)
    work = tmp_path / "etc"
    work.mkdir()
    shutil.copy(ROOT / "config.example.toml", work / "config.toml")

    def modbridge(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(venv / "bin" / "modbridge"), *args],
            cwd=work, capture_output=True, text=True, timeout=60, check=False,
            env={"PATH": "/usr/bin:/bin"},
        )  # fmt: skip

    version = modbridge("--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == "modbridge 0.1.0"
    checked = modbridge("check-config", "config.toml")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("config.toml: OK")
    where = subprocess.run(
        [str(python), "-c", "import bridge; print(bridge.__file__)"],
        cwd=work, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert where.startswith(str(site)), where
    # `run` imports the whole service: without a platform it stops at the configuration.
    run = modbridge("run", "--config", "config.toml")
    assert run.returncode == 2, run.stderr
    assert "no platform is configured" in run.stderr
    assert "development tool" not in run.stderr
    compiled_engine_decides_as_the_source_does(python, modbridge, work)


def compiled_engine_decides_as_the_source_does(
    python: Path, modbridge: Callable[..., subprocess.CompletedProcess[str]], work: Path
) -> None:
    """The wheel's engine is the compiled one, and its verdicts are the source's, byte for
    byte: `rules eval` on the labelled set and generated chatter, installed and from here."""
    engine = subprocess.run(
        [str(python), "-c", "import rules.engine, rules.keywords, rules.pii, bridge.evaluate; "
         "print(rules.engine.__file__, rules.keywords.__file__, rules.pii.__file__, "
         "bridge.evaluate.__file__)"],
        cwd=work, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert all(path.endswith(".so") for path in engine), engine
    labelled = (ROOT / "tests" / "data" / "conduct_eval.jsonl").read_text(encoding="utf-8")
    texts = [json.loads(line)["text"] for line in labelled.splitlines() if line.strip()]
    texts += runpy.run_path(str(ROOT / "scripts" / "chat_corpus.py"))["distinct_corpus"](3000)
    lines = [
        json.dumps({"id": i, "author": f"m{i % 7}", "text": text, "ts": 1.8e9 + i * 3})
        for i, text in enumerate(texts)
    ]
    (work / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    installed = modbridge("rules", "eval", "--config", "config.toml", "--input", "in.jsonl")
    assert installed.returncode == 0, installed.stderr
    source = subprocess.run(
        [sys.executable, "-m", "cli.main", "rules", "eval", "--config", "config.toml",
         "--input", "in.jsonl"],
        cwd=work, capture_output=True, text=True, check=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ).stdout  # fmt: skip
    assert len(source.splitlines()) == len(lines)
    assert installed.stdout == source
    # lines the compiled reader must refuse, or hand to pydantic, as the source does
    odd = "\n".join([
        "not json", "[]", "", "   ", '{"id": true, "author": "a", "text": "x"}',
        '{"id": 1.5, "author": "a", "text": "x"}', '{"id": "1", "author": "", "text": "x"}',
        '{"id": 2, "author": "a", "text": "x", "ts": NaN}',
        '{"id": 3, "author": "a", "text": "x", "ts": 1e20}',
        '{"id": 4, "author": "a", "text": "x", "ts": 5}',
        '{"id": 5, "author": "a", "text": "x", "platform": "test"}',
        '{"id": 6, "author": "a", "text": "\\ud800 lone"}',
        '{"id": "7", "author": 7, "text": "x"}', '{"id": 8, "author": "a", "text": null}',
        '{"id": 9, "author": "a", "text": "x", "platform": "irc"}',
    ]) + "\n"  # fmt: skip
    (work / "odd.jsonl").write_text(odd, encoding="utf-8")
    refused = modbridge("rules", "eval", "--config", "config.toml", "--input", "odd.jsonl")
    from_source = subprocess.run(
        [sys.executable, "-m", "cli.main", "rules", "eval", "--config", "config.toml",
         "--input", "odd.jsonl"],
        cwd=work, capture_output=True, text=True, check=False, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert (refused.returncode, refused.stdout) == (from_source.returncode, from_source.stdout)
    assert from_source.returncode == 1
    assert from_source.stdout.count('"error"') == 12


def _unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNIT)
    return parser


def test_the_systemd_unit_runs_a_dedicated_hardened_user_with_secrets_from_a_file(
    tmp_path: Path,
) -> None:
    service = _unit()["Service"]
    assert service["User"] == "modbridge"
    assert service["StateDirectory"] == "modbridge"
    assert service["EnvironmentFile"].startswith("/etc/modbridge/")
    assert service["Restart"] == "on-failure"
    assert " run --config /etc/modbridge/config.toml" in service["ExecStart"]
    for key, value in {
        "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
        "PrivateTmp": "yes", "UMask": "0077", "RestartPreventExitStatus": "2",
    }.items():  # fmt: skip
        assert service[key] == value, key
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return  # the keys above are what can be checked without systemd
    # systemd's own check, with ExecStart pointing at a modbridge that exists here.
    unit = tmp_path / "modbridge.service"
    executable = Path(sys.executable).parent / "modbridge"
    unit.write_text(UNIT.read_text().replace("/opt/modbridge/bin/modbridge", str(executable)))
    verified = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, check=False, timeout=60
    )
    problems = [line for line in verified.stderr.splitlines() if "modbridge.service" in line]
    assert verified.returncode == 0, verified.stderr
    assert not problems, verified.stderr


def test_the_readme_invite_url_grants_exactly_the_permissions_it_lists() -> None:
    readme = (ROOT / "README.md").read_text()
    deploying = readme.split("## Deploying", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"\(`(\w+)`", deploying.split("Permissions:", 1)[1].split("\n\n")[0])
    # Everything the adapter checks at start-up (and reports missing) is in the invite.
    assert {"ban_members", *(attribute for attribute, _, _ in NEEDED)} <= set(listed)
    expected = discord.Permissions(**dict.fromkeys(listed, True)).value
    url = re.search(r"https://discord.com/oauth2/authorize\?\S+", deploying)
    assert url is not None
    assert "scope=bot+applications.commands" in url.group(0)
    assert f"permissions={expected}" in url.group(0)
