"""Storage ports: the Protocols of the repositories the core uses, which `storage/`
implements. The core (bridge/) is written against these; only the composition root
(`bridge.service`, with `bridge.compose`) knows the SQLite classes.

Reads a component makes on its own are grouped by what it reads (`CaseFile`, ...); the
writes, and the reads made inside a write, take the transaction they belong to (`Tx`):
the case writer puts a case, its actions, strikes, sanctions, timers and audit record in
one. A `Tx` is opaque to the core: it is only handed back to the storage that opened it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Any, Protocol

from domain.actions import ActionKind, Urgency
from domain.cases import CaseNote, CaseRow, NewCase
from domain.model import Account, Platform
from domain.ports import KeyValueStore
from domain.records import (
    AccountRow,
    ActionRow,
    AuditEntry,
    DmPolicy,
    Enqueued,
    Holdings,
    ListBanRow,
    NewAction,
    NewTimer,
    ReportRow,
    SanctionRow,
    TimerRow,
)


class StorageError(Exception):
    """The storage cannot be used as asked (closed, wrong journal mode, bad state...)."""


class Tx(Protocol):
    """One open transaction of the storage (opaque: handed back to the storage only)."""

    @property
    def closed(self) -> bool:
        """Whether it has ended (committed or rolled back)."""
        ...


class Transactions(Protocol):
    """Opens transactions: everything done with one commits together, or none of it."""

    def transaction(
        self, *, write: bool = True, on_queued: Callable[[], None] | None = None
    ) -> AbstractAsyncContextManager[Tx]:
        """``on_queued`` is called once the transaction has its place in the database's line
        (group commit: see storage.transactions)."""
        ...

    def using(self, tx: Tx | None, *, write: bool = True) -> AbstractAsyncContextManager[Tx]:
        """Join ``tx`` when given, else run in a new transaction."""
        ...

    @property
    def clock(self) -> Callable[[], datetime]:
        """The storage's clock (what it stamps rows with)."""
        ...


# --- Reads --------------------------------------------------------------------------------


class CaseFile(Protocol):
    """Reading cases."""

    async def get(self, case_id: int) -> CaseRow | None: ...

    async def of_member(self, member_id: int) -> list[CaseRow]: ...

    async def notes(self, case_id: int) -> list[CaseNote]: ...

    async def listing(
        self, *, reports_since: datetime, limit: int, offset: int = 0
    ) -> list[CaseRow]: ...

    async def opened_for(self, dedupe_key: str) -> bool: ...

    async def dedupe_keys_since(self, since: datetime) -> set[str]: ...


class OutboxFile(Protocol):
    """Reading the outbox."""

    async def of_case(self, case_id: int) -> list[ActionRow]: ...

    async def queued_for(
        self, kind: ActionKind, platform: Platform, space_id: str, target_id: str, since: datetime
    ) -> bool: ...


class OutboxQueue(Protocol):
    """The worker's side of the outbox: claim what is due, settle what was carried out."""

    async def claim(
        self,
        *,
        platform: Platform | None = None,
        limit: int = 10,
        lanes: Mapping[Urgency, int] | None = None,
    ) -> list[ActionRow]: ...

    async def mark_done(self, action_id: int, result: str = "") -> bool: ...

    async def mark_failed(self, action_id: int, reason: str) -> bool: ...

    async def retry(self, action_id: int, reason: str, at: datetime) -> bool: ...


class OutboxBacklog(Protocol):
    """How the outbox is doing, for the status answer and the health check."""

    async def pending_summary(self) -> tuple[int, datetime | None]: ...

    async def backlog(self) -> tuple[int, int]: ...

    async def failed_since(self, since: datetime) -> int: ...


class MemberFile(Protocol):
    """Accounts and the members they belong to (an unknown account is created on `ensure`)."""

    async def get(self, account: Account) -> AccountRow | None: ...

    async def ensure(self, account: Account) -> AccountRow: ...

    async def accounts_of_member(self, member_id: int) -> list[AccountRow]: ...

    async def linked_accounts(self, account: Account) -> list[AccountRow]: ...

    async def search(self, text: str, *, limit: int = 25) -> list[Account]: ...


