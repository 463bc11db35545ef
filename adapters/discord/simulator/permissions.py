"""Discord permission bits the simulator enforces, and how a member's permissions are computed.

Only guild-level permissions are modelled (the @everyone role plus the member's roles);
channel permission overwrites are not, because a moderation bot's failures come from
missing guild permissions and from the role hierarchy, which both live here.
"""

from __future__ import annotations

from typing import Final

CREATE_INSTANT_INVITE: Final = 1 << 0
KICK_MEMBERS: Final = 1 << 1
BAN_MEMBERS: Final = 1 << 2
ADMINISTRATOR: Final = 1 << 3
MANAGE_CHANNELS: Final = 1 << 4
MANAGE_GUILD: Final = 1 << 5
ADD_REACTIONS: Final = 1 << 6
VIEW_AUDIT_LOG: Final = 1 << 7
VIEW_CHANNEL: Final = 1 << 10
SEND_MESSAGES: Final = 1 << 11
MANAGE_MESSAGES: Final = 1 << 13
EMBED_LINKS: Final = 1 << 14
ATTACH_FILES: Final = 1 << 15
READ_MESSAGE_HISTORY: Final = 1 << 16
MENTION_EVERYONE: Final = 1 << 17
CHANGE_NICKNAME: Final = 1 << 26
MANAGE_NICKNAMES: Final = 1 << 27
MANAGE_ROLES: Final = 1 << 28
USE_APPLICATION_COMMANDS: Final = 1 << 31
MODERATE_MEMBERS: Final = 1 << 40

#: Every bit Discord defines today; what an administrator or the owner effectively holds.
ALL: Final = (1 << 51) - 1

#: What Discord gives @everyone in a new guild, reduced to the bits that matter here.
DEFAULT_EVERYONE: Final = (
    CREATE_INSTANT_INVITE
    | ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | MENTION_EVERYONE
    | CHANGE_NICKNAME
    | USE_APPLICATION_COMMANDS
)

#: The usual grant of a moderation bot's role: everything it needs, no Administrator.
MODERATOR: Final = (
    DEFAULT_EVERYONE
    | KICK_MEMBERS
    | BAN_MEMBERS
    | MANAGE_GUILD
    | MANAGE_MESSAGES
    | MANAGE_NICKNAMES
    | MANAGE_ROLES
    | MODERATE_MEMBERS
    | VIEW_AUDIT_LOG
)


def has(granted: int, needed: int) -> bool:
    """Whether ``granted`` holds every bit of ``needed`` (Administrator holds them all)."""
    if granted & ADMINISTRATOR:
        return True
    return granted & needed == needed
