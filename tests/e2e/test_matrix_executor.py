"""The Matrix executor against a real Synapse: what members see after each action.

One Synapse serves the module (a second one, with default rate limits, starts for the one
test that needs it). Each test makes its own rooms; the users are shared.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from nio import AsyncClient, RoomSendError, RoomSendResponse, SyncResponse

from adapters.matrix.executor import MatrixExecutor
from adapters.matrix.fetch import MatrixFetcher
from adapters.matrix.stores import MatrixMemory
from domain.model import (
    Account,
    Action,
    Ban,
    DeleteMessage,
    Mute,
    NotifyModerators,
    Platform,
    Remove,
    Space,
    SpaceKind,
    Unban,
    Unmute,
    Warn,
)
from domain.ports import PermanentError, TransientError
from tests.e2e.matrix_helpers import (
    bodies,
    client_for,
    create_room,
    membership,
    power_levels,
    send_text,
    set_level,
)
from tests.e2e.synapse import RegisteredUser, SynapseServer
from tests.fakes import MemoryKeyValueStore

pytestmark = pytest.mark.synapse

VERSIONS = ["11", "12"]


def room(room_id: str) -> Space:
    return Space(platform=Platform.MATRIX, id=room_id, kind=SpaceKind.ROOM, name="General")


def matrix(user_id: str) -> Account:
    return Account(platform=Platform.MATRIX, id=user_id)


@dataclass
class World:
    """The bot, a member and an observer, each with a nio client, and the bot's executor."""

    server: SynapseServer
    bot: AsyncClient
    member: AsyncClient
    observer: AsyncClient
    store: MatrixMemory
    executor: MatrixExecutor
    mod_room: str


@pytest.fixture(scope="module")
def users(synapse: SynapseServer) -> dict[str, RegisteredUser]:
    return {name: synapse.register(name) for name in ("bot", "member", "observer")}


@pytest.fixture
async def world(synapse: SynapseServer, users: dict[str, RegisteredUser]) -> AsyncIterator[World]:
    bot, member, observer = (client_for(synapse, users[n]) for n in ("bot", "member", "observer"))
    mod_room = await create_room(bot, version="12", joiners=(observer,))
    store = MatrixMemory(MemoryKeyValueStore())
    executor = MatrixExecutor(bot, mod_room_id=mod_room, levels=store, direct_rooms=store)
    try:
        yield World(synapse, bot, member, observer, store, executor, mod_room)
    finally:
        for client in (bot, member, observer):
            await client.close()


async def shared_room(w: World, version: str) -> str:
    return await create_room(w.bot, version=version, joiners=(w.member, w.observer))


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_redacted_message_is_gone_for_the_observer(w: World, version: str) -> None:
    room_id = await shared_room(w, version)
    sent = await send_text(w.member, room_id, "buy cheap pills at spam.example")
    assert isinstance(sent, RoomSendResponse), sent

    done = await w.executor.execute(
        DeleteMessage(
            platform=Platform.MATRIX, channel_id=room_id, message_id=sent.event_id, reason="spam"
        ),
        room(room_id),
    )

    assert sent.event_id in done
    seen = await w.observer.room_get_event(room_id, sent.event_id)
    assert seen.event.source["content"] == {}
    assert "spam.example" not in await bodies(w.observer, room_id)


@pytest.mark.parametrize("version", VERSIONS)
async def test_mute_refuses_the_members_messages_and_unmute_restores_their_level(
    w: World, version: str
) -> None:
    room_id = await shared_room(w, version)
    await set_level(w.bot, room_id, w.member.user_id, 5)
    until = datetime.now(UTC) + timedelta(hours=1)

    await w.executor.execute(
        Mute(target=matrix(w.member.user_id), until=until, reason="x"), room(room_id)
    )

    refused = await send_text(w.member, room_id, "can anyone hear me?")
    assert isinstance(refused, RoomSendError)
    assert refused.status_code == "M_FORBIDDEN"
    assert (await power_levels(w.observer, room_id))["users"][w.member.user_id] == -1
    assert await w.store.get_previous_level(room_id, w.member.user_id) == 5
    # A retried mute must not overwrite the remembered level with the muted one.
    again = await w.executor.execute(
        Mute(target=matrix(w.member.user_id), until=until, reason="x"), room(room_id)
    )
    assert "already muted" in again

    await w.executor.execute(Unmute(target=matrix(w.member.user_id)), room(room_id))

    assert isinstance(await send_text(w.member, room_id, "back again"), RoomSendResponse)
    assert (await power_levels(w.observer, room_id))["users"][w.member.user_id] == 5
    assert "back again" in await bodies(w.observer, room_id)


async def test_unmute_of_a_member_without_an_entry_removes_the_entry(w: World) -> None:
    room_id = await shared_room(w, "12")
    target = matrix(w.member.user_id)
    until = datetime.now(UTC) + timedelta(hours=1)
    await w.executor.execute(Mute(target=target, until=until, reason="x"), room(room_id))
    await w.executor.execute(Unmute(target=target), room(room_id))

    assert w.member.user_id not in (await power_levels(w.observer, room_id)).get("users", {})
    assert isinstance(await send_text(w.member, room_id, "hello"), RoomSendResponse)


