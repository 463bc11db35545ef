"""Events over the wire: what the real discord.py client hands the core, and what it keeps."""

from __future__ import annotations

import asyncio
import logging

import discord
import pytest

from adapters.discord.connection import DiscordConnection
from devtools.discord_simulator import DiscordSimulator
from domain.model import MembershipChange, Platform
from tests.discord.conftest import Connect
from tests.discord_sim.conftest import World
from tests.fakes import RecordingCore


async def test_a_members_message_reaches_the_core(
    sim: DiscordSimulator, world: World, connection: DiscordConnection, recorder: RecordingCore
) -> None:
    first = sim.post_message(world.bob, world.general, "hi all")
    sim.post_message(
        world.alice,
        world.general,
        f"<@{world.bob.id}> look at https://scam.example/win!",
    )

    await recorder.wait(lambda: len(recorder.messages) == 2)
    message = next(m for m in recorder.messages if m.author.account.id == str(world.alice.id))
    assert message.platform is Platform.DISCORD
    assert message.text == f"<@{world.bob.id}> look at https://scam.example/win!"
    assert [m.id for m in message.mentions] == [str(world.bob.id)]
    assert message.links == ("https://scam.example/win",)
    assert message.channel.space_id == str(world.guild.id)
    assert message.channel.id == str(world.general.id)
    assert not message.author.is_moderator
    assert first.id != int(message.id)


async def test_a_moderators_message_says_so(
    sim: DiscordSimulator, world: World, connection: DiscordConnection, recorder: RecordingCore
) -> None:
    sim.post_message(world.senior, world.general, "calm down please")
    sim.post_message(world.admin, world.general, "seconded")

    await recorder.wait(lambda: len(recorder.messages) == 2)
    assert all(m.author.is_moderator for m in recorder.messages)
    senior = next(m for m in recorder.messages if m.text == "calm down please")
    assert senior.author.roles == (str(world.senior_role.id),)


async def test_an_edit_arrives_with_edit_of(
    sim: DiscordSimulator, world: World, connection: DiscordConnection, recorder: RecordingCore
) -> None:
    posted = sim.post_message(world.alice, world.general, "nice")
    await recorder.wait(lambda: len(recorder.messages) == 1)

    sim.edit_message(posted, "n1ce idiot")

    await recorder.wait(lambda: len(recorder.messages) == 2)
    edit = recorder.messages[1]
    assert edit.text == "n1ce idiot"
    assert edit.edit_of == str(posted.id)
    assert edit.id == str(posted.id)
    assert recorder.messages[0].edit_of is None


async def test_the_bots_own_messages_and_other_guilds_are_ignored(
    sim: DiscordSimulator, world: World, connection: DiscordConnection, recorder: RecordingCore
) -> None:
    elsewhere = sim.create_guild("Elsewhere", owner=world.owner)
    sim.add_member(elsewhere, world.bot)
    sim.add_member(elsewhere, world.alice)
    lounge = sim.create_text_channel(elsewhere, "lounge")
    for _ in range(300):  # the bot learns of the new guild (GUILD_CREATE)
        if connection.client.get_guild(elsewhere.id) is not None:
            break
        await asyncio.sleep(0.01)
    assert connection.client.get_guild(elsewhere.id) is not None

    await connection.client.get_partial_messageable(world.general.id).send("bot speaking")
    sim.post_message(world.alice, lounge, "unmoderated guild")
    sim.post_message(world.alice, world.general, "the marker")

    await recorder.wait(lambda: any(m.text == "the marker" for m in recorder.messages))
    await asyncio.sleep(0.1)  # the ignored ones would have arrived by now
    assert [m.text for m in recorder.messages] == ["the marker"]
    assert connection.protected_guilds == {world.guild.id}


