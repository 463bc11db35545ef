"""DM consent on a real Synapse: synapse-http-antispam loaded through the harness, real nio
clients, and modbridge's antispam server answering the module's callbacks.

Two homeservers: one configured as the module docstring recommends (fail open), one with the
module's default (fail closed), for the "modbridge is down" behaviour of each.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from nio import (
    AsyncClient,
    JoinedRoomsResponse,
    RoomCreateError,
    RoomCreateResponse,
    RoomInviteResponse,
    RoomPreset,
    SyncResponse,
)
from pydantic import SecretStr

from adapters.matrix.antispam_http import PREFIX
from bridge.config import AntispamConfig
from bridge.service import AntispamServer
from domain.model import Account, Platform
from storage.db import Database
from storage.repositories import Repositories
from tests.e2e.conftest import require_synapse
from tests.e2e.matrix_helpers import client_for, create_room, membership, set_level
from tests.e2e.synapse import SERVER_NAME, RegisteredUser, SynapseServer

pytestmark = pytest.mark.synapse

SECRET = secrets.token_hex(16)
CALLBACKS = ["user_may_invite", "user_may_create_room"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Homeserver:
    """A Synapse with the module pointed at a port where the test runs modbridge's server."""

    def __init__(self, data_dir: Path, *, fail_open: bool) -> None:
        self.antispam_port = _free_port()
        module_config: dict[str, Any] = {
            "base_url": f"http://127.0.0.1:{self.antispam_port}{PREFIX}",
            "authorization": SECRET,
            "enabled_callbacks": CALLBACKS,
        }
        if fail_open:
            module_config["fail_open"] = dict.fromkeys(CALLBACKS, True)
        self.synapse = SynapseServer(
            data_dir,
            extra_config={
                "modules": [
                    {"module": "synapse_http_antispam.HTTPAntispam", "config": module_config}
                ]
            },
        )
        self.users: dict[str, RegisteredUser] = {}

    def user(self, localpart: str) -> RegisteredUser:
        """A registered (non-admin: admins bypass the spam checker) user, made once."""
        if localpart not in self.users:
            self.users[localpart] = self.synapse.register(localpart)
        return self.users[localpart]


def _homeserver(tmp: Path, *, fail_open: bool) -> Iterator[Homeserver]:
    require_synapse()
    server = Homeserver(tmp, fail_open=fail_open)
    server.synapse.start()
    try:
        yield server
    finally:
        server.synapse.stop()


@pytest.fixture(scope="module")
def homeserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Homeserver]:
    """The recommended setup: the module fails open while modbridge is down."""
    yield from _homeserver(tmp_path_factory.mktemp("synapse-antispam"), fail_open=True)


@pytest.fixture(scope="module")
def closed_homeserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Homeserver]:
    """The module's default: it fails closed while modbridge is down."""
    yield from _homeserver(tmp_path_factory.mktemp("synapse-antispam-closed"), fail_open=False)


@pytest.fixture
async def repos(tmp_path: Path) -> AsyncIterator[Repositories]:
    db = await Database.open(tmp_path / "modbridge.db")
    try:
        yield Repositories.over(db)
    finally:
        await db.close()


def antispam(repos: Repositories) -> AntispamServer:
    config = AntispamConfig(community_servers=(SERVER_NAME,), secret=SecretStr(SECRET))
    return AntispamServer(
        identity=repos.identity, consent=repos.consent, audit=repos.audit, config=config
    )


@pytest.fixture
async def running(homeserver: Homeserver, repos: Repositories) -> AsyncIterator[AntispamServer]:
    server = antispam(repos)
    await server.start("127.0.0.1", homeserver.antispam_port)
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def clients(homeserver: Homeserver) -> AsyncIterator[dict[str, AsyncClient]]:
    made: dict[str, AsyncClient] = {}
    for name in ("ann", "bob", "mod"):
        made[name] = client_for(homeserver.synapse, homeserver.user(name))
        # A first sync now, so that later syncs are incremental: Synapse caches initial syncs
        # for a while and would show a fresh client an old answer.
        assert isinstance(await made[name].sync(timeout=0), SyncResponse)
    try:
        yield made
    finally:
        for client in made.values():
            await client.close()


