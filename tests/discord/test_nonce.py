"""A message the executor sends twice for one outbox row (a retry after the first answer
was lost) reaches Discord once: the nonce comes from the action's idempotency key, and the
simulator keeps Discord's ``enforce_nonce`` promise."""

from __future__ import annotations

from adapters.discord.connection import DiscordConnection
from devtools.discord_simulator import DiscordSimulator
from domain.model import Account, NotifyModerators, Platform, Space, SpaceKind, Tell, Warn
from tests.discord_sim.conftest import World


def space(space_id: str = "") -> Space:
    return Space(platform=Platform.DISCORD, id=space_id, kind=SpaceKind.GUILD)


async def test_a_retried_notice_warning_and_private_word_each_arrive_once(
    sim: DiscordSimulator, world: World, connection: DiscordConnection
) -> None:
    executor = connection.executor()
    alice = Account(platform=Platform.DISCORD, id=str(world.alice.id))
    mods = space(str(world.general.id))
    for _ in range(2):
        await executor.execute(NotifyModerators(text="Case #3: spam"), mods, key="case:3:notify")
        await executor.execute(Warn(target=alice, reason="spam"), space(), key="case:3:warn")
        await executor.execute(Tell(target=alice, text="Closed."), space(), key="case:3:tell")

    assert [m.content for m in sim.messages_in(world.general)] == ["Case #3: spam"]
    dms = sim.messages_in(sim.open_dm(world.alice, world.bot))
    assert [m.content for m in dms] == ["A warning from the moderators: spam", "Closed."]
    # Another row is another message, even with the same words.
    await executor.execute(NotifyModerators(text="Case #3: spam"), mods, key="case:4:notify")
    assert len(sim.messages_in(world.general)) == 2
