"""Bans caused by Matrix policy lists, by rule and account (see migration 0006)."""

from __future__ import annotations

from domain.model import Account, Platform
from domain.records import ListBanRow as ListBanRow
from domain.storage_ports import Tx
from storage.db import Database, to_db_time


class ListBanRepository:
    """Which list rule banned which account, and which of those bans still stand."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        rule_key: str,
        account: Account,
        *,
        member_id: int,
        case_id: int | None,
        tx: Tx | None = None,
    ) -> None:
        """Record that ``rule_key`` bans ``account`` (through ``case_id``)."""
        async with self._db.using(tx) as t:
            await t.execute(
                "INSERT INTO list_bans (rule_key, account_platform, account_id, member_id,"
                " case_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (rule_key, account.platform.value, account.id, member_id, case_id,
                 to_db_time(self._db.clock())),
            )  # fmt: skip

    async def active(
        self, *, rule_key: str | None = None, account: Account | None = None
    ) -> list[ListBanRow]:
        """The standing rows, of one rule and/or one account."""
        async with self._db.transaction(write=False) as t:
            rows = await t.fetchall(
                "SELECT id, rule_key, account_platform, account_id, member_id, case_id"
                " FROM list_bans WHERE lifted_at IS NULL AND (? IS NULL OR rule_key = ?)"
                " AND (? IS NULL OR (account_platform = ? AND account_id = ?)) ORDER BY id",
                (
                    rule_key, rule_key, account and account.key,
                    account and account.platform.value, account and account.id,
                ),
            )  # fmt: skip
        return [
            ListBanRow(
                id=int(r["id"]),
                rule_key=str(r["rule_key"]),
                account=Account(platform=Platform(r["account_platform"]), id=r["account_id"]),
                member_id=int(r["member_id"]),
                case_id=r["case_id"],
            )
            for r in rows
        ]

    async def count(self, rule_key: str, account: Account) -> int:
        """How many times ``rule_key`` has banned ``account`` (lifted ones included)."""
        async with self._db.transaction(write=False) as t:
            row = await t.fetchrow(
                "SELECT count(*) AS n FROM list_bans WHERE rule_key = ?"
                " AND account_platform = ? AND account_id = ?",
                (rule_key, account.platform.value, account.id),
            )
        return int(row["n"])

    async def case_ids(self, member_id: int) -> set[int]:
        """Every case a list ban of this member was carried out by."""
        async with self._db.transaction(write=False) as t:
            rows = await t.fetchall(
                "SELECT DISTINCT case_id FROM list_bans WHERE member_id = ?"
                " AND case_id IS NOT NULL",
                (member_id,),
            )
        return {int(r["case_id"]) for r in rows}

    async def lift(self, row_id: int, *, tx: Tx | None = None) -> None:
        """The rule behind this row no longer bans the account."""
        async with self._db.using(tx) as t:
            await t.execute(
                "UPDATE list_bans SET lifted_at = ? WHERE id = ? AND lifted_at IS NULL",
                (to_db_time(self._db.clock()), row_id),
            )
