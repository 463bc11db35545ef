"""Members' data: what is kept about a member, for how long, and what an erasure removes.

Evidence excerpts and report texts are deleted a while after their case is closed (the
``[retention]`` setting); a member can read what is held about their accounts (``my data``);
an admin can erase a member on request. What moderation must keep -- that a ban is in force,
the case numbers, rules and dates of a member's history -- stays, without its text. The audit
log is append-only and holds ids and rule names only: it is kept as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from domain.model import Account, Platform
from domain.records import CaseLine as CaseLine
from domain.records import Holdings as Holdings
from storage.db import Database, Transaction, from_db_time, to_db_time

DELETED = "(deleted after the retention period)"
ERASED = "(erased at the member's request)"
# Outbox rows whose payload text repeats a case's evidence or a report's words.
_TEXT_KINDS = "('notify', 'tell')"


@dataclass(slots=True)
class Erasure:
    """What an erasure removed and what it kept, with why."""

    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


async def _scrub_cases(tx: Transaction, where: str, params: tuple[object, ...], text: str) -> int:
    """Delete the evidence, report texts and the notices repeating them of the cases
    ``where`` selects; return how many cases had something deleted."""
    changed = await tx.execute(
        f"UPDATE cases SET evidence = '',"  # noqa: S608 -- constant fragments
        f" reason = CASE WHEN origin_kind = 'report' THEN ? ELSE reason END"
        f" WHERE ({where}) AND (evidence <> '' OR (origin_kind = 'report' AND reason <> ?))",
        (text, *params, text),
    )
    await tx.execute(
        f"UPDATE actions SET payload = json_set(payload, '$.text', ?)"  # noqa: S608
        f" WHERE kind IN {_TEXT_KINDS} AND state <> 'pending'"
        f" AND case_id IN (SELECT id FROM cases WHERE {where})"
        f" AND json_extract(payload, '$.text') <> ?",
        (text, *params, text),
    )
    return changed


class PrivacyRepository:
    """Retention, the member's own view of their data, and erasure."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def purge_closed(self, closed_before: datetime) -> int:
        """Delete evidence and report texts of cases closed before ``closed_before``; return
        how many cases were purged (the scheduler's chore)."""
        async with self._db.transaction() as tx:
            return await _scrub_cases(
                tx, "status = 'closed' AND closed_at < ?", (to_db_time(closed_before),), DELETED
            )

    async def _member(self, tx: Transaction, account: Account) -> int | None:
        row = await tx.fetchone(
            "SELECT member_id FROM accounts WHERE platform = ? AND platform_id = ?",
            (account.platform.value, account.id),
        )
        return None if row is None else int(row["member_id"])

    async def holdings(self, account: Account) -> Holdings | None:
        """What is held about the member behind ``account`` (None: nothing at all)."""
        async with self._db.transaction(write=False) as tx:
            member = await self._member(tx, account)
            if member is None:
                return None
            accounts = await _accounts(tx, "member_id = ?", (member,))
            default = await tx.fetchone(
                "SELECT policy FROM dm_defaults WHERE member_id = ?", (member,)
            )
            allowed = await _accounts(
                tx,
                "member_id IN (SELECT allowed_member_id FROM dm_consent WHERE member_id = ?)",
                (member,),
            )
            cases = [
                CaseLine(
                    id=int(r["id"]),
                    origin_kind=str(r["origin_kind"]),
                    origin=str(r["origin"]),
                    status=str(r["status"]),
                    created_at=from_db_time(r["created_at"]),
                )
                for r in await tx.fetchall(
                    "SELECT id, origin_kind, origin, status, created_at FROM cases"
                    " WHERE member_id = ? ORDER BY id",
                    (member,),
                )
            ]
            reports = [
                (int(r["case_id"]), str(r["status"]), from_db_time(r["created_at"]))
                for r in await tx.fetchall(
                    "SELECT r.case_id, c.status, r.created_at FROM reports r"
                    " JOIN cases c ON c.id = r.case_id WHERE r.reporter_member = ?"
                    " OR (r.reporter_platform || ':' || r.reporter_id) IN"
                    " (SELECT platform || ':' || platform_id FROM accounts WHERE member_id = ?)"
                    " ORDER BY r.case_id",
                    (member, member),
                )
            ]
            sanctions = [
                (str(r["kind"]), None if r["until"] is None else from_db_time(r["until"]))
                for r in await tx.fetchall(
                    "SELECT kind, until FROM sanctions WHERE member_id = ? AND lifted_at IS NULL"
                    " AND (until IS NULL OR until > ?) ORDER BY id",
                    (member, to_db_time(self._db.clock())),
                )
            ]
        return Holdings(
            accounts=accounts,
            dm_default=None if default is None else str(default["policy"]),
            dm_allowed=allowed,
            cases=cases,
            reports=reports,
            sanctions=sanctions,
        )

    async def erase(self, account: Account) -> Erasure:
        """Remove what may be removed about the member behind ``account``; keep what
        moderation must keep, saying why."""
        out = Erasure()
        async with self._db.transaction() as tx:
            member = await self._member(tx, account)
            if member is None:
                out.kept.append(f"nothing: modbridge holds no data about {account.key}")
                return out
            await _erase_reports(tx, member, out)
            await _erase_consent(tx, member, out)
            count = await _scrub_cases(tx, "member_id = ?", (member,), ERASED)
            out.removed.append(f"evidence excerpts and report texts of {count} case(s) about them")
            await _erase_links(tx, member, out)
            kept = await tx.fetchall(
                "SELECT kind, until, case_id FROM sanctions WHERE member_id = ?"
                " AND lifted_at IS NULL AND (until IS NULL OR until > ?)",
                (member, to_db_time(self._db.clock())),
            )
            await tx.execute(
                "UPDATE sanctions SET reason = ? WHERE member_id = ?", (ERASED, member)
            )
            for row in kept:
                until = "until lifted" if row["until"] is None else f"until {row['until'][:16]}"
                out.kept.append(
                    f"the {row['kind']} in force ({until}, case #{row['case_id']}), without its "
                    "reason: moderation must keep enforcing it"
                )
            out.kept.append(
                "the case records (numbers, rules, dates, states) without their text: the "
                "moderators' history of what was done and why it was allowed"
            )
            out.kept.append(
                "the audit log (ids and rule names, no text): it is append-only by design"
            )
        return out


