"""`modbridge run` in encrypted rooms and direct chats, against a real Synapse.

The members, the moderator and the reporter use matrix-nio clients with encryption on, each
with its own crypto store, as Element would: they can only read what the bot encrypted for
their devices, and the bot can only judge what their clients shared a key for. The tests
share one service and run in order (the restart comes after the first messages, the count of
unreadable messages last).
"""

from __future__ import annotations

import asyncio
import json
import stat
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from nio import (
    JoinResponse,
    RoomPreset,
    RoomSendError,
    RoomSendResponse,
    RoomVisibility,
)

from tests.e2e.crypto_helpers import (
    ENCRYPTION_STATE,
    EncryptingMember,
    cross_signed_device,
    until,
)
from tests.e2e.matrix_helpers import client_for, new_room
from tests.e2e.service_helpers import ServiceProcess, is_redacted, service_env
from tests.e2e.synapse import RegisteredUser, SynapseServer

pytestmark = pytest.mark.synapse

KEY_WAIT = 6  # seconds an unreadable message waits for its key in these tests


@dataclass
class World:
    server: SynapseServer
    bot: RegisteredUser
    people: dict[str, RegisteredUser]
    encrypted: str  # a protected, encrypted room
    plain: str  # a protected room without encryption
    mod: str  # the moderators' room, encrypted
    tmp: Path
    service: ServiceProcess
    dm: str = ""  # the reporter's encrypted direct room with the bot

    @property
    def storage(self) -> Path:
        return self.tmp / "modbridge.db"


def _config(server: SynapseServer, bot: str, world_rooms: tuple[str, str, str], mod: str) -> str:
    encrypted, plain, moderators = world_rooms
    return f"""
[community]
name = "Encrypted community"

[escalation]
decay = "1h"
ladder = [{{ points = 100, action = "mute 3s" }}]

[[rules]]
id = "insults"
kind = "keywords"
clause = "Insults, threats, or demeaning comments, in person or online"
points = 1
actions = ["delete", "warn", "notify"]
words = ["idiot"]

[matrix]
homeserver = "{server.base_url}"
user_id = "{bot}"
rooms = ["{encrypted}", "{plain}"]
mod_room = "{moderators}"
moderators = ["{mod}"]
key_wait = "{KEY_WAIT}s"
"""


async def _build(server: SynapseServer, bot: RegisteredUser, people: dict[str, RegisteredUser]):
    owner = client_for(server, bot)
    clients = {name: client_for(server, user) for name, user in people.items()}
    try:
        public = {"preset": RoomPreset.public_chat, "visibility": RoomVisibility.public}
        encrypted = await new_room(
            owner, name="Encrypted", initial_state=[ENCRYPTION_STATE], **public
        )
        plain = await new_room(owner, name="Plain", **public)
        mod = await new_room(
            owner, name="Moderators", preset=RoomPreset.private_chat,
            invite=[people["moderator"].user_id], initial_state=[ENCRYPTION_STATE],
        )  # fmt: skip
        for name, client in clients.items():
            for room_id in (encrypted, plain) if name != "moderator" else (mod,):
                assert isinstance(await client.join(room_id), JoinResponse)
        return encrypted, plain, mod
    finally:
        for client in (owner, *clients.values()):
            await client.close()


async def _keys_up(server: SynapseServer, people: dict[str, RegisteredUser], stores: Path) -> None:
    for name, user in people.items():
        member = EncryptingMember.open(server, user, stores / name)
        try:
            await member.sync()
        finally:
            await member.close()


