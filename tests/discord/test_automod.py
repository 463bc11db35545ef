"""Native AutoMod mirror: planning within Discord's limits, rules in the guild, executions."""

from __future__ import annotations

from pathlib import Path

import discord
import pytest

from adapters.discord.automod import PREFIX, AutomodSpec, plan
from adapters.discord.connection import DiscordConnection
from devtools.discord_simulator import DiscordSimulator, MessageBlocked
from tests.component.harness import ModBot
from tests.discord.conftest import Connect
from tests.discord_sim.conftest import World
from tests.fakes import RecordingCore, eventually

SPECS = (
    AutomodSpec(name="slurs", keywords=("badword", "*slur*")),
    AutomodSpec(name="contact details", regexes=(r"\+254\d{9}", r"[\w.]+@[\w.]+")),
)


def test_a_small_spec_is_one_rule() -> None:
    (rule,) = plan([SPECS[0]])
    assert rule.name == PREFIX + "slurs"
    assert rule.keywords == ("badword", "*slur*")


def test_long_keyword_lists_are_split_and_extra_regexes_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    keywords = tuple(f"word{n}" for n in range(2500))
    regexes = tuple(f"secret{n}\\d+" for n in range(35))

    rules = plan([AutomodSpec(name="big", keywords=keywords, regexes=regexes)])

    assert [r.name for r in rules] == [PREFIX + "big", PREFIX + "big (2)", PREFIX + "big (3)"]
    assert [len(r.keywords) for r in rules] == [1000, 1000, 500]
    assert [len(r.regexes) for r in rules] == [10, 10, 10]
    assert "5 regexes beyond" in caplog.text
    assert "secret" not in caplog.text  # patterns may be sensitive: counts only


def test_keywords_too_long_for_discord_and_rules_beyond_six_are_skipped() -> None:
    specs = [AutomodSpec(name=f"r{n}", keywords=("x" * 61, f"ok{n}")) for n in range(8)]

    rules = plan(specs)

    assert len(rules) == 6
    assert all(r.keywords == (f"ok{n}",) for n, r in enumerate(rules))


async def test_rules_are_mirrored_once_and_updated_in_place_after_a_restart(
    sim: DiscordSimulator, world: World, connect: Connect
) -> None:
    connection = await connect(automod=True, automod_rules=SPECS)
    rules = {r["name"]: r for r in world.guild.automod_rules.values()}
    assert sorted(rules) == [PREFIX + "contact details", PREFIX + "slurs"]
    slurs = rules[PREFIX + "slurs"]
    assert slurs["trigger_type"] == 1
    assert slurs["trigger_metadata"]["keyword_filter"] == ["badword", "*slur*"]
    assert [a["type"] for a in slurs["actions"]] == [1]  # block_message
    assert slurs["enabled"]
    await connection.close()

    changed = (AutomodSpec(name="slurs", keywords=("badword", "worseword")), SPECS[1])
    await connect(automod=True, automod_rules=changed)

    again = {r["name"]: r for r in world.guild.automod_rules.values()}
    assert {n: r["id"] for n, r in again.items()} == {n: r["id"] for n, r in rules.items()}
    assert again[PREFIX + "slurs"]["trigger_metadata"]["keyword_filter"] == [
        "badword",
        "worseword",
    ]
    creates = sim.requests.find("POST", "/guilds/{guild_id}/auto-moderation/rules")
    assert len(creates) == 2


async def test_a_moderators_own_rule_is_left_alone(
    sim: DiscordSimulator, world: World, connect: Connect
) -> None:
    theirs = await connect(automod=True, automod_rules=())
    guild = theirs.client.get_guild(world.guild.id)
    assert guild is not None
    await guild.create_automod_rule(
        name="mods' own",
        event_type=discord.AutoModRuleEventType.message_send,
        trigger=discord.AutoModTrigger(keyword_filter=["x"]),
        actions=[discord.AutoModRuleAction()],
        enabled=True,
    )
    await theirs.close()

    await connect(automod=True, automod_rules=SPECS)

    assert "mods' own" in {r["name"] for r in world.guild.automod_rules.values()}


