"""What the bot's permissions let it do, checked at start-up and told to the moderators.

Discord does not fail loudly when a bot lacks a permission: actions are refused one by one
(each a dead letter) and some gateway events simply never come -- GUILD_BAN_ADD/REMOVE
without Ban Members or View Audit Log, AUTO_MODERATION_ACTION_EXECUTION without Manage
Server. So the connection reads the bot's permissions once it is ready and posts, in the
moderators' channel, which ones are missing and what stops working. Pure: it reads
discord.py's Permissions objects and returns sentences.
"""

from __future__ import annotations

from typing import Final

import discord

#: (permission attribute, name in Discord's settings, what stops working without it).
NEEDED: Final = (
    ("kick_members", "Kick Members", "removing members fails"),
    ("moderate_members", "Moderate Members", "mutes (timeouts) fail"),
    ("manage_messages", "Manage Messages", "deleting members' messages fails"),
    (
        "manage_guild",
        "Manage Server",
        "what Discord's AutoMod blocks is not seen, the policy is not mirrored into AutoMod, "
        "and DMs cannot be paused",
    ),
    ("read_message_history", "Read Message History", "messages missed while offline are not read"),
)


def missing(guild_permissions: discord.Permissions) -> list[str]:
    """One sentence per missing guild permission, saying what stops working."""
    lines = []
    if not guild_permissions.ban_members:
        line = "Ban Members: bans and unbans fail"
        if not guild_permissions.view_audit_log:
            line += (
                ", and bans made by hand are not seen (Discord sends them only to bots with "
                "Ban Members or View Audit Log)"
            )
        lines.append(line)
    for attribute, label, effect in NEEDED:
        if not getattr(guild_permissions, attribute):
            lines.append(f"{label}: {effect}")
    return lines


def missing_in_channel(channel_permissions: discord.Permissions, channel_name: str) -> list[str]:
    """The moderators' channel: the bot must see it and post in it."""
    if channel_permissions.view_channel and channel_permissions.send_messages:
        return []
    return [f"View Channel and Send Messages in #{channel_name}: notices to the moderators fail"]