async def test_unmute_never_lowers_a_member_of_a_room_where_few_may_write(w: World) -> None:
    """An announcements room: events_default 50, a helper at 10. Nobody muted them; an
    unmute for the whole community must not drop them to users_default."""
    room_id = await shared_room(w, "12")
    await set_level(w.bot, room_id, w.member.user_id, 10)
    levels = await power_levels(w.observer, room_id)
    answer = await w.bot.room_put_state(
        room_id, "m.room.power_levels", {**levels, "events_default": 50}
    )
    assert getattr(answer, "event_id", None), answer

    done = await w.executor.execute(Unmute(target=matrix(w.member.user_id)), room(room_id))

    assert "not by a mute" in done
    assert (await power_levels(w.observer, room_id))["users"][w.member.user_id] == 10


async def test_a_kicked_member_is_out_of_the_room(w: World) -> None:
    room_id = await shared_room(w, "12")

    await w.executor.execute(Remove(target=matrix(w.member.user_id), reason="flood"), room(room_id))

    assert await membership(w.observer, room_id, w.member.user_id) == "leave"
    joined = await w.member.joined_rooms()
    assert room_id not in joined.rooms
    refused = await send_text(w.member, room_id, "still here?")
    assert isinstance(refused, RoomSendError)
    # A retried kick is harmless, not a dead letter.
    again = await w.executor.execute(
        Remove(target=matrix(w.member.user_id), reason="flood"), room(room_id)
    )
    assert "not in" in again


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_banned_member_cannot_rejoin_until_unbanned(w: World, version: str) -> None:
    room_id = await shared_room(w, version)
    target = matrix(w.member.user_id)

    await w.executor.execute(Ban(target=target, reason="hate speech"), room(room_id))

    assert await membership(w.observer, room_id, w.member.user_id) == "ban"
    rejoin = await w.member.join(room_id)
    # Synapse 1.163 says M_BAD_STATE "Cannot join user who was banned"; older ones M_FORBIDDEN.
    assert getattr(rejoin, "status_code", None) in ("M_BAD_STATE", "M_FORBIDDEN"), rejoin
    assert await membership(w.observer, room_id, w.member.user_id) == "ban"

    await w.executor.execute(Unban(target=target), room(room_id))

    rejoin = await w.member.join(room_id)
    assert getattr(rejoin, "room_id", None) == room_id, rejoin
    assert "not banned" in await w.executor.execute(Unban(target=target), room(room_id))


async def test_the_warning_arrives_in_a_direct_room_the_member_was_invited_to(w: World) -> None:
    room_id = await shared_room(w, "12")
    warn = Warn(target=matrix(w.member.user_id), reason="insults", clause="2.1 Be kind to others.")

    await w.executor.execute(warn, room(room_id))

    sync = await w.member.sync(timeout=0, full_state=True)
    assert isinstance(sync, SyncResponse), sync
    dm = await w.store.get_direct_room(w.member.user_id)
    assert dm is not None
    assert dm in sync.rooms.invite
    invite = next(
        e
        for e in sync.rooms.invite[dm].invite_state
        if getattr(e, "state_key", "") == w.member.user_id
    )
    assert invite.content.get("is_direct") is True
    await w.member.join(dm)
    [text] = await bodies(w.member, dm)
    assert "insults" in text
    assert "> 2.1 Be kind to others." in text

    # The second warning reuses the room.
    await w.executor.execute(warn, room(room_id))
    assert await w.store.get_direct_room(w.member.user_id) == dm
    assert len(await bodies(w.member, dm)) == 2

    # A member who left the room gets the next warning in a new one.
    await w.member.room_leave(dm)
    await w.executor.execute(warn, room(room_id))
    new_dm = await w.store.get_direct_room(w.member.user_id)
    assert new_dm not in (None, dm)
    sync = await w.member.sync(timeout=0, full_state=True)
    assert isinstance(sync, SyncResponse), sync
    assert new_dm in sync.rooms.invite


async def test_moderators_get_a_notice_in_the_mod_room(w: World) -> None:
    await w.executor.execute(NotifyModerators(text="case 17: spam wave"), room(w.mod_room))

    assert await bodies(w.observer, w.mod_room, "m.notice") == ["case 17: spam wave"]


async def test_a_bot_without_power_gets_a_permanent_error_at_once(w: World) -> None:
    # The member made this room; the bot joined as an ordinary member (level 0).
    room_id = await create_room(w.member, version="11", joiners=(w.bot, w.observer))
    actions: list[Action] = [
        Ban(target=matrix(w.observer.user_id), reason="x"),
        Remove(target=matrix(w.observer.user_id), reason="x"),
        Mute(target=matrix(w.observer.user_id), until=datetime.now(UTC), reason="x"),
        DeleteMessage(platform=Platform.MATRIX, channel_id=room_id, message_id="$x"),
    ]
    for action in actions:
        started = time.monotonic()
        with pytest.raises(PermanentError, match="power level 0"):
            await w.executor.execute(action, room(room_id))
        assert time.monotonic() - started < 2

    with pytest.raises(PermanentError, match=r"M_FORBIDDEN|M_NOT_FOUND"):
        await w.executor.execute(
            Ban(target=matrix(w.observer.user_id), reason="x"), room("!nowhere:localhost")
        )


