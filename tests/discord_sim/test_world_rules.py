"""The simulator's own rules, without a client: AutoMod keywords, hierarchy, permissions."""

from __future__ import annotations

import pytest

from devtools.discord_simulator import DiscordSimulator, permissions
from devtools.discord_simulator.automod import find_matches


@pytest.fixture
def offline() -> DiscordSimulator:
    """A simulator that is never started: the world and its rules only."""
    return DiscordSimulator()


@pytest.mark.parametrize(
    ("keyword", "content", "matches"),
    [
        ("ass", "you ass", True),
        ("ass", "assistance please", False),  # whole words unless wildcards say otherwise
        ("ass*", "assistance please", True),
        ("*ance", "assistance please", True),
        ("*sist*", "assistance please", True),
        ("Idiot", "what an IDIOT", True),
        ("idiot", "idiots everywhere", False),
    ],
)
def test_automod_keyword_wildcards(
    offline: DiscordSimulator, keyword: str, content: str, matches: bool
) -> None:
    owner = offline.create_user("owner")
    guild = offline.create_guild("g", owner=owner)
    channel = offline.create_text_channel(guild, "general")
    guild.automod_rules[1] = {
        "id": "1",
        "name": "words",
        "enabled": True,
        "trigger_type": 1,
        "trigger_metadata": {"keyword_filter": [keyword]},
        "actions": [{"type": 1}],
    }

    found = find_matches(guild, guild.members[owner.id], channel.id, content)

    assert bool(found) is matches


def test_hierarchy_and_permissions(offline: DiscordSimulator) -> None:
    owner = offline.create_user("owner")
    guild = offline.create_guild("g", owner=owner)
    low = offline.create_role(guild, "low", permissions=permissions.KICK_MEMBERS)
    high = offline.create_role(guild, "high")
    a, b = offline.create_user("a"), offline.create_user("b")
    offline.add_member(guild, a, [low])
    offline.add_member(guild, b, [high])
    world = offline.world

    assert world.outranks(guild, b.id, a.id)
    assert not world.outranks(guild, a.id, b.id)
    assert not world.outranks(guild, a.id, a.id)  # equal rank is not enough
    assert not world.outranks(guild, b.id, owner.id)
    assert world.outranks(guild, owner.id, b.id)
    assert permissions.has(world.permissions_of(guild, a.id), permissions.KICK_MEMBERS)
    assert not permissions.has(world.permissions_of(guild, b.id), permissions.KICK_MEMBERS)
    assert world.permissions_of(guild, owner.id) == permissions.ALL
