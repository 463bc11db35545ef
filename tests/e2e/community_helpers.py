"""One community on two platforms for the end-to-end tests and the benchmark.

A real Synapse (the e2e harness), a Discord simulator running in the caller's event loop on
loopback, and `modbridge run` as a subprocess configured with both. Members have an account
on each platform; they link them the way a member would (``link`` to the bot in a Discord DM,
``link <code>`` in a Matrix direct room) or a moderator links them with ``!link``.

The simulator answers from the caller's event loop, so nothing here may block that loop for
long while the service talks to Discord: the service's start and stop run in a thread.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    JoinResponse,
    MessageDirection,
    RoomCreateResponse,
    RoomMessagesResponse,
    RoomPreset,
    RoomSendResponse,
    RoomVisibility,
)

from devtools.discord_simulator import (
    Channel,
    DiscordSimulator,
    Guild,
    InteractionHandle,
    Role,
    User,
    permissions,
)
from tests.e2e.matrix_helpers import bodies, client_for, send_text
from tests.e2e.service_helpers import ServiceProcess, eventually, notices, service_env
from tests.e2e.synapse import RegisteredUser, SynapseServer

WAIT = 20.0
DISCORD_READY = "Discord connection up"
PHONE = "0712 345 678"
_CODE = re.compile(r"Your link code is (\d{6})")


@dataclass(frozen=True, slots=True)
class Person:
    """A member with one account on each platform."""

    name: str
    discord: User
    matrix: RegisteredUser

    @property
    def discord_key(self) -> str:
        return f"discord:{self.discord.id}"


@dataclass
class Community:
    """Both platforms of the community, its people, the config and the running service."""

    server: SynapseServer
    sim: DiscordSimulator
    # Discord
    owner: User
    bot: User
    discord_mod: User
    guilds: list[Guild]
    mod_channels: list[Channel]  # one per guild, same order
    general: list[Channel]
    mod_roles: list[Role]  # one per guild
    # Matrix
    matrix_bot: RegisteredUser
    matrix_mod: RegisteredUser
    observer: RegisteredUser
    rooms: list[str]  # the protected rooms
    mod_room: str
    # the service
    config: Path
    service: ServiceProcess
    people: list[Person] = field(default_factory=list)
    _serial: int = 0

    def client(self, user: RegisteredUser) -> AsyncClient:
        """A fresh nio client for ``user`` (close it)."""
        return client_for(self.server, user)

    # -- the service ------------------------------------------------------------------------

    async def start(self, within: float = 45.0) -> float:
        """Start the service (in a thread: the simulator must answer meanwhile) and wait
        until both platforms are up; return how long it took."""
        started = time.monotonic()
        await asyncio.to_thread(self.service.start, within)

        async def discord_up() -> bool:
            return DISCORD_READY in self.service.log()

        await eventually(discord_up, "the service's Discord connection", within=within)
        return time.monotonic() - started

    async def ensure_running(self) -> None:
        if not self.service.running:
            await self.start()

    async def stop(self) -> tuple[int, float]:
        """SIGTERM the service and wait for it (in a thread)."""
        return await asyncio.to_thread(self.service.terminate)

    # -- people -----------------------------------------------------------------------------

    async def add_person(self, name: str) -> Person:
        """A member on both platforms: in every guild, and joined to every protected room."""
        self._serial += 1
        localpart = f"{name}{self._serial}"
        user = self.sim.create_user(localpart)
        for guild in self.guilds:
            self.sim.add_member(guild, user)
        account = await asyncio.to_thread(self.server.register, localpart)
        client = self.client(account)
        try:
            await join_all(client, self.rooms)
        finally:
            await client.close()
        person = Person(name=localpart, discord=user, matrix=account)
        self.people.append(person)
        return person

    async def link_by_dm(self, person: Person) -> str:
        """The member links their accounts: ``link`` to the bot on Discord, then
        ``link <code>`` in a direct room with the bot on Matrix. Returns the bot's answer."""
        dm = self.sim.open_dm(person.discord, self.bot)
        self.sim.post_message(person.discord, dm, "link")
        code: list[str] = []

        async def coded() -> bool:
            for message in self.sim.messages_in(dm):
                found = _CODE.search(message.content) if message.author_id == self.bot.id else None
                if found:
                    code.append(found.group(1))
            return bool(code)

        await eventually(coded, "the link code in the Discord DM")
        member = self.client(person.matrix)
        try:
            created = await member.room_create(
                is_direct=True,
                invite=[self.matrix_bot.user_id],
                preset=RoomPreset.trusted_private_chat,
            )
            assert isinstance(created, RoomCreateResponse), created
            room = created.room_id

            async def bot_joined() -> bool:
                answer = await member.joined_members(room)
                return self.matrix_bot.user_id in {
                    m.user_id for m in getattr(answer, "members", [])
                }

            await eventually(bot_joined, "the bot to join the direct room")
            sent = await send_text(member, room, f"link {code[-1]}")
            assert isinstance(sent, RoomSendResponse), sent
            answers: list[str] = []

            async def answered() -> bool:
                answers[:] = [b for b in await notices(member, room) if "Linked" in b]
                return bool(answers)

            await eventually(answered, "the bot's answer to the link code")
            return answers[0]
        finally:
            await member.close()

    async def link_by_moderator(self, person: Person) -> str:
        """A moderator links the two accounts with ``!link`` in the mod room."""
        return await self.matrix_command(
            f"!link {person.matrix.user_id} {person.discord_key} same person, verified",
            lambda n: n.startswith("Linked:") and person.matrix.user_id in n,
        )

    async def linked_person(self, name: str) -> Person:
        person = await self.add_person(name)
        await self.link_by_moderator(person)
        return person

    # -- moderators -------------------------------------------------------------------------

    async def matrix_command(
        self, text: str, expect: Callable[[str], bool], *, within: float = WAIT
    ) -> str:
        """A moderator types ``text`` in the mod room; return the bot's first new notice that
        ``expect`` accepts."""
        return await self.matrix_send(text, expect, within=within)

    async def matrix_send(
        self,
        text: str,
        expect: Callable[[str], bool],
        *,
        within: float = WAIT,
        content: dict[str, Any] | None = None,
    ) -> str:
        """Like matrix_command, with the message's whole ``content`` when given (an
        Element-style pill: formatted_body and m.mentions)."""
        moderator = self.client(self.matrix_mod)
        try:
            # By event id: the mod room may hold more than one page of notices.
            before = {event_id for event_id, _ in await notice_events(moderator, self.mod_room)}
            body = content or {"msgtype": "m.text", "body": text}
            sent = await moderator.room_send(self.mod_room, "m.room.message", body)
            assert isinstance(sent, RoomSendResponse), sent
            found: list[str] = []

            async def answered() -> bool:
                new = await notice_events(moderator, self.mod_room)
                found[:] = [b for event_id, b in new if event_id not in before and expect(b)]
                return bool(found)

            await eventually(answered, f"the bot's answer to {text!r}", within=within)
            return found[0]
        finally:
            await moderator.close()

    def slash(self, name: str, options: dict[str, Any], guild: int = 0) -> InteractionHandle:
        """The Discord moderator runs ``/name`` in the mod channel of guild number ``guild``."""
        channel = self.mod_channels[guild]
        return self.sim.invoke_slash_command(self.bot, self.discord_mod, channel, name, options)

    # -- what the platforms show -------------------------------------------------------------

    def banned_guilds(self, person: Person) -> list[Guild]:
        return [g for g in self.guilds if self.sim.is_banned(g, person.discord)]

    def timed_out_guilds(self, person: Person) -> list[Guild]:
        return [g for g in self.guilds if self.sim.is_timed_out(g, person.discord)]

    def ban_requests(self, person: Person, guild: Guild) -> int:
        """How many PUT /guilds/{g}/bans/{u} the simulator answered for the person."""
        path = f"/guilds/{guild.id}/bans/{person.discord.id}"
        return len(self.sim.requests.find("PUT", path))

    async def memberships(self, person: Person) -> dict[str, str | None]:
        """The person's membership in every protected room, as the observer reads it."""
        observer = self.client(self.observer)
        try:
            found = await asyncio.gather(
                *(member_state(observer, room, person.matrix.user_id) for room in self.rooms)
            )
        finally:
            await observer.close()
        return dict(zip(self.rooms, found, strict=True))

    async def banned_rooms(self, person: Person) -> list[str]:
        return [r for r, m in (await self.memberships(person)).items() if m == "ban"]