@pytest.fixture(scope="module")
def world(synapse: SynapseServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    bot = synapse.register("cryptobot")
    names = ("member", "member2", "moderator", "reporter", "careful", "withholder", "late")
    people = {name: synapse.register(f"e2e{name}") for name in names}
    encrypted, plain, mod = asyncio.run(_build(synapse, bot, people))
    tmp = tmp_path_factory.mktemp("encrypted-service")
    # Every member's device keys are up before anyone sends: a client shares room keys only
    # with the devices it knows of.
    asyncio.run(_keys_up(synapse, people, tmp / "members"))
    config = tmp / "modbridge.toml"
    config.write_text(
        _config(synapse, bot.user_id, (encrypted, plain, mod), people["moderator"].user_id)
    )
    env = service_env(tmp / "modbridge.db", MODBRIDGE_MATRIX__PASSWORD=bot.password)
    service = ServiceProcess(config, env, tmp / "service.log")
    world = World(synapse, bot, people, encrypted, plain, mod, tmp, service)
    try:
        yield world
    finally:
        service.kill()


@asynccontextmanager
async def members(world: World, *names: str) -> AsyncIterator[dict[str, EncryptingMember]]:
    """The named people's encrypting clients (each keeps its crypto store between tests)."""
    if not world.service.running:
        world.service.start()
        # Cross-signing runs once the service is up; members wait for it as Element would
        # wait for the bot's device to be verified.
        await until(_cross_signed(world), "the bot's device to be cross-signed")
    opened = {
        name: EncryptingMember.open(world.server, world.people[name], world.tmp / "members" / name)
        for name in names
    }
    try:
        for member in opened.values():
            await member.sync()
        yield opened
    finally:
        for member in opened.values():
            await member.close()


def _cross_signed(world: World) -> Callable[[], Awaitable[bool]]:
    async def done() -> bool:
        return "cross-signing:" in world.service.log()

    return done


async def _read(member: EncryptingMember, room_id: str, wanted: str, what: str) -> str:
    """Sync ``member`` until a message of the bot in ``room_id`` contains ``wanted``."""
    found: list[str] = []

    async def arrived() -> bool:
        await member.sync()
        found[:] = [t for t in member.texts(room_id) if wanted in t]
        return bool(found)

    await until(arrived, what)
    return found[-1]


async def _answer(
    member: EncryptingMember, room_id: str, text: str, bot: str, expect: str = ""
) -> str:
    """Say ``text``; return the bot's next answer (containing ``expect``) as the member's
    client decrypts it."""
    await member.sync()
    before = len(member.texts(room_id, bot))
    sent = await member.say(room_id, text)
    assert isinstance(sent, RoomSendResponse), sent
    found: list[str] = []

    async def answered() -> bool:
        await member.sync()
        found[:] = [t for t in member.texts(room_id, bot)[before:] if expect in t]
        return bool(found)

    await until(answered, f"the bot's answer to {text!r}")
    return found[0]


async def _devices(member: EncryptingMember, user_id: str) -> set[str]:
    """The device ids of ``user_id`` the homeserver publishes keys of."""
    return set((await member.device_keys_of(user_id))["device_keys"][user_id])


async def _redacted(world: World, room_id: str, event_id: str) -> None:
    observer = client_for(world.server, world.people["member2"])
    try:
        await until(lambda: is_redacted(observer, room_id, event_id), "the redaction")
    finally:
        await observer.close()


# -- the device and its store -----------------------------------------------------------------


async def test_the_bot_device_publishes_keys_and_keeps_its_store_private(world: World) -> None:
    async with members(world, "member") as people:
        keys = await people["member"].device_keys_of(world.bot.user_id)
    devices = keys["device_keys"][world.bot.user_id]
    uploaded = [d for d, k in devices.items() if "curve25519:" + d in k.get("keys", {})]
    assert uploaded, devices  # the service's device takes part in encryption
    store = world.tmp / "modbridge.db.crypto"
    assert stat.S_IMODE(store.stat().st_mode) == 0o700
    files = [p for p in store.iterdir() if p.is_file()]
    assert files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


# -- a report in an encrypted DM -------------------------------------------------------------


async def test_a_report_in_an_encrypted_dm_runs_encrypted_to_the_end(world: World) -> None:
    bot = world.bot.user_id
    async with members(world, "reporter", "member", "moderator", "late") as people:
        reporter, offender, moderator = people["reporter"], people["member"], people["moderator"]
        evidence = await offender.say(world.encrypted, "nobody wants you here, go away")
        assert isinstance(evidence, RoomSendResponse), evidence
        link = f"https://matrix.to/#/{world.encrypted}/{evidence.event_id}"
        # A message the bot never got the key of: evidence it cannot read.
        hidden = await people["late"].withhold_key(world.encrypted, "words nobody can see")
        hidden_link = f"https://matrix.to/#/{world.encrypted}/{hidden}"
        world.dm = await reporter.create_encrypted_room(invite=[bot], direct=True)

        async def bot_joined() -> bool:
            await reporter.sync()
            room = reporter.client.rooms.get(world.dm)
            return room is not None and bot in room.users and not room.users[bot].invited

        await until(bot_joined, "the bot to join the encrypted DM")
        dm = world.dm
        assert "What happened?" in await _answer(reporter, dm, "report", bot)
        assert "Who was it?" in await _answer(reporter, dm, "They tell me to leave", bot)
        assert "Where did it happen?" in await _answer(reporter, dm, offender.user.user_id, bot)
        assert "Any evidence?" in await _answer(reporter, dm, "in the encrypted room", bot)
        evidence_answer = await _answer(reporter, dm, f"{link} and {hidden_link}", bot)
        assert "May I tell the moderators" in evidence_answer
        answer = await _answer(reporter, dm, "no", bot)
        assert "not told who reported it" in answer
        # Everything the bot said in the DM was encrypted, and the reporter read all of it.
        said = [s for s in reporter.seen[dm] if s.sender == bot]
        assert said
        assert all(s.encrypted for s in said)
        notice = await _read(moderator, world.mod, "They tell me to leave", "the report notice")
    assert f"report about matrix:{offender.user.user_id}" in notice
    assert "'nobody wants you here, go away'" in notice  # the evidence, decrypted
    assert f"'could not be read (encrypted)' ({hidden_link})" in notice
    assert "words nobody can see" not in notice
    assert world.people["reporter"].user_id not in notice
    assert all(s.encrypted for s in moderator.seen[world.mod] if s.sender == bot)


async def _new_device(world: World, name: str) -> RegisteredUser:
    """``name`` logs in on another device (a new phone), as Element does."""
    user = world.people[name]
    body = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": user.user_id},
        "password": user.password,
    }
    url = f"{world.server.base_url}/_matrix/client/v3/login"
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as response:
        answer = await response.json()
        assert response.status == 200, answer
    return RegisteredUser(
        user_id=user.user_id,
        access_token=answer["access_token"],
        device_id=answer["device_id"],
        password=user.password,
    )


