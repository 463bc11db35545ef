"""`modbridge run` as an admin runs it, against a real Synapse: what members and moderators see.

One Synapse and one test community serve the module; the service is the real command in a
subprocess (`python -m cli.main run --config PATH`). The tests run in order and share the
service process: the restart tests replace it, the homeserver restart comes late because it
takes Synapse away from everyone for a moment, and the log privacy check comes last because
it reads everything the service logged.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from nio import (
    AsyncClient,
    JoinError,
    JoinResponse,
    RoomPreset,
    RoomPutStateResponse,
    RoomSendError,
    RoomSendResponse,
    RoomVisibility,
)

from tests.e2e.matrix_helpers import bodies, client_for, membership, new_room, send_text
from tests.e2e.service_helpers import (
    WAIT,
    Cast,
    Rooms,
    ServiceProcess,
    accept_invites,
    config_text,
    eventually,
    is_redacted,
    notices,
    replace_file,
    run_cli,
    service_env,
)
from tests.e2e.synapse import SynapseServer

pytestmark = pytest.mark.synapse

PHONE = "0712 345 678"
CLAUSE = "Insults, threats, or demeaning comments, in person or online"


@dataclass
class World:
    """The homeserver, the people, the rooms, the config file and the running service."""

    server: SynapseServer
    cast: Cast
    rooms: Rooms
    config: Path
    storage: Path
    service: ServiceProcess
    said: list[str] = field(default_factory=list)  # every text a person sent
    first_violation: tuple[str, str] = ("", "")  # (room, event id) of scenario 1
    warning: str = ""  # the warning the member read in scenario 1

    def write_config(self, words: tuple[str, ...] = ("idiot",)) -> None:
        text = config_text(
            homeserver=self.server.base_url, cast=self.cast, rooms=self.rooms, words=words
        )
        replace_file(self.config, text)

    def ensure_running(self) -> None:
        if not self.service.running:
            self.service.start()


@dataclass
class People:
    """A nio client per person (the bot's own account is the service's)."""

    member: AsyncClient
    member2: AsyncClient
    moderator: AsyncClient
    observer: AsyncClient
    outsider: AsyncClient
    world: World

    async def say(self, who: AsyncClient, room_id: str, text: str) -> RoomSendResponse:
        """Send ``text`` and insist that the homeserver took it."""
        self.world.said.append(text)
        response = await send_text(who, room_id, text)
        assert isinstance(response, RoomSendResponse), response
        return response

    async def try_say(self, who: AsyncClient, room_id: str, text: str) -> object:
        """Send ``text``; return the homeserver's answer, success or refusal."""
        self.world.said.append(text)
        return await send_text(who, room_id, text)

    async def command(
        self, text: str, expect: Callable[[str], bool], *, who: AsyncClient | None = None
    ) -> str:
        """Type ``text`` in the mod room; return the bot's first new notice that ``expect``s."""
        room = self.world.rooms.mod
        before = len(await notices(self.moderator, room))
        await self.say(who or self.moderator, room, text)
        found: list[str] = []

        async def answered() -> bool:
            found[:] = [n for n in (await notices(self.moderator, room))[before:] if expect(n)]
            return bool(found)

        await eventually(answered, f"the bot's answer to {text!r}")
        return found[0]


def _refused(answer: object) -> bool:
    """A send the homeserver refused for lack of permission."""
    return isinstance(answer, RoomSendError) and answer.status_code == "M_FORBIDDEN"


def _join_refused(answer: object) -> bool:
    """A join refused because of a ban (Synapse 1.163 says M_BAD_STATE; others M_FORBIDDEN)."""
    return (
        isinstance(answer, JoinError)
        and answer.status_code in ("M_FORBIDDEN", "M_BAD_STATE")
        and "banned" in answer.message
    )


