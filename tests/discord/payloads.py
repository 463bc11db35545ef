"""Recorded Discord payloads (tests/data/discord) turned into discord.py objects, offline.

discord.py builds its objects from a ConnectionState; a client that never logs in has one,
and feeding it the recorded GUILD_CREATE gives the guild, its roles, channels and members,
exactly as the gateway would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import discord

DATA = Path(__file__).parent.parent / "data" / "discord"


def load(name: str) -> Any:
    """A recorded payload by file name (without .json)."""
    return json.loads((DATA / f"{name}.json").read_text())


def ids() -> dict[str, int]:
    """The snowflakes of the recorded world, by name."""
    return {name: int(value) for name, value in load("ids").items()}


class Recorded:
    """A ConnectionState that has seen READY's user and the recorded GUILD_CREATE."""

    def __init__(self) -> None:
        self.client = discord.Client(intents=discord.Intents.all())
        self.state = self.client._connection
        self.state.user = discord.ClientUser(state=self.state, data=load("ready_user"))
        self.guild = self.state._add_guild_from_data(load("guild_create"))

    def message(self, name: str) -> discord.Message:
        """A recorded MESSAGE_CREATE / MESSAGE_UPDATE as discord.py parses it."""
        data = load(name)
        channel: Any
        if "guild_id" in data:
            channel = self.guild.get_channel(int(data["channel_id"]))
        else:
            me = self.state.user
            assert me is not None
            channel = discord.DMChannel(me=me, state=self.state, data=load("dm_channel"))
        return discord.Message(state=self.state, channel=channel, data=data)

    def member(self, name: str) -> discord.Member:
        """A recorded GUILD_MEMBER_ADD as discord.py parses it."""
        return discord.Member(data=load(name), guild=self.guild, state=self.state)

    def user(self, name: str) -> discord.User:
        """The user of a recorded GUILD_MEMBER_REMOVE / GUILD_BAN_ADD."""
        return discord.User(state=self.state, data=load(name)["user"])
