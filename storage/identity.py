"""Members and their accounts: one person, linked accounts on several platforms.

Every account belongs to exactly one member. An account nobody has linked is the only account
of its own member, so "the member behind this account" always has an answer and the
per-member tables (cases, strikes, consent, timers) never need a null.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from domain.model import Account, Platform
from domain.records import AccountRow as AccountRow
from domain.storage_ports import Tx
from storage.db import Database, Transaction, from_db_time, to_db_time

# Every table with a member_id column, as (table, column). Merging two members moves these
# rows; a new table that points at members must be added here.
_MEMBER_COLUMNS = (
    ("accounts", "member_id"),
    ("cases", "member_id"),
    ("strikes", "member_id"),
    ("timers", "member_id"),
    ("sanctions", "member_id"),
    ("reports", "reporter_member"),
)


_SELECT = (
    "SELECT platform, platform_id, display_name, member_id, first_seen_at, updated_at FROM accounts"
)


def _row(row: sqlite3.Row) -> AccountRow:
    return AccountRow(
        account=Account(
            platform=Platform(row["platform"]),
            id=str(row["platform_id"]),
            display_name=str(row["display_name"]),
        ),
        member_id=int(row["member_id"]),
        first_seen_at=from_db_time(row["first_seen_at"]),
        updated_at=from_db_time(row["updated_at"]),
    )


async def ensure_account(tx: Transaction, account: Account, now: datetime) -> AccountRow:
    """Find ``account``, creating it with a member of its own if new; keep its display name
    current. For use inside another repository's transaction."""
    row = await tx.fetchone(
        f"{_SELECT} WHERE platform = ? AND platform_id = ?",
        (account.platform.value, account.id),
    )
    stamp = to_db_time(now)
    if row is None:
        member = await tx.fetchrow(
            "INSERT INTO members (created_at) VALUES (?) RETURNING id", (stamp,)
        )
        await tx.execute(
            "INSERT INTO accounts (platform, platform_id, display_name, member_id,"
            " first_seen_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            (account.platform.value, account.id, account.display_name, member["id"], stamp, stamp),
        )
        return AccountRow(
            account=account, member_id=int(member["id"]), first_seen_at=now, updated_at=now
        )
    found = _row(row)
    # An empty name means the caller did not know it, not that the account lost its name.
    if account.display_name and account.display_name != found.account.display_name:
        await tx.execute(
            "UPDATE accounts SET display_name = ?, updated_at = ?"
            " WHERE platform = ? AND platform_id = ?",
            (account.display_name, stamp, account.platform.value, account.id),
        )
        return AccountRow(
            account=account,
            member_id=found.member_id,
            first_seen_at=found.first_seen_at,
            updated_at=now,
        )
    return found


KNOWN_ACCOUNTS = 10_000  # accounts remembered at most (then forgotten all at once)


