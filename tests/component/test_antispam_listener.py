"""The antispam listener on a real loopback port, as the homeserver and an attacker reach it:
concurrent DM invites, slow and idle connections, more connections than it serves at once."""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from adapters.matrix.antispam_http import PREFIX
from bridge.config import AntispamConfig
from bridge.service import AntispamServer
from domain.model import Account, Platform
from storage.db import Database
from storage.repositories import Repositories

SECRET = secrets.token_hex(16)
AUTH = {"Authorization": f"Bearer {SECRET}"}
ANN, BOB = "@ann:community.test", "@bob:community.test"


@pytest.fixture
async def repos(tmp_path: Path) -> AsyncIterator[Repositories]:
    db = await Database.open(tmp_path / "modbridge.db")
    try:
        yield Repositories.over(db)
    finally:
        await db.close()


async def serve(repos: Repositories, **overrides: Any) -> tuple[AntispamServer, str]:
    config = AntispamConfig(
        community_servers=("community.test",), secret=SecretStr(SECRET), **overrides
    )
    server = AntispamServer(
        identity=repos.identity, consent=repos.consent, audit=repos.audit, config=config
    )
    port = await server.start("127.0.0.1", 0)
    return server, f"http://127.0.0.1:{port}{PREFIX}"


@pytest.fixture
async def listener(repos: Repositories) -> AsyncIterator[str]:
    server, base = await serve(repos)
    try:
        yield base
    finally:
        await server.close()


async def post(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> int:
    async with session.post(url, json=body, headers=AUTH) as response:
        await response.read()
        return response.status


async def test_two_dm_invites_at_once_are_both_refused(listener: str, repos: Repositories) -> None:
    """Two /createRoom calls with is_direct at once from Ann to Bob (DMs closed): Synapse
    asks user_may_create_room for both, then user_may_invite for each new room."""
    for user in (ANN, BOB):
        await repos.identity.ensure(Account(platform=Platform.MATRIX, id=user))
    async with aiohttp.ClientSession() as session:
        created = await asyncio.gather(
            *(post(session, f"{listener}/user_may_create_room", {"user_id": ANN}) for _ in "ab")
        )
        assert created == [200, 200]
        invited = await asyncio.gather(
            *(
                post(
                    session,
                    f"{listener}/user_may_invite",
                    {"inviter": ANN, "invitee": BOB, "room_id": f"!{room}:community.test"},
                )
                for room in ("first", "second")
            )
        )
    assert invited == [403, 403]
    refused = [e.event for e in await repos.audit.recent()]
    assert refused == ["dm_invite_refused", "dm_invite_refused"]


async def half_request(port: int, body_too: bool = False) -> tuple[asyncio.StreamReader, Any]:
    """A connection that sends part of a request and waits (a slowloris)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = f"POST {PREFIX}/ping HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {SECRET}\r\n"
    if body_too:  # the whole head, then a body that never comes
        head += "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
    writer.write(head.encode())
    await writer.drain()
    return reader, writer


async def ping(base: str) -> int:
    async with aiohttp.ClientSession() as session:
        return await post(session, f"{base}/ping", {"id": "x"})


async def test_slow_and_idle_connections_are_closed_and_excess_ones_refused_at_once(
    repos: Repositories,
) -> None:
    server, base = await serve(repos, max_connections=8, request_timeout_seconds=1.0)
    assert server.address is not None
    port = server.address[1]
    slow = [await half_request(port, body_too=n % 2 == 1) for n in range(40)]
    try:
        # Beyond the limit: answered 503 and closed at once, not left waiting.
        answers = await asyncio.gather(
            *(asyncio.wait_for(reader.read(), 0.5) for reader, _ in slow[8:])
        )
        assert all(a.startswith(b"HTTP/1.1 503") for a in answers), answers[:3]
        assert await ping(base) == 503  # the homeserver's module: fail_open applies
        # Within the limit: closed when the request has not come in time.
        held = await asyncio.gather(
            *(asyncio.wait_for(reader.read(), 5.0) for reader, _ in slow[:8])
        )
        assert all(not a or a.startswith(b"HTTP/1.1 408") for a in held), held
        assert await ping(base) == 200  # and the listener serves again
    finally:
        for _, writer in slow:
            writer.close()
        await server.close()


async def test_dry_run_allows_what_it_would_refuse_and_tells_the_moderators(
    repos: Repositories, caplog: pytest.LogCaptureFixture
) -> None:
    """In a dry run nothing is done on the homeserver: a DM invite without consent (through
    /createRoom, then user_may_invite; and the body-carrying form) is allowed, recorded, and
    the moderators are told it would have been refused, without naming anyone (as the live
    refusals stay out of the moderators' view: the audit log, for admins, has the ids)."""
    for user in (ANN, BOB):
        await repos.identity.ensure(Account(platform=Platform.MATRIX, id=user))
    told: list[str] = []

    async def tell(text: str) -> None:
        told.append(text)

    config = AntispamConfig(community_servers=("community.test",), secret=SecretStr(SECRET))
    server = AntispamServer(
        identity=repos.identity, consent=repos.consent, audit=repos.audit, config=config,
        dry_run=True, tell_moderators=tell,
    )  # fmt: skip
    port = await server.start("127.0.0.1", 0)
    base = f"http://127.0.0.1:{port}{PREFIX}"
    try:
        async with aiohttp.ClientSession() as session:
            assert await post(session, f"{base}/user_may_create_room", {"user_id": ANN}) == 200
            invite = {"inviter": ANN, "invitee": BOB, "room_id": "!dm:community.test"}
            assert await post(session, f"{base}/user_may_invite", invite) == 200
            body = {"user_id": BOB, "room_config": {"is_direct": True, "invite": [ANN]}}
            assert await post(session, f"{base}/user_may_create_room", body) == 200
    finally:
        await server.close()
    events = await repos.audit.recent()
    assert [e.event for e in events] == ["dm_invite_refused", "dm_invite_refused"]
    assert all(e.details["dry_run"] is True for e in events)
    assert len(told) == 2
    for text in told:
        assert text.startswith("(dry run)"), text
        assert "would have refused a direct-message invite" in text
        assert ANN not in text
        assert BOB not in text
    assert not any(ANN in r.getMessage() or BOB in r.getMessage() for r in caplog.records)


def _accepted_sockets(port: int) -> int:
    """Connections to ``port`` this process has accepted (each holds a descriptor); those
    still in the kernel's accept queue have no inode yet and are not counted."""
    held = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        if local_port == port and fields[3] == "01" and fields[9] != "0":  # 01: established
            held += 1
    return held


async def test_a_burst_of_connections_never_holds_more_descriptors_than_the_limit(
    repos: Repositories,
) -> None:
    """Connections waiting in the kernel's queue all at once: each is counted against the
    limit before the next is accepted, so the process never holds more than the limit (a
    burst of accepted but uncounted sockets once took every descriptor of the service)."""
    limit, burst = 4, 90
    server, base = await serve(repos, max_connections=limit, request_timeout_seconds=5.0)
    assert server.address is not None
    port = server.address[1]
    clients: list[socket.socket] = []
    try:
        for _ in range(burst):  # connected by the kernel, queued, before the loop runs again
            client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            client.setblocking(False)
            client.connect_ex(("127.0.0.1", port))
            clients.append(client)
        peak = 0
        for _ in range(200):
            await asyncio.sleep(0)
            peak = max(peak, _accepted_sockets(port))
        assert peak <= limit + 1, f"{peak} accepted sockets held at once"
        assert await ping(base) == 503  # and it still answers at once
    finally:
        for client in clients:
            client.close()
        await server.close()