async def test_a_member_s_new_device_reads_the_bot_s_next_answers(world: World) -> None:
    bot = world.bot.user_id
    phone_user = await _new_device(world, "reporter")
    phone = EncryptingMember.open(world.server, phone_user, world.tmp / "members" / "phone")
    try:
        async with members(world, "reporter") as people:
            reporter = people["reporter"]
            await phone.sync()  # the phone's keys go up

            async def phone_reads() -> bool:
                await reporter.say(world.dm, "hello again")
                await asyncio.sleep(0.5)
                await phone.sync()
                readable = [
                    s for s in phone.seen.get(world.dm, []) if s.sender == bot and s.encrypted
                ]
                return bool(readable)

            await until(phone_reads, "the new device to read the bot's answer")
            await _answer(reporter, world.dm, "cancel", bot)
    finally:
        await phone.close()


# -- moderation in an encrypted room ---------------------------------------------------------


async def test_an_insult_in_an_encrypted_room_is_redacted_and_warned_in_the_encrypted_dm(
    world: World,
) -> None:
    bot = world.bot.user_id
    async with members(world, "reporter", "member2", "moderator") as people:
        author, reader = people["reporter"], people["member2"]
        clean = await author.say(world.encrypted, "good morning everyone")
        insult = await author.say(world.encrypted, "you are an idiot")
        assert isinstance(clean, RoomSendResponse), clean
        assert isinstance(insult, RoomSendResponse), insult
        await _redacted(world, world.encrypted, insult.event_id)
        # The author's existing encrypted DM with the bot carries the warning, readably.
        warning = await _read(author, world.dm, "A warning from the moderators", "the warning")
        assert "Insults, threats" in warning
        await _read(people["moderator"], world.mod, "insults", "the moderators' notice")
        await reader.sync()
        assert "good morning everyone" in reader.texts(world.encrypted)
    observer = client_for(world.server, world.people["member2"])
    try:
        assert not await is_redacted(observer, world.encrypted, clean.event_id)
    finally:
        await observer.close()
    assert any(s.encrypted for s in author.seen[world.dm] if s.sender == bot)


async def test_a_muted_member_cannot_send_into_the_encrypted_room(world: World) -> None:
    bot = world.bot.user_id
    async with members(world, "member", "moderator") as people:
        member, moderator = people["member"], people["moderator"]
        target = member.user.user_id
        answer = await _answer(moderator, world.mod, f"!mute {target} 1h shouting", bot, "done:")
        assert "done: mute in Encrypted (Matrix)" in answer

        async def refused() -> bool:
            sent = await member.say(world.encrypted, "can anyone hear me")
            return isinstance(sent, RoomSendError) and sent.status_code == "M_FORBIDDEN"

        await until(refused, "the muted member's send to be refused")
        await _answer(moderator, world.mod, f"!unmute {target}", bot, "done: unmute")


# -- keys that come late, or never ------------------------------------------------------------


async def test_a_message_whose_key_comes_late_is_still_judged(world: World) -> None:
    async with members(world, "late") as people:
        late = people["late"]
        event_id, deliver = await late.send_key_late(
            world.encrypted, "what an idiot", [world.bot.user_id]
        )
        await asyncio.sleep(1.0)  # the bot syncs the message without a key and holds it
        await deliver()
        await _redacted(world, world.encrypted, event_id)


