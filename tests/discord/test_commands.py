"""Slash commands, the report menu and DM pauses, as moderators and members use them."""

from __future__ import annotations

from datetime import timedelta

from adapters.discord.connection import DiscordConnection
from adapters.discord.names import DiscordDirectory
from devtools.discord_simulator import DiscordSimulator, Message, permissions
from domain.model import CommandName, ModCommand, Platform
from tests.discord.conftest import Connect
from tests.discord_sim.conftest import World
from tests.fakes import RecordingCore

INCIDENTS = "/guilds/{guild_id}/incident-actions"
EPHEMERAL = 1 << 6


def public_messages(sim: DiscordSimulator, world: World) -> list[Message]:
    """What everyone in #general sees (ephemeral answers are only for the one who asked)."""
    return [m for m in sim.messages_in(world.general) if not m.flags & EPHEMERAL]


async def test_commands_are_registered_in_the_guild_and_the_menu_globally(
    sim: DiscordSimulator, world: World, connection: DiscordConnection
) -> None:
    app = world.bot.application_id or 0
    (mod,) = world.guild.commands[app]
    assert mod["name"] == "mod"
    assert mod["default_member_permissions"] == str(1 << 40)
    names = sorted(o["name"] for o in mod["options"])
    assert names == [
        "ban", "case", "cases", "close", "dms", "duration", "history", "kick", "link", "mute",
        "note", "pardon", "reason", "remove", "status", "unban", "unlink", "unmute", "warn",
    ]  # fmt: skip
    (menu,) = sim.world.global_commands[app]
    assert (menu["name"], menu["type"]) == ("Report message", 3)
    assert sorted(menu["contexts"]) == [0, 1, 2]
    assert sorted(menu["integration_types"]) == [0, 1]


async def test_a_moderators_ban_reaches_the_core_and_the_answer_is_ephemeral(
    sim: DiscordSimulator, world: World, connection: DiscordConnection, recorder: RecordingCore
) -> None:
    handle = sim.invoke_slash_command(
        world.bot, world.senior, world.general, "mod ban", {"member": world.alice, "reason": "spam"}
    )

    first = await handle.response()
    assert first["type"] == 5  # deferred: the core may take a while
    assert await handle.wait_for_content() == "Banned, case #7."
    assert handle.ephemeral
    ((command, moderator, origin),) = recorder.mod_commands
    assert command.name is CommandName.BAN
    assert command.target is not None
    assert (command.target.platform, command.target.id) == (Platform.DISCORD, str(world.alice.id))
    assert command.reason == "spam"
    assert moderator.account.id == str(world.senior.id)
    assert moderator.is_moderator
    assert origin == f"discord:interaction:{handle.id}"
    # Only the moderator saw the answer; nothing was posted in the channel.
    assert public_messages(sim, world) == []


async def test_mute_and_unban_commands_are_parsed(
    sim: DiscordSimulator, world: World, connection: DiscordConnection, recorder: RecordingCore
) -> None:
    muted = sim.invoke_slash_command(
        world.bot,
        world.admin,
        world.general,
        "mod mute",
        {"member": world.alice, "duration": "7d", "reason": "flooding"},
    )
    await muted.wait_for_content()
    unbanned = sim.invoke_slash_command(
        world.bot, world.admin, world.general, "mod unban", {"member": f"<@{world.bob.id}>"}
    )
    await unbanned.wait_for_content()
    case = sim.invoke_slash_command(
        world.bot, world.admin, world.general, "mod case", {"number": 12}
    )
    await case.wait_for_content()

    commands = [c for c, _, _ in recorder.mod_commands]
    assert commands[0].target is not None
    assert commands[0].target.key == f"discord:{world.alice.id}"
    assert commands[0] == ModCommand(
        name=CommandName.MUTE,
        target=commands[0].target,
        duration=timedelta(days=7),
        reason="flooding",
    )
    assert commands[1].name is CommandName.UNBAN
    assert commands[1].target is not None
    assert commands[1].target.id == str(world.bob.id)
    assert commands[2] == ModCommand(name=CommandName.CASE, case_id=12)


