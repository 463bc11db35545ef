"""Fixtures: the simulator and its scripted guild (shared with tests/discord_sim), a recording
stand-in for the core (tests.fakes), and a started DiscordConnection logged in as the bot."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from adapters.discord.connection import DiscordConnection
from devtools.discord_simulator import DiscordSimulator
from tests.discord_sim.conftest import (  # noqa: F401 - fixtures shared with the simulator's tests
    World,
    point_discord_at,
    sim,
    world,
)
from tests.fakes import MemoryKeyValueStore, RecordingCore


@pytest.fixture
def recorder() -> RecordingCore:
    return RecordingCore()


@pytest.fixture
def state() -> MemoryKeyValueStore:
    return MemoryKeyValueStore()


Connect = Callable[..., Awaitable[DiscordConnection]]


@pytest.fixture
async def connect(
    sim: DiscordSimulator,  # noqa: F811 - the fixture imported above
    world: World,  # noqa: F811
    recorder: RecordingCore,
    state: MemoryKeyValueStore,
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