async def test_a_key_the_sender_s_device_forwards_on_request_is_accepted(world: World) -> None:
    """The bot never got the room key; it asks the sender's device (m.room_key_request),
    which forwards its own session (m.forwarded_room_key): the held insult is redacted."""
    async with members(world, "late") as people:
        late = people["late"]
        event_id = await late.withhold_key(world.encrypted, "idiot, key on request")
        session_id = late.client.olm.outbound_group_sessions[world.encrypted].id
        asker = await late.forward_requested_key(world.encrypted, session_id, within=30.0)
        assert asker == world.bot.user_id
        await _redacted(world, world.encrypted, event_id)


async def test_a_restart_between_two_messages_keeps_the_device_and_its_sessions(
    world: World,
) -> None:
    async with members(world, "member2", "late") as people:
        member = people["member2"]
        before = set(
            (await member.device_keys_of(world.bot.user_id))["device_keys"][world.bot.user_id]
        )
        first = await member.say(world.encrypted, "first: idiot")
        assert isinstance(first, RoomSendResponse), first
        await _redacted(world, world.encrypted, first.event_id)
        # One more waits for its key when the service stops: it is judged after the restart.
        held, deliver = await people["late"].send_key_late(
            world.encrypted, "held: idiot", [world.bot.user_id]
        )
        await asyncio.sleep(1.0)
        world.service.terminate()
        world.service.start()
        await deliver()
        await _redacted(world, world.encrypted, held)
        # The same megolm session as the first message: nothing is shared again.
        second = await member.say(world.encrypted, "second: idiot")
        assert isinstance(second, RoomSendResponse), second
        await _redacted(world, world.encrypted, second.event_id)
        after = set(
            (await member.device_keys_of(world.bot.user_id))["device_keys"][world.bot.user_id]
        )
    assert after == before


async def test_a_client_trusting_only_cross_signed_devices_can_talk_to_the_bot(
    world: World,
) -> None:
    bot = world.bot.user_id
    async with members(world, "careful") as people:
        careful = people["careful"]
        await until(_cross_signed(world), "the bot's device to be cross-signed")
        keys = await careful.device_keys_of(bot)
        devices = [d for d in keys["device_keys"][bot] if cross_signed_device(keys, bot, d)]
        assert devices, "the bot's device is not cross-signed: a careful client shares no key"
        room = await careful.create_encrypted_room(invite=[bot], direct=True)

        async def bot_joined() -> bool:
            await careful.sync()
            info = careful.client.rooms.get(room)
            return info is not None and bot in info.users and not info.users[bot].invited

        await until(bot_joined, "the bot to join")
        # Share the room key only with the cross-signed device, as MSC4153 clients do.
        for device in careful.client.device_store.active_user_devices(bot):
            if device.id not in devices:
                careful.client.blacklist_device(device)
        assert "What happened?" in await _answer(careful, room, "report", bot)


async def test_a_member_whose_dm_the_bot_cannot_read_is_told_so(world: World) -> None:
    bot = world.bot.user_id
    async with members(world, "withholder") as people:
        withholder = people["withholder"]
        room = await withholder.create_encrypted_room(invite=[bot], direct=True)

        async def bot_joined() -> bool:
            await withholder.sync()
            info = withholder.client.rooms.get(room)
            return info is not None and bot in info.users and not info.users[bot].invited

        await until(bot_joined, "the bot to join the DM")
        await withholder.withhold_key(room, "report: someone is harassing me")
        answer = await _read(withholder, room, "could not read your last message", "the answer")
    assert "encryption key" in answer


async def test_unreadable_messages_are_counted_for_the_moderators(world: World) -> None:
    async with members(world, "withholder", "moderator") as people:
        withholder = people["withholder"]
        started = time.monotonic()
        for text in ("one", "two", "three"):
            await withholder.withhold_key(world.encrypted, f"{text}: you cannot read this")
        notice = await _read(
            people["moderator"], world.mod, "3 encrypted messages", "the unreadable count"
        )
        print(f"counted after {time.monotonic() - started:.1f}s")
    assert "3 encrypted messages" in notice
    assert world.encrypted in notice
    assert withholder.user.user_id in notice  # named: three messages withheld
    assert "you cannot read this" not in notice


async def test_the_log_holds_no_decrypted_text_and_no_key_material(world: World) -> None:
    log = world.service.log_path.read_text()
    for text in ("nobody wants you here", "They tell me to leave", "good morning", "idiot"):
        assert text not in log
    seeds = json.loads((world.tmp / "modbridge.db.crypto" / "cross_signing.json").read_text())
    assert seeds["self_signing"]
    for seed in seeds.values():
        assert seed not in log
    assert world.bot.password not in log