async def test_a_blocked_message_reaches_on_automod_hit(
    sim: DiscordSimulator, world: World, connect: Connect, recorder: RecordingCore
) -> None:
    await connect(automod=True, automod_rules=SPECS)

    with pytest.raises(MessageBlocked):
        sim.post_message(world.alice, world.general, "you BADWORD")

    await recorder.wait(lambda: len(recorder.automod_hits) == 1)
    (hit,) = recorder.automod_hits
    assert hit.rule_name == "slurs"  # the policy rule, as the core knows it
    assert hit.author.id == str(world.alice.id)
    assert hit.channel.id == str(world.general.id)
    assert hit.channel.space_id == str(world.guild.id)
    assert hit.matched.lower() == "badword"
    assert recorder.messages == []  # it was never posted


async def test_without_automod_no_rules_are_made(
    sim: DiscordSimulator, world: World, connection: DiscordConnection
) -> None:
    assert world.guild.automod_rules == {}


async def test_a_reloaded_policy_is_mirrored_without_a_restart(
    sim: DiscordSimulator, world: World, connect: Connect
) -> None:
    connection = await connect(automod=True, automod_rules=SPECS)
    await connection.update_automod([AutomodSpec(name="slurs", keywords=("newword",))])
    rules = {r["name"]: r for r in world.guild.automod_rules.values()}
    assert sorted(rules) == [PREFIX + "slurs"]  # the contact-details rule left the policy
    assert rules[PREFIX + "slurs"]["trigger_metadata"]["keyword_filter"] == ["newword"]


async def test_exempt_roles_and_channels_reach_discord_and_are_honoured(
    sim: DiscordSimulator, world: World, connect: Connect, recorder: RecordingCore
) -> None:
    """AutoMod must not block whom the policy exempts (moderators, listed roles, channels)."""
    exempt = AutomodSpec(name="slurs", keywords=("badword",), exempt_roles=(world.senior_role.id,))
    await connect(automod=True, automod_rules=[exempt])
    (rule,) = world.guild.automod_rules.values()
    assert rule["exempt_roles"] == [str(world.senior_role.id)]

    sim.post_message(world.senior, world.general, "quoting the BADWORD they used")
    with pytest.raises(MessageBlocked):
        sim.post_message(world.alice, world.general, "you BADWORD")

    # A new policy exempting the channel updates the rule in place.
    connection = await connect(
        automod=True,
        automod_rules=[
            AutomodSpec(name="slurs", keywords=("badword",), exempt_channels=(world.general.id,))
        ],
    )
    (rule,) = world.guild.automod_rules.values()
    assert rule["exempt_roles"] == []
    assert rule["exempt_channels"] == [str(world.general.id)]
    sim.post_message(world.alice, world.general, "you BADWORD")
    await connection.close()


async def test_the_allow_list_reaches_discord_and_is_honoured(
    sim: DiscordSimulator, world: World, connect: Connect
) -> None:
    spec = AutomodSpec(name="slurs", keywords=("*badword*",), allow=("notbadwords",))
    await connect(automod=True, automod_rules=[spec])
    (rule,) = world.guild.automod_rules.values()
    assert rule["trigger_metadata"]["allow_list"] == ["notbadwords"]
    sim.post_message(world.alice, world.general, "these are notbadwords at all")
    with pytest.raises(MessageBlocked):
        sim.post_message(world.alice, world.general, "a badword")


async def test_a_block_counts_as_a_hit_of_the_policy_rule_in_the_core(
    sim: DiscordSimulator, world: World, connect: Connect, tmp_path: Path
) -> None:
    """Across the seam: the adapter names the rule as the policy does, so the core opens a
    case with the points (a block used to be 'not one of our rules' and count for nothing)."""
    bot = await ModBot.open(tmp_path / "db.sqlite")
    try:
        await connect(
            automod=True, automod_rules=[AutomodSpec(name="insults", keywords=("idiot",))],
            handlers=bot.core,
        )  # fmt: skip
        with pytest.raises(MessageBlocked):
            sim.post_message(world.alice, world.general, "you IDIOT")

        async def opened() -> bool:
            return await bot.repos.cases.get(1) is not None

        await eventually(opened, "the case to open", step=0.05)
        case = await bot.repos.cases.get(1)
        assert case is not None
        assert case.origin == "insults"
        assert case.subject.id == str(world.alice.id)
    finally:
        await bot.db.close()
