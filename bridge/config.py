"""Configuration: the TOML file plus ``MODBRIDGE_`` environment variables (``__`` nests).

The environment wins over the file. Secrets (tokens, passwords) are accepted only from the
environment: a secret written in the TOML file is an error, so it never ends up in a
repository. Every problem is reported as ``ConfigError`` naming the key, never a traceback.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import (
    ValidationError,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from bridge import config_errors
from bridge.config_sections import (
    AntispamConfig as AntispamConfig,
)
from bridge.config_sections import (
    CommunityConfig as CommunityConfig,
)
from bridge.config_sections import (
    DigestConfig as DigestConfig,
)
from bridge.config_sections import (
    DiscordConfig as DiscordConfig,
)
from bridge.config_sections import (
    HttpConfig as HttpConfig,
)
from bridge.config_sections import (
    MatrixConfig as MatrixConfig,
)
from bridge.config_sections import (
    ReportsConfig as ReportsConfig,
)
from bridge.config_sections import (
    RetentionConfig as RetentionConfig,
)
from bridge.config_sections import (
    ServiceConfig as ServiceConfig,
)
from bridge.config_sections import (
    StorageConfig as StorageConfig,
)
from bridge.config_sections import (
    SyncConfig as SyncConfig,
)
from bridge.texts import Texts
from rules.engine import Engine
from rules.policy import Escalation, KeywordsRule, Policy, RuleConfig
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


class Settings(BaseSettings):
    """The whole configuration of one modbridge service."""

    model_config = SettingsConfigDict(
        env_prefix="MODBRIDGE_", env_nested_delimiter="__", extra="forbid"
    )

    community: CommunityConfig = CommunityConfig()
    storage: StorageConfig = StorageConfig()
    service: ServiceConfig = ServiceConfig()
    retention: RetentionConfig = RetentionConfig()
    http: HttpConfig | None = None
    sync: SyncConfig = SyncConfig()
    reports: ReportsConfig = ReportsConfig()
    digest: DigestConfig = DigestConfig()
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


def _explain(errors: list[Any] | ValidationError, data: dict[str, Any], source: str) -> ConfigError:
    if isinstance(errors, ValidationError):
        errors = list(errors.errors())
    lines = [f"{source}: the configuration is not valid:"]
    for error in errors:
        msg = error["msg"].removeprefix("Value error, ")
        loc = tuple(error["loc"])
        variable = config_errors.env_variable(loc, data)
        if error["type"] == "extra_forbidden" and variable is not None:
            lines.append(
                f"  - environment variable {variable}: no such setting (check its spelling)"
            )
            continue
        if error["type"] == "extra_forbidden":
            msg = "unknown key (check its spelling and the section it is in)"
        elif error["type"] == "string_pattern_mismatch" and config_errors.pattern_hint(loc):
            msg = f"{config_errors.pattern_hint(loc)}, not {error.get('input')!r}"
        elif error["type"] in config_errors.TYPE_HINTS:
            msg = f"{config_errors.TYPE_HINTS[error['type']]}, not {error.get('input')!r}"
        elif error["type"] == "union_tag_invalid":
            msg = f"unknown rule kind; use one of: {', '.join(sorted(_RULE_KINDS_SET))}"
        elif error["type"] == "union_tag_not_found":
            msg = "every rule needs a 'kind'"
        lines.append(f"  - {_location(data, loc)}: {msg}")
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
    coerced = config_errors.strict_errors(Settings, data)
    if coerced:
        raise _explain(coerced, data, source)
    _check_consistency(settings, source)
    try:
        Engine(settings.policy)  # compiles patterns and keyword lists: refuse what cannot run
    except PatternError as exc:
        rule, syntax = _rule_of_pattern(settings.rules, str(exc))
        raise ConfigError(f"{source}: {rule}: {syntax or exc}") from None
    except ValidationError as exc:
        raise ConfigError(
            f"{source}: rules: " + "; ".join(e["msg"].removeprefix("Value error, ")
                                             for e in exc.errors())
        ) from None  # fmt: skip
    except ValueError as exc:
        raise ConfigError(f"{source}: rules: {exc}") from None
    return settings


def _check_consistency(settings: Settings, source: str) -> None:
    """What each key allows on its own but not together with the others."""
    duplicate = config_errors.duplicate_rule_ids([rule.id for rule in settings.rules])
    problems = [duplicate] if duplicate else []
    if settings.discord is not None:
        problems += config_errors.discord_problems(
            settings.discord.guilds, settings.discord.mod_channels
        )
    if problems:
        raise ConfigError("\n".join([f"{source}: the configuration is not valid:"] +
                                    [f"  - {p}" for p in problems]))  # fmt: skip


def missing_secrets(settings: Settings) -> list[str]:
    """The secrets `modbridge run` needs from the environment and will not find."""
    matrix, discord, antispam = settings.matrix, settings.discord, settings.antispam
    return config_errors.missing_secrets(
        matrix=matrix is not None,
        matrix_secret=matrix is not None and bool(matrix.password or matrix.access_token),
        discord=discord is not None,
        discord_secret=discord is not None and discord.token is not None,
        antispam=antispam is not None,
        antispam_secret=antispam is not None and antispam.secret is not None,
    )


def _rule_of_pattern(rules: tuple[RuleConfig, ...], message: str) -> tuple[str, str | None]:
    """Where the refused pattern is, and why when it is not a regular expression at all."""
    for index, rule in enumerate(rules):
        if isinstance(rule, KeywordsRule):
            continue
        for pattern in getattr(rule, "patterns", ()):
            if repr(pattern) in message:
                where = f"rules[{index}] (id {rule.id!r}).patterns"
                return where, config_errors.regex_syntax(pattern)
    return "rules", None


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


NO_PLATFORM = (
    "no platform is configured: add a [matrix] section (homeserver, user_id, rooms or spaces, "
    "mod_room) with MODBRIDGE_MATRIX__PASSWORD or MODBRIDGE_MATRIX__ACCESS_TOKEN in the "
    "environment, or a [discord] section (guilds, mod_channels) with MODBRIDGE_DISCORD__TOKEN"
)


def check_platforms(settings: Settings) -> None:
    """Refuse to start without a platform, or with one that lacks its secret."""
    if settings.matrix is None and settings.discord is None:
        raise ConfigError(NO_PLATFORM)
    if settings.antispam is not None and settings.antispam.secret is None:
        raise ConfigError("[antispam] needs MODBRIDGE_ANTISPAM__SECRET in the environment")
    if settings.discord is not None and settings.discord.token is None:
        raise ConfigError("[discord] needs MODBRIDGE_DISCORD__TOKEN in the environment")
    matrix = settings.matrix
    if matrix is not None and matrix.password is None and matrix.access_token is None:
        raise ConfigError(
            "[matrix] needs MODBRIDGE_MATRIX__PASSWORD or MODBRIDGE_MATRIX__ACCESS_TOKEN "
            "in the environment"
        )
    if matrix is not None and not matrix.mod_room:
        raise ConfigError("[matrix] needs mod_room: where moderators get notices and give commands")
    if matrix is not None and matrix.password is not None and matrix.access_token is not None:
        raise ConfigError(
            "set only one of MODBRIDGE_MATRIX__PASSWORD and MODBRIDGE_MATRIX__ACCESS_TOKEN"
        )