async def test_case_and_link_commands_are_parsed(
    sim: DiscordSimulator, world: World, connection: DiscordConnection, recorder: RecordingCore
) -> None:
    invocations = [
        ("mod note", {"number": 3, "text": "talked to them"}),
        ("mod pardon", {"number": 3}),
        ("mod close", {"number": 3, "outcome": "action", "note": "warned"}),
        ("mod link", {"member": f"<@{world.alice.id}>", "other": "@alice:example.org",
                      "reason": "same person"}),
        ("mod unlink", {"member": "@alice:example.org", "reason": "mistake"}),
    ]  # fmt: skip
    for name, options in invocations:
        handle = sim.invoke_slash_command(world.bot, world.admin, world.general, name, options)
        await handle.wait_for_content()
        assert handle.ephemeral
    commands = [c for c, _, _ in recorder.mod_commands]
    assert commands[0] == ModCommand(name=CommandName.NOTE, case_id=3, reason="talked to them")
    assert commands[1] == ModCommand(name=CommandName.PARDON, case_id=3)
    assert commands[2] == ModCommand(
        name=CommandName.CLOSE, case_id=3, action_taken=True, reason="warned"
    )
    assert commands[3].name is CommandName.LINK
    assert commands[3].target is not None
    assert commands[3].target.key == f"discord:{world.alice.id}"
    assert commands[3].other is not None
    assert commands[3].other.key == "matrix:@alice:example.org"
    assert commands[4].target is not None
    assert commands[4].target.key == "matrix:@alice:example.org"


async def test_a_bad_duration_is_answered_without_bothering_the_core(
    sim: DiscordSimulator, world: World, connection: DiscordConnection, recorder: RecordingCore
) -> None:
    handle = sim.invoke_slash_command(
        world.bot,
        world.admin,
        world.general,
        "mod mute",
        {"member": world.alice, "duration": "a while", "reason": "x"},
    )

    assert "not a duration" in await handle.wait_for_content()
    assert handle.ephemeral
    assert recorder.mod_commands == []


async def test_a_non_moderator_is_refused_and_nothing_happens(
    sim: DiscordSimulator, world: World, connection: DiscordConnection, recorder: RecordingCore
) -> None:
    ban = sim.invoke_slash_command(
        world.bot, world.alice, world.general, "mod ban", {"member": world.bob, "reason": "I can"}
    )
    pause = sim.invoke_slash_command(
        world.bot, world.alice, world.general, "mod dms pause", {"hours": 2}
    )

    for handle in (ban, pause):
        answer = await handle.response()
        assert answer["type"] == 4
        assert answer["data"]["content"] == "Only this server's moderators can use /mod."
        assert handle.ephemeral
    assert recorder.mod_commands == []
    assert sim.requests.find("PUT", INCIDENTS) == []
    assert not sim.is_banned(world.guild, world.bob)


async def test_report_message_opens_a_modal_and_confirms_privately(
    sim: DiscordSimulator, world: World, connection: DiscordConnection, recorder: RecordingCore
) -> None:
    insult = sim.post_message(world.bob, world.general, "you are all idiots")
    await recorder.wait(lambda: len(recorder.messages) == 1)

    menu = sim.invoke_message_context_menu(world.bot, world.alice, insult, "Report message")
    await menu.response()
    assert menu.modal is not None
    assert menu.modal["title"] == "Report this message"
    submitted = sim.submit_modal(menu, {"What is wrong with it?": "insults everyone"})

    assert await submitted.wait_for_content() == "Thank you, the moderators will look at it."
    assert submitted.ephemeral
    (report,) = recorder.reports
    assert report.reporter.id == str(world.alice.id)
    assert report.details == "insults everyone"
    assert report.origin == f"discord:interaction:{menu.id}"
    assert report.message is not None
    assert report.message.id == str(insult.id)
    assert report.message.text == "you are all idiots"
    assert report.message.author.account.id == str(world.bob.id)
    # Nothing in the channel tells bob (or anyone) who reported him.
    assert [m.content for m in public_messages(sim, world)] == ["you are all idiots"]


async def test_report_from_a_private_dm_between_members(
    sim: DiscordSimulator, world: World, connection: DiscordConnection, recorder: RecordingCore
) -> None:
    private = sim.open_dm(world.alice, world.senior)
    threat = sim.post_message(world.senior, private, "send me your password")

    menu = sim.invoke_message_context_menu(world.bot, world.alice, threat, "Report message")
    await menu.response()
    submitted = sim.submit_modal(menu, {"What is wrong with it?": "phishing"})
    await submitted.wait_for_content()

    (report,) = recorder.reports
    assert report.message is not None
    assert report.message.is_dm
    assert report.message.text == "send me your password"
    assert recorder.direct_messages == []  # the bot never saw that DM itself


