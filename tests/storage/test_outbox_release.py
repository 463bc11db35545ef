"""Claims left by a process that died are released at start-up."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from domain.model import Account, Ban, Platform
from storage.db import Database
from storage.outbox import NewAction, OutboxRepository


async def test_release_claims_makes_a_dead_workers_actions_due(tmp_path: Path) -> None:
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    db = await Database.open(tmp_path / "db.sqlite", clock=lambda: now)
    outbox = OutboxRepository(db)
    target = Account(platform=Platform.MATRIX, id="@x:hs")
    await outbox.enqueue(
        [
            NewAction(key=f"k{i}", platform=Platform.MATRIX, space_id=f"!r{i}",
                      action=Ban(target=target, reason="r"))
            for i in range(3)
        ]
    )  # fmt: skip
    assert len(await outbox.claim(limit=10)) == 3
    assert await outbox.claim(limit=10) == []  # leased to the worker that claimed them
    assert await outbox.release_claims() == 3  # that worker died; a new process starts
    assert len(await outbox.claim(limit=10)) == 3
    await db.close()
