"""Crash safety, for real: SIGKILL a process in the middle of writing cases and their actions.

The child drives the service's own case writer (`bridge.writer.CaseWriter`): one case with
its actions, sanction and audit record per transaction, and a line printed after each
commit. The test kills it mid-run, reopens the file and checks that SQLite recovered a
consistent database: integrity ok, no case without all of its actions, and every case the child
reported as committed is there.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from storage.db import Database

ROOT = Path(__file__).resolve().parents[2]
ACTIONS_PER_CASE = 25
COMMITS_BEFORE_KILL = 40

CHILD = """
import asyncio
import itertools
import sys
from datetime import UTC, datetime

from bridge.members import Members
from bridge.planner import Community
from bridge.writer import CaseWriter
from domain.cases import NewCase, OriginKind
from domain.model import Account, Ban, Platform
from rules.engine import Engine
from rules.policy import Policy
from storage.db import Database
from storage.repositories import Repositories


def now() -> datetime:
    return datetime.now(UTC)


async def write(writer: CaseWriter, members: Members, db: Database, numbers) -> None:
    for n in numbers:
        subject = Account(platform=Platform.DISCORD, id=str(n))
        case = NewCase(
            subject=subject, origin_kind=OriginKind.RULE, origin="spam", reason=f"round {n}"
        )
        member_id = await members.member_of(subject)
        opened = await writer.open_case(
            case, [Ban(target=subject, reason="spam")], member_id=member_id
        )
        transactions, commits = db.commit_counts()
        print(f"committed {opened.case.id} {transactions} {commits}", flush=True)


async def main(path: str, per_case: int, writers: int) -> None:
    db = await Database.open(path)
    repos = Repositories.over(db)
    members = Members(
        identity=repos.identity, sanctions=repos.sanctions, strikes=repos.strikes,
        outbox=repos.outbox, clock=now,
    )
    # A ban fans out over every protected guild: one action per guild, in the case's
    # transaction with its sanction and audit record, as the service writes it.
    community = Community(
        spaces={Platform.DISCORD: [f"guild-{i}" for i in range(per_case)]}, mod_rooms={}
    )
    engine = Engine(Policy())
    writer = CaseWriter(
        db=db, repos=repos, members=members, engine=lambda: engine,
        community=lambda: community, wake_worker=lambda: None, clock=now,
    )
    numbers = itertools.count(1)  # shared: each writer takes the next
    await asyncio.gather(*(write(writer, members, db, numbers) for _ in range(writers)))


asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
"""


@pytest.fixture
def child_script(tmp_path: Path) -> Path:
    script = tmp_path / "writer.py"
    script.write_text(CHILD, encoding="utf-8")
    return script


async def run_and_kill(
    script: Path, db_path: Path, delay: float, writers: int = 1
) -> list[tuple[int, int, int]]:
    """Start the writer, let it commit a while, SIGKILL it; return what it reported after each
    commit: the case id, and the transactions and commits made so far."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        str(db_path),
        str(ACTIONS_PER_CASE),
        str(writers),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    lines: list[bytes] = []
    while len(lines) < COMMITS_BEFORE_KILL:
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
        if not line:
            await proc.wait()
            pytest.fail(f"writer ended early: {(await proc.stderr.read()).decode()}")
        lines.append(line)
    await asyncio.sleep(delay)  # land somewhere inside a later transaction
    assert proc.returncode is None, "the writer must still be writing when it is killed"
    proc.send_signal(signal.SIGKILL)
    lines.extend((await proc.stdout.read()).splitlines())  # printed before the kill
    await proc.wait()
    assert proc.returncode == -signal.SIGKILL
    reports = [line.split() for line in lines if line.strip()]
    return [(int(r[1]), int(r[2]), int(r[3])) for r in reports]


@pytest.mark.parametrize("delay", [0.0, 0.011, 0.037, 0.1])
async def test_sigkill_mid_write_leaves_only_whole_transactions(
    tmp_path: Path, child_script: Path, delay: float
) -> None:
    db_path = tmp_path / "crash.db"
    reported = [case for case, _, _ in await run_and_kill(child_script, db_path, delay)]
    assert len(reported) >= COMMITS_BEFORE_KILL
    assert reported == list(range(1, len(reported) + 1))
    # The kill left a WAL behind: reopening has to recover, not just read a closed file.
    assert db_path.with_name("crash.db-wal").exists()

    cases = await whole_cases(db_path)
    # Every commit the child reported survived. The child can die after COMMIT returned but
    # before its line was printed, so the database may hold exactly one case more than
    # reported, never fewer and never two more.
    assert cases[: len(reported)] == reported
    assert len(cases) - len(reported) in (0, 1)


WRITERS = 8


@pytest.mark.parametrize("delay", [0.0, 0.011, 0.037])
async def test_sigkill_mid_group_commit_loses_no_acknowledged_case(
    tmp_path: Path, child_script: Path, delay: float
) -> None:
    """Eight writers at once: their transactions share commits, and a kill in the middle of
    a group loses only cases nobody had been told were committed."""
    db_path = tmp_path / "crash.db"
    reported = await run_and_kill(child_script, db_path, delay, writers=WRITERS)
    transactions, commits = max((t, c) for _, t, c in reported)
    assert commits < transactions  # the writers' transactions did share commits

    cases = await whole_cases(db_path)
    acknowledged = {case for case, _, _ in reported}
    assert acknowledged <= set(cases)
    # Unreported: at most one group's worth, whose COMMIT returned as the child was killed.
    assert len(cases) - len(acknowledged) <= WRITERS


async def whole_cases(db_path: Path) -> list[int]:
    """The cases in the database, after checking it holds whole transactions only."""
    db = await Database.open(db_path)
    try:
        assert await db.integrity_check() == "ok"
        async with db.transaction(write=False) as tx:
            cases = [int(r["id"]) for r in await tx.fetchall("SELECT id FROM cases ORDER BY id")]
            per_case = {
                int(r["case_id"]): int(r["n"])
                for r in await tx.fetchall(
                    "SELECT case_id, count(*) AS n FROM actions GROUP BY case_id"
                )
            }
            sanctioned = [
                int(r["case_id"])
                for r in await tx.fetchall("SELECT case_id FROM sanctions ORDER BY case_id")
            ]
            audited = await tx.fetchrow(
                "SELECT count(*) AS n FROM audit_log WHERE event = 'case_opened'"
            )
            orphans = await tx.fetchrow(
                "SELECT count(*) AS n FROM actions WHERE case_id IS NULL"
                " OR case_id NOT IN (SELECT id FROM cases)"
            )
    finally:
        await db.close()
    # No half transaction: every case has all of its actions, and no action lacks its case.
    assert per_case == dict.fromkeys(cases, ACTIONS_PER_CASE)
    assert orphans["n"] == 0
    # ... and its ban in force and its audit record, written in the same transaction.
    assert sanctioned == cases
    assert audited["n"] == len(cases)
    return cases
