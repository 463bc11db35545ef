"""Application commands: the ``/mod`` slash commands and the "Report message" context menu.

``/mod`` (its commands are in mod_commands.py) is registered per configured guild with
``default_permissions(moderate_members=True)`` (Discord hides it from members without that
permission unless a server admin changes it in the integration settings), and every
invocation is checked again here against the configured moderator roles or Administrator:
the permission default is a server setting, the check is ours. Each command is turned into
a :class:`ModCommand` for the core, deferred ephemerally first because the core may take
seconds to act and report where.

"Report message" is installable in guilds and by users, usable in guilds, DMs with the bot
and private channels between members (a bot sees no DMs between others; the menu hands it
the message). It opens a modal for details; the confirmation is ephemeral and nothing is
posted in the channel.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import timedelta

import discord
from discord import app_commands

from adapters.discord import translate
from adapters.discord.mod_commands import ModCommands
from adapters.discord.rest import clip
from domain.model import Account, CommandName, Message, ModCommand
from domain.ports import Inbound

log = logging.getLogger(__name__)

REFUSAL = "Only this server's moderators can use /mod."
FAILED = "Something went wrong on our side; nothing was done. Please try again."
DRY_RUN = "(dry run)"  # as bridge.dryrun marks every answer of a service in dry run


class _Context:
    """What the command callbacks need; one per connection (no globals)."""

    def __init__(
        self,
        *,
        handlers: Inbound,
        moderator_roles: Collection[int],
        protected_guilds: Collection[int],
    ) -> None:
        self.handlers = handlers
        self.moderator_roles = moderator_roles
        self.protected_guilds = protected_guilds

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
        await interaction.followup.send(clip(answer or "Done."), ephemeral=True)

    async def known_accounts(self, text: str) -> list[Account]:
        """Accounts the core knows matching ``text``; none if it cannot say now."""
        try:
            return await self.handlers.known_accounts(text)
        except Exception as exc:  # an autocomplete must answer within 3 s, even empty
            log.warning("known_accounts failed: %s", type(exc).__name__)
            return []


class DmCommands(app_commands.Group, name="dms", description="Pause or resume DMs"):
    """``/mod dms pause <hours>`` and ``/mod dms resume``: commands for the core like the
    others (a case, an audit record, the action in the outbox, renewal by its timers)."""

    def __init__(self, context: _Context) -> None:
        super().__init__()
        self._context = context

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        """Only moderators (discord.py checks the binding group, not the parent, here)."""
        return await self._context.gate(interaction)

    @app_commands.command(description="Pause DMs between members who are not friends")
    @app_commands.describe(
        hours="How long, in hours (renewed past Discord's 24 h limit)", reason="Why"
    )
    async def pause(
        self,
        interaction: discord.Interaction,
        hours: app_commands.Range[int, 1, 24 * 28],
        reason: str = "",
    ) -> None:
        """Pause DMs in this guild for ``hours``."""
        command = ModCommand(
            name=CommandName.DMS, duration=timedelta(hours=hours), reason=reason,
            space_id=str(interaction.guild_id or ""),
        )  # fmt: skip
        await self._context.run(interaction, command)

    @app_commands.command(description="Let DMs between members flow again")
    @app_commands.describe(reason="Why")
    async def resume(self, interaction: discord.Interaction, reason: str = "") -> None:
        """End the DM pause in this guild."""
        command = ModCommand(
            name=CommandName.DMS, resume=True, reason=reason,
            space_id=str(interaction.guild_id or ""),
        )  # fmt: skip
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
        await interaction.followup.send(clip(answer or "Thank you."), ephemeral=True)


def build_tree(
    client: discord.Client,
    *,
    handlers: Inbound,
    moderator_roles: Collection[int],
    protected_guilds: Collection[int],
) -> app_commands.CommandTree[discord.Client]:
    """The command tree: ``/mod`` in each protected guild, "Report message" everywhere."""
    context = _Context(
        handlers=handlers,
        moderator_roles=moderator_roles,
        protected_guilds=protected_guilds,
    )
    tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(client)
    mod = ModCommands(context)
    mod.add_command(DmCommands(context))
    tree.add_command(mod, guilds=[discord.Object(g) for g in protected_guilds])

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
