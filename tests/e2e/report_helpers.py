"""Helpers for the end-to-end tests of confidential reports: members talking to the bot in
direct messages on both platforms, and reading back everything the bot said to whom.

The community itself (Synapse, the Discord simulator, the service) comes from
:mod:`tests.e2e.community_helpers`; these add the conversations a reporter has with the bot
and the confidentiality scan over what the bot sent everywhere else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from nio import (
    AsyncClient,
    JoinedMembersResponse,
    JoinedRoomsResponse,
    ProfileSetDisplayNameResponse,
    RoomCreateResponse,
    RoomMessagesResponse,
    RoomPreset,
    RoomSendResponse,
)

from devtools.discord_simulator import Channel, DiscordSimulator, RecordedRequest, User
from tests.e2e.community_helpers import WAIT, Community, Person, eventually
from tests.e2e.matrix_helpers import send_text
from tests.e2e.service_helpers import notices

_CHANNEL_PATH = re.compile(r"^/channels/(\d+)/messages")


def localpart(user_id: str) -> str:
    """``ann`` of ``@ann:localhost``."""
    return user_id[1:].split(":", 1)[0]


@dataclass(frozen=True, slots=True)
class Reporter:
    """A member who files a report, and every way they could be named."""

    person: Person
    matrix_name: str  # their Matrix display name
    discord_name: str  # their Discord global (display) name

    @property
    def identifiers(self) -> list[str]:
        """Their ids, localpart, user name and display names on both platforms."""
        user_id = self.person.matrix.user_id
        return [
            user_id,
            localpart(user_id),
            self.matrix_name,
            str(self.person.discord.id),
            self.person.discord.username,
            self.discord_name,
        ]


async def named_person(community: Community, name: str, display: str) -> Reporter:
    """A member on both platforms, with the same display name on each."""
    person = await community.add_person(name)
    person.discord.global_name = display
    client = community.client(person.matrix)
    try:
        answer = await client.set_displayname(display)
        assert isinstance(answer, ProfileSetDisplayNameResponse), answer
    finally:
        await client.close()
    return Reporter(person=person, matrix_name=display, discord_name=display)


class MatrixDirect:
    """A member's direct room with the bot on Matrix: send a line, read the bot's answer."""

    def __init__(self, community: Community, person: Person) -> None:
        self.community = community
        self.person = person
        self.client = community.client(person.matrix)
        self.room = ""

    async def open(self) -> str:
        """Create the direct room (as Element does) and wait for the bot to join it."""
        created = await self.client.room_create(
            is_direct=True,
            invite=[self.community.matrix_bot.user_id],
            preset=RoomPreset.trusted_private_chat,
        )
        assert isinstance(created, RoomCreateResponse), created
        self.room = created.room_id
        bot = self.community.matrix_bot.user_id

        async def bot_joined() -> bool:
            answer = await self.client.joined_members(self.room)
            return bot in {m.user_id for m in getattr(answer, "members", [])}

        await eventually(bot_joined, "the bot to join the direct room", within=WAIT)
        return self.room

    async def say(self, text: str) -> str:
        """Send ``text``; return the bot's next answer (an m.notice) in the room."""
        before = len(await notices(self.client, self.room))
        sent = await send_text(self.client, self.room, text)
        assert isinstance(sent, RoomSendResponse), sent
        found: list[str] = []

        async def answered() -> bool:
            found[:] = (await notices(self.client, self.room))[before:]
            return bool(found)

        await eventually(answered, f"the bot's answer to {text!r}", within=WAIT)
        return found[0]

    async def close(self) -> None:
        await self.client.close()


class DiscordDirect:
    """A member's DM channel with the bot on Discord (the simulator)."""

    def __init__(self, community: Community, user: User) -> None:
        self.community = community
        self.user = user
        self.channel: Channel = community.sim.open_dm(user, community.bot)

    def bot_messages(self) -> list[str]:
        bot = self.community.bot.id
        return [
            m.content for m in self.community.sim.messages_in(self.channel) if m.author_id == bot
        ]

    async def say(self, text: str) -> str:
        """Post ``text`` in the DM; return the bot's next message there."""
        before = len(self.bot_messages())
        self.community.sim.post_message(self.user, self.channel, text)
        found: list[str] = []

        async def answered() -> bool:
            found[:] = self.bot_messages()[before:]
            return bool(found)

        await eventually(answered, f"the bot's answer to {text!r}", within=WAIT)
        return found[0]


