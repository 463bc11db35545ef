"""The policy as admins write it in TOML: rules, their actions and exemptions, escalation.

Pydantic models, validated once at load time. Only ``id``, ``kind`` and a kind's own
parameters are required; everything else has a default a community can live with.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

import phonenumbers
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from domain.actions import ActionKind
from domain.durations import MAX_DURATION, format_duration, parse_duration
from domain.model import Mode
from rules.pii_emails import is_role_address

__all__ = ["MAX_DURATION", "format_duration", "parse_duration"]

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]

# The actions a rule (or the escalation ladder) may take, by their one name
# (domain.actions.ActionKind); the others are taken by moderators, timers and reports.
POLICY_ACTIONS: tuple[ActionKind, ...] = (
    ActionKind.DELETE, ActionKind.WARN, ActionKind.MUTE, ActionKind.REMOVE, ActionKind.BAN,
    ActionKind.NOTIFY,
)  # fmt: skip


class ActionSpec(BaseModel):
    """One action of a rule, written ``"warn"`` or ``"mute 1h"`` (ban takes an optional time)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ActionKind
    duration: timedelta | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if isinstance(value, dict) and isinstance(value.get("kind"), str):
            word, rest = value["kind"], ""  # the table form: { kind = "mute", duration = "1h" }
        elif isinstance(value, str):
            word, _, rest = value.strip().partition(" ")
        else:
            return value
        if word not in POLICY_ACTIONS:
            shown = value if isinstance(value, str) else word
            raise ValueError(
                f"unknown action {shown!r}: use one of {', '.join(POLICY_ACTIONS)} "
                "(mute takes a duration: 'mute 1h')"
            )
        if isinstance(value, dict):
            return value
        return {"kind": word, "duration": parse_duration(rest) if rest.strip() else None}

    @model_validator(mode="after")
    def _check_duration(self) -> ActionSpec:
        if self.kind == "mute" and self.duration is None:
            raise ValueError("'mute' needs a duration, e.g. 'mute 1h'")
        if self.duration is not None and self.kind not in ("mute", "ban"):
            raise ValueError(f"'{self.kind}' takes no duration")
        return self

    def __str__(self) -> str:
        if self.duration is None:
            return self.kind
        return f"{self.kind} {format_duration(self.duration)}"


class _RuleBase(BaseModel):
    """What every rule has, whatever its kind."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    clause: str = "the community's code of conduct"
    description: str = ""
    points: int = Field(default=1, ge=0, le=1000)
    actions: tuple[ActionSpec, ...] = (
        ActionSpec(kind=ActionKind.DELETE),
        ActionSpec(kind=ActionKind.NOTIFY),
    )
    mode: Mode = Mode.ENFORCE
    exempt_moderators: bool = True
    exempt_roles: tuple[str, ...] = ()  # Discord role ids
    exempt_power_level: int | None = None  # Matrix: members at or above this level
    exempt_channels: tuple[str, ...] = ()  # Discord channel ids or Matrix room ids


class KeywordsRule(_RuleBase):
    kind: Literal["keywords"]
    words: tuple[str, ...] = ()
    words_file: str | None = None  # one word or phrase a line, '#' starts a comment

    @model_validator(mode="after")
    def _needs_words(self) -> KeywordsRule:
        if not self.words and not self.words_file:
            raise ValueError("a keywords rule needs 'words' or 'words_file'")
        return self


class RegexRule(_RuleBase):
    kind: Literal["regex"]
    patterns: tuple[str, ...] = Field(min_length=1)


class PiiRule(_RuleBase):
    kind: Literal["pii"]
    phones: bool = True
    emails: bool = True
    handles: bool = True  # social handles given with their platform ("her IG is @...")
    default_region: str = Field(default="KE", pattern=r"^[A-Z]{2}$")
    # Contacts the author gives as their own ("call me on ...", "my email is ...", "namba
    # yangu ni ..."): counted like any other ("include"), not counted ("exclude"), or the
    # only ones counted ("only", for a milder rule of their own).
    own_contacts: Literal["include", "exclude", "only"] = "include"
    # Contacts the community publishes itself: an address, "@lists.example.org" for every
    # address of a domain (public mailing lists), a phone number in any usual form.
    allow: tuple[str, ...] = ()
    # Addresses of a role at an organisation ("info@", "support@", "events@"; not at a free
    # mail provider): nobody's personal details, so allowed ("allow") or counted ("count").
    role_addresses: Literal["allow", "count"] = "allow"

    @field_validator("allow")
    @classmethod
    def _normalised_allow(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        """Allow entries as hits are compared: lower-case addresses, E.164 numbers."""
        region = str(info.data.get("default_region", "KE"))
        entries = []
        for raw in value:
            entry = raw.strip().lower()
            if "@" not in entry:
                number = _as_phone(entry, region)
                if number is None:
                    raise ValueError(f"{raw!r} is neither an e-mail address, an @domain nor a "
                                     "phone number")  # fmt: skip
                entry = number
            entries.append(entry)
        return tuple(entries)

    def allows(self, contact: str) -> bool:
        """Whether ``contact`` (a hit: an address or an E.164 number) is published, or a
        role's mailbox while ``role_addresses`` allows those."""
        contact = contact.lower()
        if self.role_addresses == "allow" and is_role_address(contact):
            return True
        return any(
            contact == entry or (entry.startswith("@") and contact.endswith(entry))
            for entry in self.allow
        )

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not a region phone numbers are known for (e.g. 'KE')")
        return value


