"""The world of ``modbridge demo``: a community on a local Synapse and on the Discord simulator.

Builds what an admin and the members would have made by hand -- rooms, a guild, roles,
channels, accounts -- gives each scripted person a client (matrix-nio on Matrix, the
simulator's scripting API on Discord), and writes the configuration the service runs with.
Nothing here moderates: that is the real service's job, started by :mod:`devtools.demo`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from nio import (
    AsyncClient,
    JoinResponse,
    RoomCreateResponse,
    RoomGetEventResponse,
    RoomMessagesResponse,
    RoomPreset,
    RoomSendResponse,
    RoomVisibility,
    SyncResponse,
)

from adapters.matrix.responses import client_config
from devtools.discord_simulator import Channel, DiscordSimulator, Guild, Role, User, permissions
from devtools.synapse import SERVER_NAME, RegisteredUser, SynapseServer

T = TypeVar("T")

WAIT = 20.0  # seconds; everything in the story happens in well under two


class DemoError(RuntimeError):
    """Something in the story did not happen as it should (the service or a server failed)."""


async def until(check: Callable[[], Awaitable[T | None]], what: str, within: float = WAIT) -> T:
    """Poll ``check`` until it returns something other than None or False; return that."""
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise DemoError(f"timed out after {within:.0f} s waiting for {what}")
        await asyncio.sleep(0.1)


# -- Matrix ------------------------------------------------------------------------------------


@dataclass
class MatrixPerson:
    """A member's Matrix account and the client they read and write with."""

    name: str
    user: RegisteredUser
    client: AsyncClient
    invited_rooms: set[str] = field(default_factory=set)  # joined on an invitation

    @property
    def user_id(self) -> str:
        return self.user.user_id

    async def send(self, room_id: str, text: str) -> Any:
        """Send a plain text; return the homeserver's answer (a success or a refusal)."""
        return await self.client.room_send(
            room_id, "m.room.message", {"msgtype": "m.text", "body": text}
        )

    async def join_invited(self) -> list[str]:
        """Accept the invitations that arrived since the last call; return the room ids."""
        response = await self.client.sync(timeout=0)
        if not isinstance(response, SyncResponse):
            return []
        joined = []
        for room_id in response.rooms.invite:
            if room_id in self.invited_rooms:
                continue
            if isinstance(await self.client.join(room_id), JoinResponse):
                self.invited_rooms.add(room_id)
                joined.append(room_id)
        return joined

    async def messages(self, room_id: str, msgtype: str | None = None) -> list[tuple[str, str]]:
        """(sender, body) of the room's latest messages, oldest first."""
        response = await self.client.room_messages(room_id, limit=50)
        if not isinstance(response, RoomMessagesResponse):
            return []
        found = []
        for event in reversed(response.chunk):
            content = event.source.get("content", {})
            if event.source.get("type") == "m.room.message" and (
                msgtype is None or content.get("msgtype") == msgtype
            ):
                found.append((str(event.source.get("sender")), str(content.get("body", ""))))
        return found

    async def sees_redacted(self, room_id: str, event_id: str) -> bool:
        """Whether this person's client shows the event as redacted (its content gone)."""
        response = await self.client.room_get_event(room_id, event_id)
        if not isinstance(response, RoomGetEventResponse):
            return False
        source: dict[str, Any] = response.event.source
        return not source.get("content") and "redacted_because" in source.get("unsigned", {})

    async def close(self) -> None:
        await self.client.close()


@dataclass
class MatrixSide:
    """The community on the local homeserver: the bot's account, the people, the rooms."""

    server: SynapseServer
    bot: RegisteredUser
    amina: MatrixPerson  # a member
    otieno: MatrixPerson  # a member whose client shows what everyone sees
    kip: MatrixPerson  # the troll's Matrix account
    wanjiru: MatrixPerson  # a moderator
    general: str = ""
    mods: str = ""

    @property
    def people(self) -> tuple[MatrixPerson, ...]:
        return (self.amina, self.otieno, self.kip, self.wanjiru)

    @property
    def general_alias(self) -> str:
        return f"#general:{SERVER_NAME}"

    async def close(self) -> None:
        for person in self.people:
            await person.close()


def _client(server: SynapseServer, user: RegisteredUser) -> AsyncClient:
    client = AsyncClient(server.base_url, user.user_id, config=client_config(request_timeout=10))
    client.restore_login(user.user_id, user.device_id, user.access_token)
    return client


async def _create_room(client: AsyncClient, **kwargs: Any) -> str:
    response = await client.room_create(**kwargs)
    if not isinstance(response, RoomCreateResponse):
        raise DemoError(f"could not create a Matrix room: {response}")
    room_id: str = response.room_id
    return room_id