async def member(repos: Repositories, user_id: str) -> int:
    return (await repos.identity.ensure(Account(platform=Platform.MATRIX, id=user_id))).member_id


async def open_dm(inviter: AsyncClient, invitee: str) -> RoomCreateResponse | RoomCreateError:
    """What Element does to start a DM: one /createRoom with is_direct and the invite."""
    response = await inviter.room_create(
        is_direct=True, invite=[invitee], preset=RoomPreset.trusted_private_chat
    )
    assert isinstance(response, RoomCreateResponse | RoomCreateError), response
    return response


async def joined(client: AsyncClient) -> set[str]:
    response = await client.joined_rooms()
    assert isinstance(response, JoinedRoomsResponse), response
    return set(response.rooms)


async def is_invited(client: AsyncClient, room_id: str | None, within: float = 5.0) -> bool:
    """Whether ``client``'s user sees an invite to ``room_id`` (None: to any room) in its
    syncs (polled: Synapse serves a recently repeated sync request from a cache, so one sync
    may be stale)."""
    deadline = time.monotonic() + within
    while True:
        response = await client.sync(timeout=100)
        assert isinstance(response, SyncResponse), response
        if room_id in response.rooms.invite or (room_id is None and response.rooms.invite):
            return True
        if time.monotonic() > deadline:
            return False


async def test_a_dm_invite_needs_the_recipients_consent(
    running: AntispamServer, clients: dict[str, AsyncClient], repos: Repositories
) -> None:
    ann, bob = clients["ann"], clients["bob"]
    ann_id, bob_id = await member(repos, ann.user_id), await member(repos, bob.user_id)

    rooms_before = await joined(ann)
    started = time.monotonic()
    refused = await open_dm(ann, bob.user_id)
    refused_in = time.monotonic() - started
    assert isinstance(refused, RoomCreateError), refused
    assert refused.status_code == "M_FORBIDDEN"
    assert refused.message == (
        f"{bob.user_id} does not accept direct messages from members they have not invited; "
        "ask in a community room first"
    )
    assert not await is_invited(bob, None, within=0.5)
    # Synapse checks the invites after making the room: Ann is left alone in a new room.
    assert len(await joined(ann) - rooms_before) == 1

    await repos.consent.allow(bob_id, ann_id)
    started = time.monotonic()
    allowed = await open_dm(ann, bob.user_id)
    allowed_in = time.monotonic() - started
    assert isinstance(allowed, RoomCreateResponse), allowed
    assert await is_invited(bob, allowed.room_id)

    events = [
        (e.event, e.details["inviter"], e.details["invitee"]) for e in await repos.audit.recent()
    ]
    who = (f"matrix:{ann.user_id}", f"matrix:{bob.user_id}")
    assert events == [("dm_invite_allowed", *who), ("dm_invite_refused", *who)]
    print(
        f"DM createRoom refused in {refused_in * 1e3:.0f} ms, allowed in {allowed_in * 1e3:.0f} ms"
    )


async def test_two_dm_invites_at_once_are_both_refused(
    running: AntispamServer, clients: dict[str, AsyncClient], repos: Repositories
) -> None:
    """Two simultaneous createRoom calls with is_direct: one creation time kept per member
    let the second one through."""
    ann, bob = clients["ann"], clients["bob"]
    await member(repos, ann.user_id)
    await member(repos, bob.user_id)  # no consent
    for _ in range(3):
        answers = await asyncio.gather(open_dm(ann, bob.user_id), open_dm(ann, bob.user_id))
        assert [getattr(a, "status_code", "created") for a in answers] == ["M_FORBIDDEN"] * 2


