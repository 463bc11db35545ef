"""The Matrix connection against a real Synapse: what reaches the core, and what does not.

One Synapse serves the module. Each test makes its own rooms and its own connection (with a
fresh in-memory state store unless it tests a restart). The homeserver restart test comes last
because it takes the server away from everyone for a moment.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from nio import AsyncClient, ErrorResponse, RoomCreateResponse, RoomPreset, RoomSendResponse

from adapters.matrix.connection import MatrixConnection
from adapters.matrix.executor import MatrixExecutor
from adapters.matrix.stores import MatrixMemory
from domain.model import (
    Account,
    MembershipChange,
    Platform,
    Space,
    SpaceKind,
    Warn,
)
from tests.e2e.matrix_helpers import client_for, create_room, membership, send_text, set_level
from tests.e2e.synapse import RegisteredUser, SynapseServer
from tests.fakes import Check, MemoryKeyValueStore, RecordingCore
from tests.fakes import eventually as _eventually

pytestmark = pytest.mark.synapse

WAIT = 10.0  # seconds; everything normally arrives in well under one


async def eventually(check: Check, what: str, within: float = WAIT) -> float:
    """Wait until ``check()`` holds; return how long it took."""
    return await _eventually(check, what, within)


@dataclass
class People:
    bot: RegisteredUser
    admin: RegisteredUser
    member: RegisteredUser
    mod: RegisteredUser


@pytest.fixture(scope="module")
def people(synapse: SynapseServer) -> People:
    return People(*(synapse.register(name) for name in ("bot", "admin", "member", "mod")))


@dataclass
class Clients:
    admin: AsyncClient
    member: AsyncClient
    mod: AsyncClient


@pytest.fixture
async def clients(synapse: SynapseServer, people: People) -> AsyncIterator[Clients]:
    made = Clients(*(client_for(synapse, u) for u in (people.admin, people.member, people.mod)))
    try:
        yield made
    finally:
        for client in (made.admin, made.member, made.mod):
            await client.close()


@asynccontextmanager
async def connected(
    homeserver: str,
    bot: RegisteredUser,
    *,
    rooms: Sequence[str] = (),
    spaces: Sequence[str] = (),
    mod_room: str | None = None,
    moderators: Sequence[str] = (),
    moderator_power_level: int | None = None,
    state: MemoryKeyValueStore | None = None,
    handlers: RecordingCore | None = None,
    password: bool = True,
    hierarchy_refresh: float = 60.0,
) -> AsyncIterator[tuple[MatrixConnection, RecordingCore]]:
    """A started, running connection; closed (and run() awaited) on exit."""
    recorder = handlers or RecordingCore()
    connection = MatrixConnection(
        homeserver=homeserver,
        user_id=bot.user_id,
        password=bot.password if password else None,
        access_token=None if password else bot.access_token,
        rooms=rooms,
        spaces=spaces,
        mod_room=mod_room,
        moderators=moderators,
        moderator_power_level=moderator_power_level,
        state=state or MemoryKeyValueStore(),
        handlers=recorder,
        hierarchy_refresh=hierarchy_refresh,
        sync_timeout_ms=2000,
    )
    await connection.start()
    runner = asyncio.create_task(connection.run())
    try:
        yield connection, recorder
    finally:
        await connection.close()
        await asyncio.wait_for(runner, 5)


async def public_room(client: AsyncClient, *, alias: str | None = None, space: bool = False) -> str:
    response = await client.room_create(preset=RoomPreset.public_chat, alias=alias, space=space)
    assert isinstance(response, RoomCreateResponse), response
    room_id: str = response.room_id
    return room_id


async def add_child(client: AsyncClient, space: str, child: str) -> None:
    response = await client.room_put_state(space, "m.space.child", {"via": ["localhost"]}, child)
    assert getattr(response, "event_id", None), response


async def sent_id(client: AsyncClient, room_id: str, text: str) -> str:
    response = await send_text(client, room_id, text)
    assert isinstance(response, RoomSendResponse), response
    event_id: str = response.event_id
    return event_id


def test_exactly_one_credential_is_required() -> None:
    for password, token in ((None, None), ("pw", "tok")):
        with pytest.raises(ValueError, match="exactly one of a password or an access token"):
            MatrixConnection(
                homeserver="http://127.0.0.1:9",
                user_id="@bot:localhost",
                password=password,
                access_token=token,
                rooms=(),
                spaces=(),
                mod_room=None,
                moderators=(),
                moderator_power_level=None,
                state=MemoryKeyValueStore(),
                handlers=RecordingCore(),
            )


async def test_joins_rooms_by_alias_and_by_id_and_hands_on_members_messages(
    synapse: SynapseServer, people: People, clients: Clients
) -> None:
    alias_local = f"general-{secrets.token_hex(3)}"
    by_alias = await public_room(clients.admin, alias=alias_local)
    by_id = await public_room(clients.admin)
    for room_id in (by_alias, by_id):
        await clients.member.join(room_id)

    async with connected(
        synapse.base_url, people.bot, rooms=[f"#{alias_local}:localhost", by_id], password=False
    ) as (conn, seen):
        assert conn.protected_rooms == {by_alias, by_id}
        for room_id in (by_alias, by_id):
            assert await membership(clients.admin, room_id, people.bot.user_id) == "join"

        original = await sent_id(clients.member, by_alias, "hello everyone")
        took = await eventually(lambda: "hello everyone" in seen.texts(), "the member's message")
        message = seen.messages[-1]
        assert message.id == original
        assert message.channel.id == by_alias
        assert message.author.account.id == people.member.user_id
        assert message.author.power_level == 0
        assert not message.author.is_moderator
        assert not message.author.is_bot

        edit = {
            "msgtype": "m.text",
            "body": "* hello all",
            "m.new_content": {"msgtype": "m.text", "body": "hello all"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": original},
        }
        await clients.member.room_send(by_alias, "m.room.message", edit)
        await eventually(lambda: "hello all" in seen.texts(), "the edit")
        assert seen.messages[-1].edit_of == original

        # The bot speaks (as the executor would), then a member: only the member arrives.
        executor_client = conn.new_client()
        try:
            await sent_id(executor_client, by_id, "a notice from the bot")
        finally:
            await executor_client.close()
        await sent_id(clients.member, by_id, "after the bot")
        await eventually(lambda: "after the bot" in seen.texts(), "the marker")
        assert "a notice from the bot" not in seen.texts()
    print(f"send -> on_message: {took * 1000:.0f} ms")


async def test_a_handler_that_raises_does_not_stop_the_sync(
    synapse: SynapseServer, people: People, clients: Clients, caplog: pytest.LogCaptureFixture
) -> None:
    room_id = await create_room(clients.admin, version="12", joiners=(clients.member,))
    recorder = RecordingCore(fail_on={"boom"})
    async with connected(synapse.base_url, people.bot, rooms=[room_id], handlers=recorder) as (
        _,
        seen,
    ):
        with caplog.at_level(logging.ERROR, logger="adapters.matrix"):
            bad = await sent_id(clients.member, room_id, "boom")
            await sent_id(clients.member, room_id, "still here")
            await eventually(lambda: "still here" in seen.texts(), "the next message")
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("adapters.matrix")]
    assert any(bad in line and "RuntimeError" in line for line in logged), logged
    assert not any("boom" in line for line in logged)  # ids only, never the text
    assert "boom" not in caplog.text  # nor in a traceback


async def test_mod_room_commands_go_to_on_command_and_are_never_judged(
    synapse: SynapseServer, people: People, clients: Clients
) -> None:
    mod_room = await create_room(clients.admin, version="12", joiners=(clients.mod,))
    await set_level(clients.admin, mod_room, people.member.user_id, 50)
    await clients.member.join(mod_room)
    async with connected(
        synapse.base_url,
        people.bot,
        mod_room=mod_room,
        moderators=[people.mod.user_id],
        moderator_power_level=50,
    ) as (conn, seen):
        assert conn.mod_room_id == mod_room
        assert mod_room not in conn.protected_rooms
        await sent_id(clients.mod, mod_room, "he called me a loser, look")
        await sent_id(clients.mod, mod_room, "!ban @troll:localhost spam")
        await sent_id(clients.member, mod_room, "!status")
        # The room's creator: unlimited power in a v12 room, so a moderator by level.
        await sent_id(clients.admin, mod_room, "!cases")
        await eventually(lambda: len(seen.commands) == 3, "three commands")
        assert [c.text for c in seen.commands] == [
            "!ban @troll:localhost spam",
            "!status",
            "!cases",
        ]
        assert [c.author.is_moderator for c in seen.commands] == [True, True, True]
        assert seen.commands[1].author.power_level == 50
        assert seen.messages == []


async def test_direct_rooms_are_joined_and_split_into_reports_and_commands(
    synapse: SynapseServer, people: People, clients: Clients
) -> None:
    async with connected(synapse.base_url, people.bot, moderators=[people.mod.user_id]) as (
        _,
        seen,
    ):
        rooms = []
        for client in (clients.member, clients.mod):
            created = await client.room_create(
                is_direct=True, invite=[people.bot.user_id], preset=RoomPreset.trusted_private_chat
            )
            assert isinstance(created, RoomCreateResponse), created
            rooms.append(created.room_id)
        member_dm, mod_dm = rooms
        await _wait_joined(clients.member, member_dm, people)
        await _wait_joined(clients.mod, mod_dm, people)
        await sent_id(clients.member, member_dm, "someone DMed me their phone number")
        await sent_id(clients.member, member_dm, "!ban everyone")  # not a moderator
        await sent_id(clients.mod, mod_dm, "!case 12")
        await sent_id(clients.mod, mod_dm, "hello bot")
        await eventually(lambda: len(seen.direct_messages) == 3 and len(seen.commands) == 1, "DMs")
        assert [m.text for m in seen.direct_messages] == [
            "someone DMed me their phone number",
            "!ban everyone",
            "hello bot",
        ]
        assert all(m.channel.is_dm for m in seen.direct_messages)
        assert seen.direct_messages[0].channel.id == member_dm
        assert [c.text for c in seen.commands] == ["!case 12"]
        assert seen.messages == []


async def _wait_joined(client: AsyncClient, room_id: str, people: People) -> None:
    async def joined() -> bool:
        return await membership(client, room_id, people.bot.user_id) == "join"

    deadline = time.monotonic() + WAIT
    while not await joined():
        assert time.monotonic() < deadline, "the bot did not accept the direct invitation"
        await asyncio.sleep(0.02)


async def test_a_reply_to_a_warning_is_a_direct_message(
    synapse: SynapseServer, people: People, clients: Clients
) -> None:
    async with connected(synapse.base_url, people.bot) as (conn, seen):
        executor_client = conn.new_client()
        store = MatrixMemory(MemoryKeyValueStore())
        executor = MatrixExecutor(
            executor_client, mod_room_id="!unused:localhost", levels=store, direct_rooms=store
        )
        try:
            target = Account(platform=Platform.MATRIX, id=people.member.user_id)
            where = Space(platform=Platform.MATRIX, id="!general:localhost", kind=SpaceKind.ROOM)
            await executor.execute(Warn(target=target, reason="no insults"), where)
        finally:
            await executor_client.close()
        dm = await store.get_direct_room(people.member.user_id)
        assert dm is not None
        joined = await clients.member.join(dm)
        assert getattr(joined, "room_id", None) == dm, joined
        await sent_id(clients.member, dm, "I did not insult anyone")
        await eventually(lambda: len(seen.direct_messages) == 1, "the reply")
        assert seen.direct_messages[0].channel.id == dm
        assert seen.direct_messages[0].channel.is_dm
        assert seen.messages == []


async def test_invitations_to_configured_rooms_are_accepted_and_others_ignored(
    synapse: SynapseServer, people: People, clients: Clients
) -> None:
    configured = await _private_room(clients.admin)
    stranger = await _private_room(clients.admin)
    async with connected(synapse.base_url, people.bot, rooms=[configured]) as (conn, seen):
        # Invite-only and no invitation yet: the bot cannot join, and says so once.
        assert await membership(clients.admin, configured, people.bot.user_id) is None
        for room_id in (stranger, configured):
            invited = await clients.admin.room_invite(room_id, people.bot.user_id)
            assert not isinstance(invited, ErrorResponse), invited
        await _wait_joined(clients.admin, configured, people)
        await clients.admin.room_invite(configured, people.member.user_id)
        await clients.member.join(configured)
        await sent_id(clients.member, configured, "now the bot is here")
        await eventually(lambda: "now the bot is here" in seen.texts(), "the message")
        assert await membership(clients.admin, stranger, people.bot.user_id) == "invite"
        assert stranger not in conn.protected_rooms


async def _private_room(client: AsyncClient) -> str:
    response = await client.room_create(preset=RoomPreset.private_chat)
    assert isinstance(response, RoomCreateResponse), response
    room_id: str = response.room_id
    return room_id


async def test_a_spaces_rooms_are_protected_including_one_added_while_running(
    synapse: SynapseServer, people: People, clients: Clients
) -> None:
    space = await public_room(clients.admin, space=True)
    children = [await public_room(clients.admin) for _ in range(2)]
    for child in children:
        await add_child(clients.admin, space, child)
        await clients.member.join(child)
    async with connected(synapse.base_url, people.bot, spaces=[space], hierarchy_refresh=0.5) as (
        conn,
        seen,
    ):
        assert conn.protected_rooms == {space, *children}
        for index, child in enumerate(children):
            await sent_id(clients.member, child, f"in child {index}")
        await eventually(lambda: len(seen.messages) == 2, "both children's messages")
        assert {m.channel.id for m in seen.messages} == set(children)
        assert {m.channel.space_id for m in seen.messages} == {space}

        late = await public_room(clients.admin)
        await sent_id(clients.admin, late, "history from before the bot came")
        await clients.member.join(late)
        await add_child(clients.admin, space, late)
        took = await eventually(lambda: late in conn.protected_rooms, "the new child")
        await _wait_joined(clients.admin, late, people)
        await sent_id(clients.member, late, "in the new child")
        await eventually(lambda: "in the new child" in seen.texts(), "the new child's message")
        assert "history from before the bot came" not in seen.texts()
    print(f"child added -> protected: {took * 1000:.0f} ms")


async def test_membership_changes_arrive(
    synapse: SynapseServer, people: People, clients: Clients
) -> None:
    room_id = await create_room(clients.admin, version="11")
    async with connected(synapse.base_url, people.bot, rooms=[room_id]) as (_, seen):
        await clients.member.join(room_id)
        await clients.admin.room_kick(room_id, people.member.user_id, reason="cool off")
        await eventually(lambda: len(seen.memberships) == 2, "join and kick")
    join, kick = seen.memberships
    assert (join.change, join.account.id, join.space.id) == (
        MembershipChange.JOIN,
        people.member.user_id,
        room_id,
    )
    assert kick.change is MembershipChange.KICK
    assert kick.actor is not None
    assert kick.actor.id == people.admin.user_id
    assert kick.reason == "cool off"


async def test_a_restart_neither_replays_nor_misses_and_keeps_the_device(
    synapse: SynapseServer, clients: Clients, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="adapters.matrix")
    bot = synapse.register(f"bot-{secrets.token_hex(3)}")
    room_id = await create_room(clients.admin, version="12", joiners=(clients.member,))
    await sent_id(clients.member, room_id, "history before the first start")
    state = MemoryKeyValueStore()
    async with connected(synapse.base_url, bot, rooms=[room_id], state=state) as (first, seen):
        await sent_id(clients.member, room_id, "before the restart")
        await eventually(lambda: "before the restart" in seen.texts(), "the first message")
        assert seen.texts() == ["before the restart"]  # old history is not judged
        device = first.device_id
    # Sent while the bot is down: more than one sync batch holds, so the gap is fetched.
    missed = [f"while down {n}" for n in range(60)]
    for text in missed:
        await sent_id(clients.member, room_id, text)
    started = time.monotonic()
    async with connected(synapse.base_url, bot, rooms=[room_id], state=state) as (second, again):
        await eventually(lambda: len(again.messages) >= len(missed), "the missed messages")
        took = time.monotonic() - started
        await sent_id(clients.member, room_id, "after the restart")
        await eventually(lambda: "after the restart" in again.texts(), "a live message")
        assert second.device_id == device
    assert again.texts() == [*missed, "after the restart"]
    bot_client = client_for(synapse, bot)
    try:
        devices = await bot_client.devices()
        # The registration's device and the bot's one login: the restart logged in no more.
        assert len(devices.devices) == 2, devices
    finally:
        await bot_client.close()
    token = state.values["matrix.access_token"]
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("adapters"))
    assert "logged in to Matrix" in logged
    assert bot.password not in logged
    assert token not in logged
    # Every logger at the levels the service runs with, tracebacks included.
    assert bot.password not in caplog.text
    assert token not in caplog.text
    print(f"restart -> 60 missed messages handed on: {took * 1000:.0f} ms")


class FaultyProxy:
    """Forwards to Synapse, but answers /sync itself with ``fault`` (status, body) when set."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.fault: tuple[int, dict[str, Any]] | None = None
        self.faults_served = 0
        self.base_url = ""
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        self._session = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        if self.fault is not None and request.path.endswith("/sync"):
            self.faults_served += 1
            status, body = self.fault
            return web.json_response(body, status=status)
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        async with self._session.request(
            request.method,
            self.upstream + request.path_qs,
            headers=headers,
            data=await request.read(),
        ) as answer:
            return web.Response(
                status=answer.status,
                body=await answer.read(),
                content_type=answer.content_type,
            )


