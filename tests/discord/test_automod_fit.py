"""The AutoMod mirror in a guild whose moderators have rules of their own, against Discord's
limits: it fits what it can, never stops half way, and tells the moderators the rest."""

from __future__ import annotations

import pytest

from adapters.discord.automod import PREFIX, AutomodSpec
from devtools.discord_simulator import DiscordSimulator, MessageBlocked
from rules.automod import EMAIL
from tests.discord.conftest import Connect
from tests.discord_sim.conftest import World
from tests.fakes import RecordingCore


def notices(sim: DiscordSimulator, world: World) -> list[str]:
    """What the bot posted in the moderators' channel (#general in these tests)."""
    return [m.content for m in sim.messages_in(world.general) if m.author_id == world.bot.id]


async def test_rules_fit_beside_the_moderators_own_and_the_rest_is_told(
    sim: DiscordSimulator, world: World, connect: Connect
) -> None:
    for n in range(4):
        sim.add_automod_rule(world.guild, f"mods {n}", creator=world.owner, keywords=[f"w{n}"])
    specs = [AutomodSpec(name=f"policy{n}", keywords=(f"bad{n}",)) for n in range(3)]

    await connect(automod=True, automod_rules=specs)

    names = sorted(r["name"] for r in world.guild.automod_rules.values())
    assert names == sorted(
        [f"mods {n}" for n in range(4)] + [PREFIX + "policy0", PREFIX + "policy1"]
    )
    (notice,) = notices(sim, world)
    assert "policy2" in notice
    assert "6 keyword rules" in notice
    assert "bad2" not in notice  # rule names and counts, never the words themselves
    creates = sim.requests.find("POST", "/guilds/{guild_id}/auto-moderation/rules")
    assert [r.status for r in creates] == [200, 200]  # nothing was sent to be refused


async def test_a_regex_re2_takes_and_discord_refuses_does_not_stop_the_sync(
    sim: DiscordSimulator, world: World, connect: Connect
) -> None:
    specs = [
        AutomodSpec(name="phones", keywords=("callme",), regexes=(r"\Q+254\E\d{9}",)),
        AutomodSpec(name="only regex", regexes=(r"(?=x)y",)),
        AutomodSpec(name="slurs", keywords=("badword",)),
    ]

    await connect(automod=True, automod_rules=specs)

    rules = {r["name"]: r for r in world.guild.automod_rules.values()}
    assert sorted(rules) == [PREFIX + "phones", PREFIX + "slurs"]
    assert rules[PREFIX + "phones"]["trigger_metadata"]["regex_patterns"] == []
    assert rules[PREFIX + "phones"]["trigger_metadata"]["keyword_filter"] == ["callme"]
    (notice,) = notices(sim, world)
    assert "phones mirrored without its regexes" in notice
    assert "only regex not mirrored" in notice
    assert "254" not in notice


async def test_a_mirrored_regex_rule_blocks_and_reaches_the_core(
    sim: DiscordSimulator, world: World, connect: Connect, recorder: RecordingCore
) -> None:
    await connect(automod=True, automod_rules=[AutomodSpec(name="contacts", regexes=(EMAIL,))])

    with pytest.raises(MessageBlocked):
        sim.post_message(world.alice, world.general, "write to jane.doe@example.org")
    sim.post_message(world.alice, world.general, "no address here")

    await recorder.wait(lambda: len(recorder.automod_hits) == 1)
    assert recorder.automod_hits[0].rule_name == "contacts"
    assert recorder.automod_hits[0].matched == "jane.doe@example.org"
    assert notices(sim, world) == []
