"""One community across platforms: `modbridge run` serving two Discord guilds (the simulator)
and fifty Matrix rooms (a real Synapse) at once, as members and moderators see it.

One Synapse, one Discord simulator (in this module's event loop) and one service process
serve the module. Every scenario takes its own freshly linked member, so a ban in one does
not colour the next; the crash scenario replaces the service process, the outage scenario
takes Synapse away for a while.
"""

from __future__ import annotations

import asyncio
import sys
import time
from asyncio.subprocess import PIPE, STDOUT
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from nio import RoomSendError, RoomSendResponse

from devtools.discord_simulator import DiscordSimulator, SimulatorError
from tests.e2e.community_helpers import (
    PHONE,
    WAIT,
    Community,
    Person,
    ban_events,
    build_community,
    eventually,
)
from tests.e2e.matrix_helpers import send_text
from tests.e2e.service_helpers import is_redacted
from tests.e2e.synapse import PROJECT_ROOT, SynapseServer

pytestmark = [pytest.mark.synapse, pytest.mark.asyncio(loop_scope="module")]

GUILDS = 2
ROOMS = 50
OUTAGE = 30.0  # seconds Synapse is away in scenario 6


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def community(
    synapse: SynapseServer, sim: DiscordSimulator, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Community]:
    started = time.monotonic()
    built = await build_community(
        synapse, sim, tmp_path_factory.mktemp("community"), guilds=GUILDS, rooms=ROOMS
    )
    print(
        f"community of {GUILDS} guilds and {ROOMS} rooms built in {time.monotonic() - started:.2f}s"
    )
    try:
        up = await built.start()
        print(f"service up in {up:.2f}s")
        yield built
    finally:
        built.service.kill()
    crashed = [r for r in sim.requests.requests if r.status >= 500 and not r.injected]
    assert not crashed, crashed


@pytest_asyncio.fixture(loop_scope="module")
async def running(community: Community) -> Community:
    await community.ensure_running()
    return community


def _refused(answer: object) -> bool:
    return isinstance(answer, RoomSendError) and answer.status_code == "M_FORBIDDEN"


async def _matrix_send(community: Community, person: Person, room: str, text: str) -> object:
    client = community.client(person.matrix)
    try:
        return await send_text(client, room, text)
    finally:
        await client.close()


def _discord_can_post(community: Community, person: Person, index: int) -> bool:
    try:
        community.sim.post_message(person.discord, community.general[index], "hello?")
    except SimulatorError:
        return False
    return True


# -- linking, the way a member does it -----------------------------------------------------------


async def test_member_links_accounts_by_direct_messages(running: Community) -> None:
    person = await running.add_person("linker")
    answer = await running.link_by_dm(person)
    assert answer == (
        f"Linked: {person.discord_key} and matrix:{person.matrix.user_id} are now one member."
    )


# -- 1. a mute given on Discord reaches Matrix ---------------------------------------------------


async def test_discord_mute_silences_the_member_on_matrix(running: Community) -> None:
    community = running
    person = await community.add_person("chatty")
    await community.link_by_dm(person)
    started = time.monotonic()
    handle = community.slash(
        "mod mute", {"member": person.discord, "duration": "10m", "reason": "cool down"}
    )
    answer = await handle.wait_for_content(timeout=WAIT)
    took = time.monotonic() - started
    print(f"/mod mute answered in {took:.2f}s:\n{answer}")
    assert handle.ephemeral
    assert f"{person.name} ({person.discord_key}) muted for 10m" in answer
    for guild in community.guilds:
        assert f"done: mute in {guild.name} (Discord)" in answer, answer
    # Fifty rooms are counted rather than listed: the answer must fit Discord's 2000 characters.
    assert f"done: mute in {ROOMS} Matrix rooms" in answer, answer
    assert "FAILED" not in answer
    assert "pending" not in answer

    assert community.timed_out_guilds(person) == community.guilds
    assert not _discord_can_post(community, person, 0)
    for room in (community.rooms[0], community.rooms[-1]):
        refused = await _matrix_send(community, person, room, "can I talk?")
        assert _refused(refused), refused


# -- 2. a ban given on Matrix removes the member from every guild and room -----------------------


async def test_matrix_ban_removes_the_member_everywhere(running: Community) -> None:
    community = running
    person = await community.linked_person("raider")
    user_id = person.matrix.user_id
    answer = await community.matrix_command(
        f"!ban {user_id} raiding", lambda n: f"{user_id}) banned" in n
    )
    print(answer)
    for guild in community.guilds:
        assert f"done: ban in {guild.name} (Discord)" in answer, answer
    assert f"done: ban in {ROOMS} Matrix rooms" in answer, answer

    assert community.banned_guilds(person) == community.guilds
    for guild in community.guilds:
        assert community.sim.member(guild, person.discord) is None
        with pytest.raises(SimulatorError, match="is banned"):
            community.sim.add_member(guild, person.discord)
    memberships = await community.memberships(person)
    assert set(memberships.values()) == {"ban"}, memberships
    member = community.client(person.matrix)
    try:
        refused = await member.join(community.rooms[7])
    finally:
        await member.close()
    assert "banned" in getattr(refused, "message", ""), refused


