"""The Matrix executor on a real Synapse, as a raid and an outage use it: a retried send or
redaction lands once, a redaction reads no power levels the sync already knows, and mutes
of several members of one room at once all hold."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from nio import AsyncClient, RoomGetStateResponse, RoomMessagesResponse, RoomSendResponse

from adapters.matrix.executor import MatrixExecutor
from adapters.matrix.powers import RoomPowers
from adapters.matrix.rooms import RoomState
from adapters.matrix.stores import MatrixMemory
from domain.model import (
    Account,
    DeleteMessage,
    Mute,
    NotifyModerators,
    Platform,
    Space,
    SpaceKind,
    Warn,
)
from tests.e2e.matrix_helpers import bodies, client_for, create_room, power_levels, send_text
from tests.e2e.synapse import RegisteredUser, SynapseServer
from tests.fakes import MemoryKeyValueStore

pytestmark = pytest.mark.synapse


def room(room_id: str) -> Space:
    return Space(platform=Platform.MATRIX, id=room_id, kind=SpaceKind.ROOM, name="General")


class Reads:
    """Counts the state reads a client makes (a spy on the real client, nothing faked)."""

    def __init__(self, client: AsyncClient) -> None:
        self.power_levels = 0
        real = client.room_get_state_event

        async def counted(room_id: str, event_type: str, state_key: str = "") -> Any:
            if event_type == "m.room.power_levels":
                self.power_levels += 1
            return await real(room_id, event_type, state_key)

        client.room_get_state_event = counted


async def synced_state(client: AsyncClient, room_id: str) -> RoomState:
    """The room's powers as the service's sync keeps them (MatrixConnection feeds the same
    state events into a RoomState), read here by the test's own client."""
    response = await client.room_get_state(room_id)
    assert isinstance(response, RoomGetStateResponse), response
    state = RoomState()
    for event in response.events:
        state.observe(event)
    return state


@pytest.fixture(scope="module")
def users(synapse: SynapseServer) -> dict[str, RegisteredUser]:
    return {name: synapse.register(name) for name in ("bot", "kip", "ann", "observer")}


@pytest.fixture
async def clients(
    synapse: SynapseServer, users: dict[str, RegisteredUser]
) -> AsyncIterator[dict[str, AsyncClient]]:
    made = {name: client_for(synapse, user) for name, user in users.items()}
    try:
        yield made
    finally:
        for client in made.values():
            await client.close()


def executor(
    bot: AsyncClient,
    mod_room: str,
    known: dict[str, RoomPowers | None] | None = None,
    store: MatrixMemory | None = None,
) -> MatrixExecutor:
    store = store or MatrixMemory(MemoryKeyValueStore())
    lookup = None if known is None else known.get
    return MatrixExecutor(
        bot, mod_room_id=mod_room, levels=store, direct_rooms=store, known_powers=lookup
    )


async def events_of_type(client: AsyncClient, room_id: str, kind: str) -> list[dict[str, Any]]:
    response = await client.room_messages(room_id, limit=100)
    assert isinstance(response, RoomMessagesResponse), response
    return [e.source for e in response.chunk if e.source.get("type") == kind]


async def test_the_same_outbox_row_carried_out_twice_gives_one_event(
    clients: dict[str, AsyncClient],
) -> None:
    """A retry after an answer lost in an outage: the notice, the warning and the
    redaction each reach the room once."""
    bot, kip, observer = clients["bot"], clients["kip"], clients["observer"]
    mod_room = await create_room(bot, version="12", joiners=(observer,))
    general = await create_room(bot, version="12", joiners=(kip, observer))
    spam = await send_text(kip, general, "buy pills")
    assert isinstance(spam, RoomSendResponse), spam
    store = MatrixMemory(MemoryKeyValueStore())
    run = executor(bot, mod_room, store=store)
    notice = NotifyModerators(text="Case #7: spam from kip")
    warning = Warn(target=Account(platform=Platform.MATRIX, id=kip.user_id), reason="spam")
    delete = DeleteMessage(platform=Platform.MATRIX, channel_id=general, message_id=spam.event_id)
    for _ in range(2):
        await run.execute(notice, room(mod_room), key="case:7:notify:matrix:mods")
        await run.execute(warning, room(""), key="case:7:warn:matrix:kip")
        await run.execute(delete, room(general), key="case:7:delete:matrix:spam")

    assert await bodies(observer, mod_room, "m.notice") == ["Case #7: spam from kip"]
    assert len(await events_of_type(observer, general, "m.room.redaction")) == 1
    direct = await store.get_direct_room(kip.user_id)
    assert direct is not None
    assert len(await bodies(bot, direct)) == 1
    # Another row (another key) is another notice.
    await run.execute(notice, room(mod_room), key="case:8:notify:matrix:mods")
    assert len(await bodies(observer, mod_room, "m.notice")) == 2


