"""A simulator of Discord's HTTP API (v10) and gateway that the unmodified discord.py talks to.

Used by the end-to-end tests and by ``modbridge demo``. It imports nothing from the project
and not discord.py either: it speaks the protocol, so it tests the real client.

Point discord.py at it before the client starts::

    async with run_simulator() as sim:
        discord.http.Route.BASE = sim.api_url
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(sim.gateway_url)
"""

from __future__ import annotations

from . import permissions
from .automod import MessageBlocked
from .entities import Channel, Guild, Member, Message, Overwrite, Role, SimulatorError, User
from .interactions import InteractionHandle
from .ratelimits import Limit, RateLimits
from .recorder import RecordedRequest
from .simulator import DiscordSimulator, run_simulator

__all__ = [
    "Channel",
    "DiscordSimulator",
    "Guild",
    "InteractionHandle",
    "Limit",
    "Member",
    "Message",
    "MessageBlocked",
    "Overwrite",
    "RateLimits",
    "RecordedRequest",
    "Role",
    "SimulatorError",
    "User",
    "permissions",
    "run_simulator",
]