async def member_state(client: AsyncClient, room: str, user_id: str) -> str | None:
    response = await client.room_get_state_event(room, "m.room.member", user_id)
    value = getattr(response, "content", {}).get("membership")
    return value if isinstance(value, str) else None


async def ban_events(client: AsyncClient, room: str, user_id: str) -> int:
    """How many m.room.member ban events for ``user_id`` the room's timeline holds."""
    count = 0
    token = ""
    while True:
        response = await client.room_messages(
            room,
            start=token,
            direction=MessageDirection.back,
            limit=100,
            message_filter={"types": ["m.room.member"]},
        )
        assert isinstance(response, RoomMessagesResponse), response
        for event in response.chunk:
            source = event.source
            if (
                source.get("state_key") == user_id
                and source.get("content", {}).get("membership") == "ban"
            ):
                count += 1
        if not response.chunk or not response.end:
            return count
        token = response.end


async def join_all(client: AsyncClient, rooms: Iterable[str], parallel: int = 8) -> None:
    """Join every room, a few at a time."""
    slots = asyncio.Semaphore(parallel)

    async def join(room: str) -> None:
        async with slots:
            answer = await client.join(room)
            assert isinstance(answer, JoinResponse), answer

    await asyncio.gather(*(join(r) for r in rooms))


