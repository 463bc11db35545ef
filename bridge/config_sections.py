"""The sections of the configuration file, one pydantic model each (``[matrix]``,
``[discord]``, ``[reports]``...): what each key means and which values it takes. The file as
a whole, and how it is read, is `bridge.config`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from domain.actions import ActionKind
from rules.policy import ActionSpec, Duration


class CommunityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "our community"
    code_of_conduct_url: str = ""


class MatrixConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    homeserver: str
    user_id: str = Field(pattern=r"^@[^:]+:.+$")
    rooms: tuple[str, ...] = ()
    spaces: tuple[str, ...] = ()
    mod_room: str | None = None
    moderators: tuple[str, ...] = ()
    moderator_power_level: int | None = 50  # in the mod room; None: only the listed ids
    # What commands start with in the mod room: "!mb" when other bots share the room.
    command_prefix: str = Field(default="!", min_length=1, max_length=16, pattern=r"^\S+$")
    modlog: bool = True  # the mod room gets one line per case (the shared modlog)
    # Policy lists (m.policy.rule.*) whose ban rules apply here; ids or aliases.
    policy_lists: tuple[str, ...] = ()
    list_bans_reach_discord: bool = True  # a list ban bans the member's linked Discord accounts
    publish_list: str | None = None  # the policy list room every ban case is published to
    read_abuse_reports: bool = False  # read Synapse's event reports (the bot is a server admin)
    password: SecretStr | None = None
    access_token: SecretStr | None = None
    # End-to-end encryption of the bot's device (crypto store beside the database).
    encryption: bool = True
    # How long an encrypted message waits for its room key before it counts as unreadable.
    key_wait: Duration = timedelta(minutes=2)
    recovery_key: SecretStr | None = None  # MODBRIDGE_MATRIX__RECOVERY_KEY (cross-signing)


class DiscordConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    guilds: tuple[int, ...] = ()
    mod_channels: dict[str, int] = {}  # guild id -> the moderators' channel id
    moderator_roles: tuple[int, ...] = ()
    api_base: str = "https://discord.com/api/v10"
    gateway_url: str = "wss://gateway.discord.gg"
    automod: bool = False
    # The moderators' channels get one line per case (the shared modlog): true for all,
    # false for none, or per guild like mod_channels ({ "<guild id>" = false }; others: true).
    modlog: bool | dict[str, bool] = True
    token: SecretStr | None = None

    def keeps_modlog(self, guild_id: int | str) -> bool:
        """Whether the moderators' channel of ``guild_id`` gets the modlog."""
        if isinstance(self.modlog, bool):
            return self.modlog
        return self.modlog.get(str(guild_id), True)


class SyncConfig(BaseModel):
    """What happens to actions moderators take by hand on one platform."""

    model_config = ConfigDict(extra="forbid")

    mirror_manual_bans: bool = True  # a ban from Discord's UI or Element reaches every space
    mirror_manual_kicks: bool = False  # a kick by hand is recorded, not carried over


class ReportsConfig(BaseModel):
    """Confidential reports and the rule against unsolicited direct messages."""

    model_config = ConfigDict(extra="forbid")

    # Account keys ("matrix:@ann:example.org", "discord:1234..."): who may read reporters'
    # identities, and who alone is told about reports concerning a moderator.
    admins: tuple[str, ...] = ()
    max_per_hour: int = Field(default=5, ge=1)
    retaliation_window: Duration = timedelta(days=30)
    # Retaliation flags reach the moderators at the end of a window this long, one per case,
    # so that a flag's timing does not point at the reported member's last message and so at
    # the reporter.
    flag_delay: Duration = timedelta(hours=1)
    dm_default: Literal["closed", "open"] = "closed"  # members who never chose
    unsolicited_dm_clause: str = (
        "Members must not reach out, follow, or engage with others outside community "
        "platforms unless invited"
    )
    # Act on a report of an unsolicited DM only with proof (the DM reported with Discord's
    # menu, or the homeserver's record of the DM invite); false: on the reporter's word.
    unsolicited_dm_requires_proof: bool = True
    unsolicited_dm_points: int = Field(default=3, ge=0)
    unsolicited_dm_actions: tuple[ActionSpec, ...] = (
        ActionSpec(kind=ActionKind.WARN),
        ActionSpec(kind=ActionKind.NOTIFY),
    )


class DigestConfig(BaseModel):
    """A raid does not become hundreds of notices: a member's first rule hit is told at
    once; further hits within ``window`` are summed up in one warning and one moderators'
    notice at its end (their cases, deletions and sanctions are not held back)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    window: Duration = timedelta(minutes=1)


class StorageConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = "modbridge.db"


class AntispamConfig(BaseModel):
    """The homeserver's spam-checker callbacks (synapse-http-antispam): DM invites between
    members need the recipient's consent. The shared secret comes from the environment only."""

    model_config = ConfigDict(extra="forbid")

    listen: str = Field(default="127.0.0.1:8787", pattern=r"^\[?[^\s\]]+\]?:\d{1,5}$")
    community_servers: tuple[str, ...] = ()  # every user on these homeservers is a member
    default: Literal["closed", "open"] = "closed"  # for members who never chose a DM default
    direct_window_seconds: float = Field(default=10.0, gt=0, le=300)
    # Idle or slow clients must not take the service's file descriptors: connections beyond
    # this many are refused at once, and one that has not sent its request within the timeout
    # (or sits idle that long) is closed.
    max_connections: int = Field(default=64, ge=1, le=10000)
    request_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    secret: SecretStr | None = None

    @field_validator("listen")
    @classmethod
    def _port_in_range(cls, value: str) -> str:
        if not 0 <= int(value.rsplit(":", 1)[1]) <= 65535:
            raise ValueError("the port must be between 0 and 65535")
        return value

    @property
    def host(self) -> str:
        """The address part of ``listen`` (brackets of an IPv6 address removed)."""
        return self.listen.rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int:
        """The port part of ``listen``."""
        return int(self.listen.rsplit(":", 1)[1])


def _split_listen(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host.strip("[]"), int(port)


class HttpConfig(BaseModel):
    """The status server: ``GET /healthz`` and ``GET /metrics`` (off unless configured)."""

    model_config = ConfigDict(extra="forbid")

    listen: str = Field(default="127.0.0.1:9187", pattern=r"^\[?[^\s\]]+\]?:\d{1,5}$")

    @field_validator("listen")
    @classmethod
    def _port_in_range(cls, value: str) -> str:
        if not 0 <= _split_listen(value)[1] <= 65535:
            raise ValueError('the port must be between 0 and 65535, e.g. "127.0.0.1:9187"')
        return value

    @property
    def host(self) -> str:
        """The address part of ``listen`` (brackets of an IPv6 address removed)."""
        return _split_listen(self.listen)[0]

    @property
    def port(self) -> int:
        """The port part of ``listen``."""
        return _split_listen(self.listen)[1]


class RetentionConfig(BaseModel):
    """How long members' words are kept once their case is closed."""

    model_config = ConfigDict(extra="forbid")

    # Evidence excerpts and report texts are deleted this long after their case is closed.
    after_close: Duration = timedelta(days=180)


class ServiceConfig(BaseModel):
    """How the service runs."""

    model_config = ConfigDict(extra="forbid")

    # Judge, record and tell the moderators, but do nothing on the platforms.
    dry_run: bool = False