async def test_a_redaction_reads_no_power_levels_the_sync_knows(
    clients: dict[str, AsyncClient],
) -> None:
    bot, kip, observer = clients["bot"], clients["kip"], clients["observer"]
    general = await create_room(bot, version="11", joiners=(kip, observer))
    known: dict[str, RoomPowers | None] = {
        general: (await synced_state(observer, general)).powers()
    }
    run = executor(bot, general, known)
    reads = Reads(bot)
    for n in range(3):
        sent = await send_text(kip, general, f"spam {n}")
        delete = DeleteMessage(
            platform=Platform.MATRIX, channel_id=general, message_id=sent.event_id
        )
        await run.execute(delete, room(general), key=f"msg:{n}")
    assert reads.power_levels == 0
    assert await bodies(observer, general) == ["", "", ""]  # all three gone for the members
    # Unknown to the sync (a room joined a moment ago): read once, then redacted.
    known[general] = None
    sent = await send_text(kip, general, "spam 4")
    await run.execute(
        DeleteMessage(platform=Platform.MATRIX, channel_id=general, message_id=sent.event_id),
        room(general),
    )
    assert reads.power_levels == 1
    assert await bodies(observer, general) == ["", "", "", ""]


async def test_powers_the_sync_has_not_caught_up_with_are_read_again_before_refusing(
    clients: dict[str, AsyncClient],
) -> None:
    """The sync still shows the bot without the power to redact (it was just promoted):
    the executor reads the levels afresh and redacts, instead of a dead letter."""
    owner, kip, observer, bot = (clients[n] for n in ("ann", "kip", "observer", "bot"))
    general = await create_room(owner, version="11", joiners=(kip, observer, bot))
    stale = (await synced_state(observer, general)).powers()  # bot at level 0
    content = await power_levels(owner, general)
    content.setdefault("users", {})[bot.user_id] = 50
    await owner.room_put_state(general, "m.room.power_levels", content)
    run = executor(bot, general, {general: stale})
    sent = await send_text(kip, general, "spam")
    done = await run.execute(
        DeleteMessage(platform=Platform.MATRIX, channel_id=general, message_id=sent.event_id),
        room(general),
    )
    assert "redacted" in done
    assert await bodies(observer, general) == [""]


async def test_members_muted_at_the_same_moment_in_one_room_all_stay_muted(
    clients: dict[str, AsyncClient],
) -> None:
    """A raid mutes several members of a room at once; each mute rewrites the whole power
    levels event, and none may write back another member's voice."""
    bot, kip, ann, observer = (clients[n] for n in ("bot", "kip", "ann", "observer"))
    general = await create_room(bot, version="12", joiners=(kip, ann, observer))
    run = executor(bot, general)
    until = datetime.now(UTC) + timedelta(hours=1)
    mutes = [
        Mute(target=Account(platform=Platform.MATRIX, id=c.user_id), until=until, reason="raid")
        for c in (kip, ann)
    ]
    await asyncio.gather(*(run.execute(m, room(general)) for m in mutes))
    for client in (kip, ann):
        refused = await send_text(client, general, "still here?")
        assert not isinstance(refused, RoomSendResponse), client.user_id