class SanctionFile(Protocol):
    """Mutes and bans in force."""

    async def in_force(self, member_id: int, now: datetime) -> list[SanctionRow]: ...

    async def unlifted(self, member_id: int) -> list[SanctionRow]: ...

    async def members_in_force(self, now: datetime) -> list[int]: ...


class StrikeFile(Protocol):
    """Strike points: storage keeps their only record."""

    async def live_points(self, member_id: int, now: datetime) -> int: ...


class ReportFile(Protocol):
    """Who reported which case (kept apart from the cases)."""

    async def of_case(self, case_id: int) -> ReportRow | None: ...

    async def count_recent(self, reporter: Account, window: timedelta) -> int: ...

    async def against_reporter(self, reporter_member: int, since: datetime) -> list[int]: ...


class AuditFile(Protocol):
    """Reading the audit log."""

    async def recent(self, *, subject: str | None = None, limit: int = 50) -> list[AuditEntry]: ...


class ConsentFile(Protocol):
    """Who agreed to direct messages from whom."""

    async def default(self, member_id: int) -> DmPolicy | None: ...

    async def may_dm(
        self, sender_id: int, recipient_id: int, *, fallback: DmPolicy = DmPolicy.OPEN
    ) -> bool: ...


class ListBanFile(Protocol):
    """Which Matrix policy-list rule banned which account, and which of those bans stand."""

    async def add(
        self, rule_key: str, account: Account, *, member_id: int, case_id: int | None
    ) -> None: ...

    async def active(
        self, *, rule_key: str | None = None, account: Account | None = None
    ) -> list[ListBanRow]: ...

    async def count(self, rule_key: str, account: Account) -> int: ...

    async def case_ids(self, member_id: int) -> set[int]: ...

    async def lift(self, row_id: int) -> None: ...


class TimerQueue(Protocol):
    """The timers the scheduler fires (those of a case are scheduled by the case writer)."""

    async def due(self, now: datetime, *, limit: int = 100) -> list[TimerRow]: ...

    async def mark_fired(self, timer_id: int) -> bool: ...

    async def postpone(self, timer_id: int, due_at: datetime) -> None: ...

    async def schedule(self, new: NewTimer) -> tuple[TimerRow, bool]: ...


class ConsentBook(Protocol):
    """A member's own choices about direct messages (made in a conversation with the bot)."""

    async def set_default(self, member_id: int, policy: DmPolicy) -> None: ...

    async def allow(self, member_id: int, allowed_member_id: int) -> bool: ...

    async def revoke(self, member_id: int, allowed_member_id: int) -> bool: ...


class MemberData(Protocol):
    """What modbridge holds about a member ('my data')."""

    async def holdings(self, account: Account) -> Holdings | None: ...


class Conversations(Protocol):
    """What the bot's conversations with members read and change: accounts, DM consent,
    report drafts (in the key-value store) and a member's data."""

    @property
    def identity(self) -> MemberFile: ...

    @property
    def consent(self) -> ConsentBook: ...

    @property
    def kv(self) -> KeyValueStore: ...

    @property
    def privacy(self) -> MemberData: ...


class LinkCodes(Protocol):
    """One-time codes proving two accounts are one person's."""

    async def issue(self, account: Account, code: str, ttl: timedelta) -> bool: ...

    async def redeem(self, code: str) -> Account | None: ...

    async def failed_attempt(self, account: Account) -> None: ...

    async def recent_failures(self, account: Account, window: timedelta) -> int: ...


class Records(Protocol):
    """The reads of the moderators' commands and of reports, in one place."""

    @property
    def cases(self) -> CaseFile: ...

    @property
    def outbox(self) -> OutboxFile: ...

    @property
    def reports(self) -> ReportFile: ...

    @property
    def audit(self) -> AuditFile: ...

    @property
    def consent(self) -> ConsentFile: ...


# --- Writes (and the reads made inside one) ------------------------------------------------