class IdentityRepository:
    """Accounts, members, and the links between them."""

    def __init__(self, db: Database) -> None:
        self._db = db
        # Every message asks which member its author is: remembered, so judging a clean
        # message costs no write transaction. Only link and unlink move an account to another
        # member, and they forget everything (the generation tells a lookup that raced one).
        self._known: dict[tuple[str, str], AccountRow] = {}
        self._generation = 0

    async def ensure(self, account: Account, *, tx: Tx | None = None) -> AccountRow:
        """Find or create ``account`` (with a member of its own when new)."""
        key = (account.platform.value, account.id)
        known = self._known.get(key) if tx is None else None
        if known is not None and account.display_name in ("", known.account.display_name):
            return known
        generation = self._generation
        async with self._db.using(tx) as t:
            row = await ensure_account(t, account, self._db.clock())
        if tx is None and generation == self._generation:  # committed, and no link meanwhile
            if len(self._known) >= KNOWN_ACCOUNTS:
                self._known.clear()
            self._known[key] = row
        return row

    def _forget(self) -> None:
        self._generation += 1
        self._known.clear()

    async def get(self, account: Account, *, tx: Tx | None = None) -> AccountRow | None:
        """The stored row for ``account`` (matched by platform and id), or None."""
        async with self._db.using(tx, write=False) as t:
            row = await t.fetchone(
                f"{_SELECT} WHERE platform = ? AND platform_id = ?",
                (account.platform.value, account.id),
            )
        return None if row is None else _row(row)

    async def search(self, text: str, *, limit: int = 25) -> list[Account]:
        """Accounts whose id or display name contains ``text`` (any case), newest first."""
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        async with self._db.transaction(write=False) as t:
            rows = await t.fetchall(
                f"{_SELECT} WHERE platform_id LIKE ? ESCAPE '\\' OR display_name LIKE ? ESCAPE '\\'"
                " ORDER BY updated_at DESC LIMIT ?",
                (pattern, pattern, limit),
            )
        return [_row(r).account for r in rows]

    async def accounts_of_member(self, member_id: int, *, tx: Tx | None = None) -> list[AccountRow]:
        """Every account of a member, ordered by platform and id."""
        async with self._db.using(tx, write=False) as t:
            rows = await t.fetchall(
                f"{_SELECT} WHERE member_id = ? ORDER BY platform, platform_id", (member_id,)
            )
        return [_row(r) for r in rows]

    async def linked_accounts(self, account: Account, *, tx: Tx | None = None) -> list[AccountRow]:
        """All accounts of the member behind ``account``, itself included; empty if unknown."""
        async with self._db.using(tx, write=False) as t:
            rows = await t.fetchall(
                f"{_SELECT} WHERE member_id ="  # noqa: S608 -- constant text
                " (SELECT member_id FROM accounts WHERE platform = ? AND platform_id = ?)"
                " ORDER BY platform, platform_id",
                (account.platform.value, account.id),
            )
        return [_row(r) for r in rows]

    async def link(self, keep: Account, other: Account, *, tx: Tx | None = None) -> int:
        """Make ``other`` (and every account already linked to it) accounts of ``keep``'s member.

        The two members are merged: cases, strikes, timers and DM consent of ``other``'s member
        move to ``keep``'s, so the person's history follows them across platforms. Returns the
        member id that remains.
        """
        self._forget()
        async with self._db.using(tx) as t:
            now = self._db.clock()
            survivor = (await ensure_account(t, keep, now)).member_id
            merged = (await ensure_account(t, other, now)).member_id
            if survivor != merged:
                await _merge_members(t, survivor=survivor, merged=merged)
        self._forget()
        return survivor

    async def unlink(self, account: Account, *, tx: Tx | None = None) -> int:
        """Give ``account`` a member of its own again; return that member's id.

        History (cases, strikes) stays with the member the account leaves: we cannot tell which
        of a person's strikes were earned on which account. An account already alone keeps its
        member.
        """
        self._forget()
        try:
            return await self._unlink(account, tx)
        finally:
            self._forget()

    async def _unlink(self, account: Account, tx: Tx | None) -> int:
        async with self._db.using(tx) as t:
            now = self._db.clock()
            current = await ensure_account(t, account, now)
            others = await t.fetchone(
                "SELECT count(*) AS n FROM accounts WHERE member_id = ?", (current.member_id,)
            )
            if others is None or int(others["n"]) <= 1:
                return current.member_id
            member = await t.fetchrow(
                "INSERT INTO members (created_at) VALUES (?) RETURNING id", (to_db_time(now),)
            )
            await t.execute(
                "UPDATE accounts SET member_id = ?, updated_at = ?"
                " WHERE platform = ? AND platform_id = ?",
                (member["id"], to_db_time(now), account.platform.value, account.id),
            )
            return int(member["id"])


async def _merge_members(tx: Transaction, *, survivor: int, merged: int) -> None:
    for table, column in _MEMBER_COLUMNS:
        await tx.execute(
            f"UPDATE {table} SET {column} = ? WHERE {column} = ?",  # noqa: S608 -- names are constants
            (survivor, merged),
        )
    # A member never needs consent to message themselves: drop rows between the two first.
    # Other rows may collide with one the survivor already has; OR IGNORE keeps the
    # survivor's, and the leftovers are dropped after.
    await tx.execute(
        "DELETE FROM dm_consent WHERE (member_id = ? AND allowed_member_id = ?)"
        " OR (member_id = ? AND allowed_member_id = ?)",
        (survivor, merged, merged, survivor),
    )
    for column in ("member_id", "allowed_member_id"):
        await tx.execute(
            f"UPDATE OR IGNORE dm_consent SET {column} = ? WHERE {column} = ?",  # noqa: S608
            (survivor, merged),
        )
    await tx.execute(
        "DELETE FROM dm_consent WHERE member_id = ? OR allowed_member_id = ?", (merged, merged)
    )
    # The survivor's own DM default wins; the merged member's is used only if it had none.
    await tx.execute(
        "INSERT OR IGNORE INTO dm_defaults (member_id, policy, updated_at)"
        " SELECT ?, policy, updated_at FROM dm_defaults WHERE member_id = ?",
        (survivor, merged),
    )
    await tx.execute("DELETE FROM dm_defaults WHERE member_id = ?", (merged,))
    await tx.execute("DELETE FROM members WHERE id = ?", (merged,))