async def _build_community(server: SynapseServer, cast: Cast) -> Rooms:
    """The bot makes every room (so it may act in them); the people join them."""
    bot = client_for(server, cast.bot)
    joiners = [client_for(server, u) for u in (cast.member, cast.member2, cast.observer)]
    staff = [client_for(server, u) for u in (cast.moderator, cast.outsider)]
    try:
        public = {"preset": RoomPreset.public_chat, "visibility": RoomVisibility.public}
        general = await new_room(bot, alias="general", name="General", **public)
        random = await new_room(bot, name="Random", **public)
        space = await new_room(bot, name="Community", space=True, **public)
        child = await new_room(bot, name="Space child", **public)
        put = await bot.room_put_state(
            space, "m.space.child", {"via": ["localhost"]}, state_key=child
        )
        assert isinstance(put, RoomPutStateResponse), put
        mod = await new_room(
            bot,
            name="Moderators",
            preset=RoomPreset.private_chat,
            invite=[cast.moderator.user_id, cast.outsider.user_id],
        )
        for client in joiners:
            for room_id in (general, random, space, child):
                assert isinstance(await client.join(room_id), JoinResponse)
        for client in staff:
            assert isinstance(await client.join(mod), JoinResponse)
        return Rooms(
            general=general,
            general_alias="#general:localhost",
            random=random,
            space=space,
            child=child,
            mod=mod,
        )
    finally:
        for client in (bot, *joiners, *staff):
            await client.close()


