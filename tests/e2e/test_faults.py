"""`modbridge run` through bad luck and a hostile neighbour, against a real Synapse: a message
type nobody expected, a few hundred idle connections on the antispam port, a full disk and
a read-only one. What members and moderators see.

One service for the module, its database on a small tmpfs of its own (tests/disks.py) and
its file descriptors limited to FD_LIMIT (``resource.setrlimit`` in the child), so that
running out of either is quick to reach.
"""

from __future__ import annotations

import asyncio
import resource
import secrets
import socket
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from nio import AsyncClient, JoinResponse, RoomCreateResponse, RoomPreset, RoomSendResponse

from adapters.matrix.antispam_http import PREFIX
from bridge.health import DISK_FULL, RECOVERED
from tests.disks import SmallDisk, small_disk
from tests.e2e.matrix_helpers import client_for, send_text
from tests.e2e.service_helpers import (
    ServiceProcess,
    eventually,
    is_redacted,
    notices,
    run_cli,
    service_env,
)
from tests.e2e.synapse import RegisteredUser, SynapseServer

pytestmark = pytest.mark.synapse

FD_LIMIT = 160  # the service idles at about 30; a flood of connections would pass this
SLOW_CONNECTIONS = 300
SECRET = secrets.token_hex(16)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _few_descriptors() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


@dataclass
class Setup:
    server: SynapseServer
    bot: RegisteredUser
    member: RegisteredUser
    moderator: RegisteredUser
    observer: RegisteredUser
    general: str
    mod: str
    antispam_port: int
    disk: SmallDisk
    service: ServiceProcess


def _config(setup: Setup, homeserver: str, listener: str = "request_timeout_seconds = 3") -> str:
    return f"""
[[rules]]
id = "insults"
kind = "keywords"
clause = "Insults, threats, or demeaning comments, in person or online"
points = 1
actions = ["delete", "notify"]
words = ["idiot"]

[escalation]
ladder = [{{ points = 100, action = "mute 3s" }}]

[matrix]
homeserver = "{homeserver}"
user_id = "{setup.bot.user_id}"
rooms = ["{setup.general}"]
mod_room = "{setup.mod}"
moderators = ["{setup.moderator.user_id}"]

[antispam]
listen = "127.0.0.1:{setup.antispam_port}"
community_servers = ["localhost"]
{listener}
"""


async def _rooms(server: SynapseServer, bot: RegisteredUser, *joiners: RegisteredUser) -> str:
    client = client_for(server, bot)
    try:
        made = await client.room_create(preset=RoomPreset.public_chat, name="General")
        assert isinstance(made, RoomCreateResponse), made
    finally:
        await client.close()
    for user in joiners:
        joiner = client_for(server, user)
        try:
            assert isinstance(await joiner.join(made.room_id), JoinResponse)
        finally:
            await joiner.close()
    return str(made.room_id)


async def _mod_room(server: SynapseServer, bot: RegisteredUser, moderator: RegisteredUser) -> str:
    client = client_for(server, bot)
    mod = client_for(server, moderator)
    try:
        made = await client.room_create(
            preset=RoomPreset.private_chat, name="Moderators", invite=[moderator.user_id]
        )
        assert isinstance(made, RoomCreateResponse), made
        assert isinstance(await mod.join(made.room_id), JoinResponse)
        return str(made.room_id)
    finally:
        await client.close()
        await mod.close()


@pytest.fixture(scope="module")
def setup(synapse: SynapseServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("faults")
    bot, member = synapse.register("faultbot"), synapse.register("faulty")
    moderator, observer = synapse.register("faultmod"), synapse.register("faultwatch")
    general = asyncio.run(_rooms(synapse, bot, member, observer))
    mod = asyncio.run(_mod_room(synapse, bot, moderator))
    with small_disk(tmp / "disk", size="8m") as disk:
        env = service_env(
            disk.path / "modbridge.db",
            MODBRIDGE_MATRIX__PASSWORD=bot.password,
            MODBRIDGE_ANTISPAM__SECRET=SECRET,
        )
        service = ServiceProcess(tmp / "modbridge.toml", env, tmp / "service.log", _few_descriptors)
        setup = Setup(
            server=synapse, bot=bot, member=member, moderator=moderator, observer=observer,
            general=general, mod=mod, antispam_port=_free_port(), disk=disk, service=service,
        )  # fmt: skip
        service.config.write_text(_config(setup, synapse.base_url))
        service.start()
        try:
            yield setup
        finally:
            service.kill()


@dataclass
class People:
    member: AsyncClient
    moderator: AsyncClient
    observer: AsyncClient


@pytest.fixture
async def people(setup: Setup) -> AsyncIterator[People]:
    made = People(
        member=client_for(setup.server, setup.member),
        moderator=client_for(setup.server, setup.moderator),
        observer=client_for(setup.server, setup.observer),
    )
    try:
        yield made
    finally:
        for client in (made.member, made.moderator, made.observer):
            await client.close()


async def _insult(setup: Setup, people: People, text: str = "you idiot") -> str:
    sent = await send_text(people.member, setup.general, text)
    assert isinstance(sent, RoomSendResponse), sent
    return str(sent.event_id)


async def _redacted(setup: Setup, people: People, event_id: str, within: float = 15.0) -> float:
    return await eventually(
        lambda: is_redacted(people.observer, setup.general, event_id), "the redaction", within
    )


async def test_a_message_of_a_type_nobody_knows_is_judged(setup: Setup, people: People) -> None:
    """Clients show the body of an unknown msgtype: it is moderated like text."""
    sent = await people.member.room_send(
        setup.general, "m.room.message", {"msgtype": "m.weird", "body": "you idiot"}
    )
    assert isinstance(sent, RoomSendResponse), sent
    await _redacted(setup, people, sent.event_id)


async def _ping(setup: Setup) -> int:
    url = f"http://127.0.0.1:{setup.antispam_port}{PREFIX}/ping"
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        headers = {"Authorization": f"Bearer {SECRET}"}
        async with session.post(url, json={"id": "x"}, headers=headers) as response:
            return response.status


async def _slow_connections(setup: Setup) -> list[asyncio.StreamWriter]:
    """Up to SLOW_CONNECTIONS connections to the antispam port, each with half a request
    (a connection the kernel's backlog cannot take any more is given up after 3 s)."""
    head = f"POST {PREFIX}/user_may_invite HTTP/1.1\r\nHost: x\r\n".encode()

    async def connect() -> asyncio.StreamWriter | None:
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", setup.antispam_port), 3.0
            )
        except (OSError, TimeoutError):
            return None
        writer.write(head)
        return writer

    made = await asyncio.gather(*(connect() for _ in range(SLOW_CONNECTIONS)))
    slow = [writer for writer in made if writer is not None]
    # Those beyond the service's limit are refused at once (reset): expected.
    await asyncio.gather(*(w.drain() for w in slow), return_exceptions=True)
    return slow


