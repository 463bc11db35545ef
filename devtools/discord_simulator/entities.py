"""The objects of the simulated Discord: users, guilds, roles, members, channels, messages.

Plain data; :class:`devtools.discord_simulator.state.World` holds them all and the rules
about them (permissions, role hierarchy).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

JSON = dict[str, Any]

#: Discord's epoch (2015-01-01) in milliseconds; snowflakes count from it.
DISCORD_EPOCH_MS = 1_420_070_400_000

#: Message flag of an answer only the interacting user sees.
EPHEMERAL = 1 << 6

TEXT_CHANNEL = 0
DM_CHANNEL = 1

#: The privileged gateway intents (GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT): an
#: application must have them switched on in the developer portal to ask for them.
PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15)


class SimulatorError(Exception):
    """A scripting call asked for something the simulated Discord would not allow."""


@dataclass(slots=True)
class User:
    """A Discord account: a scripted human or a bot (which has a token and an application)."""

    id: int
    username: str
    bot: bool = False
    token: str | None = None
    application_id: int | None = None
    #: False models a user whose privacy settings refuse DMs from server members.
    dms_open: bool = True
    global_name: str | None = None
    #: For a bot: the privileged intents its application may ask for (IDENTIFY asking for
    #: others is closed with 4014, as on Discord).
    privileged_intents: int = PRIVILEGED_INTENTS


@dataclass(slots=True)
class Role:
    """A guild role; the @everyone role has the guild's id and position 0."""

    id: int
    guild_id: int
    name: str
    permissions: int
    position: int
    color: int = 0
    hoist: bool = False
    managed: bool = False


@dataclass(slots=True)
class Overwrite:
    """A channel permission overwrite for a role (type 0) or a member (type 1)."""

    id: int
    type: int
    allow: int = 0
    deny: int = 0


@dataclass(slots=True)
class Channel:
    """A guild text channel or a DM channel (``guild_id`` None, two ``recipients``)."""

    id: int
    type: int
    name: str
    guild_id: int | None
    position: int = 0
    recipients: tuple[int, ...] = ()
    last_message_id: int | None = None
    #: Permission overwrites by role or user id.
    overwrites: dict[int, Overwrite] = field(default_factory=dict)


@dataclass(slots=True)
class Member:
    """A user's membership of a guild."""

    guild_id: int
    user_id: int
    roles: list[int]
    joined_at: datetime
    nick: str | None = None
    communication_disabled_until: datetime | None = None

    def is_timed_out(self, now: datetime | None = None) -> bool:
        """Whether a timeout is in force at ``now`` (default: the current time)."""
        until = self.communication_disabled_until
        return until is not None and until > (now or datetime.now(UTC))


@dataclass(slots=True)
class Ban:
    """A guild ban with the audit-log reason it was given."""

    user_id: int
    reason: str | None


@dataclass(slots=True)
class Message:
    """A stored message; ``deleted`` keeps it inspectable after a DELETE."""

    id: int
    channel_id: int
    guild_id: int | None
    author_id: int
    content: str
    timestamp: datetime
    edited_timestamp: datetime | None = None
    flags: int = 0
    deleted: bool = False
    #: Set on messages that answer an interaction (webhook-style authorship).
    interaction_id: int | None = None
    embeds: list[JSON] = field(default_factory=list)
    components: list[JSON] = field(default_factory=list)


@dataclass(slots=True)
class Guild:
    """A guild and everything it owns."""

    id: int
    name: str
    owner_id: int
    roles: dict[int, Role] = field(default_factory=dict)
    channel_ids: list[int] = field(default_factory=list)
    members: dict[int, Member] = field(default_factory=dict)
    bans: dict[int, Ban] = field(default_factory=dict)
    #: Incident actions as Discord names them (``dms_disabled_until``, ``invites_disabled_until``).
    incidents: dict[str, datetime | None] = field(default_factory=dict)
    automod_rules: dict[int, JSON] = field(default_factory=dict)
    #: Guild application commands per application id, in Discord's answer shape.
    commands: dict[int, list[JSON]] = field(default_factory=dict)