class SolicitationRule(_RuleBase):
    kind: Literal["solicitation"]


class FloodRule(_RuleBase):
    kind: Literal["flood"]
    max_messages: int = Field(default=8, ge=1)
    per: Duration = timedelta(seconds=10)


class DuplicateRule(_RuleBase):
    kind: Literal["duplicate"]
    max_repeats: int = Field(default=3, ge=1)  # the same text this many times is allowed
    per: Duration = timedelta(minutes=5)
    min_length: int = Field(default=10, ge=1)  # shorter ("thanks!", "+1") repeats innocently


class MentionsRule(_RuleBase):
    kind: Literal["mentions"]
    max_per_message: int = Field(default=6, ge=1)
    max_in_window: int = Field(default=15, ge=1)
    per: Duration = timedelta(minutes=1)


class LinksRule(_RuleBase):
    kind: Literal["links"]
    # a domain allows its subdomains too; 'discord.gg/our-server' allows one invite
    allow_domains: tuple[str, ...] = ()
    only_allowed: bool = False  # True: every link outside allow_domains hits
    block_invites: bool = True  # invites to other Discord servers, Telegram/WhatsApp groups...
    max_links: int = Field(default=10, ge=1)
    per: Duration = timedelta(minutes=1)

    @field_validator("allow_domains")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.strip().lower().lstrip(".") for v in value)


RuleConfig = Annotated[
    KeywordsRule
    | RegexRule
    | PiiRule
    | SolicitationRule
    | FloodRule
    | DuplicateRule
    | MentionsRule
    | LinksRule,
    Field(discriminator="kind"),
]

RULE_KINDS = (
    "keywords", "regex", "pii", "solicitation", "flood", "duplicate", "mentions", "links",
)  # fmt: skip


class LadderStep(BaseModel):
    """When a member's live points reach ``points``, ``action`` is taken."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    points: int = Field(ge=1)
    action: ActionSpec


class Escalation(BaseModel):
    """Strike points add up per member and expire after ``decay``; the ladder escalates."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    decay: Duration = timedelta(days=30)
    ladder: tuple[LadderStep, ...] = (
        LadderStep(points=3, action=ActionSpec(kind=ActionKind.WARN)),
        LadderStep(points=6, action=ActionSpec(kind=ActionKind.MUTE, duration=timedelta(hours=1))),
        LadderStep(points=10, action=ActionSpec(kind=ActionKind.REMOVE)),
        LadderStep(points=15, action=ActionSpec(kind=ActionKind.BAN)),
    )

    @field_validator("ladder")
    @classmethod
    def _ascending(cls, steps: tuple[LadderStep, ...]) -> tuple[LadderStep, ...]:
        points = [s.points for s in steps]
        if points != sorted(set(points)):
            raise ValueError("ladder steps must have strictly increasing points")
        return steps


class Policy(BaseModel):
    """Everything the engine needs: the rules and the escalation ladder."""

    model_config = ConfigDict(frozen=True)

    rules: tuple[RuleConfig, ...] = ()
    escalation: Escalation = Escalation()

    @field_validator("rules")
    @classmethod
    def _unique_ids(cls, rules: tuple[RuleConfig, ...]) -> tuple[RuleConfig, ...]:
        seen: set[str] = set()
        for rule in rules:
            if rule.id in seen:
                raise ValueError(f"two rules have the id {rule.id!r}; ids must be unique")
            seen.add(rule.id)
        return rules


def _as_phone(text: str, region: str) -> str | None:
    """``text`` as an E.164 number ("0708 374149" -> "+254708374149"), or None."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
