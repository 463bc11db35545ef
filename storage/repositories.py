"""Every repository in one place, for the composition root.

The repositories live in their own modules (identity, cases, outbox, strikes, consent, timers,
kv, audit); this module gathers them so the service builds them all from one `Database`.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.actions import ActionKind
from domain.cases import CaseNote, CaseRow, CaseStatus, NewCase, OriginKind
from storage.audit import AuditEntry, AuditRepository
from storage.cases import CaseRepository
from storage.consent import ConsentRepository, DmPolicy
from storage.db import Database
from storage.identity import AccountRow, IdentityRepository
from storage.kv import KeyValueRepository
from storage.links import LinkCodeRepository, SanctionRepository
from storage.list_bans import ListBanRepository
from storage.outbox import (
    ActionRow,
    ActionState,
    Enqueued,
    NewAction,
    OutboxRepository,
)
from storage.privacy import PrivacyRepository
from storage.reports import ReportRepository
from storage.strikes import StrikeRepository, StrikeRow
from storage.timers import NewTimer, TimerRepository, TimerRow

__all__ = [
    "AccountRow",
    "ActionKind",
    "ActionRow",
    "ActionState",
    "AuditEntry",
    "AuditRepository",
    "CaseNote",
    "CaseRepository",
    "CaseRow",
    "CaseStatus",
    "ConsentRepository",
    "DmPolicy",
    "Enqueued",
    "IdentityRepository",
    "KeyValueRepository",
    "NewAction",
    "NewCase",
    "NewTimer",
    "OriginKind",
    "OutboxRepository",
    "Repositories",
    "StrikeRepository",
    "StrikeRow",
    "TimerRepository",
    "TimerRow",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Repositories:
    """One of each repository over the same database. A holder, not a service: pass the
    repositories a component needs, not this whole bundle."""

    identity: IdentityRepository
    cases: CaseRepository
    outbox: OutboxRepository
    strikes: StrikeRepository
    consent: ConsentRepository
    timers: TimerRepository
    kv: KeyValueRepository
    audit: AuditRepository
    links: LinkCodeRepository
    sanctions: SanctionRepository
    reports: ReportRepository
    privacy: PrivacyRepository
    list_bans: ListBanRepository

    @classmethod
    def over(cls, db: Database) -> Repositories:
        """Build every repository on ``db``."""
        return cls(
            identity=IdentityRepository(db),
            cases=CaseRepository(db),
            outbox=OutboxRepository(db),
            strikes=StrikeRepository(db),
            consent=ConsentRepository(db),
            timers=TimerRepository(db),
            kv=KeyValueRepository(db),
            audit=AuditRepository(db),
            links=LinkCodeRepository(db),
            sanctions=SanctionRepository(db),
            reports=ReportRepository(db),
            privacy=PrivacyRepository(db),
            list_bans=ListBanRepository(db),
        )