async def test_join_leave_ban_and_unban(
    sim: DiscordSimulator, world: World, connection: DiscordConnection, recorder: RecordingCore
) -> None:
    carol = sim.create_user("carol")
    sim.add_member(world.guild, carol)
    await recorder.wait(lambda: len(recorder.memberships) == 1)
    sim.remove_member(world.guild, carol)
    await recorder.wait(lambda: len(recorder.memberships) == 2)

    # A moderator bans and unbans by hand, outside modbridge: the core hears of it too.
    guild = connection.client.get_guild(world.guild.id)
    assert guild is not None
    await guild.ban(discord.Object(world.alice.id), reason="by hand")
    await guild.unban(discord.Object(world.alice.id))
    await recorder.wait(lambda: len(recorder.memberships) == 5)

    changes = [(e.change, e.account.id) for e in recorder.memberships]
    assert changes[:2] == [
        (MembershipChange.JOIN, str(carol.id)),
        (MembershipChange.LEAVE, str(carol.id)),
    ]
    # A ban removes the member too: Discord sends both events.
    assert sorted(c for c, _ in changes[2:]) == sorted(
        [MembershipChange.LEAVE, MembershipChange.BAN, MembershipChange.UNBAN]
    )
    assert all(e.space.id == str(world.guild.id) for e in recorder.memberships)


async def test_a_dm_to_the_bot_reaches_on_direct_message(
    sim: DiscordSimulator, world: World, connection: DiscordConnection, recorder: RecordingCore
) -> None:
    dm = sim.open_dm(world.alice, world.bot)

    sim.post_message(world.alice, dm, "bob keeps DMing me")

    await recorder.wait(lambda: len(recorder.direct_messages) == 1)
    (message,) = recorder.direct_messages
    assert message.is_dm
    assert message.text == "bob keeps DMing me"
    assert recorder.messages == []


async def test_a_failing_handler_does_not_stop_the_client_nor_leak_text(
    sim: DiscordSimulator,
    world: World,
    connection: DiscordConnection,
    recorder: RecordingCore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="adapters.discord")
    recorder.fail_on_message = True
    sim.post_message(world.alice, world.general, "secret text one")
    sim.post_message(world.alice, world.general, "secret text two")
    await recorder.wait(lambda: len(recorder.messages) == 2)

    sim.post_message(world.alice, world.general, "secret text three")

    await recorder.wait(lambda: len(recorder.messages) == 3)
    await asyncio.sleep(0.05)
    failures = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(failures) == 3
    assert all("RuntimeError" in f and str(world.general.id) in f for f in failures)
    assert "secret" not in caplog.text  # tracebacks included


async def test_a_reconnect_in_the_middle_of_50_messages_loses_none(
    sim: DiscordSimulator, world: World, connection: DiscordConnection, recorder: RecordingCore
) -> None:
    for number in range(50):
        sim.post_message(world.alice, world.general, f"message {number}")
        if number == 20:
            sim.request_reconnect(world.bot)
        if number % 10 == 0:
            await asyncio.sleep(0.005)

    await recorder.wait(lambda: len(recorder.messages) >= 50, timeout=10)
    await asyncio.sleep(0.05)
    assert sorted(m.text for m in recorder.messages) == sorted(f"message {n}" for n in range(50))
    assert sim.gateway.is_connected(world.bot)
    # It really resumed the one session instead of starting another.
    (session,) = sim.gateway.sessions.values()
    assert [f["t"] for f in session.log].count("RESUMED") == 1


async def test_messages_posted_while_the_service_was_down_are_judged_at_the_next_start(
    sim: DiscordSimulator, world: World, connect: Connect, recorder: RecordingCore
) -> None:
    """A restart is a new gateway session: Discord replays nothing, so history is read."""
    first = await connect()
    sim.post_message(world.alice, world.general, "before the restart")
    await recorder.wait(lambda: len(recorder.messages) == 1)
    await first.close()  # the service stops (or is killed after its last save)

    for n in range(3):
        sim.post_message(world.alice, world.general, f"while down {n}")

    await connect()
    await recorder.wait(lambda: len(recorder.messages) == 4)
    assert [m.text for m in recorder.messages] == [
        "before the restart", "while down 0", "while down 1", "while down 2",
    ]  # fmt: skip


async def test_a_first_start_does_not_judge_old_history(
    sim: DiscordSimulator, world: World, connect: Connect, recorder: RecordingCore
) -> None:
    sim.post_message(world.alice, world.general, "from before the bot was here")
    await connect()
    sim.post_message(world.alice, world.general, "live")
    await recorder.wait(lambda: len(recorder.messages) == 1)
    assert [m.text for m in recorder.messages] == ["live"]
