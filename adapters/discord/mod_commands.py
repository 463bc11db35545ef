"""The ``/mod`` slash commands: the same commands as Matrix's ``!`` ones, structured.

A member is any account: a Discord member picked from the autocomplete (or written as a
mention or id), or a Matrix id (``@kip:example.org``) of a member who is only on Matrix.
The autocomplete offers the guild's members and the accounts modbridge knows, matching
what the moderator typed. Reasons are optional; durations take the one parser's forms
(``10m``, ``1h30m``, ``7d``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Literal, Protocol

import discord
from discord import app_commands

from domain.durations import EXAMPLES, parse_duration
from domain.model import Account, CommandName, ModCommand, Platform
from domain.userids import parse_account

MAX_PURGE = timedelta(days=7)  # Discord deletes at most a week of a banned member's messages
MAX_CHOICES = 25  # Discord shows at most 25 autocomplete choices
MEMBER = "A member: pick one, or write a mention, discord:<id> or a Matrix id @name:server"


class ModContext(Protocol):
    """What the /mod callbacks need from the command tree (see commands.py)."""

    async def gate(self, interaction: discord.Interaction) -> bool:
        """Let moderators through; refuse everyone else ephemerally."""
        ...

    async def run(self, interaction: discord.Interaction, command: ModCommand) -> None:
        """Hand the command to the core and show its answer to the moderator only."""
        ...

    async def known_accounts(self, text: str) -> list[Account]:
        """Accounts modbridge knows whose id or name contains ``text`` (autocomplete)."""
        ...


def _label(account: Account) -> str:
    where = account.id if account.platform is Platform.MATRIX else "Discord"
    name = account.display_name or account.id
    return f"{name} ({where})"[:100] if name != account.id else account.id[:100]


def _value(account: Account) -> str:
    return account.id if account.platform is Platform.MATRIX else f"discord:{account.id}"


async def suggest(
    interaction: discord.Interaction, current: str, known: Callable[[str], Awaitable[list[Account]]]
) -> list[app_commands.Choice[str]]:
    """Guild members, then accounts modbridge knows, whose name or id contains ``current``."""
    text = current.strip().lower()
    found: list[Account] = []
    guild = interaction.guild
    if guild is not None:
        for member in guild.members:
            if member.bot:
                continue
            names = (member.display_name, member.name, str(member.id))
            if not text or any(text in n.lower() for n in names):
                found.append(
                    Account(platform=Platform.DISCORD, id=str(member.id),
                            display_name=member.display_name)
                )  # fmt: skip
            if len(found) >= MAX_CHOICES:
                break
    found.extend(await known(text))
    seen: set[tuple[Platform, str]] = set()
    choices = []
    for account in found:  # the guild's own names first: they win over stored ones
        if (account.platform, account.id) in seen:
            continue
        seen.add((account.platform, account.id))
        choices.append(app_commands.Choice(name=_label(account), value=_value(account)))
    return choices[:MAX_CHOICES]


class ModCommands(
    app_commands.Group,
    name="mod",
    description="Moderate this server",
    guild_only=True,
    default_permissions=discord.Permissions(moderate_members=True),
):
    """``/mod warn|mute|unmute|kick|remove|ban|unban|case|cases|history|reason|duration|note|
    pardon|close|link|unlink|status`` (``/mod dms`` is added by the tree)."""

    def __init__(self, context: ModContext) -> None:
        super().__init__()
        self._context = context

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        """Only moderators of protected guilds; others get an ephemeral refusal."""
        return await self._context.gate(interaction)

    async def _on_member(
        self,
        interaction: discord.Interaction,
        name: CommandName,
        member: str,
        *,
        reason: str = "",
        duration: str = "",
        purge: str = "",
        other: str = "",
    ) -> None:
        target = parse_account(member)
        second = parse_account(other) if other else None
        if target is None or (other and second is None):
            shown = member if target is None else other
            await interaction.response.send_message(
                f"{shown[:64]!r} is not a member: pick one from the list, or write a mention, "
                "discord:<id> or a Matrix id @name:server.",
                ephemeral=True,
            )
            return
        try:
            length = parse_duration(duration) if duration.strip() else None
            window = parse_duration(purge) if purge.strip() else None
        except ValueError as exc:
            await interaction.response.send_message(f"{exc}.", ephemeral=True)
            return
        if window is not None and window > MAX_PURGE:
            await interaction.response.send_message(
                "purge reaches back at most 7d (Discord's limit).", ephemeral=True
            )
            return
        command = ModCommand(
            name=name, target=target, other=second, duration=length, reason=reason,
            purge=window,
        )  # fmt: skip
        await self._context.run(interaction, command)

    async def _members(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await suggest(interaction, current, self._context.known_accounts)

    @app_commands.command(description="Warn a member by DM, quoting the code of conduct")
    @app_commands.describe(member=MEMBER)
    async def warn(self, interaction: discord.Interaction, member: str, reason: str = "") -> None:
        """``/mod warn``."""
        await self._on_member(interaction, CommandName.WARN, member, reason=reason)

    @app_commands.command(description="Mute (time out) a member")
    @app_commands.describe(member=MEMBER, duration=f"How long: {EXAMPLES}")
    async def mute(
        self, interaction: discord.Interaction, member: str, duration: str, reason: str = ""
    ) -> None:
        """``/mod mute``."""
        await self._on_member(
            interaction, CommandName.MUTE, member, reason=reason, duration=duration
        )

    @app_commands.command(description="Lift a member's mute")
    @app_commands.describe(member=MEMBER)
    async def unmute(self, interaction: discord.Interaction, member: str, reason: str = "") -> None:
        """``/mod unmute``."""
        await self._on_member(interaction, CommandName.UNMUTE, member, reason=reason)

    @app_commands.command(description="Kick a member from every space; they may come back")
    @app_commands.describe(member=MEMBER)
    async def kick(self, interaction: discord.Interaction, member: str, reason: str = "") -> None:
        """``/mod kick``."""
        await self._on_member(interaction, CommandName.KICK, member, reason=reason)

    @app_commands.command(description="Kick a member (the same as /mod kick)")
    @app_commands.describe(member=MEMBER)
    async def remove(self, interaction: discord.Interaction, member: str, reason: str = "") -> None:
        """``/mod remove``: the older name of kick."""
        await self._on_member(interaction, CommandName.KICK, member, reason=reason)

    @app_commands.command(description="Ban a member from the community, for good or for a time")
    @app_commands.describe(
        member=MEMBER,
        duration=f"For how long (empty: until lifted): {EXAMPLES}",
        purge="Also remove their messages of this last window, up to 7d: e.g. 24h",
    )
    async def ban(
        self,
        interaction: discord.Interaction,
        member: str,
        duration: str = "",
        reason: str = "",
        purge: str = "",
    ) -> None:
        """``/mod ban``."""
        await self._on_member(
            interaction, CommandName.BAN, member, reason=reason, duration=duration, purge=purge
        )

    @app_commands.command(description="Lift a ban")
    @app_commands.describe(member=MEMBER)
    async def unban(self, interaction: discord.Interaction, member: str, reason: str = "") -> None:
        """``/mod unban``."""
        await self._on_member(interaction, CommandName.UNBAN, member, reason=reason)

    @app_commands.command(description="Show a member's history")
    @app_commands.describe(member=MEMBER)
    async def history(self, interaction: discord.Interaction, member: str) -> None:
        """``/mod history``."""
        await self._on_member(interaction, CommandName.HISTORY, member)

    @app_commands.command(description="Link two accounts of one person (Discord or Matrix)")
    @app_commands.describe(member=MEMBER, other=MEMBER)
    async def link(
        self, interaction: discord.Interaction, member: str, other: str, reason: str = ""
    ) -> None:
        """``/mod link``."""
        await self._on_member(interaction, CommandName.LINK, member, reason=reason, other=other)

    @app_commands.command(description="Separate an account from the member it is linked to")
    @app_commands.describe(member=MEMBER)
    async def unlink(self, interaction: discord.Interaction, member: str, reason: str = "") -> None:
        """``/mod unlink``."""
        await self._on_member(interaction, CommandName.UNLINK, member, reason=reason)

    warn.autocomplete("member")(_members)
    mute.autocomplete("member")(_members)
    unmute.autocomplete("member")(_members)
    kick.autocomplete("member")(_members)
    remove.autocomplete("member")(_members)
    ban.autocomplete("member")(_members)
    unban.autocomplete("member")(_members)
    history.autocomplete("member")(_members)
    link.autocomplete("member")(_members)
    link.autocomplete("other")(_members)
    unlink.autocomplete("member")(_members)

    @app_commands.command(description="Show a case")
    async def case(
        self, interaction: discord.Interaction, number: app_commands.Range[int, 1]
    ) -> None:
        """``/mod case``."""
        await self._context.run(interaction, ModCommand(name=CommandName.CASE, case_id=number))

    @app_commands.command(description="Open cases and recent reports, newest first")
    async def cases(
        self, interaction: discord.Interaction, page: app_commands.Range[int, 1] = 1
    ) -> None:
        """``/mod cases``."""
        await self._context.run(interaction, ModCommand(name=CommandName.CASES, page=page))

    @app_commands.command(description="Platforms, protected spaces, backlog, failures, policy")
    async def status(self, interaction: discord.Interaction) -> None:
        """``/mod status``."""
        await self._context.run(interaction, ModCommand(name=CommandName.STATUS))

    @app_commands.command(description="Correct a case's reason")
    async def reason(
        self, interaction: discord.Interaction, number: app_commands.Range[int, 1], text: str
    ) -> None:
        """``/mod reason``."""
        command = ModCommand(name=CommandName.REASON, case_id=number, reason=text)
        await self._context.run(interaction, command)

    @app_commands.command(description="Change how long a case's mute or ban lasts")
    @app_commands.describe(duration=f"From when the case was opened: {EXAMPLES}")
    async def duration(
        self, interaction: discord.Interaction, number: app_commands.Range[int, 1], duration: str
    ) -> None:
        """``/mod duration``."""
        try:
            length = parse_duration(duration)
        except ValueError as exc:
            await interaction.response.send_message(f"{exc}.", ephemeral=True)
            return
        command = ModCommand(name=CommandName.DURATION, case_id=number, duration=length)
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
