"""The audit log: append-only (triggers in the schema refuse UPDATE and DELETE).

Privacy: the log keeps ids, rule names and decisions, never what members wrote. `append`
refuses details under keys that usually carry message text unless the caller says otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from domain.records import AuditEntry as AuditEntry
from domain.storage_ports import Tx
from storage.db import Database, from_db_time, to_db_time

# Keys under which message text tends to travel (Message.text, RuleHit.matched, case evidence).
TEXT_KEYS = frozenset(
    {"text", "message", "message_text", "content", "body", "excerpt", "evidence", "matched"}
)


def _text_keys(value: Any, path: str = "") -> list[str]:
    found: list[str] = []
    if isinstance(value, Mapping):
        for key, inner in value.items():
            where = f"{path}.{key}" if path else str(key)
            if str(key).lower() in TEXT_KEYS:
                found.append(where)
            found.extend(_text_keys(inner, where))
    elif isinstance(value, list | tuple):
        for index, inner in enumerate(value):
            found.extend(_text_keys(inner, f"{path}[{index}]"))
    return found


class AuditRepository:
    """Appending to and reading the audit log."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def append(
        self,
        actor: str,
        event: str,
        subject: str = "",
        details: Mapping[str, Any] | None = None,
        *,
        allow_text: bool = False,
        tx: Tx | None = None,
    ) -> AuditEntry:
        """Append a record: ``actor`` (an account key or ``"system"``) did ``event`` (e.g.
        ``"case.opened"``) to ``subject`` (e.g. ``"case:12"``).

        Raises ValueError when ``details`` has a key that usually carries message text (see
        `TEXT_KEYS`), unless ``allow_text`` is set deliberately.
        """
        data = dict(details or {})
        if not allow_text and (leaks := _text_keys(data)):
            raise ValueError(f"audit details must not carry message text: {leaks}")
        now = self._db.clock()
        async with self._db.using(tx) as t:
            row = await t.fetchrow(
                "INSERT INTO audit_log (ts, actor, event, subject, details)"
                " VALUES (?, ?, ?, ?, ?) RETURNING id",
                (to_db_time(now), actor, event, subject, json.dumps(data, sort_keys=True)),
            )
        return AuditEntry(
            id=int(row["id"]), ts=now, actor=actor, event=event, subject=subject, details=data
        )

    async def recent(
        self,
        *,
        subject: str | None = None,
        limit: int = 50,
        tx: Tx | None = None,
    ) -> list[AuditEntry]:
        """The latest records (about ``subject``, if given), newest first."""
        async with self._db.using(tx, write=False) as t:
            rows = await t.fetchall(
                "SELECT id, ts, actor, event, subject, details FROM audit_log"
                " WHERE ? IS NULL OR subject = ? ORDER BY id DESC LIMIT ?",
                (subject, subject, limit),
            )
        return [
            AuditEntry(
                id=int(r["id"]),
                ts=from_db_time(r["ts"]),
                actor=str(r["actor"]),
                event=str(r["event"]),
                subject=str(r["subject"]),
                details=json.loads(r["details"]),
            )
            for r in rows
        ]
