"""Names Discord already told the client (its cache): guilds, channels and members, for
answers and the modlog. No request is made: a name the cache lacks is "" (the id is shown)."""

from __future__ import annotations

import discord


class DiscordDirectory:
    """A :class:`domain.ports.Directory` over a connected discord.py client."""

    def __init__(self, client: discord.Client) -> None:
        self._client = client

    def account_name(self, account_id: str) -> str:
        """The member's name in a guild the bot shares with them, else their user name."""
        if not account_id.isdecimal():
            return ""
        user_id = int(account_id)
        for guild in self._client.guilds:
            member = guild.get_member(user_id)
            if member is not None:
                return member.display_name
        user = self._client.get_user(user_id)
        return user.display_name if user is not None else ""

    def space_name(self, space_id: str) -> str:
        """``OpenInfra KE`` for a guild, ``#general in OpenInfra KE`` for a channel."""
        if not space_id.isdecimal():
            return ""
        guild = self._client.get_guild(int(space_id))
        if guild is not None:
            return guild.name
        channel = self._client.get_channel(int(space_id))
        if isinstance(channel, discord.abc.GuildChannel | discord.Thread):
            return f"#{channel.name} in {channel.guild.name}"
        return ""

    def accounts_named(self, name: str) -> list[str]:
        """Members of the bot's guilds whose shown, global or user name is ``name``."""
        wanted = name.casefold()
        found: dict[str, None] = {}
        for guild in self._client.guilds:
            for member in guild.members:
                names = (member.display_name, member.global_name or "", member.name)
                if not member.bot and any(n.casefold() == wanted for n in names):
                    found[str(member.id)] = None
        return list(found)
