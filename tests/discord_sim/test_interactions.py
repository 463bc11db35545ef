"""Slash commands, context menus and modals: the real CommandTree against the simulator."""

from __future__ import annotations

import asyncio

import discord
import pytest
from discord import app_commands

from devtools.discord_simulator import DiscordSimulator, SimulatorError
from tests.discord_sim.conftest import SimBot, World


class ReportModal(discord.ui.Modal, title="Report this message"):
    """What a member fills in after choosing Apps > Report message."""

    reason: discord.ui.TextInput[ReportModal] = discord.ui.TextInput(label="What is wrong?")

    def __init__(self, reported: discord.Message) -> None:
        super().__init__()
        self.reported = reported

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            f"Thanks, we look at {self.reported.author.name}'s message: {self.reason.value}",
            ephemeral=True,
        )


refusals: list[int] = []


def make_tree(client: SimBot, world: World) -> app_commands.CommandTree[SimBot]:
    tree: app_commands.CommandTree[SimBot] = app_commands.CommandTree(client)
    guild = discord.Object(world.guild.id)

    @tree.command(name="warn", description="Warn a member", guild=guild)
    @app_commands.default_permissions(moderate_members=True)
    async def warn(interaction: discord.Interaction, member: discord.Member, reason: str) -> None:
        await interaction.response.send_message(f"Warned {member.name}: {reason}", ephemeral=True)

    @tree.command(name="slow", description="Deferred answer", guild=guild)
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send("done after thinking", ephemeral=True)

    @tree.command(name="late", description="Answers after Discord gave up", guild=guild)
    async def late(interaction: discord.Interaction) -> None:
        await asyncio.sleep(3.2)
        try:
            await interaction.response.send_message("too late", ephemeral=True)
        except discord.NotFound as exc:
            refusals.append(exc.code)

    @tree.context_menu(name="Report message", guild=guild)
    async def report(interaction: discord.Interaction, message: discord.Message) -> None:
        await interaction.response.send_modal(ReportModal(message))

    return tree


async def test_tree_sync_registers_guild_commands(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    tree = make_tree(client, world)

    synced = await tree.sync(guild=discord.Object(world.guild.id))

    assert sorted(c.name for c in synced) == ["Report message", "late", "slow", "warn"]
    stored = world.guild.commands[world.bot.application_id or 0]
    warn = next(c for c in stored if c["name"] == "warn")
    assert [o["name"] for o in warn["options"]] == ["member", "reason"]
    assert warn["default_member_permissions"] == str(1 << 40)
    again = await tree.sync(guild=discord.Object(world.guild.id))
    assert {c.id for c in again} == {c.id for c in synced}


async def test_a_slash_command_gets_an_ephemeral_answer(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    tree = make_tree(client, world)
    await tree.sync(guild=discord.Object(world.guild.id))

    handle = sim.invoke_slash_command(
        world.bot, world.senior, world.general, "warn", {"member": world.alice, "reason": "spam"}
    )

    answer = await handle.response()
    assert answer["type"] == 4
    assert answer["data"]["flags"] == 64
    assert answer["data"]["content"] == "Warned alice: spam"
    assert handle.ephemeral
    callback = await sim.wait_for_request("POST", "/interactions/{interaction_id}/{token}/callback")
    assert "Authorization" not in callback.headers
    # Ephemeral: nobody else sees it, so no MESSAGE_CREATE for it.
    assert client.events("message") == []


async def test_a_deferred_answer_is_completed_by_a_followup(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    tree = make_tree(client, world)
    await tree.sync(guild=discord.Object(world.guild.id))

    handle = sim.invoke_slash_command(world.bot, world.alice, world.general, "slow")

    answer = await handle.response()
    assert answer["type"] == 5
    assert answer["data"]["flags"] == 64
    request = await sim.wait_for_request("POST", "/webhooks/{application_id}/{token}")
    assert request.json["content"] == "done after thinking"
    assert await handle.wait_for_content() == "done after thinking"
    assert handle.ephemeral
    assert [m.id for m in handle.followups] == [handle.original_message_id]


async def test_an_interaction_not_answered_within_3_seconds_is_gone(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    """As on Discord: the first answer (or a defer) must come within 3 seconds."""
    tree = make_tree(client, world)
    await tree.sync(guild=discord.Object(world.guild.id))
    refusals.clear()

    sim.invoke_slash_command(world.bot, world.alice, world.general, "late")

    await sim.wait_for_request("POST", "/interactions/{interaction_id}/{token}/callback")
    for _ in range(50):
        if refusals:
            break
        await asyncio.sleep(0.05)
    assert refusals == [10062]  # Unknown Interaction


async def test_message_context_menu_and_modal_round_trip(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    tree = make_tree(client, world)
    await tree.sync(guild=discord.Object(world.guild.id))
    insult = sim.post_message(world.bob, world.general, "you are all idiots")
    await client.expect("message")

    menu = sim.invoke_message_context_menu(world.bot, world.alice, insult, "Report message")

    answer = await menu.response()
    assert answer["type"] == 9
    assert menu.modal is not None
    assert menu.modal["title"] == "Report this message"

    submitted = sim.submit_modal(menu, {"What is wrong?": "insults everyone"})

    reply = await submitted.response()
    assert reply["data"]["content"] == "Thanks, we look at bob's message: insults everyone"
    assert submitted.ephemeral


async def test_an_unregistered_command_cannot_be_invoked(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    with pytest.raises(SimulatorError, match="registered no command 'warn'"):
        sim.invoke_slash_command(world.bot, world.alice, world.general, "warn")


async def test_a_user_installed_menu_reports_a_message_from_a_private_dm(
    sim: DiscordSimulator, world: World, client: SimBot
) -> None:
    tree: app_commands.CommandTree[SimBot] = app_commands.CommandTree(client)
    reports: list[tuple[int, str]] = []

    @tree.context_menu(name="Report to moderators")
    @app_commands.allowed_installs(guilds=False, users=True)
    @app_commands.allowed_contexts(guilds=False, dms=False, private_channels=True)
    async def report(interaction: discord.Interaction, message: discord.Message) -> None:
        reports.append((message.author.id, message.content))
        await interaction.response.send_message("Reported, thank you.", ephemeral=True)

    await tree.sync()
    private = sim.open_dm(world.alice, world.bob)
    threat = sim.post_message(world.bob, private, "send me your password or else")

    handle = sim.invoke_message_context_menu(world.bot, world.alice, threat, "Report to moderators")

    answer = await handle.response()
    assert answer["data"]["content"] == "Reported, thank you."
    assert reports == [(world.bob.id, "send me your password or else")]
    # The bot never saw the DM itself: only the content Discord handed over in the report.
    assert client.events("message") == []