# -- 3. leaving and rejoining does not shake off a mute -----------------------------------------


async def test_mute_is_reapplied_after_leaving_and_rejoining(running: Community) -> None:
    community = running
    person = await community.linked_person("evader")
    handle = community.slash(
        "mod mute", {"member": person.discord, "duration": "10m", "reason": "evading"}
    )
    answer = await handle.wait_for_content(timeout=WAIT)
    assert f"done: mute in {ROOMS} Matrix rooms" in answer, answer
    room, guild = community.rooms[5], community.guilds[1]

    # Matrix: the member leaves; while they are away a room admin tidies the power levels
    # (Element drops the entry of someone who left), so only the service can mute them again.
    member = community.client(person.matrix)
    admin = community.client(community.matrix_bot)
    try:
        await member.room_leave(room)
        levels = await admin.room_get_state_event(room, "m.room.power_levels")
        content = dict(levels.content)
        users = dict(content.get("users", {}))
        assert users.pop(person.matrix.user_id) < 0  # it was the mute
        content["users"] = users
        await admin.room_put_state(room, "m.room.power_levels", content)
        rejoined = await member.join(room)
        assert getattr(rejoined, "room_id", None) == room, rejoined

        async def muted_again() -> bool:
            return _refused(await send_text(member, room, "I am back"))

        took = await eventually(muted_again, "the mute re-applied in the Matrix room")
        print(f"Matrix mute re-applied {took:.2f}s after the rejoin")
    finally:
        await member.close()
        await admin.close()

    # Discord: leave and join again (a new membership comes without the timeout).
    community.sim.remove_member(guild, person.discord)
    community.sim.add_member(guild, person.discord)

    async def timed_out_again() -> bool:
        return community.sim.is_timed_out(guild, person.discord)

    took = await eventually(timed_out_again, "the Discord timeout re-applied")
    print(f"Discord timeout re-applied {took:.2f}s after the rejoin")
    assert not _discord_can_post(community, person, 1)


# -- 4. the engine's own action fans out to the other platform ----------------------------------


async def test_doxxing_on_matrix_bans_the_discord_account_too(running: Community) -> None:
    community = running
    person = await community.linked_person("doxxer")
    room = community.rooms[3]
    sent = await _matrix_send(community, person, room, f"her number is {PHONE}, call her")
    assert isinstance(sent, RoomSendResponse), sent

    async def banned_on_discord() -> bool:
        return community.banned_guilds(person) == community.guilds

    took = await eventually(banned_on_discord, "the Discord bans after a phone number on Matrix")
    print(f"doxxing on Matrix -> banned in both guilds after {took:.2f}s")
    observer = community.client(community.observer)
    try:
        await eventually(
            lambda: is_redacted(observer, room, sent.event_id), "the phone number redacted"
        )
    finally:
        await observer.close()

    async def banned_everywhere() -> bool:
        return len(await community.banned_rooms(person)) == ROOMS

    await eventually(banned_everywhere, "the Matrix bans in every room")


# -- 5. SIGKILL in the middle of a 50-room fan-out ------------------------------------------------

_CRASH: dict[str, Person] = {}


async def test_kill_mid_fanout_carries_nothing_out_twice(running: Community) -> None:
    community = running
    person = await community.linked_person("crashed")
    user_id = person.matrix.user_id
    log_before = len(community.service.log())
    moderator = community.client(community.matrix_mod)
    try:
        sent = await send_text(moderator, community.mod_room, f"!ban {user_id} spam wave")
        assert isinstance(sent, RoomSendResponse), sent
    finally:
        await moderator.close()

    async def first_room_banned() -> bool:
        return "done: ban matrix in" in community.service.log()[log_before:]

    await eventually(first_room_banned, "the first Matrix ban of the fan-out", within=WAIT)
    community.service.kill()  # SIGKILL
    at_kill = await community.banned_rooms(person)
    print(f"killed with {len(at_kill)} of {ROOMS} rooms banned")
    assert 0 < len(at_kill) < ROOMS

    up = await community.start()
    print(f"service up again {up:.2f}s after the kill")
    await asyncio.sleep(5.0)  # what the restart is going to do by itself, it does now
    _CRASH["person"] = person

    observer = community.client(community.observer)
    try:
        counts = await asyncio.gather(
            *(ban_events(observer, room, user_id) for room in community.rooms)
        )
    finally:
        await observer.close()
    per_room = dict(zip(community.rooms, counts, strict=True))
    banned = await community.banned_rooms(person)
    print(f"5 s after the restart: {len(banned)} of {ROOMS} rooms show the ban")
    assert set(at_kill) <= set(banned)
    assert all(per_room[room] == 1 for room in banned), per_room
    assert all(per_room[room] == 0 for room in community.rooms if room not in banned), per_room
    for guild in community.guilds:
        assert community.ban_requests(person, guild) <= 1, guild.id