class CaseStore(Protocol):
    async def open(self, new: NewCase, *, tx: Tx | None = None) -> tuple[CaseRow, bool]: ...

    async def get(self, case_id: int, *, tx: Tx | None = None) -> CaseRow | None: ...

    async def of_member(self, member_id: int, *, tx: Tx | None = None) -> list[CaseRow]: ...

    async def close(self, case_id: int, closed_by: str, *, tx: Tx | None = None) -> bool: ...

    async def add_note(
        self, case_id: int, author: str, body: str, *, tx: Tx | None = None
    ) -> CaseNote: ...

    async def set_reason(self, case_id: int, reason: str, *, tx: Tx | None = None) -> bool: ...


class OutboxStore(Protocol):
    async def enqueue(
        self,
        actions: Sequence[NewAction],
        *,
        case_id: int | None = None,
        tx: Tx | None = None,
        hand_over: Collection[ActionKind] = (),
    ) -> list[Enqueued]:
        """New actions of the kinds in ``hand_over`` are enqueued already claimed: the caller
        hands them to the worker once committed."""
        ...

    async def of_case(self, case_id: int, *, tx: Tx | None = None) -> list[ActionRow]: ...


class StrikeStore(Protocol):
    async def give(
        self,
        member_id: int,
        rule_id: str,
        points: int,
        *,
        expires_at: datetime | None,
        case_id: int | None = None,
        tx: Tx | None = None,
    ) -> Any: ...

    async def live_points(self, member_id: int, now: datetime, *, tx: Tx | None = None) -> int: ...

    async def pardon_case(self, case_id: int, *, tx: Tx | None = None) -> int: ...


class SanctionStore(Protocol):
    async def impose(
        self,
        member_id: int,
        kind: str,
        *,
        until: datetime | None,
        reason: str,
        case_id: int | None,
        tx: Tx | None = None,
    ) -> None: ...

    async def lift(self, member_id: int, kind: str, *, tx: Tx | None = None) -> bool: ...


class TimerStore(Protocol):
    async def schedule(self, new: NewTimer, *, tx: Tx | None = None) -> tuple[TimerRow, bool]: ...

    async def reschedule(self, key: str, due_at: datetime, *, tx: Tx | None = None) -> bool: ...

    async def pending_for(
        self, kind: str, member_id: int, *, tx: Tx | None = None
    ) -> TimerRow | None: ...

    async def mark_fired(self, timer_id: int, *, tx: Tx | None = None) -> bool: ...

    async def cancel_kind(self, kind: str, key_prefix: str, *, tx: Tx | None = None) -> int: ...


class AuditStore(Protocol):
    async def append(
        self,
        actor: str,
        event: str,
        subject: str = "",
        details: Mapping[str, Any] | None = None,
        *,
        tx: Tx | None = None,
    ) -> AuditEntry: ...


class ReportStore(Protocol):
    async def add(
        self,
        case_id: int,
        reporter: Account,
        *,
        reporter_member: int | None,
        share_identity: bool = False,
        tx: Tx | None = None,
    ) -> None: ...


class MemberStore(Protocol):
    async def accounts_of_member(
        self, member_id: int, *, tx: Tx | None = None
    ) -> list[AccountRow]: ...

    async def link(self, keep: Account, other: Account, *, tx: Tx | None = None) -> int: ...

    async def unlink(self, account: Account, *, tx: Tx | None = None) -> int: ...


class Stores(Protocol):
    """What the case writer writes: cases, the outbox, strikes, sanctions, timers, the audit
    log, reporters and account links."""

    @property
    def cases(self) -> CaseStore: ...

    @property
    def outbox(self) -> OutboxStore: ...

    @property
    def strikes(self) -> StrikeStore: ...

    @property
    def sanctions(self) -> SanctionStore: ...

    @property
    def timers(self) -> TimerStore: ...

    @property
    def audit(self) -> AuditStore: ...

    @property
    def reports(self) -> ReportStore: ...

    @property
    def identity(self) -> MemberStore: ...
