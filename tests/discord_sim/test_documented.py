"""The simulator against Discord's documentation: error shapes, incident actions, DM opening,
audit-log reasons, ephemeral messages and interaction tokens (issue 17, items 2, 3 and 8)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import discord
import pytest

from devtools.discord_simulator import DiscordSimulator
from tests.discord_sim.conftest import SimBot, World


async def _raw(
    sim: DiscordSimulator,
    world: World,
    method: str,
    path: str,
    *,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, str, Any]:
    sent = {"Authorization": f"Bot {world.bot.token}", "Content-Type": "application/json"}
    sent.update(headers or {})
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{sim.api_url}{path}", data=data, headers=sent) as answer,
    ):
        return answer.status, answer.headers["Content-Type"], await answer.json()


# -- item 8: malformed requests are 400s in Discord's shape, never 500 -------------------------


async def test_malformed_json_is_400_with_code_50109(sim: DiscordSimulator, world: World) -> None:
    # JSON error codes: 50109 "The request body contains invalid JSON."
    status, kind, body = await _raw(
        sim, world, "POST", f"/channels/{world.general.id}/messages", data=b'{"content": "x"'
    )
    assert (status, kind, body["code"]) == (400, "application/json", 50109)


async def test_a_non_numeric_id_is_400_invalid_form_body(
    sim: DiscordSimulator, world: World
) -> None:
    # Discord validates path snowflakes like body fields: 50035 naming the field.
    status, _, body = await _raw(sim, world, "GET", f"/guilds/{world.guild.id}/members/abc")
    assert status == 400
    assert body["code"] == 50035
    assert body["errors"]["user_id"]["_errors"][0]["code"] == "NUMBER_TYPE_COERCE"
    status, _, body = await _raw(
        sim, world, "POST", "/users/@me/channels", data=b'{"recipient_id": "bob"}'
    )
    assert (status, body["code"]) == (400, 50035)
    assert "recipient_id" in body["errors"]


async def test_unknown_automod_rule_is_404_not_an_unrelated_code(
    sim: DiscordSimulator, world: World
) -> None:
    status, _, body = await _raw(
        sim, world, "GET", f"/guilds/{world.guild.id}/auto-moderation/rules/123456789012345678"
    )
    # 10066 is "Unknown application command permissions", 10070 "Unknown Guild Scheduled
    # Event": Discord documents no code for this case.
    assert status == 404
    assert body == {"message": "Unknown Auto Moderation Rule", "code": 0}


@pytest.mark.parametrize(("length", "status"), [(512, 204), (513, 400)])
async def test_audit_log_reason_is_1_to_512_characters_decoded(
    sim: DiscordSimulator, world: World, client: SimBot, length: int, status: int
) -> None:
    guild = client.get_guild(world.guild.id)
    assert guild is not None
    # "é" percent-encodes to 6 characters: the limit counts the decoded reason.
    reason = "é" * length
    if status == 204:
        await guild.kick(discord.Object(world.alice.id), reason=reason)
        assert sim.member(world.guild, world.alice) is None
    else:
        with pytest.raises(discord.HTTPException) as refused:
            await guild.kick(discord.Object(world.alice.id), reason=reason)
        assert (refused.value.status, refused.value.code) == (400, 50035)
        assert sim.member(world.guild, world.alice) is not None
    (kick,) = sim.requests.find("DELETE", "/guilds/{guild_id}/members/{user_id}")
    assert kick.status == status


# -- item 2: a PUT of incident actions replaces both fields --------------------------------------


async def test_incident_actions_put_resets_the_field_it_leaves_out(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    guild = client.get_guild(world.guild.id)
    assert guild is not None
    invites_until = datetime.now(UTC) + timedelta(hours=6)
    await guild.edit(invites_disabled_until=invites_until)
    assert world.guild.incidents["invites_disabled_until"] == invites_until

    # discord.py sends only the field it was given: the invite pause is lifted by it.
    await guild.edit(dms_disabled_until=datetime.now(UTC) + timedelta(hours=1))

    assert world.guild.incidents["invites_disabled_until"] is None
    assert world.guild.incidents["dms_disabled_until"] is not None


# -- item 3: opening DMs too fast ------------------------------------------------------------------


async def test_opening_new_dms_too_fast_is_refused_with_40003(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    now = [0.0]
    sim.world.clock = lambda: now[0]
    sim.world.dm_open_limit = (2, 10.0)
    others = [sim.create_user(f"member{i}") for i in range(3)]

    await client.create_dm(discord.Object(others[0].id))
    await client.create_dm(discord.Object(others[1].id))
    with pytest.raises(discord.Forbidden) as refused:
        await client.http.start_private_message(others[2].id)
    assert refused.value.code == 40003
    # A DM channel that exists already is handed back; a new one after the window is fine.
    await client.http.start_private_message(others[0].id)
    now[0] = 10.0
    await client.http.start_private_message(others[2].id)


# -- item 8: ephemeral messages, interaction tokens, followups -----------------------------------


def _ping_command(world: World, **extra: Any) -> None:
    world.guild.commands[world.bot.application_id or 0] = [
        {"id": "1", "name": "ping", "type": 1, "options": [], "guild_id": str(world.guild.id)}
        | extra
    ]


async def test_ephemeral_answers_are_not_in_the_channel_history(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    _ping_command(world)
    handle = sim.invoke_slash_command(world.bot, world.alice, world.general, "ping")
    url = f"{sim.api_url}/interactions/{handle.id}/{handle.token}/callback"
    async with aiohttp.ClientSession() as session:
        body = {"type": 4, "data": {"content": "only for you", "flags": 64}}
        async with session.post(url, json=body) as answer:
            assert answer.status == 204
    sim.post_message(world.alice, world.general, "public")

    channel = client.get_channel(world.general.id)
    assert isinstance(channel, discord.TextChannel)
    history = [m.content async for m in channel.history()]
    assert history == ["public"]
    assert handle.original_message is not None
    with pytest.raises(discord.NotFound):
        await channel.fetch_message(handle.original_message.id)


async def test_interaction_token_expires_after_15_minutes(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    now = [1000.0]
    sim.world.clock = lambda: now[0]
    _ping_command(world)
    handle = sim.invoke_slash_command(world.bot, world.alice, world.general, "ping")
    hook = f"{sim.api_url}/webhooks/{world.bot.application_id}/{handle.token}"
    async with aiohttp.ClientSession() as session:
        callback = f"{sim.api_url}/interactions/{handle.id}/{handle.token}/callback"
        async with session.post(callback, json={"type": 5}) as answer:
            assert answer.status == 204
        now[0] += 14 * 60
        async with session.post(hook, json={"content": "in time"}) as answer:
            assert answer.status == 204
        now[0] += 61
        async with session.post(hook, json={"content": "too late"}) as answer:
            assert answer.status == 401
            assert (await answer.json())["code"] == 50027


async def test_user_installed_interaction_gets_at_most_5_followups(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    world.guild.commands.clear()
    sim.world.global_commands[world.bot.application_id or 0] = [
        {"id": "2", "name": "ping", "type": 1, "options": [], "contexts": [0, 1, 2]}
    ]
    dm = sim.open_dm(world.alice, world.senior)  # a DM between two people: user install only
    handle = sim.invoke_slash_command(world.bot, world.alice, dm, "ping")
    hook = f"{sim.api_url}/webhooks/{world.bot.application_id}/{handle.token}"
    async with aiohttp.ClientSession() as session:
        callback = f"{sim.api_url}/interactions/{handle.id}/{handle.token}/callback"
        async with session.post(callback, json={"type": 4, "data": {"content": "hi"}}) as answer:
            assert answer.status == 204
        statuses = []
        for n in range(6):
            async with session.post(hook, json={"content": f"followup {n}"}) as answer:
                statuses.append(answer.status)
                body = await answer.read()
    assert statuses == [204] * 5 + [400]
    assert b"40094" in body
