"""A guild of 50,000 members: Discord's GUILD_CREATE carries only the bot, the client chunks
(op 8, 1,000 members a chunk), and moderator checks are right with a cold cache."""

from __future__ import annotations

from adapters.discord.connection import DiscordConnection
from devtools.discord_simulator import DiscordSimulator
from tests.discord.conftest import Connect
from tests.discord_sim.conftest import World
from tests.fakes import RecordingCore

MEMBERS = 50_000


def frames(sim: DiscordSimulator, event: str) -> list[dict[str, object]]:
    return [
        frame["d"]
        for session in sim.gateway.sessions.values()
        for frame in session.log
        if frame["t"] == event
    ]


async def test_a_50000_member_guild_is_chunked_at_start_up(
    sim: DiscordSimulator, world: World, connect: Connect
) -> None:
    # Scripted straight into the world (no events: nobody is connected yet).
    for n in range(MEMBERS - len(world.guild.members)):
        sim.world.add_member(world.guild, sim.world.create_user(f"member{n}"))
    late_moderator = sim.world.create_user("zz-moderator")
    sim.world.add_member(world.guild, late_moderator, [world.senior_role])

    # The production start-up timeout; discord.py itself waits for chunks at most
    # max(5 s, member_count / 10,000 s) before on_ready, then fills the cache as they come.
    connection = await connect(ready_timeout=30.0)

    (created,) = frames(sim, "GUILD_CREATE")
    assert created["member_count"] == MEMBERS + 1
    assert [m["user"]["id"] for m in created["members"]] == [str(world.bot.id)]  # type: ignore[index]
    chunks = frames(sim, "GUILD_MEMBERS_CHUNK")
    assert [c["chunk_index"] for c in chunks] == list(range(51))
    assert {c["chunk_count"] for c in chunks} == {51}
    assert max(len(c["members"]) for c in chunks) == 1000  # type: ignore[arg-type]
    # Right whether or not the last chunks were parsed by now (a slow machine).
    assert await connection.check_moderator(late_moderator.id)
    assert not await connection.check_moderator(world.alice.id)


async def test_a_member_missing_from_the_cache_is_fetched_for_the_moderator_check(
    sim: DiscordSimulator, world: World, connection: DiscordConnection
) -> None:
    guild = connection.client.get_guild(world.guild.id)
    assert guild is not None
    member = guild.get_member(world.senior.id)
    assert member is not None
    guild._remove_member(member)  # as if chunking had not reached them

    assert await connection.check_moderator(world.senior.id)
    assert not await connection.check_moderator(world.alice.id)
    stranger = sim.create_user("stranger")
    assert not await connection.check_moderator(stranger.id)
    fetched = sim.requests.find("GET", "/guilds/{guild_id}/members/{user_id}")
    # Only the missing member is read; once the cache is complete again, it answers alone.
    assert [r.path.rsplit("/", 1)[1] for r in fetched] == [str(world.senior.id)]
    assert connection.is_moderator(world.senior.id)  # the fetched member is cached now


async def test_a_message_from_an_uncached_moderator_carries_their_roles(
    sim: DiscordSimulator, world: World, connection: DiscordConnection, recorder: RecordingCore
) -> None:
    guild = connection.client.get_guild(world.guild.id)
    assert guild is not None
    member = guild.get_member(world.senior.id)
    assert member is not None
    guild._remove_member(member)  # a cold cache: chunking has not reached them

    sim.post_message(world.senior, world.general, "please keep it civil")

    await recorder.wait(lambda: len(recorder.messages) == 1)
    (message,) = recorder.messages
    # Discord sends the author's member (roles included) with every guild message.
    assert message.author.is_moderator
    assert message.author.roles == (str(world.senior_role.id),)
