"""Helpers for the end-to-end tests of `modbridge run`: the config file, the service process,
and what members and moderators read from Synapse while it runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from nio import AsyncClient, JoinResponse, RoomGetEventResponse, SyncResponse

from tests.e2e.matrix_helpers import bodies
from tests.e2e.synapse import PROJECT_ROOT, RegisteredUser
from tests.fakes import Check
from tests.fakes import eventually as _eventually

WAIT = 15.0  # seconds; most things happen in well under two


async def eventually(check: Check, what: str, within: float = WAIT) -> float:
    """Wait until ``await check()`` holds, for at most ``within`` seconds; return how long."""
    return await _eventually(check, what, within, step=0.1)


READY = "Matrix connection up"


@dataclass(frozen=True, slots=True)
class Cast:
    """The people of the tests: the bot's account, members, a moderator, a non-moderator."""

    bot: RegisteredUser
    member: RegisteredUser
    member2: RegisteredUser
    moderator: RegisteredUser
    observer: RegisteredUser
    outsider: RegisteredUser  # in the mod room, but not a moderator


@dataclass(frozen=True, slots=True)
class Rooms:
    """The community the bot protects, as the configuration names it."""

    general: str  # configured by its alias
    general_alias: str
    random: str  # configured by its id
    space: str
    child: str  # a room of the space, configured through the space only
    mod: str

    @property
    def protected(self) -> tuple[str, ...]:
        return (self.general, self.random, self.space, self.child)


def config_text(
    *, homeserver: str, cast: Cast, rooms: Rooms, words: tuple[str, ...] = ("idiot",)
) -> str:
    """The TOML an admin would write for the test community."""
    quoted = ", ".join(f'"{w}"' for w in words)
    return f"""
[community]
name = "Test community"

# High enough that the tests' own violations never climb the ladder by accident.
[escalation]
decay = "1h"
ladder = [{{ points = 100, action = "mute 3s" }}]

# Each test's violation is told at once (tests/component/test_digest.py covers the digest).
[digest]
enabled = false

[[rules]]
id = "insults"
kind = "keywords"
clause = "Insults, threats, or demeaning comments, in person or online"
points = 1
actions = ["delete", "warn", "notify"]
words = [{quoted}]

[[rules]]
id = "contact-details"
kind = "pii"
clause = "Sharing of another member's contact details without consent is prohibited"
points = 1
actions = ["delete", "notify"]
phones = true
emails = true
default_region = "KE"

[matrix]
homeserver = "{homeserver}"
user_id = "{cast.bot.user_id}"
rooms = ["{rooms.general_alias}", "{rooms.random}"]
spaces = ["{rooms.space}"]
mod_room = "{rooms.mod}"
moderators = ["{cast.moderator.user_id}"]
"""


def replace_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` the way editors do (a new file renamed over the old one), so
    the service's policy watcher never reads a half-written file."""
    new = path.with_suffix(".new")
    new.write_text(text)
    new.replace(path)


def service_env(storage: Path, **secrets: str) -> dict[str, str]:
    """The environment of a service: no inherited MODBRIDGE_ settings, plus ``secrets``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODBRIDGE_")}
    env["MODBRIDGE_STORAGE__PATH"] = str(storage)
    env.update(secrets)
    return env


def run_cli(args: list[str], env: Mapping[str, str], timeout: float = 30.0) -> tuple[int, str]:
    """Run ``python -m cli.main ARGS`` to the end; return its status and all its output."""
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=PROJECT_ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


class ServiceProcess:
    """`modbridge run --config PATH` as a subprocess whose stderr goes to ``log_path``."""

    def __init__(
        self,
        config: Path,
        env: Mapping[str, str],
        log_path: Path,
        preexec: Callable[[], None] | None = None,
        args: Sequence[str] = (),
    ) -> None:
        self.config = config
        self.args = list(args)  # more options of `run` (--dry-run, --log-format json...)
        self.env = dict(env)
        self.log_path = log_path
        self._preexec = preexec  # run in the child before it starts (e.g. resource limits)
        self._process: subprocess.Popen[bytes] | None = None
        self._log_start = 0

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log(self) -> str:
        """What this run of the service has logged so far."""
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[self._log_start :]

    def start(self, timeout: float = 30.0) -> float:
        """Start the service and wait until its Matrix connection is up; return how long."""
        started = time.monotonic()
        self._log_start = len(self.log_path.read_text()) if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            command = [sys.executable, "-m", "cli.main", "run", "--config", str(self.config)]
            self._process = subprocess.Popen(
                [*command, *self.args],
                cwd=PROJECT_ROOT,
                env=self.env,
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                preexec_fn=self._preexec,  # resource limits (set before exec)
            )
        while READY not in self.log():
            if self._process.poll() is not None:
                pytest.fail(f"the service exited with {self._process.returncode}:\n{self.log()}")
            if time.monotonic() - started > timeout:
                self.kill()
                pytest.fail(f"the service was not up within {timeout}s:\n{self.log()}")
            time.sleep(0.05)
        return time.monotonic() - started

    def terminate(self, timeout: float = 15.0) -> tuple[int, float]:
        """SIGTERM the service; return its exit status and how long it took to exit."""
        assert self._process is not None
        started = time.monotonic()
        self._process.send_signal(signal.SIGTERM)
        try:
            status = self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"the service did not exit within {timeout}s of SIGTERM:\n{self.log()}")
        self._process = None
        return status, time.monotonic() - started

    def hang_up(self) -> None:
        """SIGHUP: the admin's way to say "read the policy again"."""
        assert self._process is not None
        self._process.send_signal(signal.SIGHUP)

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(10)
        self._process = None


async def notices(client: AsyncClient, room_id: str) -> list[str]:
    """The m.notice bodies of a room, oldest first."""
    return await bodies(client, room_id, "m.notice")


async def is_redacted(client: AsyncClient, room_id: str, event_id: str) -> bool:
    """Whether ``client`` sees the event as redacted (its content is gone)."""
    response = await client.room_get_event(room_id, event_id)
    assert isinstance(response, RoomGetEventResponse), response
    source: dict[str, Any] = response.event.source
    return not source.get("content") and "redacted_because" in source.get("unsigned", {})


async def join_invites(client: AsyncClient, since: str | None) -> tuple[list[str], str]:
    """Join every room the user is invited to; return the rooms and the next sync token."""
    response = await client.sync(timeout=0, since=since)
    assert isinstance(response, SyncResponse), response
    joined = []
    for room_id in response.rooms.invite:
        answer = await client.join(room_id)
        assert isinstance(answer, JoinResponse), answer
        joined.append(room_id)
    return joined, response.next_batch


async def accept_invites(client: AsyncClient) -> list[str]:
    """Join every room ``client``'s user was invited to since its last sync; return their ids.

    Call it repeatedly on the same client: each call is an incremental sync (Synapse caches
    an initial sync for a while, so a fresh client would keep seeing the same old answer).
    """
    joined, _ = await join_invites(client, None)
    return joined
