"""Case values: what a case is, what opened it, and its notes (stored by storage/cases.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.model import Account


class CaseStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class OriginKind(StrEnum):
    """What opened a case. REPORT is reserved for member reports (not built yet)."""

    RULE = "rule"
    MODERATOR = "moderator"
    REPORT = "report"


@dataclass(frozen=True, slots=True, kw_only=True)
class NewCase:
    """A case to open. ``origin`` is a rule id or a moderator's account key.

    ``dedupe_key`` (e.g. ``"msg:discord:1234"``) makes opening idempotent: the same event
    delivered twice finds the case opened the first time.
    """

    subject: Account
    origin_kind: OriginKind
    origin: str
    reason: str
    evidence: str = ""
    dedupe_key: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseRow:
    """A stored case; ``id`` is the number moderators see."""

    id: int
    member_id: int
    subject: Account
    origin_kind: OriginKind
    origin: str
    reason: str
    evidence: str
    status: CaseStatus
    created_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    dedupe_key: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseNote:
    """A moderator's note on a case."""

    id: int
    case_id: int
    author: str
    body: str
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Reporter:
    """Who reported a case, kept apart from it: moderators reading the case never see this
    (unless ``share_identity``); it is what the reporter is told the outcome by."""

    account: Account
    member_id: int
    share_identity: bool = False