async def test_kill_mid_fanout_every_room_ends_banned(running: Community) -> None:
    community = running
    person = _CRASH.get("person")
    if person is None:
        pytest.fail("needs the kill of the scenario before it: run the whole module")

    async def all_banned() -> bool:
        return len(await community.banned_rooms(person)) == ROOMS

    await eventually(all_banned, "every room to show the ban after the restart", within=20.0)
    observer = community.client(community.observer)
    try:
        counts = await asyncio.gather(
            *(ban_events(observer, room, person.matrix.user_id) for room in community.rooms)
        )
    finally:
        await observer.close()
    assert set(counts) == {1}, counts
    assert community.banned_guilds(person) == community.guilds
    for guild in community.guilds:
        assert community.ban_requests(person, guild) == 1, guild.id


# -- 6. Synapse away during a fan-out ------------------------------------------------------------


async def test_homeserver_outage_loses_nothing(running: Community) -> None:
    community = running
    person = await community.linked_person("outage")
    await asyncio.to_thread(community.server.stop)
    stopped = time.monotonic()
    try:
        handle = community.slash("mod ban", {"member": person.discord, "reason": "spam while away"})
        answer = await handle.wait_for_content(timeout=WAIT)
        print(f"/mod ban while Synapse is down:\n{answer}")
        # Discord goes through meanwhile; Matrix waits, and the moderator is told so.
        assert community.banned_guilds(person) == community.guilds
        for guild in community.guilds:
            assert f"done: ban in {guild.name} (Discord)" in answer, answer
        assert f"pending, will retry: ban in {ROOMS} Matrix rooms (e.g. " in answer, answer
        assert "FAILED" not in answer
        await asyncio.sleep(max(0.0, OUTAGE - (time.monotonic() - stopped)))
    finally:
        await asyncio.to_thread(community.server.start)
    print(f"Synapse was away for {time.monotonic() - stopped:.1f}s")
    back = time.monotonic()

    async def all_banned() -> bool:
        return len(await community.banned_rooms(person)) == ROOMS

    # The worker's backoff doubles (1, 2, 4 ... s): the last retry before Synapse came back may
    # have been scheduled up to about OUTAGE seconds later.
    await eventually(all_banned, "every room to show the ban after the outage", within=OUTAGE + 30)
    print(f"every Matrix room showed the ban {time.monotonic() - back:.2f}s after Synapse was back")
    observer = community.client(community.observer)
    try:
        counts = await asyncio.gather(
            *(ban_events(observer, room, person.matrix.user_id) for room in community.rooms)
        )
    finally:
        await observer.close()
    assert set(counts) == {1}, counts
    for guild in community.guilds:
        assert community.ban_requests(person, guild) == 1, guild.id


# -- 7. two moderators ban the same member at once ------------------------------------------------


async def test_two_moderators_ban_at_once(running: Community) -> None:
    community = running
    person = await community.linked_person("twice")
    user_id = person.matrix.user_id
    handle = community.slash("mod ban", {"member": person.discord, "reason": "spam (discord mod)"})
    matrix_answer, discord_answer = await asyncio.gather(
        community.matrix_command(
            f"!ban {user_id} spam (matrix mod)", lambda n: "banned" in n and user_id in n
        ),
        handle.wait_for_content(timeout=WAIT),
    )
    print(f"Matrix moderator read:\n{matrix_answer}\nDiscord moderator read:\n{discord_answer}")
    # Each command opens its own case (they have different origins); the second case's
    # actions find the member banned already and do nothing at the platforms.
    cases = {answer.split(":", 1)[0] for answer in (matrix_answer, discord_answer)}
    assert len(cases) == 2, cases
    # Whoever came second is told that nothing changed, not that a second ban was done.
    assert "already so" in matrix_answer + discord_answer
    assert community.banned_guilds(person) == community.guilds
    assert len(await community.banned_rooms(person)) == ROOMS
    requests = {g.id: community.ban_requests(person, g) for g in community.guilds}
    observer = community.client(community.observer)
    try:
        counts = await asyncio.gather(
            *(ban_events(observer, room, user_id) for room in community.rooms)
        )
    finally:
        await observer.close()
    print(f"PUT /bans per guild: {requests}; ban events per room: {sorted(set(counts))}")
    assert set(requests.values()) == {1}, requests
    assert set(counts) == {1}, counts


# -- a refused Discord token ----------------------------------------------------------------------


async def test_refused_discord_token_stops_the_service_with_a_reason(
    community: Community, tmp_path: Path
) -> None:
    token = "refused-token-do-not-print"
    env = {
        **community.service.env,
        "MODBRIDGE_DISCORD__TOKEN": token,
        "MODBRIDGE_STORAGE__PATH": str(tmp_path / "other.db"),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli.main", "run", "--config", str(community.config),
        cwd=PROJECT_ROOT, env=env, stdout=PIPE, stderr=STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), 30)
    text = output.decode(errors="replace")
    assert process.returncode == 2, text
    assert "the Discord connection failed: Discord refused the bot token (401)" in text
    assert "Traceback" not in text
    assert token not in text