@pytest.mark.parametrize(
    "fault",
    [
        (502, {"errcode": "M_UNKNOWN", "error": "bad gateway"}),
        (429, {"errcode": "M_LIMIT_EXCEEDED", "error": "slow down", "retry_after_ms": 200}),
    ],
    ids=["5xx", "429"],
)
async def test_sync_errors_are_waited_out_with_one_warning(
    synapse: SynapseServer,
    people: People,
    clients: Clients,
    caplog: pytest.LogCaptureFixture,
    fault: tuple[int, dict[str, Any]],
) -> None:
    room_id = await create_room(clients.admin, version="12", joiners=(clients.member,))
    proxy = FaultyProxy(synapse.base_url)
    await proxy.start()
    try:
        async with connected(proxy.base_url, people.bot, rooms=[room_id]) as (_, seen):
            with caplog.at_level(logging.WARNING, logger="adapters.matrix"):
                proxy.fault = fault
                await eventually(lambda: proxy.faults_served >= 2, "a failed sync retried")
                await sent_id(clients.member, room_id, "sent during the fault")
                proxy.fault = None
                await eventually(lambda: "sent during the fault" in seen.texts(), "the message")
    finally:
        await proxy.stop()
    failed = [r for r in caplog.records if "failed, retrying" in r.getMessage()]
    assert len(failed) == 1, [r.getMessage() for r in caplog.records]
    assert str(fault[0]) in failed[0].getMessage()


