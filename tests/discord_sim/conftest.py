"""Fixtures: a running Discord simulator, a scripted guild, and the real discord.py client."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yarl

with warnings.catch_warnings():
    # discord.py 2.7 imports audioop for voice, deprecated since Python 3.11; voice is unused.
    # (pyproject's filterwarnings=error would otherwise fail the import.)
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord
    import discord.gateway
    import discord.http

from devtools.discord_simulator import (
    Channel,
    DiscordSimulator,
    Guild,
    Role,
    User,
    permissions,
    run_simulator,
)

INTENTS = discord.Intents(
    guilds=True,
    members=True,
    messages=True,
    message_content=True,
    moderation=True,
    auto_moderation_execution=True,
    auto_moderation_configuration=True,
)


@pytest.fixture
def point_discord_at() -> Iterator[Callable[[DiscordSimulator], None]]:
    """Point discord.py's class-level URLs at a simulator, and put them back afterwards."""
    base = discord.http.Route.BASE
    gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY

    def point(sim: DiscordSimulator) -> None:
        discord.http.Route.BASE = sim.api_url
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(sim.gateway_url)

    yield point
    discord.http.Route.BASE = base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway


@pytest.fixture
async def sim(
    point_discord_at: Callable[[DiscordSimulator], None],
) -> AsyncIterator[DiscordSimulator]:
    """A started simulator that discord.py is pointed at."""
    async with run_simulator() as simulator:
        point_discord_at(simulator)
        yield simulator
    # A handler that crashed answers 500 and discord.py quietly retries: fail the test instead.
    crashed = [r for r in simulator.requests.requests if r.status >= 500 and not r.injected]
    assert not crashed, crashed


@dataclass
class World:
    """The scripted guild most tests use.

    Roles, bottom to top: @everyone, helper (alice's colleague), modbot (the bot), senior.
    """

    guild: Guild
    general: Channel
    owner: User
    bot: User
    alice: User
    bob: User
    senior: User
    admin: User
    bot_role: Role
    senior_role: Role


@pytest.fixture
def world(sim: DiscordSimulator) -> World:
    """A guild with an owner, the moderation bot, two members, a senior and an admin."""
    owner = sim.create_user("owner")
    guild = sim.create_guild("Community", owner=owner)
    general = sim.create_text_channel(guild, "general")
    admin_role = sim.create_role(guild, "admins", permissions=permissions.ADMINISTRATOR)
    bot_role = sim.create_role(guild, "modbot", permissions=permissions.MODERATOR)
    senior_role = sim.create_role(guild, "senior", permissions=permissions.DEFAULT_EVERYONE)
    bot = sim.create_bot("modbot")
    alice = sim.create_user("alice")
    bob = sim.create_user("bob", dms_open=False)
    senior = sim.create_user("senior")
    admin = sim.create_user("admin")
    sim.add_member(guild, bot, [bot_role])
    sim.add_member(guild, alice)
    sim.add_member(guild, bob)
    sim.add_member(guild, senior, [senior_role])
    sim.add_member(guild, admin, [admin_role])
    return World(
        guild=guild,
        general=general,
        owner=owner,
        bot=bot,
        alice=alice,
        bob=bob,
        senior=senior,
        admin=admin,
        bot_role=bot_role,
        senior_role=senior_role,
    )


class SimBot(discord.Client):
    """A plain discord.py client that remembers the events it received."""

    def __init__(self, intents: discord.Intents = INTENTS) -> None:
        super().__init__(intents=intents, guild_ready_timeout=0.05)
        self.seen: list[tuple[str, tuple[Any, ...]]] = []
        self._changed = asyncio.Event()

    def dispatch(self, event: str, /, *args: Any, **kwargs: Any) -> None:
        self.seen.append((event, args))
        self._changed.set()
        self._changed = asyncio.Event()
        super().dispatch(event, *args, **kwargs)

    def events(self, name: str) -> list[tuple[Any, ...]]:
        """The arguments of every ``name`` event received so far."""
        return [args for event, args in self.seen if event == name]

    async def expect(
        self,
        name: str,
        predicate: Callable[..., bool] = lambda *_: True,
        timeout: float = 3.0,  # noqa: ASYNC109 - a default deadline keeps tests from hanging
    ) -> tuple[Any, ...]:
        """The first ``name`` event (already received or coming) whose arguments match."""

        async def scan() -> tuple[Any, ...]:
            while True:
                changed = self._changed
                for args in self.events(name):
                    if predicate(*args):
                        return args
                await changed.wait()

        return await asyncio.wait_for(scan(), timeout)


async def start_client(client: discord.Client, token: str) -> asyncio.Task[None]:
    """Start ``client`` in the background and wait until it is ready."""
    task = asyncio.create_task(client.start(token))
    ready = asyncio.create_task(client.wait_until_ready())
    done, _ = await asyncio.wait({task, ready}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
    if ready not in done:
        ready.cancel()
        if task in done:
            task.result()  # raises what went wrong
        raise TimeoutError("the client did not become ready")
    return task


@pytest.fixture
async def client(sim: DiscordSimulator, world: World) -> AsyncIterator[SimBot]:
    """The real discord.py client logged in as the world's bot, ready."""
    bot = SimBot()
    task = await start_client(bot, world.bot.token or "")
    yield bot
    await bot.close()
    await asyncio.wait_for(task, timeout=5)