@pytest.fixture(scope="module")
def world(synapse: SynapseServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    started = time.monotonic()
    register = synapse.register
    cast = Cast(
        bot=register("modbot"),
        member=register("member"),
        member2=register("member2"),
        moderator=register("moderator"),
        observer=register("observer"),
        outsider=register("outsider"),
    )
    rooms = asyncio.run(_build_community(synapse, cast))
    tmp = tmp_path_factory.mktemp("service")
    storage = tmp / "modbridge.db"
    env = service_env(storage, MODBRIDGE_MATRIX__PASSWORD=cast.bot.password)
    world = World(
        server=synapse,
        cast=cast,
        rooms=rooms,
        config=tmp / "modbridge.toml",
        storage=storage,
        service=ServiceProcess(tmp / "modbridge.toml", env, tmp / "service.log"),
    )
    world.write_config()
    print(f"community ready in {time.monotonic() - started:.2f}s")
    try:
        yield world
    finally:
        world.service.kill()


@asynccontextmanager
async def people_of(world: World) -> AsyncIterator[People]:
    cast, server = world.cast, world.server
    people = People(
        member=client_for(server, cast.member),
        member2=client_for(server, cast.member2),
        moderator=client_for(server, cast.moderator),
        observer=client_for(server, cast.observer),
        outsider=client_for(server, cast.outsider),
        world=world,
    )
    clients = (people.member, people.member2, people.moderator, people.observer, people.outsider)
    try:
        yield people
    finally:
        for client in clients:
            await client.close()


@pytest.fixture
async def people(world: World) -> AsyncIterator[People]:
    world.ensure_running()
    async with people_of(world) as people:
        yield people


async def _redacted_soon(people: People, room_id: str, event_id: str, what: str) -> float:
    return await eventually(
        lambda: is_redacted(people.observer, room_id, event_id), f"{what} to be redacted"
    )


def _about(member: str, verb: str) -> Callable[[str], bool]:
    """The bot's answer to a command on ``member``: "Case #n: name (@id) <verb> ..."."""
    return lambda n: n.startswith("Case #") and f"{member}) {verb}" in n


ROOM_NAMES = ("General", "Random", "Community", "Space child")  # as _build_community names them


def _done_everywhere(answer: str, kind: str, rooms: Rooms) -> None:
    """The answer names every protected room, by name (the bot does not show room ids)."""
    assert len(rooms.protected) == len(ROOM_NAMES)
    for name in ROOM_NAMES:
        assert f"done: {kind} in {name} (Matrix)" in answer, answer


# -- 1. a violation: redacted, the member warned, the moderators told ---------------------------


async def test_violation_is_redacted_warned_and_reported(world: World, people: People) -> None:
    rooms = world.rooms
    sent = await people.say(people.member, rooms.general, "you are an idiot")
    world.first_violation = (rooms.general, sent.event_id)
    took = await _redacted_soon(people, rooms.general, sent.event_id, "the insult")
    print(f"insult redacted after {took:.2f}s")

    dm: list[str] = []

    async def warned() -> bool:
        dm.extend(await accept_invites(people.member))
        return bool(dm) and any(CLAUSE in b for b in await bodies(people.member, dm[0]))

    await eventually(warned, "the warning in a direct room")
    warning = next(b for b in await bodies(people.member, dm[0]) if CLAUSE in b)
    assert f"> {CLAUSE}" in warning  # the clause is quoted
    world.warning = warning

    async def reported() -> bool:
        return any(
            n.startswith("Case #1:") and sent.event_id in n
            for n in await notices(people.moderator, rooms.mod)
        )

    await eventually(reported, "Case #1 in the mod room")

    # A phone number in the space's child room (protected only through the space).
    pii = await people.say(people.member2, rooms.child, f"call her on {PHONE}")
    await _redacted_soon(people, rooms.child, pii.event_id, "the phone number")
    mod_notices = await notices(people.moderator, rooms.mod)
    assert any(pii.event_id in n and "contact-details" in n for n in mod_notices), mod_notices
    assert all(PHONE not in n for n in mod_notices)

    # A clean message stays.
    clean = await people.say(people.member, rooms.random, "good morning everyone")
    await asyncio.sleep(1.0)
    assert not await is_redacted(people.observer, rooms.random, clean.event_id)


# -- 2. a timed mute by command ---------------------------------------------------------------


async def test_mute_command_silences_then_lifts(world: World, people: People) -> None:
    rooms, member = world.rooms, world.cast.member.user_id
    started = time.monotonic()
    answer = await people.command(f"!mute {member} 3s spamming", _about(member, "muted for"))
    _done_everywhere(answer, "mute", rooms)
    for room_id in (rooms.general, rooms.child):
        refused = await people.try_say(people.member, room_id, "can I talk?")
        assert _refused(refused), refused

    async def can_send() -> bool:
        answer = await people.try_say(people.member, rooms.general, "back again")
        return isinstance(answer, RoomSendResponse)

    await eventually(can_send, "the mute to end", within=10.0)
    lifted = time.monotonic() - started
    print(f"3s mute lifted {lifted:.2f}s after the command")
    assert lifted >= 3.0 - 0.5
    assert isinstance(await send_text(people.member, rooms.child, "and here"), RoomSendResponse)


# -- 3. ban, unban, remove -----------------------------------------------------------------------


async def test_ban_unban_and_remove(world: World, people: People) -> None:
    rooms, member = world.rooms, world.cast.member.user_id
    answer = await people.command(f"!ban {member} raid", _about(member, "banned"))
    _done_everywhere(answer, "ban", rooms)
    for room_id in rooms.protected:
        assert await membership(people.observer, room_id, member) == "ban"
        refused = await people.member.join(room_id)
        assert _join_refused(refused), (room_id, refused)

    answer = await people.command(f"!unban {member}", _about(member, "unbanned"))
    _done_everywhere(answer, "unban", rooms)
    for room_id in rooms.protected:
        joined = await people.member.join(room_id)
        assert isinstance(joined, JoinResponse), (room_id, joined)

    answer = await people.command(f"!remove {member} flooding", _about(member, "kicked"))
    _done_everywhere(answer, "kick", rooms)
    for room_id in rooms.protected:
        assert await membership(people.observer, room_id, member) == "leave"
    # Removed, not banned: they may come back (and the next scenarios need them).
    for room_id in rooms.protected:
        assert isinstance(await people.member.join(room_id), JoinResponse)


# -- 4. commands from non-moderators, unknown commands, bad arguments -----------------------------


async def test_refused_and_malformed_commands(world: World, people: People) -> None:
    rooms, member = world.rooms, world.cast.member.user_id
    answer = await people.command(
        f"!ban {member} raid", lambda n: "Only moderators" in n, who=people.outsider
    )
    assert answer == "Only moderators can use moderation commands."
    await asyncio.sleep(1.0)
    assert await membership(people.observer, rooms.general, member) == "join"
    await people.say(people.member, rooms.general, "still here")

    # The same command in a direct room with the bot: answered, and still nothing happens.
    dm = await new_room(
        people.outsider, is_direct=True, invite=[world.cast.bot.user_id],
        preset=RoomPreset.trusted_private_chat,
    )  # fmt: skip

    async def bot_joined() -> bool:
        return await membership(people.outsider, dm, world.cast.bot.user_id) == "join"

    await eventually(bot_joined, "the bot to accept the direct room")
    await people.say(people.outsider, dm, f"!ban {member} raid")

    async def dm_answered() -> bool:
        return bool(await notices(people.outsider, dm))

    await eventually(dm_answered, "the bot's answer in the direct room")
    assert await notices(people.outsider, dm) == ["Only moderators can use moderation commands."]
    await asyncio.sleep(1.0)
    assert await membership(people.observer, rooms.general, member) == "join"

    answer = await people.command("!frobnicate now", lambda n: "frobnicate" in n)
    assert answer == "Unknown command !frobnicate; !help lists them all."  # one line
    answer = await people.command("!bna now", lambda n: "!bna" in n)
    assert answer == "Unknown command !bna; did you mean !ban? !help lists them all."

    answer = await people.command(f"!mute {member} soon spamming", lambda n: "Usage" in n)
    assert "Usage: !mute <member> <duration" in answer
    answer = await people.command("!ban", lambda n: "Usage" in n)
    assert answer == "Usage: !ban <member> [duration] [reason] [--purge <duration>] [--local]"
    assert await membership(people.observer, rooms.general, member) == "join"


async def test_an_answer_too_long_for_one_event_arrives_in_parts(
    world: World, people: People
) -> None:
    """Matrix events are at most 64 KiB: a case with many long notes is sent in pieces."""
    clef = "\N{MUSICAL SYMBOL G CLEF}"
    member = world.cast.member.user_id
    opened = await people.command(
        f"!warn {member} please keep it civil", lambda n: n.startswith("Case #")
    )
    case = opened.split(":", 1)[0].removeprefix("Case #")
    too_long = await people.command(f"!note {case} {'y' * 2001}", lambda n: "at most" in n)
    assert too_long == "A note is at most 2,000 characters; this one has 2,001."
    # Nine notes of 1,990 four-byte characters: 72 KB of UTF-8, more than one event holds.
    for n in range(9):
        await people.command(f"!note {case} {n}{clef * 1989}", lambda t: "Note added" in t)
    room = world.rooms.mod
    before = len(await notices(people.moderator, room))
    await people.say(people.moderator, room, f"!case {case}")
    parts: list[str] = []

    async def answered() -> bool:
        parts[:] = (await notices(people.moderator, room))[before:]
        return len(parts) >= 2 and all(f"{n}{clef * 1989}" in "".join(parts) for n in range(9))

    await eventually(answered, "the case, in parts")
    assert parts[0].startswith(f"Case #{case} (open)")
    assert all(len(p) <= 10_000 for p in parts)


# -- 7. policy reload ---------------------------------------------------------------------------


async def test_policy_reload_refuses_a_bad_file_and_takes_a_good_one(
    world: World, people: People
) -> None:
    rooms = world.rooms
    before = len(await notices(people.moderator, rooms.mod))
    replace_file(
        world.config, world.config.read_text() + "\n[[rules]]\nid = 'broken'\nkind = 'nope'\n"
    )

    async def told(text: str) -> bool:
        return any(text in n for n in (await notices(people.moderator, rooms.mod))[before:])

    await eventually(lambda: told("The new policy was refused"), "the refusal notice")
    sent = await people.say(people.member2, rooms.random, "what an idiot")
    await _redacted_soon(people, rooms.random, sent.event_id, "an insult under the old policy")

    before = len(await notices(people.moderator, rooms.mod))
    world.write_config(words=("idiot", "nincompoop"))
    await eventually(lambda: told("Policy reloaded: 2 rules in force."), "the reload notice")
    sent = await people.say(people.member2, rooms.random, "you nincompoop")
    await _redacted_soon(people, rooms.random, sent.event_id, "the newly forbidden word")


async def test_sighup_reloads_a_policy_the_watcher_cannot_see_change(
    world: World, people: People
) -> None:
    """An edit that keeps the file's size and time (a copy with `cp -p`, a clock skew): the
    watcher sees nothing, SIGHUP makes the service read it anyway."""
    rooms = world.rooms
    world.write_config(words=("idiot", "nincompoop"))
    await asyncio.sleep(3.0)  # whatever that write makes the watcher do, it has done
    before = len(await notices(people.moderator, rooms.mod))
    stat = world.config.stat()
    text = world.config.read_text()
    assert "nincompoop" in text
    world.config.write_text(text.replace("nincompoop", "dunderhead"))  # same size
    os.utime(world.config, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same time
    world.service.hang_up()

    async def reloaded() -> bool:
        fresh = (await notices(people.moderator, rooms.mod))[before:]
        return any("Policy reloaded: 2 rules in force." in n for n in fresh)

    await eventually(reloaded, "the reload notice after SIGHUP")
    sent = await people.say(people.member2, rooms.random, "you dunderhead")
    await _redacted_soon(people, rooms.random, sent.event_id, "the word the SIGHUP brought in")


# -- 5. restart of the service ------------------------------------------------------------------


async def test_restart_keeps_timers_and_catches_up(world: World, people: People) -> None:
    rooms, member = world.rooms, world.cast.member.user_id
    muted_at = time.monotonic()
    answer = await people.command(f"!mute {member} 6s cooling off", _about(member, "muted for"))
    _done_everywhere(answer, "mute", rooms)

    status, took = world.service.terminate()
    print(f"service stopped in {took:.2f}s")
    assert status == 0
    assert took < 5.0
    assert "modbridge stopped" in world.service.log()

    # While the service is down: the mute holds, and a violation goes unjudged for now.
    assert _refused(await people.try_say(people.member, rooms.general, "am I free?"))
    missed = await people.say(people.member2, rooms.random, "you idiot, nobody is watching")

    # The second run logs in with an access token instead of the password.
    world.service.env.pop("MODBRIDGE_MATRIX__PASSWORD")
    world.service.env["MODBRIDGE_MATRIX__ACCESS_TOKEN"] = world.cast.bot.access_token
    up = world.service.start()
    print(f"service up again in {up:.2f}s")

    took = await _redacted_soon(people, rooms.random, missed.event_id, "the missed insult")
    print(f"message sent while down redacted {took:.2f}s after the restart")

    async def can_send() -> bool:
        answer = await people.try_say(people.member, rooms.general, "free again")
        return isinstance(answer, RoomSendResponse)

    await eventually(can_send, "the 6s mute to end after the restart", within=15.0)
    lifted = time.monotonic() - muted_at
    print(f"6s mute lifted {lifted:.2f}s after the command, across a restart")
    assert 6.0 - 0.5 <= lifted <= 6.0 + 6.0

    # Nothing is judged twice: one notice for the missed message, one for scenario 1's.
    await asyncio.sleep(1.0)
    mod_notices = await notices(people.moderator, rooms.mod)
    first_room, first_event = world.first_violation
    assert first_event
    assert sum(missed.event_id in n for n in mod_notices) == 1, mod_notices
    assert sum(first_event in n for n in mod_notices) == 1, mod_notices
    assert await is_redacted(people.observer, first_room, first_event)


# -- 6. restart of the homeserver ---------------------------------------------------------------


async def test_homeserver_restart(world: World) -> None:
    world.ensure_running()
    started = time.monotonic()
    world.server.restart()
    print(f"Synapse restarted in {time.monotonic() - started:.2f}s")
    assert world.service.running
    async with people_of(world) as people:
        sent = await people.say(people.member2, world.rooms.general, "idiot, after the restart")
        took = await eventually(
            lambda: is_redacted(people.observer, world.rooms.general, sent.event_id),
            "an insult after the homeserver restart to be redacted",
            within=WAIT + 30.0,
        )
    print(f"insult after the homeserver restart redacted in {took:.2f}s")
    assert world.service.running


# -- what the warning says ----------------------------------------------------------------------


def test_warning_names_where_it_comes_from(world: World) -> None:
    if not world.warning:
        pytest.fail("needs the warning of the first scenario: run the whole module")
    assert "moderators of :" not in world.warning
    assert "A warning from the moderators of Test community:" in world.warning


# -- 8. configuration errors ----------------------------------------------------------------------


def test_run_refuses_a_config_without_platform_or_secret(world: World, tmp_path: Path) -> None:
    storage = tmp_path / "db.sqlite"
    config = tmp_path / "bare.toml"
    config.write_text('[community]\nname = "x"\n')
    status, output = run_cli(["run", "--config", str(config)], service_env(storage))
    assert status == 2, output
    assert "no platform is configured" in output
    assert "[matrix]" in output
    assert "[discord]" in output
    assert "Traceback" not in output

    config.write_text(world.config.read_text())
    status, output = run_cli(["run", "--config", str(config)], service_env(storage))
    assert status == 2, output
    assert "MODBRIDGE_MATRIX__PASSWORD" in output
    assert "MODBRIDGE_MATRIX__ACCESS_TOKEN" in output
    assert "Traceback" not in output

    # A password written in the file is refused without being repeated.
    secret = "hunter2-do-not-print"
    config.write_text(
        world.config.read_text().replace("[matrix]\n", f'[matrix]\npassword = "{secret}"\n')
    )
    status, output = run_cli(["run", "--config", str(config)], service_env(storage))
    assert status == 2, output
    assert "matrix.password must not be written in the file" in output
    assert secret not in output

    # Both secrets in the environment, and a config with a mistake: neither is printed.
    config.write_text(world.config.read_text().replace("mod_room", "mod_rooom"))
    env = service_env(
        storage,
        MODBRIDGE_MATRIX__PASSWORD=secret,
        MODBRIDGE_MATRIX__ACCESS_TOKEN=secret + "-token",
    )
    status, output = run_cli(["run", "--config", str(config)], env)
    assert status == 2, output
    assert "mod_rooom" in output
    assert secret not in output
    assert not storage.exists()  # nothing was started

    # A password the homeserver refuses: the service says so and exits, it does not idle on.
    wrong = "wrong-password-do-not-print"
    env = service_env(tmp_path / "other.sqlite", MODBRIDGE_MATRIX__PASSWORD=wrong)
    started = time.monotonic()
    status, output = run_cli(["run", "--config", str(world.config)], env)
    assert status == 2, output
    assert time.monotonic() - started < 10.0
    assert "the Matrix connection failed" in output
    assert "Invalid username or password" in output
    assert wrong not in output


# -- 9. privacy of the log ------------------------------------------------------------------------


def test_service_log_holds_no_message_text_nor_secret(world: World) -> None:
    if not world.said:
        pytest.fail("reads the log of the scenarios before it: run the whole module")
    log = world.service.log_path.read_text(errors="replace")
    assert "modbridge running" in log  # the log is the service's, and it was written
    assert "Traceback" not in log  # a traceback would carry local values, text included
    for text in [*world.said, "idiot", "nincompoop", PHONE, PHONE.replace(" ", "")]:
        if text.startswith("!"):
            continue  # commands name the member on purpose; checked below by their reasons
        assert text not in log, f"the service logged a member's text: {text!r}"
    for reason in ("spamming", "cooling off", "flooding", "raid"):
        assert reason not in log
    with closing(sqlite3.connect(world.storage)) as db:
        stored = [v for (v,) in db.execute("SELECT value FROM kv WHERE key LIKE '%access_token%'")]
    for secret in (world.cast.bot.password, world.cast.bot.access_token, *stored):
        assert secret not in log, "the service logged a secret"