async def messages_by(client: AsyncClient, room_id: str, sender: str) -> list[dict[str, Any]]:
    """The contents of every m.room.message ``sender`` sent in the room, oldest first."""
    found: list[dict[str, Any]] = []
    token = ""
    while True:
        response = await client.room_messages(room_id, start=token, limit=100)
        assert isinstance(response, RoomMessagesResponse), response
        for event in response.chunk:
            source = event.source
            if source.get("type") == "m.room.message" and source.get("sender") == sender:
                found.append(dict(source.get("content") or {}))
        if not response.chunk or not response.end or response.end == token:
            return found[::-1]
        token = response.end


@dataclass
class Said:
    """What the bot said, and where, outside its conversations with the reporters."""

    matrix: dict[str, list[str]] = field(default_factory=dict)  # room id -> texts
    discord: list[str] = field(default_factory=list)

    def everything(self) -> list[str]:
        return [t for texts in self.matrix.values() for t in texts] + self.discord


async def said_on_matrix(
    community: Community, reporters: Iterable[Reporter]
) -> dict[str, list[str]]:
    """Every text the Matrix bot sent, per room, except in its direct rooms with reporters
    (read with the bot's own login, so no room it is in is missed)."""
    reporter_ids = {r.person.matrix.user_id for r in reporters}
    bot = community.matrix_bot.user_id
    client = community.client(community.matrix_bot)
    said: dict[str, list[str]] = {}
    try:
        rooms = await client.joined_rooms()
        assert isinstance(rooms, JoinedRoomsResponse), rooms
        for room_id in rooms.rooms:
            members = await client.joined_members(room_id)
            assert isinstance(members, JoinedMembersResponse), members
            ids = {m.user_id for m in members.members}
            if len(ids) <= 2 and ids - {bot} and ids - {bot} <= reporter_ids:
                continue  # a direct room between the bot and a reporter
            texts = []
            for content in await messages_by(client, room_id, bot):
                texts.append(str(content.get("body", "")))
                texts.append(str(content.get("formatted_body", "")))
            said[room_id] = texts
    finally:
        await client.close()
    return said


def said_on_discord(
    sim: DiscordSimulator, reporters: Iterable[Reporter], reporter_tokens: Iterable[str]
) -> list[str]:
    """Every text the Discord bot sent (messages, interaction answers, audit-log reasons)
    from the simulator's request log, except to the reporters (their DMs, their
    interactions, given by token)."""
    reporter_ids = {r.person.discord.id for r in reporters}
    private = {
        channel.id
        for channel in sim.world.channels.values()
        if channel.guild_id is None and set(channel.recipients) & reporter_ids
    }
    tokens = set(reporter_tokens)
    texts: list[str] = []
    for request in sim.requests.requests:
        if _to_reporter(request, private, tokens, reporter_ids):
            continue
        if request.audit_reason:
            texts.append(request.audit_reason)
        if request.method in ("POST", "PATCH", "PUT") and request.json is not None:
            texts.append(json.dumps(request.json, ensure_ascii=False))
    return texts


def _to_reporter(
    request: RecordedRequest, private: set[int], tokens: set[str], reporters: set[int]
) -> bool:
    if request.path == "/users/@me/channels":  # opening a DM with the member
        body = request.json if isinstance(request.json, dict) else {}
        return int(body.get("recipient_id", 0)) in reporters
    match = _CHANNEL_PATH.match(request.path)
    if match is not None and int(match.group(1)) in private:
        return True
    return any(token in request.path for token in tokens)


def leaks(texts: Iterable[str], reporters: Iterable[Reporter]) -> list[tuple[str, str]]:
    """(identifier, text) for every text that names a reporter."""
    names = [name for r in reporters for name in r.identifiers if name]
    return [(name, text) for text in texts for name in names if name in text]
