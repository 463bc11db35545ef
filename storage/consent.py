"""Direct-message consent: who may DM whom."""

from __future__ import annotations

from domain.records import DmPolicy as DmPolicy
from domain.storage_ports import Tx
from storage.db import Database, to_db_time


class ConsentRepository:
    """Each member's DM default and their allow list."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def set_default(self, member_id: int, policy: DmPolicy, *, tx: Tx | None = None) -> None:
        """Set the member's DM default."""
        async with self._db.using(tx) as t:
            await t.execute(
                "INSERT INTO dm_defaults (member_id, policy, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (member_id) DO UPDATE SET policy = excluded.policy,"
                " updated_at = excluded.updated_at",
                (member_id, policy.value, to_db_time(self._db.clock())),
            )

    async def default(self, member_id: int, *, tx: Tx | None = None) -> DmPolicy | None:
        """The member's DM default, or None if they never chose one."""
        async with self._db.using(tx, write=False) as t:
            row = await t.fetchone(
                "SELECT policy FROM dm_defaults WHERE member_id = ?", (member_id,)
            )
        return None if row is None else DmPolicy(row["policy"])

    async def allow(self, member_id: int, allowed_member_id: int, *, tx: Tx | None = None) -> bool:
        """Let ``allowed_member_id`` DM ``member_id``; False if already allowed."""
        if member_id == allowed_member_id:
            raise ValueError("a member does not need consent to message themselves")
        async with self._db.using(tx) as t:
            changed = await t.execute(
                "INSERT OR IGNORE INTO dm_consent (member_id, allowed_member_id, created_at)"
                " VALUES (?, ?, ?)",
                (member_id, allowed_member_id, to_db_time(self._db.clock())),
            )
        return changed == 1

    async def revoke(self, member_id: int, allowed_member_id: int, *, tx: Tx | None = None) -> bool:
        """Withdraw a consent; False if there was none."""
        async with self._db.using(tx) as t:
            changed = await t.execute(
                "DELETE FROM dm_consent WHERE member_id = ? AND allowed_member_id = ?",
                (member_id, allowed_member_id),
            )
        return changed == 1

    async def allowed(self, member_id: int, *, tx: Tx | None = None) -> list[int]:
        """The members allowed to DM ``member_id``."""
        async with self._db.using(tx, write=False) as t:
            rows = await t.fetchall(
                "SELECT allowed_member_id FROM dm_consent WHERE member_id = ?"
                " ORDER BY allowed_member_id",
                (member_id,),
            )
        return [int(r["allowed_member_id"]) for r in rows]

    async def may_dm(
        self,
        sender_id: int,
        recipient_id: int,
        *,
        fallback: DmPolicy = DmPolicy.OPEN,
        tx: Tx | None = None,
    ) -> bool:
        """Whether ``sender_id`` may DM ``recipient_id``: allowed explicitly, or the recipient's
        default (``fallback`` when they never chose one) is open."""
        async with self._db.using(tx, write=False) as t:
            row = await t.fetchrow(
                "SELECT EXISTS (SELECT 1 FROM dm_consent"
                "   WHERE member_id = :to AND allowed_member_id = :from) AS allowed,"
                " (SELECT policy FROM dm_defaults WHERE member_id = :to) AS policy",
                {"to": recipient_id, "from": sender_id},
            )
        if sender_id == recipient_id or row["allowed"]:
            return True
        policy = fallback if row["policy"] is None else DmPolicy(row["policy"])
        return policy is DmPolicy.OPEN