async def test_the_connection_survives_a_homeserver_restart(
    synapse: SynapseServer, people: People, clients: Clients, caplog: pytest.LogCaptureFixture
) -> None:
    room_id = await create_room(clients.admin, version="12", joiners=(clients.member,))
    async with connected(synapse.base_url, people.bot, rooms=[room_id]) as (_, seen):
        await sent_id(clients.member, room_id, "before the outage")
        await eventually(lambda: "before the outage" in seen.texts(), "the first message")
        with caplog.at_level(logging.WARNING, logger="adapters.matrix"):
            await asyncio.to_thread(synapse.restart)
            await _send_retrying(clients.member, room_id, "after the outage")
            took = await eventually(
                lambda: "after the outage" in seen.texts(), "the later message", within=40
            )
        assert seen.texts().count("after the outage") == 1
    warnings = [r for r in caplog.records if r.name.startswith("adapters.matrix")]
    assert 1 <= len([r for r in warnings if "failed" in r.getMessage()]) <= 1, warnings
    print(f"homeserver back -> message handed on: {took * 1000:.0f} ms")


async def _send_retrying(client: AsyncClient, room_id: str, text: str) -> Any:
    # The test's own client may hold a connection the restart closed.
    for _ in range(20):
        try:
            response = await send_text(client, room_id, text)
        except Exception:  # whatever the closed socket gives: try again
            await asyncio.sleep(0.2)
            continue
        if isinstance(response, RoomSendResponse):
            return response
        await asyncio.sleep(0.2)
    pytest.fail("could not send after the restart")


async def test_a_revoked_login_is_replaced_for_the_executors_client_too(
    synapse: SynapseServer, people: People, clients: Clients
) -> None:
    """An admin logs the bot's session out (or its password changes and sessions end): the
    sync logs in again, and the client the actions use carries the new token."""
    room_id = await create_room(clients.admin, version="12", joiners=(clients.member,))
    async with connected(synapse.base_url, people.bot, rooms=[room_id]) as (connection, seen):
        worker_client = connection.new_client()
        try:
            revoked = worker_client.access_token
            gone = await worker_client.logout()  # the token dies on the homeserver
            assert not isinstance(gone, ErrorResponse), gone
            worker_client.access_token = revoked  # as a live process still holds it
            await sent_id(clients.member, room_id, "after the logout")
            await eventually(lambda: "after the logout" in seen.texts(), "the sync to recover")
            assert worker_client.access_token != revoked
            answer = await worker_client.whoami()
            assert getattr(answer, "user_id", None) == people.bot.user_id, answer
        finally:
            await worker_client.close()
