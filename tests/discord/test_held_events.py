"""A message the core could not record (its disk is full) is neither dropped nor skipped by
the catch-up after a restart: the real discord.py client against the simulator."""

from __future__ import annotations

import pytest

from adapters.discord.backfill import KEY
from devtools.discord_simulator import DiscordSimulator
from domain.model import Message
from domain.ports import NotRecorded
from tests.discord.conftest import Connect
from tests.discord_sim.conftest import World
from tests.fakes import MemoryKeyValueStore, RecordingCore


class FullDisk:
    """The core's on_message while its disk is full: nothing about "idiot" is recorded."""

    def __init__(self, recorder: RecordingCore) -> None:
        self.full = True
        self.refused = 0
        self._recorder = recorder
        self._record = recorder.on_message

    async def on_message(self, message: Message) -> None:
        if self.full and "idiot" in message.text:
            self.refused += 1
            self._recorder._note()  # lets recorder.wait look again
            raise NotRecorded("message: database or disk is full")
        await self._record(message)


@pytest.fixture
def disk(recorder: RecordingCore, monkeypatch: pytest.MonkeyPatch) -> FullDisk:
    monkeypatch.setattr("adapters.discord.events.RETRY_FIRST", 0.02)
    monkeypatch.setattr("adapters.discord.events.RETRY_CAP", 0.05)
    full = FullDisk(recorder)
    monkeypatch.setattr(recorder, "on_message", full.on_message)
    return full


def texts(recorder: RecordingCore) -> list[str]:
    return [m.text for m in recorder.messages]


async def test_a_message_not_recorded_is_handed_on_again_until_it_is(
    sim: DiscordSimulator, world: World, connect: Connect, recorder: RecordingCore, disk: FullDisk
) -> None:
    await connect()
    sim.post_message(world.alice, world.general, "you idiot")
    sim.post_message(world.bob, world.general, "hello")

    await recorder.wait(lambda: disk.refused >= 3 and "hello" in texts(recorder))
    assert "you idiot" not in texts(recorder)
    disk.full = False  # space again
    await recorder.wait(lambda: "you idiot" in texts(recorder))
    assert texts(recorder).count("you idiot") == 1


async def test_a_restart_reads_again_a_message_that_was_never_recorded(
    sim: DiscordSimulator,
    world: World,
    connect: Connect,
    recorder: RecordingCore,
    state: MemoryKeyValueStore,
    disk: FullDisk,
) -> None:
    first = await connect()
    held = sim.post_message(world.alice, world.general, "you idiot")
    later = sim.post_message(world.bob, world.general, "hello")
    await recorder.wait(lambda: disk.refused >= 1 and "hello" in texts(recorder))

    await first.close()  # stopped while the disk was full
    assert held.id < later.id
    assert int(state.values[KEY]) < held.id  # the marker stays before the held message

    disk.full = False
    await connect()  # the restart's catch-up reads it from the channel's history
    await recorder.wait(lambda: "you idiot" in texts(recorder))