async def test_v12_an_additional_creator_bot_acts_and_a_creator_cannot_be_muted(w: World) -> None:
    room_id = await create_room(
        w.member, version="12", joiners=(w.bot, w.observer), additional_creators=(w.bot.user_id,)
    )
    assert w.bot.user_id not in (await power_levels(w.bot, room_id)).get("users", {})
    until = datetime.now(UTC) + timedelta(hours=1)

    await w.executor.execute(
        Mute(target=matrix(w.observer.user_id), until=until, reason="x"), room(room_id)
    )
    assert isinstance(await send_text(w.observer, room_id, "hi"), RoomSendError)

    with pytest.raises(PermanentError, match="creator"):
        await w.executor.execute(
            Mute(target=matrix(w.member.user_id), until=until, reason="x"), room(room_id)
        )
    assert isinstance(await send_text(w.member, room_id, "still talking"), RoomSendResponse)


async def test_a_stopped_homeserver_gives_a_transient_error_promptly_then_works_again(
    w: World,
) -> None:
    room_id = await shared_room(w, "12")
    notify = NotifyModerators(text="during the outage")
    try:
        await asyncio.to_thread(w.server.stop, kill=True)
        for action in (notify, Ban(target=matrix(w.member.user_id), reason="x")):
            started = time.monotonic()
            with pytest.raises(TransientError, match="unreachable"):
                await w.executor.execute(action, room(room_id))
            assert time.monotonic() - started < 2
    finally:
        await asyncio.to_thread(w.server.start)

    await w.executor.execute(notify, room(w.mod_room))
    assert "during the outage" in await bodies(w.observer, w.mod_room, "m.notice")


async def test_a_hung_homeserver_gives_a_transient_error_after_the_request_timeout(
    w: World, users: dict[str, RegisteredUser]
) -> None:
    bot = client_for(w.server, users["bot"], timeout=1.0)
    store = MatrixMemory(MemoryKeyValueStore())
    executor = MatrixExecutor(bot, mod_room_id=w.mod_room, levels=store, direct_rooms=store)
    try:
        w.server.pause()
        started = time.monotonic()
        with pytest.raises(TransientError, match="unreachable"):
            await executor.execute(NotifyModerators(text="frozen"), room(w.mod_room))
        assert time.monotonic() - started < 3
    finally:
        w.server.resume()
        await bot.close()


async def test_default_rate_limits_give_transient_errors_and_lose_nothing(
    throttled_synapse: SynapseServer,
) -> None:
    bot_user, observer_user = throttled_synapse.register("bot"), throttled_synapse.register("obs")
    bot, observer = (
        client_for(throttled_synapse, bot_user),
        client_for(throttled_synapse, observer_user),
    )
    try:
        mod_room = await create_room(bot, version="12", joiners=(observer,))
        store = MatrixMemory(MemoryKeyValueStore())
        executor = MatrixExecutor(bot, mod_room_id=mod_room, levels=store, direct_rooms=store)
        texts = [f"notice {n}" for n in range(SENDS)]
        retry_afters: list[float | None] = []
        for text in texts:
            # What the action worker does: wait as long as the homeserver asked, then retry.
            while True:
                try:
                    await executor.execute(NotifyModerators(text=text), room(mod_room))
                    break
                except TransientError as exc:
                    retry_afters.append(exc.retry_after)
                    await asyncio.sleep(exc.retry_after or 1.0)
        assert retry_afters, "Synapse's default rc_message should have throttled the burst"
        assert all(r is not None and 0 < r < 30 for r in retry_afters), retry_afters
        assert await bodies(observer, mod_room, "m.notice") == texts
    finally:
        await bot.close()
        await observer.close()


# Synapse's default rc_message allows a burst of 10, then one message every 5 s: 13 sends
# prove the 429 path while keeping the test near 15 s.
SENDS = 13


@pytest.fixture
def w(world: World) -> World:
    return world


async def test_a_linked_message_that_was_edited_reads_as_members_see_it(w: World) -> None:
    """Report evidence: servers no longer apply edits to the event; the fetcher does."""
    room_id = await shared_room(w, "12")
    sent = await send_text(w.member, room_id, "you are a useless noob")
    assert isinstance(sent, RoomSendResponse), sent
    edit = await w.member.room_send(
        room_id,
        "m.room.message",
        {
            "msgtype": "m.text",
            "body": "* have a nice day",
            "m.new_content": {"msgtype": "m.text", "body": "have a nice day"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": sent.event_id},
        },
    )
    assert isinstance(edit, RoomSendResponse), edit

    fetched = await MatrixFetcher(w.bot).fetch(f"https://matrix.to/#/{room_id}/{sent.event_id}")

    assert fetched is not None
    assert fetched.text == "have a nice day (edited; at first: you are a useless noob)"
    assert fetched.author.account.id == w.member.user_id
