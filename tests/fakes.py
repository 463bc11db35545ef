"""The test doubles several test folders share, each written once.

The real parts (Synapse, discord.py against the simulator, SQLite) are used wherever a test can;
these stand in only where the test is about something else: a clock that stands still, a
key-value store in a dict, a core that records what an adapter hands it, an executor that
records what it was asked to do, and a wait for what a member would notice.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from domain.model import (
    Account,
    Action,
    Author,
    Ban,
    Channel,
    MembershipEvent,
    Message,
    ModCommand,
    Platform,
    Space,
    Unban,
)
from domain.ports import PermanentError, TransientError

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


class Clock:
    """A clock that stands still until the test moves it."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta | None = None, **parts: float) -> datetime:
        """Move on by ``delta`` or by ``timedelta(**parts)``; return the new time."""
        self.now += (delta or timedelta()) + timedelta(**parts)
        return self.now


class MemoryKeyValueStore:
    """A domain.ports.KeyValueStore in a dict (the service's is SQLite, storage.kv)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def get(self, key: str) -> str | None:
        return self.values.get(key)

    async def set(self, key: str, value: str) -> None:
        self.values[key] = value

    async def delete(self, key: str) -> bool:
        return self.values.pop(key, None) is not None


@dataclass
class Report:
    reporter: Account
    message: Message | None
    details: str
    origin: str


@dataclass
class AutomodHit:
    rule_name: str
    author: Account
    channel: Channel
    matched: str


@dataclass
class RecordingCore:
    """A fake core (domain.ports.Inbound): keeps what an adapter handed it, in order, and
    answers structured commands and reports with canned text."""

    answer: str = "Banned, case #7."
    report_answer: str = "Thank you, the moderators will look at it."
    fail_on: set[str] = field(default_factory=set)  # message texts whose handling raises
    fail_on_message: bool = False  # every message's handling raises
    messages: list[Message] = field(default_factory=list)
    memberships: list[MembershipEvent] = field(default_factory=list)
    commands: list[Message] = field(default_factory=list)  # text commands
    direct_messages: list[Message] = field(default_factory=list)
    mod_commands: list[tuple[ModCommand, Author, str]] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)
    automod_hits: list[AutomodHit] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def _note(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def on_message(self, message: Message) -> None:
        self.messages.append(message)
        self._note()
        if self.fail_on_message or message.text in self.fail_on:
            raise RuntimeError(f"core crashed on {message.text}")

    async def on_membership(self, event: MembershipEvent) -> None:
        self.memberships.append(event)
        self._note()

    async def on_command(self, message: Message) -> None:
        self.commands.append(message)
        self._note()

    async def on_direct_message(self, message: Message) -> None:
        self.direct_messages.append(message)
        self._note()

    async def on_mod_command(self, command: ModCommand, *, moderator: Author, origin: str) -> str:
        self.mod_commands.append((command, moderator, origin))
        self._note()
        return self.answer

    async def known_accounts(self, text: str) -> list[Account]:
        """Accounts the fake core knows: one Matrix-only member."""
        known = [Account(platform=Platform.MATRIX, id="@kip:example.org", display_name="Kip")]
        return [a for a in known if text in a.id or text in a.display_name.lower()]

    async def on_report(
        self, *, reporter: Account, message: Message | None, details: str, origin: str
    ) -> str:
        self.reports.append(Report(reporter, message, details, origin))
        self._note()
        return self.report_answer

    async def on_automod_hit(
        self, *, rule_name: str, author: Account, channel: Channel, matched: str
    ) -> None:
        self.automod_hits.append(AutomodHit(rule_name, author, channel, matched))
        self._note()

    def texts(self) -> list[str]:
        """The judged messages' texts, in order."""
        return [m.text for m in self.messages]

    async def wait(self, condition: Callable[[], bool], timeout: float = 3.0) -> None:  # noqa: ASYNC109
        """Until ``condition()`` holds (it is checked after every handler call)."""

        async def loop() -> None:
            while not condition():
                await self._changed.wait()

        await asyncio.wait_for(loop(), timeout)


@dataclass
class FakeExecutor:
    """A domain.ports.ActionExecutor that records what it was asked to do; can be told to
    fail, to hold a space until released, and answers a repeated ban as the real ones do."""

    platform: Platform
    done: list[tuple[Action, str]] = field(default_factory=list)
    transient_failures: int = 0
    permanent: str | None = None
    held_spaces: dict[str, asyncio.Event] = field(default_factory=dict)  # wait until set
    banned: set[tuple[Account, str]] = field(default_factory=set)

    async def execute(self, action: Action, space: Space, *, key: str = "") -> str:
        if space.id in self.held_spaces:
            await self.held_spaces[space.id].wait()
        if self.transient_failures > 0:
            self.transient_failures -= 1
            raise TransientError("server error 502", retry_after=None)
        if self.permanent is not None:
            raise PermanentError(self.permanent)
        if isinstance(action, Ban) and (action.target, space.id) in self.banned:
            return f"{action.target.id} was already banned from {space.id}"  # as the real ones say
        if isinstance(action, Ban):
            self.banned.add((action.target, space.id))
        if isinstance(action, Unban):
            self.banned.discard((action.target, space.id))
        self.done.append((action, space.id))
        return f"{type(action).__name__} in {space.id}"

    def kinds(self) -> list[tuple[str, str]]:
        return [(type(a).__name__, space) for a, space in self.done]


Check = Callable[[], bool] | Callable[[], Awaitable[bool]]


async def eventually(
    check: Check, what: str = "the expected outcome", within: float = 5.0, step: float = 0.01
) -> float:
    """Wait until ``check()`` (or ``await check()``) holds, what a member would notice, for at
    most ``within`` seconds, looking every ``step``; return how long it took."""
    started = time.monotonic()
    while True:
        held = check()
        if inspect.isawaitable(held):
            held = await held
        if held:
            return time.monotonic() - started
        if time.monotonic() - started > within:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(step)
