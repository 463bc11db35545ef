"""Claims left by a process that died are released at start-up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from domain.actions import ActionKind
from domain.model import Account, Ban, DeleteMessage, Platform, Warn
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


async def test_a_deletion_handed_over_at_enqueue_is_not_claimed_twice_and_survives_a_crash(
    tmp_path: Path,
) -> None:
    """Deletions are enqueued already claimed and handed to the worker as their case commits:
    no claim hands them out a second time, and if the process dies before they are done,
    the next start makes them due again."""
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    db = await Database.open(tmp_path / "db.sqlite", clock=lambda: now)
    outbox = OutboxRepository(db)
    target = Account(platform=Platform.MATRIX, id="@x:hs")
    delete = DeleteMessage(platform=Platform.MATRIX, channel_id="!r", message_id="$spam")
    later = NewAction(key="late", platform=Platform.MATRIX, space_id="!r", action=delete,
                      not_before=now + timedelta(minutes=1))  # fmt: skip
    enqueued = await outbox.enqueue(
        [
            NewAction(key="del", platform=Platform.MATRIX, space_id="!r", action=delete),
            NewAction(key="warn", platform=Platform.MATRIX, space_id="",
                      action=Warn(target=target, reason="r")),
            later,
        ],
        hand_over={ActionKind.DELETE},
    )  # fmt: skip
    handed = [e.action.key for e in enqueued if e.action.claimed_at is not None]
    assert handed == ["del"]  # the warning waits for a claim; a delayed one is not handed
    assert [row.key for row in await outbox.claim(limit=10)] == ["warn"]
    # The process dies with the deletion in hand; the next one starts.
    assert await outbox.release_claims() == 2
    assert [row.key for row in await outbox.claim(limit=10)] == ["del", "warn"]
    await db.close()