async def _accounts(tx: Transaction, where: str, params: tuple[object, ...]) -> list[Account]:
    rows = await tx.fetchall(
        f"SELECT platform, platform_id FROM accounts WHERE {where}"  # noqa: S608
        " ORDER BY platform, platform_id",
        params,
    )
    return [Account(platform=Platform(r["platform"]), id=str(r["platform_id"])) for r in rows]


async def _erase_reports(tx: Transaction, member: int, out: Erasure) -> None:
    mine = (
        "(reporter_member = ? OR (reporter_platform || ':' || reporter_id) IN"
        " (SELECT platform || ':' || platform_id FROM accounts WHERE member_id = ?))"
    )
    closed = f"{mine} AND case_id IN (SELECT id FROM cases WHERE status = 'closed')"  # noqa: S608
    cases = [int(r["case_id"]) for r in await tx.fetchall(
        f"SELECT case_id FROM reports WHERE {closed}", (member, member))]  # noqa: S608  # fmt: skip
    for case_id in cases:
        await _scrub_cases(tx, "id = ?", (case_id,), ERASED)
    await tx.execute(f"DELETE FROM reports WHERE {closed}", (member, member))  # noqa: S608
    out.removed.append(f"{len(cases)} closed report(s) they made: their words and their name")
    still = await tx.fetchall(
        f"SELECT case_id FROM reports WHERE {mine}",  # noqa: S608
        (member, member),
    )
    if still:
        numbers = ", ".join(f"#{r['case_id']}" for r in still)
        out.kept.append(
            f"report(s) they made on open case(s) {numbers}: the moderators need them until "
            "the case is closed (run erase again afterwards)"
        )


async def _erase_consent(tx: Transaction, member: int, out: Erasure) -> None:
    n = await tx.execute("DELETE FROM dm_defaults WHERE member_id = ?", (member,))
    n += await tx.execute(
        "DELETE FROM dm_consent WHERE member_id = ? OR allowed_member_id = ?", (member, member)
    )
    out.removed.append(f"direct-message consent ({n} record(s))")


async def _erase_links(tx: Transaction, member: int, out: Erasure) -> None:
    accounts = await tx.fetchall(
        "SELECT platform, platform_id FROM accounts WHERE member_id = ?", (member,)
    )
    codes = 0
    for row in accounts:
        params = (row["platform"], row["platform_id"])
        codes += await tx.execute(
            "DELETE FROM link_codes WHERE platform = ? AND platform_id = ?", params
        )
        await tx.execute("DELETE FROM link_attempts WHERE platform = ? AND platform_id = ?", params)
        await tx.execute(
            "DELETE FROM kv WHERE key = ?",
            (f"report.draft:{row['platform']}:{row['platform_id']}",),
        )
    await tx.execute("UPDATE accounts SET display_name = '' WHERE member_id = ?", (member,))
    out.removed.append(f"link codes ({codes}), display names and unfinished reports")
    if len(accounts) > 1:
        out.kept.append(
            f"the link between their {len(accounts)} accounts: a sanction on one must reach "
            "the others (an admin can `!unlink` when none is in force)"
        )
