"""Moderators on both platforms, through the real clients' wire formats: an Element-style
pill in a Matrix command (matrix-nio against the real Synapse), /mod naming a Matrix-only
member (discord.py against the simulator), temporary bans with purge, and the modlog line
each case leaves in the OTHER platform's moderators' room."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from nio import RoomSendResponse

from devtools.discord_simulator import DiscordSimulator
from tests.e2e.community_helpers import (
    WAIT,
    Community,
    build_community,
    eventually,
    mod_room_notices,
)
from tests.e2e.matrix_helpers import send_text
from tests.e2e.service_helpers import is_redacted
from tests.e2e.synapse import SynapseServer

pytestmark = [pytest.mark.synapse, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def community(
    synapse: SynapseServer, sim: DiscordSimulator, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Community]:
    built = await build_community(
        synapse, sim, tmp_path_factory.mktemp("moderators"), guilds=1, rooms=3
    )
    # Another bot shares the mod room: modbridge answers only "!mb ...".
    built.config.write_text(
        built.config.read_text().replace("[matrix]\n", '[matrix]\ncommand_prefix = "!mb"\n')
    )
    try:
        await built.start()
        yield built
    finally:
        built.service.kill()


def pill_command(before: str, user_id: str, name: str, after: str) -> dict[str, Any]:
    """What Element sends when a moderator picks a member from the mention list."""
    return {
        "msgtype": "m.text",
        "body": f"{before}{name}{after}",
        "format": "org.matrix.custom.html",
        "formatted_body": f'{before}<a href="https://matrix.to/#/{user_id}">{name}</a>{after}',
        "m.mentions": {"user_ids": [user_id]},
    }


def discord_modlog(community: Community) -> list[str]:
    return [
        m.content
        for m in community.sim.messages_in(community.mod_channels[0])
        if m.content.startswith("[modlog]")
    ]


async def test_an_element_pill_bans_with_purge_and_discord_reads_the_modlog(
    community: Community,
) -> None:
    person = await community.add_person("doxxer")
    user_id = person.matrix.user_id
    # "!link" alone is another bot's business in this room.
    await community.matrix_command(
        f"!mb link {user_id} {person.discord_key}", lambda n: n.startswith("Linked:")
    )
    said = community.sim.post_message(person.discord, community.general[0], "she lives at ...")
    member = community.client(person.matrix)
    try:
        sent = await send_text(member, community.rooms[1], "her number is in my notes")
        assert isinstance(sent, RoomSendResponse), sent
    finally:
        await member.close()
    answer = await community.matrix_send(
        "",
        lambda n: n.startswith("Case #") and "banned" in n,
        content=pill_command("!mb ban ", user_id, "Doxxer", " 7d doxxing --purge 24h"),
    )
    print(answer)
    assert answer.startswith(f"Case #1: {person.name} ({user_id}) banned for 7d (until ")
    assert "their messages of the last 1d removed" in answer
    assert "done: ban in Guild 0 (Discord) (messages of the last 1d deleted)" in answer
    assert "done: ban in Room 1 (Matrix) (1 message removed)" in answer
    assert "FAILED" not in answer
    # What the moderators on Discord read: the modlog line, with names and no bare ids only.
    await eventually(lambda: _has(discord_modlog(community), user_id), "the Discord modlog")
    (line,) = [m for m in discord_modlog(community) if user_id in m]
    assert " · ban 7d, purge 1d · " in line
    assert f"{person.name} ({user_id})" in line
    assert "Discord: Guild 0; Matrix: Room " in line
    assert f"by moderator ({community.matrix_mod.user_id})" in line
    assert line.endswith(" · doxxing")
    # The member is gone and so are their messages, on both platforms.
    assert community.banned_guilds(person) == community.guilds
    assert set((await community.memberships(person)).values()) == {"ban"}
    assert not community.sim.message_exists(said)
    observer = community.client(community.observer)
    try:
        assert await is_redacted(observer, community.rooms[1], sent.event_id)
    finally:
        await observer.close()


async def _has_async(community: Community, needle: str) -> bool:
    return any(needle in n for n in await mod_room_notices(community))


def _has(lines: list[str], needle: str) -> Any:
    async def check() -> bool:
        return any(needle in line for line in lines)

    return check()


async def test_discord_moderators_ban_a_matrix_only_member_for_a_time(
    community: Community,
) -> None:
    person = await community.add_person("matrixonly")  # never linked: only on Matrix to us
    user_id = person.matrix.user_id
    member = community.client(person.matrix)
    try:
        sent = await send_text(member, community.rooms[0], "spam spam spam")
        assert isinstance(sent, RoomSendResponse), sent
    finally:
        await member.close()
    started = time.monotonic()
    handle = community.slash("mod ban", {"member": user_id, "duration": "1h30m", "purge": "2h"})
    answer = await handle.wait_for_content(timeout=WAIT)
    print(f"/mod ban answered in {time.monotonic() - started:.2f}s:\n{answer}")
    assert handle.ephemeral
    assert f"{person.name} ({user_id}) banned for 90m" in answer
    assert "(no reason given)" in answer
    assert answer.count("messages removed") >= 1
    assert "FAILED" not in answer
    assert community.banned_guilds(person) == []  # no Discord account of theirs is known
    assert set((await community.memberships(person)).values()) == {"ban"}
    observer = community.client(community.observer)
    try:
        assert await is_redacted(observer, community.rooms[0], sent.event_id)
    finally:
        await observer.close()
    # The Matrix moderators read it in their room: the modlog line names the Discord moderator.

    async def logged() -> bool:
        return await _has_async(community, f"{user_id}) · Matrix:") or await _has_async(
            community, f"· {user_id} · Matrix:"
        )

    await eventually(logged, "the modlog line in the Matrix mod room")
    (line,) = [n for n in await mod_room_notices(community) if "[modlog]" in n and user_id in n]
    assert " · ban 90m, purge 2h · " in line
    assert "by discord-mod (discord:" in line
    assert line.endswith(" · no reason given")


async def test_a_discord_dm_pause_is_a_case_carried_out_by_the_service(
    community: Community,
) -> None:
    """/mod dms pause through the running service: Discord's incident action is applied as
    far as Discord accepts, and the case reaches the modlog on Matrix like any other."""
    asked = datetime.now(UTC)
    handle = community.slash("mod dms pause", {"hours": 30, "reason": "raid"})
    answer = await handle.wait_for_content(timeout=WAIT)
    print(answer)
    assert handle.ephemeral
    assert answer.startswith("Case #")
    assert "DMs between members are paused until" in answer
    assert "(renewed past Discord's 24-hour limit)" in answer
    assert "done: pause DMs in Guild 0 (Discord)" in answer
    assert answer.endswith("Matrix has no equivalent: only Discord servers are paused.")
    applied = community.guilds[0].incidents["dms_disabled_until"]
    assert applied is not None
    assert timedelta(hours=23) < applied - asked <= timedelta(hours=24)

    async def logged() -> bool:
        return await _has_async(community, " · DMs paused 30h · ")

    await eventually(logged, "the DM pause's modlog line in the Matrix mod room")
    resume = community.slash("mod dms resume", {})
    assert "DMs between members are back on" in await resume.wait_for_content(timeout=WAIT)
    assert community.guilds[0].incidents["dms_disabled_until"] is None
