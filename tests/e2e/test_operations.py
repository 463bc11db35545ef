"""Running it for real, as an admin watches it: `/healthz` and `/metrics` of `modbridge run`
against a real Synapse and the Discord simulator (Synapse, then Discord's gateway, going
away and coming back), JSON log lines, and a dry run that leaves both platforms untouched
while the cases are recorded.

One Synapse, one simulator (in this module's event loop), one community of one guild and
two rooms. The service is started by each test with the options it is about.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from devtools.discord_simulator import DiscordSimulator
from tests.e2e.community_helpers import (
    PHONE,
    WAIT,
    Community,
    build_community,
    eventually,
    mod_room_notices,
)
from tests.e2e.matrix_helpers import send_text
from tests.e2e.service_helpers import ServiceProcess, is_redacted, run_cli
from tests.e2e.synapse import SynapseServer

pytestmark = [pytest.mark.synapse, pytest.mark.asyncio(loop_scope="module")]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def community(
    synapse: SynapseServer, sim: DiscordSimulator, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Community]:
    built = await build_community(
        synapse, sim, tmp_path_factory.mktemp("operations"), guilds=1, rooms=2
    )
    port = _free_port()
    built.config.write_text(built.config.read_text() + f'\n[http]\nlisten = "127.0.0.1:{port}"\n')
    try:
        yield built
    finally:
        built.service.kill()


def _base(community: Community) -> str:
    text = community.config.read_text()
    return "http://" + text.split('listen = "', 1)[1].split('"', 1)[0]


async def _get(community: Community, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(_base(community) + path) as response,
    ):
        return response.status, await response.text()


async def _health(community: Community) -> tuple[int, dict[str, Any]]:
    status, text = await _get(community, "/healthz")
    body: dict[str, Any] = json.loads(text)
    return status, body


async def _restart(community: Community, *args: str, **env: str) -> None:
    if community.service.running:
        await community.stop()
    old = community.service
    community.service = ServiceProcess(
        old.config, {**old.env, **env}, old.log_path, args=list(args)
    )
    await community.start()


def _metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        sample, _, rest = key.partition("{")
        found = ",".join(sorted(rest.rstrip("}").split(","))) if rest else ""
        if sample == name and found == wanted:
            return float(value)
    return 0.0


async def test_health_and_metrics_of_the_running_service(community: Community) -> None:
    await _restart(community, MODBRIDGE_LOG_FORMAT="json")

    async def healthy() -> bool:
        return (await _health(community))[0] == 200

    await eventually(healthy, "/healthz to answer 200")
    assert (await _health(community))[1] == {
        "matrix": "connected",
        "discord": "connected",
        "worker": "running",
        "outbox_oldest_pending_s": 0,
    }

    person = await community.linked_person("doxxer")
    posted = community.sim.post_message(
        person.discord, community.general[0], f"call her on {PHONE}"
    )

    async def banned() -> bool:
        return community.banned_guilds(person) == community.guilds and not (
            community.sim.message_exists(posted)
        )

    await eventually(banned, "the message deleted and the member banned on Discord")
    await eventually(
        lambda: _all_banned(community, person), "the ban in every Matrix room", within=WAIT
    )
    done = (("delete", "discord"), ("ban", "discord"), ("ban", "matrix"))

    async def counted() -> bool:
        # An action is counted once it is recorded done, a moment after the platform shows it.
        _, text = await _get(community, "/metrics")
        return all(
            _metric(text, "modbridge_actions_total", platform=p, kind=k, outcome="done") >= 1
            for k, p in done
        )

    await eventually(counted, "the actions counted in /metrics")
    status, metrics = await _get(community, "/metrics")
    assert status == 200
    print(metrics)
    assert _metric(metrics, "modbridge_messages_judged_total", platform="discord") >= 1
    assert _metric(metrics, "modbridge_rule_hits_total", rule="doxxing", mode="enforce") == 1
    assert _metric(metrics, "modbridge_violation_to_action_seconds_count", platform="discord") >= 2
    assert _metric(metrics, "modbridge_platform_connected", platform="matrix") == 1
    assert _metric(metrics, "modbridge_platform_connected", platform="discord") == 1
    assert "modbridge_outbox_pending 0.0" in metrics
    assert "modbridge_outbox_oldest_pending_seconds 0.0" in metrics
    assert "# TYPE modbridge_reports_total counter" in metrics
    for secret in (str(person.discord.id), person.matrix.user_id, *community.rooms, "0712"):
        assert secret not in metrics

    # Synapse goes away: Matrix is reported down (503) until it is back (200).
    await asyncio.to_thread(community.server.stop)
    try:

        async def unhealthy() -> bool:
            return (await _health(community))[0] == 503

        await eventually(unhealthy, "/healthz to answer 503 without Synapse")
        status, body = await _health(community)
        print(f"without Synapse: {status} {body}")
        assert body["matrix"].startswith("reconnecting since 20"), body
        assert body["discord"] == "connected"
        assert body["worker"] == "running"
        _, metrics = await _get(community, "/metrics")
        assert _metric(metrics, "modbridge_platform_connected", platform="matrix") == 0
    finally:
        await asyncio.to_thread(community.server.start)
    await eventually(healthy, "/healthz to answer 200 again once Synapse is back", within=60)
    assert (await _health(community))[1]["matrix"] == "connected"

    # Discord's gateway goes away (sockets closed, new ones refused): 503, then 200.
    community.sim.gateway_down()
    try:
        await eventually(unhealthy, "/healthz to answer 503 without Discord's gateway")
        status, body = await _health(community)
        print(f"without Discord: {status} {body}")
        assert body["discord"].startswith("reconnecting since 20"), body
        assert body["matrix"] == "connected"
        assert body["worker"] == "running"
        _, metrics = await _get(community, "/metrics")
        assert _metric(metrics, "modbridge_platform_connected", platform="discord") == 0
    finally:
        community.sim.gateway_up()
    await eventually(healthy, "/healthz to answer 200 again once Discord is back", within=60)
    assert (await _health(community))[1]["discord"] == "connected"

    await community.stop()
    log = community.service.log()
    lines = [line for line in log.splitlines() if line.strip()]
    assert len(lines) > 5
    for line in lines:
        entry = json.loads(line)  # every line is one JSON object
        assert {"ts", "level", "logger", "message"} <= set(entry), entry
    assert "0712" not in log
    assert "voice will NOT be supported" not in log
    assert not (community.config.parent / "modbridge.db.lock").exists()


async def _all_banned(community: Community, person: Any) -> bool:
    return len(await community.banned_rooms(person)) == len(community.rooms)


async def test_dry_run_records_cases_and_touches_neither_platform(community: Community) -> None:
    await _restart(community, "--dry-run")
    before = len(community.sim.requests.requests)  # the live test's requests are not ours
    assert "modbridge running (dry run)" in community.service.log()
    person = await community.add_person("dryrun")
    linked = await community.matrix_command(
        f"!link {person.matrix.user_id} {person.discord_key} same person",
        lambda n: person.matrix.user_id in n and "Linked:" in n,
    )
    assert linked.startswith("(dry run) Linked:"), linked
    posted = community.sim.post_message(
        person.discord, community.general[0], f"his number is {PHONE}"
    )
    member = community.client(person.matrix)
    try:
        sent = await send_text(member, community.rooms[0], f"her number is {PHONE}")
    finally:
        await member.close()
    event_id = sent.event_id  # type: ignore[union-attr]

    async def told() -> bool:
        notices = [n for n in await mod_room_notices(community) if person.matrix.user_id in n
                   or person.discord_key in n]  # fmt: skip
        return len(notices) >= 2

    await eventually(told, "the moderators told of both cases")
    notices = await mod_room_notices(community)
    about = [n for n in notices if person.matrix.user_id in n or person.discord_key in n]
    print("\n---\n".join(about))
    assert all(n.startswith("(dry run)") for n in about), about
    discord_notices = [
        m.content for m in community.sim.messages_in(community.mod_channels[0])
        if person.discord_key in m.content
    ]  # fmt: skip
    assert discord_notices, "the Discord moderators were told too"
    assert all(n.startswith("(dry run)") for n in discord_notices)

    # Both cases are recorded, every action simulated ("would ...") and none carried out.
    database = community.config.parent / "modbridge.db"

    def simulated() -> list[tuple[str, str, str]]:
        conn = sqlite3.connect(database)
        try:
            return conn.execute(
                "SELECT a.kind, a.state, coalesce(a.result, '') FROM actions a"
                " JOIN cases c ON c.id = a.case_id WHERE c.dedupe_key LIKE ?"
                " AND a.kind IN ('delete', 'ban')",
                (f"%{posted.id}%",),
            ).fetchall()
        finally:
            conn.close()

    async def settled() -> bool:
        rows = await asyncio.to_thread(simulated)
        return bool(rows) and all(state == "done" for _, state, _ in rows)

    await eventually(settled, "the simulated actions settled")
    rows = await asyncio.to_thread(simulated)
    assert all(result.startswith("(dry run) would ") for _, _, result in rows), rows
    await asyncio.sleep(1.0)  # anything the service would still do has had its time
    assert community.sim.message_exists(posted)
    assert community.banned_guilds(person) == []
    assert community.ban_requests(person, community.guilds[0]) == 0
    for request in community.sim.requests.requests[before:]:
        assert not (request.method == "DELETE" and "/messages/" in request.path), request
        assert not (request.method == "PUT" and "/bans/" in request.path), request
    observer = community.client(community.observer)
    try:
        assert not await is_redacted(observer, community.rooms[0], event_id)
    finally:
        await observer.close()
    assert await community.banned_rooms(person) == []
    # The dry run leaves the record: a live run later does not act on these cases by itself.
    started = time.monotonic()
    await community.stop()
    print(f"stopped in {time.monotonic() - started:.2f}s")


def _case_ids(database: Path) -> set[int]:
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return {int(r[0]) for r in conn.execute("SELECT id FROM cases")}
    finally:
        conn.close()


async def test_a_backup_while_the_service_writes_and_my_data_in_a_dm(
    community: Community, tmp_path: Path
) -> None:
    await _restart(community)
    database = community.config.parent / "modbridge.db"
    guild = community.guilds[0]
    posters = []
    for index in range(12):
        user = community.sim.create_user(f"spammer{index}")
        community.sim.add_member(guild, user)
        posters.append(user)

    async def violate() -> None:
        for user in posters:
            community.sim.post_message(user, community.general[0], f"ring {PHONE} now")
            await asyncio.sleep(0.15)

    violating = asyncio.create_task(violate())
    taken = []
    try:
        for index in range(2):
            await asyncio.sleep(0.5)
            before = await asyncio.to_thread(_case_ids, database)
            out = tmp_path / f"while-running-{index}.db"
            status, said = await asyncio.to_thread(
                run_cli, ["backup", "--config", str(community.config), str(out)],
                community.service.env,
            )  # fmt: skip
            assert status == 0, said
            taken.append((out, before))
    finally:
        await violating
    for out, before in taken:
        assert _read(out, "PRAGMA integrity_check") == [("ok",)]
        assert before <= {int(r[0]) for r in _read(out, "SELECT id FROM cases")}
    assert len(taken[-1][1]) > len(taken[0][1]), "the service wrote between the backups"

    # `my data` in a Discord DM: what is held about the member, and nothing of its text.
    person = await community.linked_person("curious")
    await community.matrix_command(
        f"!warn {person.matrix.user_id} please keep it civil",
        lambda n: person.matrix.user_id in n and "warn" in n.lower(),
    )
    dm = community.sim.open_dm(person.discord, community.bot)
    community.sim.post_message(person.discord, dm, "my data")
    answers: list[str] = []

    async def answered() -> bool:
        answers[:] = [
            m.content
            for m in community.sim.messages_in(dm)
            if m.author_id == community.bot.id and "Cases about you" in m.content
        ]
        return bool(answers)  # fmt: skip

    await eventually(answered, "the bot's answer to `my data`")
    print(answers[0])
    assert f"{person.discord_key}, matrix:{person.matrix.user_id}" in answers[0]
    assert "from a moderator): open" in answers[0]
    assert "keep it civil" not in answers[0]
    await community.stop()


def _read(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()