async def gather_limited(calls: Iterable[Awaitable[Any]], parallel: int = 8) -> list[Any]:
    slots = asyncio.Semaphore(parallel)

    async def one(call: Awaitable[Any]) -> Any:
        async with slots:
            return await call

    return await asyncio.gather(*(one(c) for c in calls))


async def _matrix_rooms(
    server: SynapseServer, bot: RegisteredUser, moderator: RegisteredUser, count: int
) -> tuple[list[str], str]:
    client = client_for(server, bot, timeout=30.0)
    public = {"preset": RoomPreset.public_chat, "visibility": RoomVisibility.private}

    async def create(index: int) -> str:
        answer = await client.room_create(name=f"Room {index}", **public)
        assert isinstance(answer, RoomCreateResponse), answer
        room_id: str = answer.room_id
        return room_id

    try:
        rooms: list[str] = await gather_limited(create(i) for i in range(count))
        mod = await client.room_create(
            name="Moderators", preset=RoomPreset.private_chat, invite=[moderator.user_id]
        )
        assert isinstance(mod, RoomCreateResponse), mod
    finally:
        await client.close()
    staff = client_for(server, moderator)
    try:
        assert isinstance(await staff.join(mod.room_id), JoinResponse)
    finally:
        await staff.close()
    return rooms, mod.room_id


def config_text(community: Community) -> str:
    """The TOML an admin would write for a community on both platforms."""
    rooms = ", ".join(f'"{r}"' for r in community.rooms)
    guilds = ", ".join(str(g.id) for g in community.guilds)
    channels = ", ".join(
        f'"{g.id}" = {c.id}' for g, c in zip(community.guilds, community.mod_channels, strict=True)
    )
    return f"""
[community]
name = "Two-platform community"

[escalation]
decay = "1h"
ladder = [{{ points = 100, action = "mute 3s" }}]

[[rules]]
id = "doxxing"
kind = "pii"
clause = "Sharing of another member's contact details without consent is prohibited"
points = 1
actions = ["delete", "ban"]
phones = true
emails = false
default_region = "KE"

[matrix]
homeserver = "{community.server.base_url}"
user_id = "{community.matrix_bot.user_id}"
rooms = [{rooms}]
mod_room = "{community.mod_room}"
moderators = ["{community.matrix_mod.user_id}"]

[discord]
guilds = [{guilds}]
mod_channels = {{ {channels} }}
moderator_roles = [{", ".join(str(r.id) for r in community.mod_roles)}]
api_base = "{community.sim.api_url}"
gateway_url = "{community.sim.gateway_url}"
"""