async def test_an_ordinary_room_invite_is_untouched(
    running: AntispamServer, clients: dict[str, AsyncClient], repos: Repositories
) -> None:
    ann, bob, mod = clients["ann"], clients["bob"], clients["mod"]
    await member(repos, ann.user_id)
    await member(repos, bob.user_id)
    # A community room a moderator made; Ann, a member without Bob's consent, invites him.
    room_id = await create_room(mod, version="12", joiners=(ann,))
    await set_level(mod, room_id, ann.user_id, 50)  # public rooms let only level 50 invite
    started = time.monotonic()
    response = await ann.room_invite(room_id, bob.user_id)
    invited_in = time.monotonic() - started
    assert isinstance(response, RoomInviteResponse), response
    assert await is_invited(bob, room_id)
    assert await membership(mod, room_id, bob.user_id) == "invite"
    assert await repos.audit.recent() == []
    print(f"ordinary invite in {invited_in * 1000:.0f} ms")


async def test_with_modbridge_down_the_recommended_setup_fails_open(
    homeserver: Homeserver, clients: dict[str, AsyncClient], repos: Repositories
) -> None:
    ann, bob = clients["ann"], clients["bob"]
    await member(repos, ann.user_id)
    await member(repos, bob.user_id)  # no consent: modbridge would refuse this DM
    server = antispam(repos)
    await server.start("127.0.0.1", homeserver.antispam_port)
    await server.close()
    allowed = await open_dm(ann, bob.user_id)
    assert isinstance(allowed, RoomCreateResponse), allowed
    assert await is_invited(bob, allowed.room_id)


async def test_with_modbridge_down_the_modules_default_fails_closed(
    closed_homeserver: Homeserver,
) -> None:
    ann = client_for(closed_homeserver.synapse, closed_homeserver.user("ann"))
    mod = client_for(closed_homeserver.synapse, closed_homeserver.user("mod"))
    bob = closed_homeserver.user("bob")
    try:
        # Nothing listens on the module's port: every room creation and every invite fails.
        refused = await open_dm(ann, bob.user_id)
        assert isinstance(refused, RoomCreateError), refused
        assert (refused.status_code, refused.message) == (
            "M_UNKNOWN",
            "Failed to connect to antispam server",
        )
        plain = await mod.room_create(preset=RoomPreset.public_chat)
        assert isinstance(plain, RoomCreateError), plain
        assert plain.status_code == "M_UNKNOWN"
    finally:
        await ann.close()
        await mod.close()


async def test_the_callback_endpoint_refuses_requests_without_the_secret(
    running: AntispamServer, homeserver: Homeserver, repos: Repositories
) -> None:
    await member(repos, "@ann:localhost")
    await member(repos, "@bob:localhost")
    url = f"http://127.0.0.1:{homeserver.antispam_port}{PREFIX}/user_may_invite"
    body = {"inviter": "@ann:localhost", "invitee": "@bob:localhost", "room_id": "!x:localhost"}
    async with aiohttp.ClientSession() as session:
        for headers in ({}, {"Authorization": "Bearer not-the-secret"}):
            async with session.post(url, json=body, headers=headers) as response:
                assert response.status == 401
                assert (await response.json())["errcode"] == "M_UNAUTHORIZED"
        async with session.post(
            url, json=body, headers={"Authorization": f"Bearer {SECRET}"}
        ) as ok:
            assert (ok.status, await ok.json()) == (200, {})  # an ordinary invite: allowed


async def test_a_wrong_secret_on_the_homeserver_refuses_with_m_unauthorized(
    homeserver: Homeserver, clients: dict[str, AsyncClient], repos: Repositories
) -> None:
    config = AntispamConfig(community_servers=(SERVER_NAME,), secret=SecretStr("another"))
    server = AntispamServer(
        identity=repos.identity, consent=repos.consent, audit=repos.audit, config=config
    )
    await server.start("127.0.0.1", homeserver.antispam_port)
    try:
        room = await clients["mod"].room_create(preset=RoomPreset.public_chat)
        assert isinstance(room, RoomCreateError), room
        assert room.status_code == "M_UNAUTHORIZED"  # loud, not silently open
    finally:
        await server.close()
