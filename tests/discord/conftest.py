"""Fixtures: the simulator and its scripted guild (shared with tests/discord_sim), a recording
stand-in for the core, and a started DiscordConnection logged in as the world's bot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from adapters.discord.connection import DiscordConnection
from devtools.discord_simulator import DiscordSimulator
from domain.model import Account, Author, Channel, MembershipEvent, Message, ModCommand, Platform
from tests.discord_sim.conftest import (  # noqa: F401 - fixtures shared with the simulator's tests
    World,
    point_discord_at,
    sim,
    world,
)


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
class Recorder:
    """A fake core: keeps what the connection handed it; answers commands with canned text."""

    answer: str = "Banned, case #7."
    report_answer: str = "Thank you, the moderators will look at it."
    fail_on_message: bool = False
    messages: list[Message] = field(default_factory=list)
    memberships: list[MembershipEvent] = field(default_factory=list)
    direct_messages: list[Message] = field(default_factory=list)
    commands: list[tuple[ModCommand, Author, str]] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)
    automod_hits: list[AutomodHit] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def _note(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def on_message(self, message: Message) -> None:
        self.messages.append(message)
        self._note()
        if self.fail_on_message:
            raise RuntimeError(f"core crashed on {message.text}")

    async def on_membership(self, event: MembershipEvent) -> None:
        self.memberships.append(event)
        self._note()

    async def on_direct_message(self, message: Message) -> None:
        self.direct_messages.append(message)
        self._note()

    async def on_mod_command(self, command: ModCommand, *, moderator: Author, origin: str) -> str:
        self.commands.append((command, moderator, origin))
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

    async def wait(self, condition: Callable[[], bool], timeout: float = 3.0) -> None:  # noqa: ASYNC109
        """Until ``condition()`` holds (it is checked after every handler call)."""

        async def loop() -> None:
            while not condition():
                await self._changed.wait()

        await asyncio.wait_for(loop(), timeout)


class MemoryState:
    """DiscordStateStore in a dict (the core's is SQLite)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def get(self, key: str) -> str | None:
        return self.values.get(key)

    async def set(self, key: str, value: str) -> None:
        self.values[key] = value


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def state() -> MemoryState:
    return MemoryState()


Connect = Callable[..., Awaitable[DiscordConnection]]


@pytest.fixture
async def connect(
    sim: DiscordSimulator,  # noqa: F811 - the fixture imported above
    world: World,  # noqa: F811
    recorder: Recorder,
    state: MemoryState,
) -> AsyncIterator[Connect]:
    """Start a DiscordConnection as the world's bot (keyword arguments override defaults)."""
    started: list[DiscordConnection] = []

    async def start(**overrides: Any) -> DiscordConnection:
        options: dict[str, Any] = {
            "token": world.bot.token or "",
            "api_base": sim.api_url,
            "gateway_url": sim.gateway_url,
            "guilds": [world.guild.id],
            "mod_channels": {world.guild.id: world.general.id},
            "moderator_roles": [world.senior_role.id],
            "handlers": recorder,
            "state": state,
            "ready_timeout": 5.0,
            "guild_ready_timeout": 0.05,
            "action_deadline": 3.0,
        }
        options.update(overrides)
        connection = DiscordConnection(**options)
        await connection.start()
        started.append(connection)
        return connection

    yield start
    for connection in started:
        await connection.close()


@pytest.fixture
async def connection(connect: Connect) -> DiscordConnection:
    """A started connection moderating the world's guild."""
    return await connect()