async def build_matrix(server: SynapseServer) -> MatrixSide:
    """Register the bot and the people; the bot makes the rooms (so it may act in them)."""

    def person(name: str) -> MatrixPerson:
        user = server.register(name.lower())
        return MatrixPerson(name=name, user=user, client=_client(server, user))

    bot = server.register("modbridge")
    side = MatrixSide(
        server=server,
        bot=bot,
        amina=person("Amina"),
        otieno=person("Otieno"),
        kip=person("Kip"),
        wanjiru=person("Wanjiru"),
    )
    maker = _client(server, bot)
    try:
        side.general = await _create_room(
            maker, alias="general", name="General", preset=RoomPreset.public_chat,
            visibility=RoomVisibility.public,
        )  # fmt: skip
        side.mods = await _create_room(
            maker, name="Moderators", preset=RoomPreset.private_chat,
            invite=[side.wanjiru.user_id],
        )  # fmt: skip
    finally:
        await maker.close()
    for someone in side.people:  # as members set up their profile: names, not ids
        await someone.client.set_displayname(someone.name)
    for someone in (side.amina, side.otieno, side.kip):
        if not isinstance(await someone.client.join(side.general), JoinResponse):
            raise DemoError(f"{someone.name} could not join #general")
    if not isinstance(await side.wanjiru.client.join(side.mods), JoinResponse):
        raise DemoError("Wanjiru could not join the moderators' room")
    return side


async def open_direct_room(person: MatrixPerson, bot_id: str) -> str:
    """``person`` starts a direct chat with the bot and waits until the bot is in it."""
    room_id = await _create_room(
        person.client, is_direct=True, invite=[bot_id], preset=RoomPreset.trusted_private_chat
    )

    async def bot_joined() -> bool:
        response = await person.client.room_get_state_event(room_id, "m.room.member", bot_id)
        return getattr(response, "content", {}).get("membership") == "join"

    await until(bot_joined, "the bot to accept the direct chat")
    return room_id


def was_sent(answer: object) -> bool:
    """Whether the homeserver took a message."""
    return isinstance(answer, RoomSendResponse)


# -- Discord -----------------------------------------------------------------------------------


@dataclass
class DiscordSide:
    """The community's guild on the simulator, its channels, roles and people."""

    sim: DiscordSimulator
    guild: Guild
    general: Channel
    mods: Channel
    bot: User
    moderators: Role
    wanjiru: User  # a moderator
    baraka: User  # a member
    kip: User  # the troll's Discord account

    def bot_messages(self, channel: Channel) -> list[str]:
        """What the bot posted in ``channel``, oldest first."""
        return [m.content for m in self.sim.messages_in(channel) if m.author_id == self.bot.id]


def build_discord(sim: DiscordSimulator) -> DiscordSide:
    """The guild with #general and #mods; the bot's role outranks the members'."""
    owner = sim.create_user("owner")
    guild = sim.create_guild("OpenInfra-Kenya", owner=owner)
    general = sim.create_text_channel(guild, "general")
    mods = sim.create_text_channel(guild, "mods")
    moderators = sim.create_role(guild, "moderators", permissions=permissions.MODERATOR)
    bot_role = sim.create_role(guild, "modbridge", permissions=permissions.MODERATOR)
    bot = sim.create_bot("modbridge")
    wanjiru = sim.create_user("Wanjiru")
    baraka = sim.create_user("Baraka")
    kip = sim.create_user("Kip")
    sim.add_member(guild, bot, [bot_role])
    sim.add_member(guild, wanjiru, [moderators])
    sim.add_member(guild, baraka)
    sim.add_member(guild, kip)
    return DiscordSide(
        sim=sim, guild=guild, general=general, mods=mods, bot=bot, moderators=moderators,
        wanjiru=wanjiru, baraka=baraka, kip=kip,
    )  # fmt: skip


# -- the service's configuration ----------------------------------------------------------------


def policy_text() -> str:
    """The demo's policy: config.example.toml's rules with shorter mutes."""
    return resources.files("devtools").joinpath("data/demo-policy.toml").read_text("utf-8")


def config_text(*, storage: Path, matrix: MatrixSide, discord: DiscordSide) -> str:
    """The whole TOML the service runs with (secrets come from the environment, as always)."""
    guild = discord.guild.id
    return f"""{policy_text()}
[storage]
path = "{storage}"

[matrix]
homeserver = "{matrix.server.base_url}"
user_id = "{matrix.bot.user_id}"
rooms = ["{matrix.general_alias}"]
mod_room = "{matrix.mods}"
moderators = ["{matrix.wanjiru.user_id}"]

[discord]
api_base = "{discord.sim.api_url}"
gateway_url = "{discord.sim.gateway_url}"
guilds = [{guild}]
mod_channels = {{ "{guild}" = {discord.mods.id} }}
moderator_roles = [{discord.moderators.id}]
"""