async def build_community(
    server: SynapseServer,
    sim: DiscordSimulator,
    tmp: Path,
    *,
    guilds: int = 2,
    rooms: int = 50,
) -> Community:
    """Make both platforms' spaces, the bot accounts, a moderator on each side and an
    observer, and write the service's config (the service is not started)."""
    owner = sim.create_user("owner")
    bot = sim.create_bot("modbot")
    discord_mod = sim.create_user("discord-mod")
    made: list[Guild] = []
    mod_channels: list[Channel] = []
    general: list[Channel] = []
    mod_roles: list[Role] = []
    for index in range(guilds):
        guild = sim.create_guild(f"Guild {index}", owner=owner)
        general.append(sim.create_text_channel(guild, "general"))
        mod_channels.append(sim.create_text_channel(guild, "moderators"))
        role = sim.create_role(guild, "mods", permissions=permissions.DEFAULT_EVERYONE)
        bot_role = sim.create_role(guild, "modbot", permissions=permissions.MODERATOR)
        sim.add_member(guild, bot, [bot_role])
        sim.add_member(guild, discord_mod, [role])
        made.append(guild)
        mod_roles.append(role)
    matrix_bot = await asyncio.to_thread(server.register, "modbot")
    matrix_mod = await asyncio.to_thread(server.register, "moderator")
    observer = await asyncio.to_thread(server.register, "observer")
    protected, mod_room = await _matrix_rooms(server, matrix_bot, matrix_mod, rooms)
    watcher = client_for(server, observer, timeout=30.0)
    try:
        await join_all(watcher, protected)
    finally:
        await watcher.close()
    config = tmp / "modbridge.toml"
    env = service_env(
        tmp / "modbridge.db",
        MODBRIDGE_MATRIX__PASSWORD=matrix_bot.password,
        MODBRIDGE_DISCORD__TOKEN=bot.token or "",
    )
    community = Community(
        server=server,
        sim=sim,
        owner=owner,
        bot=bot,
        discord_mod=discord_mod,
        guilds=made,
        mod_channels=mod_channels,
        general=general,
        mod_roles=mod_roles,
        matrix_bot=matrix_bot,
        matrix_mod=matrix_mod,
        observer=observer,
        rooms=protected,
        mod_room=mod_room,
        config=config,
        service=ServiceProcess(config, env, tmp / "service.log"),
    )
    config.write_text(config_text(community))
    return community


async def notice_events(client: AsyncClient, room_id: str) -> list[tuple[str, str]]:
    """(event id, body) of the room's latest m.notice messages, oldest first."""
    response = await client.room_messages(room_id, limit=100)
    assert isinstance(response, RoomMessagesResponse), response
    return [
        (event.event_id, event.source.get("content", {}).get("body", ""))
        for event in reversed(response.chunk)
        if event.source.get("type") == "m.room.message"
        and event.source.get("content", {}).get("msgtype") == "m.notice"
    ]


async def mod_room_notices(community: Community) -> list[str]:
    client = community.client(community.matrix_mod)
    try:
        return await notices(client, community.mod_room)
    finally:
        await client.close()


__all__ = [
    "PHONE",
    "WAIT",
    "Community",
    "Person",
    "ban_events",
    "bodies",
    "build_community",
    "eventually",
    "member_state",
    "mod_room_notices",
]
