"""Configuration: the TOML file plus ``MODBRIDGE_`` environment variables (``__`` nests).

The environment wins over the file. Secrets (tokens, passwords) are accepted only from the
environment: a secret written in the TOML file is an error, so it never ends up in a
repository. Every problem is reported as ``ConfigError`` naming the key, never a traceback.
"""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from bridge.texts import Texts
from rules.engine import Engine
from rules.policy import ActionSpec, Duration, Escalation, KeywordsRule, Policy, RuleConfig
from rules.regex import PatternError

SECRET_KEYS = {
    ("discord", "token"): "MODBRIDGE_DISCORD__TOKEN",
    ("matrix", "password"): "MODBRIDGE_MATRIX__PASSWORD",
    ("matrix", "access_token"): "MODBRIDGE_MATRIX__ACCESS_TOKEN",
    ("matrix", "recovery_key"): "MODBRIDGE_MATRIX__RECOVERY_KEY",
    ("antispam", "secret"): "MODBRIDGE_ANTISPAM__SECRET",
}


class ConfigError(Exception):
    """A configuration problem, worded for the admin who has to fix it."""


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
    token: SecretStr | None = None


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
        ActionSpec(kind="warn"),
        ActionSpec(kind="notify"),
    )


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


class Settings(BaseSettings):
    """The whole configuration of one modbridge service."""

    model_config = SettingsConfigDict(
        env_prefix="MODBRIDGE_", env_nested_delimiter="__", extra="forbid"
    )

    community: CommunityConfig = CommunityConfig()
    storage: StorageConfig = StorageConfig()
    sync: SyncConfig = SyncConfig()
    reports: ReportsConfig = ReportsConfig()
    texts: Texts = Texts()
    escalation: Escalation = Escalation()
    rules: tuple[RuleConfig, ...] = ()
    matrix: MatrixConfig | None = None
    discord: DiscordConfig | None = None
    antispam: AntispamConfig | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the file (which arrives as init arguments).
        return (env_settings, init_settings)

    @property
    def policy(self) -> Policy:
        return Policy(rules=self.rules, escalation=self.escalation)


def _location(data: dict[str, Any], loc: tuple[int | str, ...]) -> str:
    """Render a pydantic error location the way the admin wrote it: rules[2] (id 'x').words."""
    out = ""
    node: Any = data
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if i == 1 and loc[0] == "rules" and isinstance(node, dict) and "id" in node:
                out += f" (id {node['id']!r})"
        elif i > 0 and loc[0] == "rules" and i == 2 and part in _RULE_KINDS_SET:
            continue  # pydantic's discriminator tag, not a key the admin wrote
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out or "(top level)"


_RULE_KINDS_SET = {
    "keywords", "regex", "pii", "solicitation", "flood", "duplicate", "mentions", "links",
}  # fmt: skip


def _explain(exc: ValidationError, data: dict[str, Any], source: str) -> ConfigError:
    lines = [f"{source}: the configuration is not valid:"]
    for error in exc.errors():
        msg = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            msg = "unknown key (check its spelling and the section it is in)"
        elif error["type"] == "union_tag_invalid":
            msg = f"unknown rule kind; use one of: {', '.join(sorted(_RULE_KINDS_SET))}"
        elif error["type"] == "union_tag_not_found":
            msg = "every rule needs a 'kind'"
        lines.append(f"  - {_location(data, tuple(error['loc']))}: {msg}")
    return ConfigError("\n".join(lines))


def _reject_secrets(data: dict[str, Any], source: str) -> None:
    for (section, key), env in SECRET_KEYS.items():
        table = data.get(section)
        if isinstance(table, dict) and key in table:
            raise ConfigError(
                f"{source}: {section}.{key} must not be written in the file; "
                f"set the environment variable {env} instead"
            )


def _read_words(rules: list[Any], base: Path, source: str) -> None:
    """Fold each keywords rule's ``words_file`` (relative to the config) into its words."""
    for index, rule in enumerate(rules):
        if not (isinstance(rule, dict) and rule.get("kind") == "keywords"):
            continue
        name = rule.get("words_file")
        if not isinstance(name, str):
            continue
        path = base / name
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(
                f"{source}: rules[{index}].words_file: cannot read {path}: {exc.strerror}"
            ) from None
        words = [ln.split("#", 1)[0].strip() for ln in lines]
        rule["words"] = [*rule.get("words", []), *(w for w in words if w)]


def parse_settings(text: str, *, source: str = "config", base: Path | None = None) -> Settings:
    """Validate a TOML text (plus the environment) into Settings, or raise ConfigError."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    _reject_secrets(data, source)
    if isinstance(data.get("rules"), list):
        _read_words(data["rules"], base or Path.cwd(), source)
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        raise _explain(exc, data, source) from None
    except SettingsError as exc:  # a MODBRIDGE_ variable that cannot be parsed (its value unsaid)
        raise ConfigError(
            f"environment: {exc} (lists and tables in MODBRIDGE_ variables are written as JSON)"
        ) from None
    try:
        Engine(settings.policy)  # compiles patterns and keyword lists: refuse what cannot run
    except PatternError as exc:
        rule = _rule_of_pattern(settings.rules, str(exc))
        raise ConfigError(f"{source}: {rule}: {exc}") from None
    except ValueError as exc:
        raise ConfigError(f"{source}: rules: {exc}") from None
    return settings


def _rule_of_pattern(rules: tuple[RuleConfig, ...], message: str) -> str:
    for index, rule in enumerate(rules):
        if not isinstance(rule, KeywordsRule) and any(
            repr(p) in message for p in getattr(rule, "patterns", ())
        ):
            return f"rules[{index}] (id {rule.id!r}).patterns"
    return "rules"


def load_settings(path: str | Path) -> Settings:
    """Read and validate the TOML file at ``path`` (plus the environment)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    return parse_settings(text, source=str(path), base=path.parent)