async def test_pausing_and_resuming_dms_are_commands_for_the_core_in_this_guild(
    sim: DiscordSimulator, world: World, connection: DiscordConnection, recorder: RecordingCore
) -> None:
    """/mod dms goes through the core like every command (a case, the outbox, renewal by its
    timers): the adapter itself changes nothing on Discord."""
    handle = sim.invoke_slash_command(
        world.bot, world.senior, world.general, "mod dms pause", {"hours": 48, "reason": "raid"}
    )
    assert await handle.wait_for_content() == "Banned, case #7."  # the core's answer
    assert handle.ephemeral
    resume = sim.invoke_slash_command(world.bot, world.senior, world.general, "mod dms resume")
    await resume.wait_for_content()

    (pause, _, origin), (back_on, _, _) = recorder.mod_commands
    assert pause == ModCommand(
        name=CommandName.DMS,
        duration=timedelta(hours=48),
        reason="raid",
        space_id=str(world.guild.id),
    )
    assert origin == f"discord:interaction:{handle.id}"
    assert back_on == ModCommand(name=CommandName.DMS, resume=True, space_id=str(world.guild.id))
    assert sim.requests.find("PUT", INCIDENTS) == []
    assert public_messages(sim, world) == []


async def test_in_a_dry_run_the_startup_notice_is_marked_and_a_pause_changes_nothing_here(
    sim: DiscordSimulator, world: World, connect: Connect, recorder: RecordingCore
) -> None:
    world.bot_role.permissions &= ~permissions.MANAGE_GUILD
    await connect(dry_run=True)

    notices = [m.content for m in public_messages(sim, world) if "missing" in m.content]
    assert notices, "the moderators are told what the bot lacks"
    assert all(n.startswith("(dry run)") for n in notices), notices
    handle = sim.invoke_slash_command(
        world.bot, world.senior, world.general, "mod dms pause", {"hours": 2}
    )
    await handle.wait_for_content()
    assert [c.name for c, _, _ in recorder.mod_commands] == [CommandName.DMS]
    assert sim.requests.find("PUT", INCIDENTS) == []
    assert world.guild.incidents.get("dms_disabled_until") is None


async def test_a_ban_names_a_matrix_only_member_for_a_time_with_a_purge(
    sim: DiscordSimulator, world: World, connection: DiscordConnection, recorder: RecordingCore
) -> None:
    """A member who is only on Matrix can be named from Discord, picked from the list."""
    typing = sim.invoke_autocomplete(
        world.bot, world.admin, world.general, "mod ban", {"member": "kip"}, focused="member"
    )
    answer = await typing.response()
    assert answer["type"] == 8  # autocomplete result
    assert {"name": "Kip (@kip:example.org)", "value": "@kip:example.org"} in answer["data"][
        "choices"
    ]
    members = sim.invoke_autocomplete(
        world.bot, world.admin, world.general, "mod ban", {"member": "ali"}, focused="member"
    )
    choices = (await members.response())["data"]["choices"]
    assert {"name": f"{world.alice.username} (Discord)", "value": f"discord:{world.alice.id}"} in (
        choices
    )
    handle = sim.invoke_slash_command(
        world.bot,
        world.admin,
        world.general,
        "mod ban",
        {"member": "@kip:example.org", "duration": "2d12H", "purge": "24h"},
    )
    await handle.wait_for_content()
    ((command, _, _),) = recorder.mod_commands
    assert command == ModCommand(
        name=CommandName.BAN,
        target=command.target,
        duration=timedelta(days=2, hours=12),
        purge=timedelta(hours=24),
    )
    assert command.target is not None
    assert command.target.key == "matrix:@kip:example.org"


async def test_a_purge_longer_than_discord_allows_is_refused_in_words(
    sim: DiscordSimulator, world: World, connection: DiscordConnection, recorder: RecordingCore
) -> None:
    handle = sim.invoke_slash_command(
        world.bot, world.admin, world.general, "mod ban", {"member": world.bob, "purge": "8d"}
    )
    assert (await handle.response())["data"]["content"] == (
        "purge reaches back at most 7d (Discord's limit)."
    )
    assert handle.ephemeral
    assert recorder.mod_commands == []


async def test_kick_and_its_old_name_remove_do_the_same(
    sim: DiscordSimulator, world: World, connection: DiscordConnection, recorder: RecordingCore
) -> None:
    for name in ("mod kick", "mod remove"):
        handle = sim.invoke_slash_command(
            world.bot, world.admin, world.general, name, {"member": world.bob}
        )
        await handle.wait_for_content()
    assert [c.name for c, _, _ in recorder.mod_commands] == [CommandName.KICK, CommandName.KICK]
    assert {c.reason for c, _, _ in recorder.mod_commands} == {""}


async def test_the_directory_names_guilds_channels_and_members_from_the_cache(
    world: World, connection: DiscordConnection
) -> None:
    directory = DiscordDirectory(connection.client)
    assert directory.space_name(str(world.guild.id)) == world.guild.name
    assert directory.space_name(str(world.general.id)) == f"#general in {world.guild.name}"
    assert directory.account_name(str(world.alice.id)) == world.alice.username
    assert directory.space_name("not-a-snowflake") == ""
    assert directory.account_name("1") == ""
