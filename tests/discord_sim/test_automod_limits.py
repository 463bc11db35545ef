"""AutoMod rules in the simulator: Discord's documented limits, Rust regex syntax, and regex
rules that really block (issue 17, item 1)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
import re2

from devtools.discord_simulator import DiscordSimulator, MessageBlocked
from devtools.discord_simulator.rust_regex import rust_regex_error
from tests.discord_sim.conftest import World

BLOCK = [{"type": 1}]


def rule_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "mods' rule",
        "event_type": 1,
        "trigger_type": 1,
        "trigger_metadata": {"keyword_filter": ["spam"]},
        "actions": BLOCK,
        "enabled": True,
    }
    body.update(overrides)
    return body


async def create(sim: DiscordSimulator, world: World, body: dict[str, Any]) -> tuple[int, Any]:
    url = f"{sim.api_url}/guilds/{world.guild.id}/auto-moderation/rules"
    headers = {"Authorization": f"Bot {world.bot.token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=body, headers=headers) as answer,
    ):
        return answer.status, await answer.json()


async def test_at_most_six_keyword_rules_and_one_spam_rule_per_guild(
    sim: DiscordSimulator, world: World
) -> None:
    for n in range(6):
        status, _ = await create(sim, world, rule_body(name=f"k{n}"))
        assert status == 200
    status, refused = await create(sim, world, rule_body(name="k7"))
    assert status == 400
    assert refused["code"] == 50035
    assert "trigger_type" in refused["errors"]

    spam = rule_body(name="spam", trigger_type=3, trigger_metadata={})
    assert (await create(sim, world, spam))[0] == 200
    assert (await create(sim, world, spam | {"name": "spam 2"}))[0] == 400
    assert len(world.guild.automod_rules) == 7


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("keyword_filter", {"trigger_metadata": {"keyword_filter": ["x" * 61]}}),
        ("keyword_filter", {"trigger_metadata": {"keyword_filter": ["k"] * 1001}}),
        ("regex_patterns", {"trigger_metadata": {"regex_patterns": ["a" * 261]}}),
        ("regex_patterns", {"trigger_metadata": {"regex_patterns": ["a"] * 11}}),
        ("allow_list", {"trigger_metadata": {"keyword_filter": ["k"], "allow_list": ["a"] * 101}}),
        ("exempt_roles", {"exempt_roles": [str(n) for n in range(1, 22)]}),
        ("exempt_channels", {"exempt_channels": [str(n) for n in range(1, 52)]}),
        ("name", {"name": "n" * 101}),
        ("name", {"name": ""}),
        ("actions", {"actions": []}),
        ("actions", {"actions": BLOCK * 6}),
    ],
)
async def test_per_field_limits_are_refused_naming_the_field(
    sim: DiscordSimulator, world: World, field: str, overrides: dict[str, Any]
) -> None:
    status, refused = await create(sim, world, rule_body(**overrides))

    assert status == 400
    assert refused["code"] == 50035
    errors = refused["errors"].get("trigger_metadata", refused["errors"])
    assert field in errors
    assert world.guild.automod_rules == {}


async def test_the_limits_themselves_are_accepted(sim: DiscordSimulator, world: World) -> None:
    body = rule_body(
        name="n" * 100,
        trigger_metadata={
            "keyword_filter": ["x" * 60] + [f"k{n}" for n in range(999)],
            "regex_patterns": ["a" * 260] + [f"b{n}" for n in range(9)],
            "allow_list": [f"a{n}" for n in range(100)],
        },
        exempt_roles=[str(n) for n in range(1, 21)],
        exempt_channels=[str(n) for n in range(1, 51)],
        actions=BLOCK * 5,
    )
    assert (await create(sim, world, body))[0] == 200


@pytest.mark.parametrize(
    ("pattern", "refused"),
    [
        (r"\+254\d{9}", False),
        (r"(?i)free\s+nitro", False),
        (r"(?P<word>cat)s?", False),
        (r"[(?=]x", False),  # inside a class "(?=" is three literals
        (r"\p{L}+@\w+", False),
        (r"\Q+254\E\d+", True),  # RE2 quoting: the crate has none
        (r"\C", True),  # RE2's any-byte
        (r"(?=nitro)free", True),
        (r"(?<!no )spam", True),
        (r"(a)\1", True),
        (r"(?>ab)c", True),
        (r"spam\Z", True),
    ],
)
def test_regexes_are_checked_as_rusts_regex_crate_parses_them(pattern: str, refused: bool) -> None:
    assert (rust_regex_error(pattern) is not None) is refused


async def test_a_pattern_re2_accepts_is_refused_by_discord(
    sim: DiscordSimulator, world: World
) -> None:
    pattern = r"\Q+254\E\d{9}"
    re2.compile(pattern)  # modbridge's own engine would take it

    status, refused = await create(
        sim, world, rule_body(trigger_metadata={"regex_patterns": [pattern]})
    )

    assert status == 400
    (error,) = refused["errors"]["trigger_metadata"]["regex_patterns"]["0"]["_errors"]
    assert error["code"] == "AUTO_MODERATION_INVALID_REGEX"


async def test_a_regex_rule_blocks_what_it_matches_and_lets_the_rest_through(
    sim: DiscordSimulator, world: World
) -> None:
    body = rule_body(trigger_metadata={"regex_patterns": [r"\+254\d{9}"], "allow_list": []})
    assert (await create(sim, world, body))[0] == 200

    with pytest.raises(MessageBlocked) as blocked:
        sim.post_message(world.alice, world.general, "call me on +254712345678")
    (match,) = blocked.value.matches
    assert match.matched == "+254712345678"
    assert sim.messages_in(world.general) == []

    sim.post_message(world.alice, world.general, "call me on +25471")
    assert [m.content for m in sim.messages_in(world.general)] == ["call me on +25471"]