async def test_idle_connections_to_the_antispam_port_do_not_stop_moderation(
    setup: Setup, people: People
) -> None:
    slow: list[asyncio.StreamWriter] = []
    try:
        slow = await _slow_connections(setup)
        event_id = await _insult(setup, people)
        took = await _redacted(setup, people, event_id)
        print(f"redacted {took:.2f}s after the insult, {SLOW_CONNECTIONS} idle connections open")
        # The homeserver gets an answer at once (busy: its fail_open applies), then, with
        # the idle connections closed by the service, a real one.
        started = time.monotonic()
        assert await _ping(setup) in (200, 503)
        assert time.monotonic() - started < 5

        async def serving() -> bool:
            try:
                return await _ping(setup) == 200
            except (aiohttp.ClientError, TimeoutError):
                return False

        await eventually(serving, "the antispam listener to serve again", within=20)
    finally:
        for writer in slow:
            writer.close()
    log = setup.service.log()
    assert "Too many open files" not in log
    assert "out of system resource" not in log  # asyncio's word for EMFILE on accept


async def test_a_violation_during_a_full_disk_is_redacted_when_space_comes_back(
    setup: Setup, people: People
) -> None:
    before = len(await notices(people.moderator, setup.mod))
    setup.disk.fill()
    try:
        event_id = await _insult(setup, people, "what an idiot")

        async def told(text: str) -> bool:
            return text in (await notices(people.moderator, setup.mod))[before:]

        await eventually(lambda: told(DISK_FULL), "the moderators to be told the disk is full")
        assert not await is_redacted(people.observer, setup.general, event_id)
    finally:
        setup.disk.free()
    await _redacted(setup, people, event_id, within=45.0)  # the next retry, at most 30 s on
    await eventually(lambda: told(RECOVERED), "the moderators to be told it is over")
    said = (await notices(people.moderator, setup.mod))[before:]
    assert said.count(DISK_FULL) == 1, said
    assert said.count(RECOVERED) == 1, said
    later = await _insult(setup, people, "idiot, again")
    await _redacted(setup, people, later)


async def test_when_descriptors_run_out_anyway_a_violation_waits_for_them(
    setup: Setup, people: People
) -> None:
    """An admin who allows more connections than the process has descriptors: accepting
    fails (EMFILE) and so does SQLite. The violation read meanwhile is judged once the
    descriptors come back, not dropped."""
    service = setup.service
    service.terminate()
    listener = "max_connections = 1000\nrequest_timeout_seconds = 300"
    service.config.write_text(_config(setup, setup.server.base_url, listener))
    service.start()
    slow: list[asyncio.StreamWriter] = []
    try:
        slow = await _slow_connections(setup)
        event_id = await _insult(setup, people, "idiot, with no descriptors left")
        await asyncio.sleep(3)
    finally:
        for writer in slow:
            writer.close()
    await _redacted(setup, people, event_id, within=45.0)
    assert "out of system resource" in service.log()  # descriptors did run out


def test_a_read_only_database_directory_is_one_clear_line(setup: Setup, tmp_path: Path) -> None:
    with small_disk(tmp_path / "ro") as disk:
        disk.read_only()
        env = service_env(
            disk.path / "modbridge.db",
            MODBRIDGE_MATRIX__PASSWORD=setup.bot.password,
            MODBRIDGE_ANTISPAM__SECRET=SECRET,
        )
        status, output = run_cli(["run", "--config", str(setup.service.config)], env)
    assert status == 2, output
    assert output.strip().splitlines() == [
        f"modbridge: cannot write next to the database {disk.path / 'modbridge.db'}: "
        "Read-only file system"
    ]
