"""Application commands: the ``/mod`` slash commands and the "Report message" context menu.

``/mod`` is registered per configured guild with ``default_permissions(moderate_members=True)``
(Discord hides it from members without that permission unless a server admin changes it in
the integration settings), and every invocation is checked again here against the configured
moderator roles or Administrator: the permission default is a server setting, the check is
ours. Each command is turned into a :class:`ModCommand` for the core, deferred ephemerally
first because the core may take seconds to act and report where.

"Report message" is installable in guilds and by users, usable in guilds, DMs with the bot
and private channels between members (a bot sees no DMs between others; the menu hands it
the message). It opens a modal for details; the confirmation is ephemeral and nothing is
posted in the channel.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import timedelta
from typing import Literal, Protocol

import discord
from discord import app_commands

from adapters.discord import translate
from adapters.discord.dms import DmPauses
from bridge.model import Account, Channel, CommandName, MembershipEvent, Message, ModCommand
from bridge.ports import CommandHandler

log = logging.getLogger(__name__)

REFUSAL = "Only this server's moderators can use /mod."
FAILED = "Something went wrong on our side; nothing was done. Please try again."
MAX_ANSWER = 2000


class DiscordHandlers(CommandHandler, Protocol):
    """What the core does with what happens on Discord (the core implements it)."""

    async def on_message(self, message: Message) -> None:
        """A message or an edit in a protected guild (never the bot's own)."""
        ...

    async def on_membership(self, event: MembershipEvent) -> None:
        """A join, leave, ban or unban in a protected guild."""
        ...

    async def on_direct_message(self, message: Message) -> None:
        """A member wrote to the bot in a DM."""
        ...

    async def on_report(
        self, *, reporter: Account, message: Message | None, details: str, origin: str
    ) -> str:
        """A member reported a message; return the confirmation to show them (ephemerally)."""
        ...

    async def on_automod_hit(
        self, *, rule_name: str, author: Account, channel: Channel, matched: str
    ) -> None:
        """Discord's native AutoMod blocked a message."""
        ...


class _Context:
    """What the command callbacks need; one per connection (no globals)."""

    def __init__(
        self,
        *,
        handlers: DiscordHandlers,
        moderator_roles: Collection[int],
        protected_guilds: Collection[int],
        dm_pauses: DmPauses,
    ) -> None:
        self.handlers = handlers
        self.moderator_roles = moderator_roles
        self.protected_guilds = protected_guilds
        self.dm_pauses = dm_pauses

    async def gate(self, interaction: discord.Interaction) -> bool:
        """Let moderators of protected guilds through; refuse everyone else ephemerally."""
        allowed = (
            interaction.guild_id in self.protected_guilds
            and isinstance(interaction.user, discord.Member)
            and translate.is_moderator(interaction.user, self.moderator_roles)
        )
        if not allowed:
            await interaction.response.send_message(REFUSAL, ephemeral=True)
        return allowed

    async def run(self, interaction: discord.Interaction, command: ModCommand) -> None:
        """Hand the command to the core and show its answer to the moderator only."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        moderator = translate.author(interaction.user, self.moderator_roles)
        try:
            answer = await self.handlers.on_mod_command(
                command, moderator=moderator, origin=f"discord:interaction:{interaction.id}"
            )
        except Exception as exc:
            log.error(
                "on_mod_command failed: %s (interaction %s, guild %s)",
                type(exc).__name__,
                interaction.id,
                interaction.guild_id,
            )
            answer = FAILED
        await interaction.followup.send(_clip(answer or "Done."), ephemeral=True)


class DmCommands(app_commands.Group, name="dms", description="Pause or resume DMs"):
    """``/mod dms pause <hours>`` and ``/mod dms resume``."""

    def __init__(self, context: _Context) -> None:
        super().__init__()
        self._context = context

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        """Only moderators (discord.py checks the binding group, not the parent, here)."""
        return await self._context.gate(interaction)

    @app_commands.command(description="Pause DMs between members who are not friends")
    @app_commands.describe(hours="How long, in hours (renewed past Discord's 24 h limit)")
    async def pause(
        self, interaction: discord.Interaction, hours: app_commands.Range[int, 1, 24 * 28]
    ) -> None:
        """Pause DMs in this guild for ``hours``."""
        guild_id = interaction.guild_id or 0
        # Answered within Discord's 3 seconds first: the REST call may wait out a 429.
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            applied = await self._context.dm_pauses.pause(guild_id, timedelta(hours=hours))
        except discord.HTTPException as exc:
            await interaction.followup.send(_incident_refusal(exc), ephemeral=True)
            return
        stamp = discord.utils.format_dt(applied, "f")
        more = "" if hours <= 24 else f"; renewed until {hours} h from now"
        await interaction.followup.send(
            f"DMs between members are paused until {stamp}{more}.", ephemeral=True
        )

    @app_commands.command(description="Let DMs between members flow again")
    async def resume(self, interaction: discord.Interaction) -> None:
        """End the DM pause in this guild."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            await self._context.dm_pauses.resume(interaction.guild_id or 0)
        except discord.HTTPException as exc:
            await interaction.followup.send(_incident_refusal(exc), ephemeral=True)
            return
        await interaction.followup.send("DMs between members are back on.", ephemeral=True)


class ModCommands(
    app_commands.Group,
    name="mod",
    description="Moderate this server",
    guild_only=True,
    default_permissions=discord.Permissions(moderate_members=True),
):
    """``/mod warn|mute|unmute|remove|ban|unban|case|history|note|pardon|close|link|unlink``
    and ``/mod dms``."""

    def __init__(self, context: _Context) -> None:
        super().__init__()
        self._context = context
        self.add_command(DmCommands(context))

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        """Only moderators of protected guilds; others get an ephemeral refusal."""
        return await self._context.gate(interaction)

    @app_commands.command(description="Warn a member by DM, quoting the code of conduct")
    async def warn(
        self, interaction: discord.Interaction, member: discord.Member, reason: str
    ) -> None:
        """``/mod warn``."""
        command = ModCommand(name=CommandName.WARN, target=translate.account(member), reason=reason)
        await self._context.run(interaction, command)

    @app_commands.command(description="Mute (time out) a member")
    @app_commands.describe(duration="How long: 10m, 1h, 7d, 2w")
    async def mute(
        self, interaction: discord.Interaction, member: discord.Member, duration: str, reason: str
    ) -> None:
        """``/mod mute``."""
        seconds = translate.parse_duration(duration)
        if seconds is None:
            await interaction.response.send_message(
                f"{duration!r} is not a duration: write e.g. 10m, 1h, 7d or 2w (at most 3650d).",
                ephemeral=True,
            )
            return
        command = ModCommand(
            name=CommandName.MUTE,
            target=translate.account(member),
            duration=timedelta(seconds=seconds),
            reason=reason,
        )
        await self._context.run(interaction, command)

    @app_commands.command(description="Lift a member's mute")
    async def unmute(
        self, interaction: discord.Interaction, member: discord.Member, reason: str = ""
    ) -> None:
        """``/mod unmute``."""
        command = ModCommand(
            name=CommandName.UNMUTE, target=translate.account(member), reason=reason
        )
        await self._context.run(interaction, command)

    @app_commands.command(description="Remove (kick) a member; they may come back")
    async def remove(
        self, interaction: discord.Interaction, member: discord.Member, reason: str
    ) -> None:
        """``/mod remove``."""
        command = ModCommand(
            name=CommandName.REMOVE, target=translate.account(member), reason=reason
        )
        await self._context.run(interaction, command)

    @app_commands.command(description="Ban a user from the community")
    async def ban(self, interaction: discord.Interaction, user: discord.User, reason: str) -> None:
        """``/mod ban`` (a user: they may have left already)."""
        command = ModCommand(name=CommandName.BAN, target=translate.account(user), reason=reason)
        await self._context.run(interaction, command)

    @app_commands.command(description="Lift a ban")
    @app_commands.describe(user="The user id or mention (banned users are not members)")
    async def unban(self, interaction: discord.Interaction, user: str, reason: str = "") -> None:
        """``/mod unban``."""
        target = translate.parse_user(user)
        if target is None:
            await interaction.response.send_message(
                f"{user!r} is not a user: give their id or mention.", ephemeral=True
            )
            return
        command = ModCommand(name=CommandName.UNBAN, target=target, reason=reason)
        await self._context.run(interaction, command)

    @app_commands.command(description="Show a case")
    async def case(
        self, interaction: discord.Interaction, number: app_commands.Range[int, 1]
    ) -> None:
        """``/mod case``."""
        await self._context.run(interaction, ModCommand(name=CommandName.CASE, case_id=number))

    @app_commands.command(description="Show a member's history")
    async def history(self, interaction: discord.Interaction, member: discord.User) -> None:
        """``/mod history``."""
        command = ModCommand(name=CommandName.HISTORY, target=translate.account(member))
        await self._context.run(interaction, command)

    @app_commands.command(description="Add a note to a case")
    async def note(
        self, interaction: discord.Interaction, number: app_commands.Range[int, 1], text: str
    ) -> None:
        """``/mod note``."""
        command = ModCommand(name=CommandName.NOTE, case_id=number, reason=text)
        await self._context.run(interaction, command)

    @app_commands.command(description="Pardon a case: its strike points stop counting")
    async def pardon(
        self, interaction: discord.Interaction, number: app_commands.Range[int, 1]
    ) -> None:
        """``/mod pardon``."""
        await self._context.run(interaction, ModCommand(name=CommandName.PARDON, case_id=number))

    @app_commands.command(description="Close a case; a reporter is told in general terms")
    async def close(
        self,
        interaction: discord.Interaction,
        number: app_commands.Range[int, 1],
        outcome: Literal["action", "noaction"],
        note: str = "",
    ) -> None:
        """``/mod close``."""
        command = ModCommand(
            name=CommandName.CLOSE, case_id=number, action_taken=outcome == "action", reason=note
        )
        await self._context.run(interaction, command)

    @app_commands.command(description="Link two accounts of one person (Discord or Matrix)")
    @app_commands.describe(user="A Discord id or mention, or a Matrix id @name:server")
    async def link(
        self, interaction: discord.Interaction, user: str, other: str, reason: str
    ) -> None:
        """``/mod link``."""
        first, second = translate.parse_user(user), translate.parse_user(other)
        if first is None or second is None:
            await interaction.response.send_message(
                "Give each user as a Discord id or mention, or a Matrix id @name:server.",
                ephemeral=True,
            )
            return
        command = ModCommand(name=CommandName.LINK, target=first, other=second, reason=reason)
        await self._context.run(interaction, command)

    @app_commands.command(description="Separate an account from the member it is linked to")
    async def unlink(self, interaction: discord.Interaction, user: str, reason: str) -> None:
        """``/mod unlink``."""
        target = translate.parse_user(user)
        if target is None:
            await interaction.response.send_message(
                f"{user!r} is not a user: give a Discord id or mention, or a Matrix id.",
                ephemeral=True,
            )
            return
        command = ModCommand(name=CommandName.UNLINK, target=target, reason=reason)
        await self._context.run(interaction, command)


class ReportModal(discord.ui.Modal, title="Report this message"):
    """What a member fills in after Apps > Report message."""

    details: discord.ui.TextInput[ReportModal] = discord.ui.TextInput(
        label="What is wrong with it?",
        style=discord.TextStyle.paragraph,
        max_length=1000,
        required=False,
    )

    def __init__(self, context: _Context, reported: Message, origin: str) -> None:
        super().__init__()
        self._context = context
        self._reported = reported
        self._origin = origin

    async def on_submit(self, interaction: discord.Interaction, /) -> None:
        """Hand the report to the core; only the reporter sees the confirmation."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            answer = await self._context.handlers.on_report(
                reporter=translate.account(interaction.user),
                message=self._reported,
                details=self.details.value,
                origin=self._origin,
            )
        except Exception as exc:
            log.error("on_report failed: %s (interaction %s)", type(exc).__name__, interaction.id)
            answer = FAILED
        await interaction.followup.send(_clip(answer or "Thank you."), ephemeral=True)


def build_tree(
    client: discord.Client,
    *,
    handlers: DiscordHandlers,
    moderator_roles: Collection[int],
    protected_guilds: Collection[int],
    dm_pauses: DmPauses,
) -> app_commands.CommandTree[discord.Client]:
    """The command tree: ``/mod`` in each protected guild, "Report message" everywhere."""
    context = _Context(
        handlers=handlers,
        moderator_roles=moderator_roles,
        protected_guilds=protected_guilds,
        dm_pauses=dm_pauses,
    )
    tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(client)
    tree.add_command(ModCommands(context), guilds=[discord.Object(g) for g in protected_guilds])

    @app_commands.context_menu(name="Report message")
    @app_commands.allowed_installs(guilds=True, users=True)
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    async def report(interaction: discord.Interaction, message: discord.Message) -> None:
        reported = translate.message(message, moderator_roles=moderator_roles)
        origin = f"discord:interaction:{interaction.id}"
        await interaction.response.send_modal(ReportModal(context, reported, origin))

    tree.add_command(report)

    @tree.error
    async def on_error(
        interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        # A refused check was answered already; anything else is logged by type and ids only
        # (the exception text may quote what the member typed).
        if isinstance(error, app_commands.CheckFailure):
            return
        cause = error.__cause__ or error
        log.error(
            "command failed: %s (interaction %s, guild %s)",
            type(cause).__name__,
            interaction.id,
            interaction.guild_id,
        )
        if not interaction.response.is_done():
            await interaction.response.send_message(FAILED, ephemeral=True)

    return tree


def _incident_refusal(exc: discord.HTTPException) -> str:
    if isinstance(exc, discord.Forbidden):
        return "Discord refused: the bot needs the Manage Server permission to pause DMs."
    return f"Discord did not accept it ({exc.status}); nothing changed. Please try again."


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ANSWER else text[: MAX_ANSWER - 1] + "…"
