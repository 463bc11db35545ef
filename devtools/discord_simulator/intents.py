"""Gateway intents: which events a bot's session receives, and with what content.

A bot asks for intents at IDENTIFY; Discord sends only the events they cover, and blanks the
content of messages when the privileged MESSAGE_CONTENT intent is missing. Some events also
need a guild permission (see ``PERMISSION_OF_EVENT``).
"""

from __future__ import annotations

from typing import Final

from . import permissions as perms
from .entities import JSON

GUILDS: Final = 1 << 0
GUILD_MEMBERS: Final = 1 << 1
GUILD_MODERATION: Final = 1 << 2
GUILD_MESSAGES: Final = 1 << 9
DIRECT_MESSAGES: Final = 1 << 12
MESSAGE_CONTENT: Final = 1 << 15
AUTO_MODERATION_CONFIGURATION: Final = 1 << 20
AUTO_MODERATION_EXECUTION: Final = 1 << 21

INTENT_OF_EVENT: Final = {
    "GUILD_CREATE": GUILDS,
    "GUILD_UPDATE": GUILDS,
    "GUILD_DELETE": GUILDS,
    "GUILD_ROLE_CREATE": GUILDS,
    "CHANNEL_CREATE": GUILDS,
    "CHANNEL_UPDATE": GUILDS,
    "GUILD_MEMBER_ADD": GUILD_MEMBERS,
    "GUILD_MEMBER_UPDATE": GUILD_MEMBERS,
    "GUILD_MEMBER_REMOVE": GUILD_MEMBERS,
    "GUILD_BAN_ADD": GUILD_MODERATION,
    "GUILD_BAN_REMOVE": GUILD_MODERATION,
    "AUTO_MODERATION_RULE_CREATE": AUTO_MODERATION_CONFIGURATION,
    "AUTO_MODERATION_RULE_UPDATE": AUTO_MODERATION_CONFIGURATION,
    "AUTO_MODERATION_RULE_DELETE": AUTO_MODERATION_CONFIGURATION,
    "AUTO_MODERATION_ACTION_EXECUTION": AUTO_MODERATION_EXECUTION,
}
#: Events Discord sends only to bots holding one of these guild permissions (Gateway Events:
#: GUILD_BAN_ADD/REMOVE "require the BAN_MEMBERS or VIEW_AUDIT_LOG permission"; the
#: AUTO_MODERATION_* events are "only sent to bot users which have the MANAGE_GUILD
#: permission").
PERMISSION_OF_EVENT: Final = {
    "GUILD_BAN_ADD": perms.BAN_MEMBERS | perms.VIEW_AUDIT_LOG,
    "GUILD_BAN_REMOVE": perms.BAN_MEMBERS | perms.VIEW_AUDIT_LOG,
    "AUTO_MODERATION_RULE_CREATE": perms.MANAGE_GUILD,
    "AUTO_MODERATION_RULE_UPDATE": perms.MANAGE_GUILD,
    "AUTO_MODERATION_RULE_DELETE": perms.MANAGE_GUILD,
    "AUTO_MODERATION_ACTION_EXECUTION": perms.MANAGE_GUILD,
}
MESSAGE_EVENTS: Final = frozenset(
    {"MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE", "MESSAGE_DELETE_BULK"}
)


def wants(intents: int, event: str, data: JSON) -> bool:
    """Whether a session with ``intents`` receives ``event`` at all."""
    if event in MESSAGE_EVENTS:
        needed = GUILD_MESSAGES if "guild_id" in data else DIRECT_MESSAGES
    else:
        needed = INTENT_OF_EVENT.get(event, 0)
    return intents & needed == needed


def redact(intents: int, bot_id: int, event: str, data: JSON) -> JSON:
    """``data`` as a session with ``intents`` receives it (message content blanked)."""
    # Without the privileged message-content intent Discord blanks the content of messages
    # the bot neither wrote nor was mentioned in, except in DMs: a bot that forgot the
    # intent must see empty strings here too, not a working filter.
    if intents & MESSAGE_CONTENT:
        return data
    if event == "AUTO_MODERATION_ACTION_EXECUTION":
        # "content and matched_content ... require the MESSAGE_CONTENT intent".
        return {**data, "content": "", "matched_content": None}
    if event not in ("MESSAGE_CREATE", "MESSAGE_UPDATE"):
        return data
    if "guild_id" not in data or data.get("author", {}).get("id") == str(bot_id):
        return data
    if any(m.get("id") == str(bot_id) for m in data.get("mentions", [])):
        return data
    return {**data, "content": "", "embeds": [], "attachments": [], "components": []}
