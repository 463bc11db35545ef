"""Stored records the core reads and writes through the storage ports
(`domain.storage_ports`): outbox rows, sanctions in force, timers, reporters, audit
entries, accounts. Plain frozen values; `storage/` builds them from its tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.actions import ActionKind
from domain.model import Account, Action, Platform


class DmPolicy(StrEnum):
    """Who may send a member direct messages."""

    OPEN = "open"  # anyone may DM the member
    CLOSED = "closed"  # only the members they allowed


class ActionState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class NewAction:
    """An action to carry out in one space. ``key`` is its idempotency key: enqueueing a second
    action with the same key finds the first one instead (e.g. ``"msg:discord:1234:ban:guild"``).
    """

    key: str
    platform: Platform
    space_id: str
    action: Action
    not_before: datetime | None = None  # None: due at once


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionRow:
    """A stored outbox row, with its action rebuilt from the payload."""

    id: int
    key: str
    case_id: int | None
    platform: Platform
    space_id: str
    kind: ActionKind
    action: Action
    state: ActionState
    attempts: int
    next_attempt_at: datetime
    claimed_at: datetime | None
    last_error: str | None
    result: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Enqueued:
    """One enqueued action; ``created`` is False when its key was already there."""

    action: ActionRow
    created: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class SanctionRow:
    """A mute or ban in force for a member (re-applied on rejoin and on a new linked account)."""

    id: int
    member_id: int
    case_id: int | None
    kind: str
    until: datetime | None
    reason: str
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class NewTimer:
    """A timer to schedule. ``key`` makes scheduling idempotent (e.g. ``"unmute:case:12"``)."""

    key: str
    kind: str
    due_at: datetime
    member_id: int | None = None
    case_id: int | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerRow:
    """A stored timer."""

    id: int
    key: str
    kind: str
    due_at: datetime
    member_id: int | None
    case_id: int | None
    payload: Mapping[str, Any]
    created_at: datetime
    fired_at: datetime | None
    cancelled_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportRow:
    case_id: int
    reporter: Account
    share_identity: bool
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """One audit record."""

    id: int
    ts: datetime
    actor: str
    event: str
    subject: str
    details: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountRow:
    """A stored account and the member it belongs to."""

    account: Account
    member_id: int
    first_seen_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseLine:
    """One case as its subject may read it (no evidence, no report text, no reporter)."""

    id: int
    origin_kind: str  # rule, moderator, report
    origin: str  # a rule id for rule cases
    status: str
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Holdings:
    """What modbridge holds about the member behind one account."""

    accounts: list[Account]
    dm_default: str | None
    dm_allowed: list[Account]  # accounts of members this member accepts DMs from
    cases: list[CaseLine]
    reports: list[tuple[int, str, datetime]]  # (case id, its status, when) reports they made
    sanctions: list[tuple[str, datetime | None]]  # in force: (kind, until)


@dataclass(frozen=True, slots=True, kw_only=True)
class ListBanRow:
    """One account banned (or kept banned) because of one list rule."""

    id: int
    rule_key: str
    account: Account
    member_id: int
    case_id: int | None
