"""Discord permission bits the simulator enforces, and how a member's permissions are computed.

Guild permissions are @everyone's plus the member's roles' (the owner and administrators hold
all). In a channel, the permission overwrites then apply in the order Discord's Permissions
documentation gives ("Permission Overwrites"): the @everyone overwrite, then the member's role
overwrites together (all denies, then all allows), then the member's own overwrite; an
administrator bypasses them. A member who cannot View Channel has no permission there.
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


ROLE_OVERWRITE: Final = 0
MEMBER_OVERWRITE: Final = 1


def apply_overwrites(
    base: int,
    *,
    everyone: tuple[int, int] | None,
    roles: list[tuple[int, int]],
    member: tuple[int, int] | None,
) -> int:
    """Channel permissions from guild ``base`` and the (allow, deny) pairs that apply."""
    if base & ADMINISTRATOR:
        return ALL
    granted = base
    if everyone is not None:
        granted = (granted & ~everyone[1]) | everyone[0]
    role_allow = role_deny = 0
    for allow, deny in roles:
        role_allow |= allow
        role_deny |= deny
    granted = (granted & ~role_deny) | role_allow
    if member is not None:
        granted = (granted & ~member[1]) | member[0]
    return granted if granted & VIEW_CHANNEL else 0


def has(granted: int, needed: int) -> bool:
    """Whether ``granted`` holds every bit of ``needed`` (Administrator holds them all)."""
    if granted & ADMINISTRATOR:
        return True
    return granted & needed == needed
